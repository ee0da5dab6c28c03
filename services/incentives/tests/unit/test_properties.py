"""Invariants over random customer lives (hypothesis)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from fourfold.events import Envelope
from fourfold.incentives import views
from fourfold.incentives.domain.accrual import accrue, order_key, replay, totals
from fourfold.incentives.domain.caps import CapKey, counts_toward_cap
from fourfold.incentives.domain.entries import Entry, period_of
from fourfold.incentives.domain.program import ProgramSet, parse_program
from fourfold.incentives.domain.statements import statement_lines
from fourfold.incentives.samples import Customer, certified, tier_changed

T0 = datetime(2026, 1, 5, 8, tzinfo=UTC)
YAML = """\
program_id: prop
version: "p1"
effective_from: 2026-01-01
rules:
  new_logo: {rate: "0.05"}
  implementation_bonus:
    within_days: 30
    amount: {amounts: {USD: "500.00", JPY: "75000", BHD: "190.000"}}
    late_amount: {amounts: {USD: "200.00", JPY: "30000", BHD: "75.000"}}
  upsell: {rate: "0.10", reversal_days: 90}
  cross_sell: {rate: "0.12", reversal_days: 90}
  renewal: {rate: "0.08"}
  adoption_bonus: {green_days: 20, amount: {amounts: {USD: "400.00", JPY: "60000"}}}
  clawback: {within_days: 120}
accelerators:
  tiers: {registered: "1.0", gold: "1.2", silver: "1.1"}
  certifications: {implementation: "1.05"}
caps:
  per_period: {USD: "20000.00", JPY: "1000000"}
"""
PROGRAMS = ProgramSet([parse_program(YAML)])

CURRENCIES = st.sampled_from(["USD", "JPY", "BHD"])
MRR = st.decimals(min_value=Decimal("1"), max_value=Decimal("9000"), places=2)
STEP = st.tuples(
    st.sampled_from(["expand", "addon", "contract", "milestone", "green", "red", "renew"]),
    st.integers(min_value=1, max_value=40),
    MRR,
)


@st.composite
def life(draw: st.DrawFn, name: str) -> list[Envelope]:
    """One customer's events in event-time order, ending (maybe) in a cancellation."""
    currency = draw(CURRENCIES)
    partner = draw(st.sampled_from(["p-1", "p-2"]))
    c = Customer(name, partner, currency, id_prefix=name)
    at = T0 + timedelta(days=draw(st.integers(0, 20)), minutes=draw(st.integers(0, 600)))
    events: list[Envelope] = [c.created(at, str(draw(MRR)))]
    for kind, gap, mrr in draw(st.lists(STEP, max_size=8)):
        at += timedelta(days=gap)
        match kind:
            case "expand":
                events.append(c.expanded(at, str(c.mrr + mrr)))
            case "addon":
                events.append(c.addon(at, str(mrr)))
            case "contract":
                events.append(c.contracted(at, str(max(c.mrr - mrr, Decimal(0)))))
            case "milestone":
                events.append(c.milestone(at, "first_value"))
            case "renew":
                events.append(c.renewed(at))
            case _:
                events.append(c.health(at, kind))
    if draw(st.booleans()):
        events.append(c.cancelled(at + timedelta(days=draw(st.integers(1, 60)))))
    return events


@st.composite
def book(draw: st.DrawFn) -> list[Envelope]:
    tier = draw(st.sampled_from(["gold", "silver"]))
    events: list[Envelope] = [tier_changed("p-1", tier, T0, id_="tier-1")]
    if draw(st.booleans()):
        events.append(certified("p-2", "implementation", T0 + timedelta(days=3), id_="cert-1"))
    for i in range(draw(st.integers(1, 4))):
        events += draw(life(f"c-{i}"))
    return sorted(events, key=order_key)


def live(arrivals: Sequence[Envelope], cut: Sequence[int]) -> list[Entry]:
    """The service's path, batch by batch: each batch's fresh events (duplicates and replays
    skipped like the inbox does), the stored history and the ledger so far, caps loaded
    from the ledger between the two passes."""
    stored: dict[str, Envelope] = {}
    ledger: list[Entry] = []
    bounds = sorted({0, len(arrivals), *(c % (len(arrivals) + 1) for c in cut)})
    for start, end in itertools.pairwise(bounds):
        fresh = {e.id for e in arrivals[start:end] if e.id not in stored}
        for event in arrivals[start:end]:
            stored.setdefault(event.id, event)
        if not fresh:
            continue
        history = list(stored.values())
        first = accrue(
            history=history, fresh=fresh, existing=ledger, programs=PROGRAMS, cap_used=None
        )
        used: dict[CapKey, Decimal] = defaultdict(Decimal)
        for entry in ledger:
            key = (entry.partner_id, period_of(entry.event_time), entry.currency)
            if counts_toward_cap(entry) and key in first.cap_keys:
                used[key] += entry.amount
        second = accrue(
            history=history, fresh=fresh, existing=ledger, programs=PROGRAMS, cap_used=dict(used)
        )
        ids = {e.entry_id for e in ledger}
        ledger += [e for e in second.entries if e.entry_id not in ids]
    return ledger


@settings(max_examples=150, deadline=None)
@given(book())
def test_a_clawback_nets_every_reversed_entry_to_exactly_zero(events: list[Envelope]) -> None:
    entries, _ = replay(events, PROGRAMS)
    cancelled = {e.data.customer_id for e in events if e.type == "subscription.cancelled"}  # type: ignore[attr-defined]
    for original in entries:
        if original.kind != "accrual" or original.customer_id not in cancelled:
            continue
        reversals = [e for e in entries if e.reverses == original.entry_id and e.rule == "clawback"]
        if reversals:
            net = original.amount + sum(
                e.amount for e in entries if e.reverses == original.entry_id
            )
            assert net == 0, (original, reversals)


@settings(max_examples=100, deadline=None)
@given(book(), st.lists(st.integers(0, 200), max_size=6), st.data())
def test_duplicates_and_replays_never_change_a_total(
    events: list[Envelope], cut: list[int], data: st.DataObject
) -> None:
    arrivals = list(events)
    for _ in range(data.draw(st.integers(0, 5))):  # duplicates: a copy arrives again later
        index = data.draw(st.integers(0, len(arrivals) - 1))
        arrivals.insert(data.draw(st.integers(index, len(arrivals))), arrivals[index])
    if data.draw(st.booleans()):  # a replay of everything from the start
        arrivals += list(events)
    assert totals(live(arrivals, cut)) == totals(live(events, []))


@settings(max_examples=100, deadline=None)
@given(book(), st.lists(st.integers(0, 200), max_size=6))
def test_what_if_under_the_active_program_equals_what_was_accrued(
    events: list[Envelope], cut: list[int]
) -> None:
    expected, _ = replay(events, PROGRAMS)
    assert totals(live(events, cut)) == totals(expected)


PERIODS = st.sampled_from(["2026-01", "2026-02", "2026-03", "2026-04"])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(PERIODS, CURRENCIES, st.decimals(min_value=-5000, max_value=5000, places=3)),
        max_size=40,
    ),
    PERIODS,
)
def test_the_sum_of_entries_equals_every_statements_closing_balance(
    entries: list[tuple[str, str, Decimal]], period: str
) -> None:
    def sums(keep: object) -> dict[str, Decimal]:
        out: dict[str, Decimal] = defaultdict(Decimal)
        for p, currency, amount in entries:
            if keep(p, amount):  # type: ignore[operator]
                out[currency] += amount
        return out

    lines = statement_lines(
        before=sums(lambda p, a: p < period),
        earned=sums(lambda p, a: p == period and a > 0),
        reversed_=sums(lambda p, a: p == period and a < 0),
        paid_before={},
    )
    closing = {line.currency: line.closing for line in lines}
    for currency in {c for _, c, _ in entries}:
        total = sum((a for p, c, a in entries if c == currency and p <= period), Decimal(0))
        assert closing.get(currency, Decimal(0)) == total


@settings(max_examples=100, deadline=None)
@given(book(), st.lists(st.integers(0, 200), max_size=6), st.randoms(use_true_random=False))
def test_topics_interleaving_per_customer_changes_no_total(
    events: list[Envelope], cut: list[int], random: object
) -> None:
    """Billing, activity and health events of one customer travel on three topics, so one
    kind may arrive before an earlier one of another kind: each customer's net stays that of
    a replay in event-time order (late bands correct renewals, late entries are reversed by
    an earlier-processed cancellation). Partner facts (tiers, certifications) apply from
    when they arrive, so here they arrive first; re-pricing after a late one is a
    recalculation's job."""
    by_topic: dict[str, list[Envelope]] = defaultdict(list)
    arrivals: list[Envelope] = []
    for event in events:
        if event.type.startswith("partner."):
            arrivals.append(event)
        else:
            by_topic[event.topic].append(event)
    queues = [list(q) for q in by_topic.values()]
    while any(queues):
        queue = random.choice([q for q in queues if q])  # type: ignore[attr-defined]
        arrivals.append(queue.pop(0))
    expected, _ = replay(events, PROGRAMS)
    assert _per_customer(live(arrivals, cut)) == _per_customer(expected)


def _per_customer(entries: list[Entry]) -> dict[tuple[str, str], Decimal]:
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for entry in entries:
        if entry.rule != "adoption_bonus":
            sums[(entry.customer_id, entry.currency)] += entry.amount
    return dict(sums)


@settings(max_examples=100, deadline=None)
@given(book(), st.lists(st.integers(0, 200), max_size=6), st.booleans())
def test_every_statement_built_from_a_walks_entries_closes_on_their_sum(
    events: list[Envelope], cut: list[int], pay_first: bool
) -> None:
    """The statements the API shows (`views.statements`, fed the per-period sums its query
    computes) close, per partner and currency, on the sum of the entries up to that period;
    a payout moves what is due, never the closing balance."""
    ledger = live(events, cut)
    for partner in {e.partner_id for e in ledger}:
        own = [e for e in ledger if e.partner_id == partner]
        sums: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 2)
        for entry in own:
            pair = sums[(period_of(entry.event_time), entry.currency)]
            pair[0 if entry.amount > 0 else 1] += entry.amount
        rows = [
            SimpleNamespace(period=p, currency=c, earned=earned, reversed=reversed_)
            for (p, c), (earned, reversed_) in sums.items()
        ]
        first = min(p for p, _ in sums)
        paid = {
            c: sum(
                (e.amount for e in own if e.currency == c and period_of(e.event_time) == first),
                Decimal(0),
            )
            for c in {e.currency for e in own}
        }
        payouts = [SimpleNamespace(period=first, payout={c: str(a) for c, a in paid.items()})]
        for period, lines in views.statements(partner, rows, payouts if pay_first else []):
            for line in lines:
                total = sum(
                    (
                        e.amount
                        for e in own
                        if e.currency == line.currency and period_of(e.event_time) <= period
                    ),
                    Decimal(0),
                )
                assert line.closing == views.money(total, line.currency)
                paid_before = (
                    paid.get(line.currency, Decimal(0))
                    if pay_first and period > first
                    else Decimal(0)
                )
                assert line.due == views.money(total - paid_before, line.currency)
