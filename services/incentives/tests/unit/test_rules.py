"""Every rule, multiplier, cap, rounding and hold, table-driven through the one walk.

Amounts are computed by hand from the tests' own program (conftest.PROGRAM_YAML):
new_logo 5% of first-year ARR, implementation 500 / 200 USD within 30 / 60 days, upsell 10%,
cross_sell 12%, renewal 8% × band (green 1.25, red 0.5), adoption 400 USD after 60 green
days, tiers registered 1.0 / gold 1.2, certifications implementation 1.05 / adoption 1.10,
at most 1.3, cap 10,000 USD per month, hold 30 days.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from fourfold.events import Envelope
from fourfold.incentives.domain.accrual import Accrual
from fourfold.incentives.domain.entries import Entry
from fourfold.incentives.domain.program import ProgramSet
from fourfold.incentives.samples import Customer, certified, tier_changed

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
DAY = timedelta(days=1)


def walk(programs: ProgramSet, events: list[Envelope]) -> list[Entry]:
    return Accrual(programs=programs).run(events)


def amounts(entries: list[Entry]) -> list[tuple[str, str, str]]:
    return [(e.rule, str(e.amount), e.currency) for e in entries]


def life(currency: str = "USD") -> Customer:
    return Customer("c-1", "p-1", currency)


@pytest.mark.parametrize(
    ("currency", "mrr", "expected"),
    [
        ("USD", "1000.00", "600.00"),  # 12,000 × 5%
        ("USD", "333.33", "200.00"),  # 3,999.96 × 5% = 199.998
        ("USD", "20.575", "12.34"),  # 246.90 × 5% = 12.345: half to even, down
        ("USD", "20.625", "12.38"),  # 247.50 × 5% = 12.375: half to even, up
        ("JPY", "10001", "6001"),  # 120,012 × 5% = 6,000.6 → 6,001
        ("JPY", "4175", "2505"),  # 50,100 × 5% = 2,505
        ("BHD", "10.0005", "6.000"),  # 120.006 × 5% = 6.0003 → 6.000
        ("BHD", "1.2345", "0.741"),  # 14.814 × 5% = 0.7407 → 0.741
    ],
)
def test_new_logo_is_a_share_of_first_year_arr_rounded_once(
    programs: ProgramSet, currency: str, mrr: str, expected: str
) -> None:
    entries = walk(programs, [life(currency).created(T0, mrr)])
    assert amounts(entries) == [("new_logo", expected, currency)]
    assert entries[0].inputs["arr"] == str(Decimal(mrr) * 12)


@pytest.mark.parametrize(
    ("days", "currency", "expected"),
    [
        (10, "USD", "500.00"),
        (30, "USD", "500.00"),
        (31, "USD", "200.00"),
        (60, "USD", "200.00"),
        (61, "USD", None),
        (5, "JPY", "75000"),
        (45, "BHD", "75.000"),
        (5, "EUR", None),  # no amount configured for EUR: no bonus
    ],
)
def test_implementation_bonus_by_days_to_first_value(
    programs: ProgramSet, days: int, currency: str, expected: str | None
) -> None:
    c = life(currency)
    events = [c.created(T0, "100"), c.milestone(T0 + days * DAY, "first_value")]
    bonus = [e for e in walk(programs, events) if e.rule == "implementation_bonus"]
    assert [str(e.amount) for e in bonus] == ([] if expected is None else [expected])


def test_implementation_bonus_is_paid_once_and_only_for_first_value(programs: ProgramSet) -> None:
    c = life()
    events = [
        c.created(T0, "100"),
        c.milestone(T0 + DAY, "kickoff"),
        c.milestone(T0 + 2 * DAY, "first_value"),
        c.milestone(T0 + 3 * DAY, "first_value"),
    ]
    bonus = [e for e in walk(programs, events) if e.rule == "implementation_bonus"]
    assert len(bonus) == 1


@pytest.mark.parametrize(
    ("build", "rule", "expected"),
    [
        (lambda c: c.expanded(T0 + DAY, "1500.00"), "upsell", "600.00"),  # +6,000 ARR × 10%
        (lambda c: c.expanded(T0 + DAY, "900.00"), "upsell", None),  # not an expansion
        (lambda c: c.addon(T0 + DAY, "250.00"), "cross_sell", "360.00"),  # 3,000 × 12%
    ],
)
def test_increase_rules_are_a_share_of_the_arr_added(
    programs: ProgramSet, build: object, rule: str, expected: str | None
) -> None:
    c = life()
    events = [c.created(T0, "1000.00"), build(c)]  # type: ignore[operator]
    found = [str(e.amount) for e in walk(programs, events) if e.rule == rule]
    assert found == ([] if expected is None else [expected])


@pytest.mark.parametrize(
    ("bands", "expected"),
    [
        ([], "960.00"),  # unknown: 12,000 × 8% × 1.0
        (["green"], "1200.00"),  # × 1.25
        (["yellow"], "960.00"),
        (["red"], "480.00"),  # × 0.5
        (["red", "green"], "1200.00"),  # the latest before the renewal counts
    ],
)
def test_renewal_is_weighted_by_the_band_in_force(
    programs: ProgramSet, bands: list[str], expected: str
) -> None:
    c = life()
    renewal_at = T0 + 365 * DAY
    events: list[Envelope] = [c.created(T0, "1000.00")]
    events += [c.health(renewal_at - (10 - i) * DAY, band) for i, band in enumerate(bands)]
    events += [c.renewed(renewal_at), c.health(renewal_at + DAY, "red")]  # after: ignored
    renewal = [e for e in walk(programs, events) if e.rule == "renewal"]
    assert [str(e.amount) for e in renewal] == [expected]


def test_a_late_health_change_corrects_a_renewal_it_precedes(programs: ProgramSet) -> None:
    c = life()
    renewal_at = T0 + 365 * DAY
    created, renewed = c.created(T0, "1000.00"), c.renewed(renewal_at)
    late = c.health(renewal_at - DAY, "green")
    walk_ = Accrual(programs=programs)
    first = walk_.run([created, renewed])
    walk_late = Accrual(programs=programs)
    walk_late.seed(first)
    second = walk_late.run([created, renewed, late], fresh={late.id})
    assert amounts(second) == [("renewal", "240.00", "USD")]  # 960 → 1,200
    assert second[0].kind == "adjustment"
    assert second[0].reverses == next(e.entry_id for e in first if e.rule == "renewal")
    again = Accrual(programs=programs)
    again.seed(first + second)
    assert again.run([created, renewed, late], fresh={late.id}) == []


@pytest.mark.parametrize(
    ("bands", "first_value_day", "expected"),
    [
        ([(0, "green")], 0, ["400.00"]),  # green 60 days after onboarding
        ([(0, "green")], 20, ["400.00"]),  # counted from first_value
        ([(0, "green"), (30, "yellow"), (31, "green")], 0, []),  # streak broken, 60 not reached
        ([(0, "green"), (10, "red"), (15, "green")], 0, ["400.00"]),  # from day 15: day 75
        ([(0, "yellow")], 0, []),
    ],
)
def test_adoption_bonus_after_consecutive_green_days(
    programs: ProgramSet, bands: list[tuple[int, str]], first_value_day: int, expected: list[str]
) -> None:
    c = life()
    events: list[Envelope] = [c.created(T0, "100.00")]
    events.append(c.milestone(T0 + first_value_day * DAY, "first_value"))
    events += [c.health(T0 + day * DAY, band) for day, band in bands]
    events.append(c.milestone(T0 + 85 * DAY, "qbr_held"))  # something happens on day 85
    bonus = [e for e in walk(programs, events) if e.rule == "adoption_bonus"]
    assert [str(e.amount) for e in bonus] == expected
    if bonus:
        streak = max([d for d, b in bands if b == "green"][-1], first_value_day)
        assert bonus[0].event_time == T0 + (streak + 60) * DAY


@pytest.mark.parametrize(
    ("tier", "certs", "multiplier", "expected"),
    [
        (None, [], "1.0", "600.00"),
        ("gold", [], "1.2", "720.00"),
        (None, ["implementation"], "1.05", "630.00"),
        ("gold", ["implementation"], "1.260", "756.00"),  # 1.2 × 1.05
        ("gold", ["implementation", "adoption"], "1.3", "780.00"),  # 1.386, capped at max 1.3
        ("gold", ["unlisted"], "1.2", "720.00"),  # a certification the program does not list
    ],
)
def test_accelerators_tier_then_certifications_at_most_max(
    programs: ProgramSet, tier: str | None, certs: list[str], multiplier: str, expected: str
) -> None:
    c = life()
    events: list[Envelope] = [certified("p-1", cert, T0 - DAY) for cert in certs]
    if tier:
        events.append(tier_changed("p-1", tier, T0 - DAY))
    events.append(c.created(T0, "1000.00"))
    (entry,) = walk(programs, events)
    assert str(entry.amount) == expected
    assert Decimal(entry.inputs["multiplier"]) == Decimal(multiplier)


def test_a_tier_set_after_the_event_does_not_apply(programs: ProgramSet) -> None:
    c = life()
    (entry,) = walk(programs, [c.created(T0, "1000.00"), tier_changed("p-1", "gold", T0 + DAY)])
    assert str(entry.amount) == "600.00"


def test_the_cap_cuts_what_is_left_per_partner_month_and_currency(programs: ProgramSet) -> None:
    events: list[Envelope] = []
    for i in range(4):  # each new logo pays 3,000 (60,000 ARR × 5%) against a 10,000 cap
        events.append(Customer(f"c-{i}", "p-1").created(T0 + i * DAY, "5000.00"))
    events.append(Customer("c-next", "p-1").created(T0 + 31 * DAY, "5000.00"))  # April
    events.append(Customer("c-other", "p-2").created(T0, "5000.00"))  # another partner
    entries = walk(programs, events)
    by_customer = {e.customer_id: str(e.amount) for e in entries}
    assert by_customer == {
        "c-0": "3000.00",
        "c-1": "3000.00",
        "c-2": "3000.00",
        "c-3": "1000.00",
        "c-next": "3000.00",
        "c-other": "3000.00",
    }
    capped = next(e for e in entries if e.customer_id == "c-3")
    assert capped.inputs["capped"] == "true"
    assert capped.inputs["uncapped"] == "3000.00"


def test_a_capped_out_entry_is_kept_at_zero_to_explain_itself(programs: ProgramSet) -> None:
    events = [Customer(f"c-{i}", "p-1").created(T0, "10000.00") for i in range(3)]
    entries = walk(programs, events)  # 6,000 each
    assert sorted(str(e.amount) for e in entries) == ["0.00", "4000.00", "6000.00"]


def test_accruals_are_held_reversals_are_not(programs: ProgramSet) -> None:
    c = life()
    entries = walk(programs, [c.created(T0, "1000.00"), c.cancelled(T0 + 10 * DAY)])
    accrual, reversal = entries
    assert accrual.payable_at == T0 + 30 * DAY
    assert reversal.payable_at == reversal.event_time == T0 + 10 * DAY


@pytest.mark.parametrize(
    ("cancel_day", "reversed_rules"),
    [
        (20, ["new_logo", "implementation_bonus"]),
        (90, ["new_logo", "implementation_bonus"]),
        (91, []),
    ],
)
def test_clawback_inside_the_window_at_the_original_amounts(
    programs: ProgramSet, cancel_day: int, reversed_rules: list[str]
) -> None:
    c = life()
    events: list[Envelope] = [
        tier_changed("p-1", "gold", T0 - DAY),
        c.created(T0, "1000.00"),
        c.milestone(T0 + 5 * DAY, "first_value"),
        tier_changed("p-1", "registered", T0 + 6 * DAY),  # later tier change: not used
        c.cancelled(T0 + cancel_day * DAY),
    ]
    entries = walk(programs, events)
    originals = {e.entry_id: e for e in entries if e.kind == "accrual"}
    reversals = [e for e in entries if e.kind == "reversal"]
    assert sorted(originals[r.reverses or ""].rule for r in reversals) == sorted(reversed_rules)
    for reversal in reversals:
        original = originals[reversal.reverses or ""]
        assert reversal.amount == -original.amount  # 720.00 and 600.00 at gold's 1.2
        assert reversal.inputs["multiplier"] == original.inputs["multiplier"] == "1.2"
        assert reversal.rule == "clawback"
        assert reversal.partner_id == "p-1"


def test_contraction_reverses_an_upsell_in_proportion(programs: ProgramSet) -> None:
    c = life()
    events = [
        c.created(T0, "1000.00"),
        c.expanded(T0 + 10 * DAY, "1300.00"),  # +3,600 ARR → 360.00
        c.contracted(T0 + 20 * DAY, "1200.00"),  # −1,200 ARR: a third → −120.00
        c.contracted(T0 + 30 * DAY, "1100.00"),  # another third → −120.00
        c.contracted(T0 + 40 * DAY, "500.00"),  # the last third and more: what is left
    ]
    entries = walk(programs, events)
    assert amounts(entries)[1:] == [
        ("upsell", "360.00", "USD"),
        ("contraction", "-120.00", "USD"),
        ("contraction", "-120.00", "USD"),
        ("contraction", "-120.00", "USD"),
    ]


def test_a_contraction_after_the_reversal_window_keeps_the_upsell(programs: ProgramSet) -> None:
    c = life()
    events = [
        c.created(T0, "1000.00"),
        c.expanded(T0 + DAY, "1300.00"),
        c.contracted(T0 + 92 * DAY, "1000.00"),
    ]
    assert [e.rule for e in walk(programs, events)] == ["new_logo", "upsell"]


def test_uneven_proportions_round_each_reversal_once_and_net_to_zero(programs: ProgramSet) -> None:
    c = life()
    events = [
        c.created(T0, "1000.00"),
        c.expanded(T0 + DAY, "1100.00"),  # +1,200 ARR → 120.00
        c.contracted(T0 + 2 * DAY, "1033.33"),  # −800.04 ARR → −80.00 (80.004)
        c.cancelled(T0 + 3 * DAY),
    ]
    entries = walk(programs, events)
    upsell = [
        e
        for e in entries
        if e.rule == "upsell"
        or e.reverses == next(x.entry_id for x in entries if x.rule == "upsell")
    ]
    assert [str(e.amount) for e in upsell] == ["120.00", "-80.00", "-40.00"]
    assert sum(e.amount for e in entries) == 0


def test_a_program_version_applies_by_the_event_time(program_yaml: str) -> None:
    from fourfold.incentives.domain.program import parse_program

    old = parse_program(
        program_yaml.replace(
            "effective_from: 2026-01-01", "effective_from: 2026-01-01\neffective_to: 2026-03-10"
        )
    )
    new = parse_program(
        program_yaml.replace('version: "t1"', 'version: "t2"')
        .replace("2026-01-01", "2026-03-10")
        .replace('rate: "0.05"', 'rate: "0.04"')
    )
    a, b = Customer("c-a", "p-1"), Customer("c-b", "p-1")
    entries = walk(
        ProgramSet([old, new]), [a.created(T0, "1000.00"), b.created(T0 + 10 * DAY, "1000.00")]
    )
    assert [(e.program_version, str(e.amount)) for e in entries] == [
        ("t1", "600.00"),
        ("t2", "480.00"),
    ]


def test_reversals_go_to_the_original_partner_after_a_partner_change(programs: ProgramSet) -> None:
    c = life()
    events = [
        c.created(T0, "1000.00"),
        c.partner_changed(T0 + DAY, "p-2"),
        c.cancelled(T0 + 2 * DAY),
    ]
    reversal = walk(programs, events)[-1]
    assert reversal.partner_id == "p-1"
    assert str(reversal.amount) == "-600.00"
