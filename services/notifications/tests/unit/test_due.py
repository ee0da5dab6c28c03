"""`next_due`: until the instant it names, time alone changes no rule's answer, so the
scheduler may leave a snapshot alone until then (hypothesis over snapshots and instants),
and at and around each threshold it names the instant the answer changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from fourfold.notifications.domain.config import RuleConfig, RuleName, default_config
from fourfold.notifications.domain.rules import evaluate, next_due
from fourfold.notifications.domain.snapshot import Invoice, Snapshot, epoch

CONFIG = default_config()


def _only(rule: RuleName) -> RuleConfig:
    """The default configuration with every other rule disabled: another rule's earlier due
    instant must not hide one rule's late one."""
    off = {
        other.value: CONFIG.rules.text(other).model_copy(update={"enabled": False})
        for other in RuleName
        if other is not rule
    }
    return CONFIG.model_copy(update={"rules": CONFIG.rules.model_copy(update=off)})


CONFIGS = [CONFIG, *(_only(rule) for rule in RuleName)]
NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)
offsets = st.integers(min_value=-200 * 86_400, max_value=200 * 86_400).map(
    lambda s: timedelta(seconds=s)
)
fine = st.integers(min_value=0, max_value=10**6 - 1).map(lambda us: timedelta(microseconds=us))


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    seats = draw(st.sampled_from([None, 5, 10, 20]))
    in_use = None if seats is None else draw(st.integers(0, seats))
    scores = sorted(draw(st.lists(st.tuples(offsets, st.integers(0, 100)), max_size=5)))
    utilisations = sorted(
        draw(st.lists(st.tuples(offsets, st.sampled_from([0.5, 0.9, 0.95])), max_size=4))
    )
    # dates near the instants drawn, so that thresholds fall between `now` and its probes
    day = st.integers(-250, 250).map(lambda d: (NOW + timedelta(days=d)).date())
    return Snapshot(
        customer_id="c-1",
        partner_id=draw(st.sampled_from(["p-1", "p-1", "p-1", None])),
        subscription_start=draw(st.none() | day),
        term_end=draw(st.none() | day),
        cancelled=draw(st.sampled_from([False, False, False, True])),
        seats=seats,
        seats_in_use=in_use,
        utilisation=utilisations[-1][1] if utilisations else None,
        milestones=frozenset(draw(st.sets(st.sampled_from(["users_trained", "first_value"])))),
        band=draw(st.sampled_from([None, "red", "yellow", "green"])),
        score=scores[-1][1] if scores else None,
        last_expansion_at=draw(st.none() | offsets.map(lambda o: NOW + o)),
        scores=tuple(dict((epoch(NOW + o), v) for o, v in scores).items()),
        utilisations=tuple(dict((epoch(NOW + o), v) for o, v in utilisations).items()),
        invoices=draw(st.sampled_from([{}, {"in_1": Invoice(failed_at=NOW)}])),
    )


@settings(max_examples=600, deadline=None)
@given(snapshots(), offsets, fine, st.floats(0, 1, exclude_max=True), st.sampled_from(CONFIGS))
def test_nothing_changes_by_time_alone_before_next_due(
    s: Snapshot, shift: timedelta, micro: timedelta, fraction: float, config: RuleConfig
) -> None:
    now = NOW + shift + micro
    due = next_due(s, config, now)
    assert due is None or due >= now
    if due is None:  # never: a fraction of 300 days, and days to years on
        probes = [now + timedelta(days=300) * fraction]
        probes += [now + timedelta(days=d) for d in (1, 30, 91, 400, 1000)]
    else:  # timedelta * float rounds to the microsecond: stay before `due`
        last = due - timedelta(microseconds=1)  # the last instant it must still hold
        probes = [max(now, min(now + (due - now) * fraction, last)), max(now, last)]
    answer = evaluate(s, config, now)
    for later in probes:
        assert evaluate(s, config, later) == answer, later


def _at(s: Snapshot, now: datetime) -> dict[str, object]:
    return {r.value: f for r, f in evaluate(s, CONFIG, now).items() if f is not None}


def test_an_idle_young_customer_is_due_when_it_turns_21_days_old() -> None:
    s = Snapshot("c-1", "p-1", subscription_start=date(2026, 6, 1), seats=10, seats_in_use=0)
    due = next_due(s, CONFIG, NOW - timedelta(days=10))
    assert due == datetime(2026, 6, 22, tzinfo=UTC)
    assert "implement_stalled" not in _at(s, due - timedelta(microseconds=1))
    assert "implement_stalled" in _at(s, due)
    # firing, time alone changes nothing more (no fact counts days); never without a partner
    assert next_due(s, CONFIG, due) is None
    assert _at(s, due) == _at(s, due + timedelta(days=20))
    assert next_due(Snapshot("c-1", None, subscription_start=date(2026, 6, 1)), CONFIG, NOW) is None


def test_a_renewal_is_due_when_the_term_comes_within_90_days_and_when_it_ends() -> None:
    s = Snapshot("c-1", "p-1", term_end=date(2026, 12, 1), band="red", score=30)
    end = datetime(2026, 12, 1, tzinfo=UTC)
    assert next_due(s, CONFIG, end - timedelta(days=120)) == end - timedelta(days=90)
    assert next_due(s, CONFIG, end - timedelta(days=60)) == end  # firing: until it ends
    assert next_due(s, CONFIG, end - timedelta(hours=5)) == end
    assert "renewal_at_risk" not in _at(s, end)
    assert next_due(s, CONFIG, end) is None
