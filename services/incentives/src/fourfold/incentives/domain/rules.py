"""One pure function per rule family.

Earning rules (new_logo, implementation_bonus, upsell, cross_sell, renewal, adoption_bonus)
return an `Earned`: the base amount before accelerators, with its inputs. `price` then
applies, in this documented order:

1. the base (ARR × rate, or the fixed amount); for renewal × the band multiplier;
2. × the partner's tier multiplier at the event time (default tier when none is set);
3. × each certification the partner holds at the event time, in name order;
   (2 × 3 together at most `accelerators.max`);
4. rounded once, half-even, to the currency's minor unit;
5. cut to what is left of the partner's cap for the period and currency.

Reversal rules (clawback, contraction) return entries at once: the negative of (a share of)
the original entry, at its original rate and multipliers, never held, never capped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from fourfold.events import (
    Band,
    MilestoneCompleted,
    SubscriptionAddonAdded,
    SubscriptionCancelled,
    SubscriptionContracted,
    SubscriptionCreated,
    SubscriptionExpanded,
    SubscriptionRenewed,
)
from fourfold.events.money import round_to_minor_unit
from fourfold.incentives.domain.entries import (
    CustomerLedger,
    Entry,
    adjustment_of,
    entry_id_for,
)
from fourfold.incentives.domain.money import annual
from fourfold.incentives.domain.program import Accelerators, FixedAmounts, Program
from fourfold.incentives.domain.state import CustomerState, PartnerState

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Earned:
    """What an earning rule found, before accelerators, rounding and caps."""

    rule: str
    partner_id: str
    customer_id: str
    base: Decimal
    currency: str
    event_time: datetime
    source_event_id: str
    inputs: Mapping[str, str] = field(default_factory=dict)


def _fixed(amounts: FixedAmounts | None, currency: str) -> Decimal | None:
    return None if amounts is None else amounts.amounts.get(currency)


def new_logo(event: SubscriptionCreated, program: Program) -> Earned | None:
    """Involve: rate × first-year ARR (12 × the MRR at creation)."""
    rule = program.rules.new_logo
    if rule is None:
        return None
    d = event.data
    arr = annual(d.mrr.amount)
    return Earned(
        "new_logo",
        d.partner_id,
        d.customer_id,
        arr * rule.rate,
        d.mrr.currency,
        event.time,
        event.id,
        {"arr": str(arr), "rate": str(rule.rate)},
    )


def implementation_bonus(
    event: MilestoneCompleted, customer: CustomerState, ledger: CustomerLedger, program: Program
) -> Earned | None:
    """Implement: the fixed amount for first_value within N days of start, the late amount
    within 2N days; once per customer."""
    rule = program.rules.implementation_bonus
    start = customer.started_at
    terms = customer.terms.latest()
    if rule is None or start is None or terms is None or event.data.milestone != "first_value":
        return None
    if ledger.has_rule("implementation_bonus"):
        return None
    days = (event.data.completed_at - start).days
    if days <= rule.within_days:
        amount, tier = _fixed(rule.amount, terms.currency), "on_time"
    elif days <= 2 * rule.within_days:
        amount, tier = _fixed(rule.late_amount, terms.currency), "late"
    else:
        return None
    if amount is None:
        return None
    return Earned(
        "implementation_bonus",
        event.data.partner_id,
        customer.customer_id,
        amount,
        terms.currency,
        event.time,
        event.id,
        {"days_to_first_value": str(days), "window_days": str(rule.within_days), "tier": tier},
    )


def upsell(event: SubscriptionExpanded, program: Program) -> Earned | None:
    """Increase: rate × the ARR added (12 × (MRR − previous MRR)) when it grew."""
    rule = program.rules.upsell
    d = event.data
    added = annual(d.mrr.amount - d.previous_mrr.amount)
    if rule is None or added <= 0 or d.mrr.currency != d.previous_mrr.currency:
        return None
    inputs = {"arr_added": str(added), "rate": str(rule.rate)}
    return Earned(
        "upsell", d.partner_id, d.customer_id, added * rule.rate, d.mrr.currency, event.time,
        event.id, inputs,
    )  # fmt: skip


def cross_sell(event: SubscriptionAddonAdded, program: Program) -> Earned | None:
    """Increase: rate × the add-on's ARR (12 × its MRR)."""
    rule = program.rules.cross_sell
    d = event.data
    added = annual(d.addon_mrr.amount)
    if rule is None or added <= 0:
        return None
    inputs = {"arr_added": str(added), "rate": str(rule.rate), "addon": d.addon}
    return Earned(
        "cross_sell", d.partner_id, d.customer_id, added * rule.rate, d.addon_mrr.currency,
        event.time, event.id, inputs,
    )  # fmt: skip


def renewal(event: SubscriptionRenewed, customer: CustomerState, program: Program) -> Earned | None:
    """Increase: rate × renewed ARR × the multiplier of the band in force at the renewal."""
    rule = program.rules.renewal
    if rule is None:
        return None
    d = event.data
    arr = annual(d.mrr.amount)
    band = customer.band_at(event.time)
    multiplier = rule.band_multipliers[band]
    inputs = {
        "arr": str(arr),
        "rate": str(rule.rate),
        "band": band.value,
        "band_multiplier": str(multiplier),
    }
    return Earned(
        "renewal", d.partner_id, d.customer_id, arr * rule.rate * multiplier, d.mrr.currency,
        event.time, event.id, inputs,
    )  # fmt: skip


def adoption_due(customer: CustomerState, at: datetime, program: Program) -> datetime | None:
    """When the customer completed `green_days` green in a row after first_value, if by `at`."""
    rule = program.rules.adoption_bonus
    onboarded = customer.milestones.get("first_value")
    if rule is None or onboarded is None:
        return None
    since = customer.green_since(at)
    if since is None:
        return None
    due = max(since, onboarded) + timedelta(days=rule.green_days)
    return due if due <= at else None


def adoption_bonus(
    customer: CustomerState, ledger: CustomerLedger, due: datetime, program: Program
) -> Earned | None:
    """Improve: the fixed amount, once per customer, at the instant the streak completed."""
    rule = program.rules.adoption_bonus
    terms = customer.terms.at(due) or customer.terms.latest()
    partner = customer.partner_at(due)
    if rule is None or terms is None or partner is None or ledger.has_rule("adoption_bonus"):
        return None
    amount = _fixed(rule.amount, terms.currency)
    if amount is None:
        return None
    inputs = {"green_days": str(rule.green_days), "completed_at": due.isoformat()}
    return Earned(
        "adoption_bonus", partner, customer.customer_id, amount, terms.currency, due,
        f"adoption:{customer.customer_id}", inputs,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Accelerator:
    tier: str
    tier_multiplier: Decimal
    certifications: tuple[str, ...]
    certification_multiplier: Decimal
    multiplier: Decimal
    """tier × certifications, at most the program's max."""
    inputs: Mapping[str, str] = field(default_factory=dict)
    """What an entry priced with it records of it (`price`)."""


def standing(
    partner: PartnerState | None, at: datetime, program: Program
) -> tuple[str, tuple[str, ...]]:
    """The tier (the program's default when none is set) and the certifications the partner
    holds at `at`: what `accelerator` combines."""
    tier = (partner.tier_at(at) if partner else None) or program.accelerators.default_tier
    return tier, tuple(partner.certifications_at(at)) if partner else ()


def accelerator(accelerators: Accelerators, tier: str, held: tuple[str, ...]) -> Accelerator:
    """The multiplier of `tier` and the certifications `held`: tier first, then each
    certification in name order, at most the program's max."""
    tier_multiplier = accelerators.tiers.get(tier, Decimal(1))
    counted = tuple(c for c in held if c in accelerators.certifications)
    certification_multiplier = Decimal(1)
    for name in counted:
        certification_multiplier *= accelerators.certifications[name]
    multiplier = min(tier_multiplier * certification_multiplier, accelerators.max)
    inputs = {
        "tier": tier,
        "tier_multiplier": str(tier_multiplier),
        "certifications": ",".join(counted),
        "certification_multiplier": str(certification_multiplier),
        "multiplier": str(multiplier),
    }
    return Accelerator(tier, tier_multiplier, counted, certification_multiplier, multiplier, inputs)


def price(
    earned: Earned,
    *,
    boost: Accelerator,
    program: Program,
    cap_used: Decimal | None,
) -> Entry:
    """Accelerate by `boost` (`accelerator` of the partner's `standing` at the event time),
    round once, cap: the entry for what a rule earned (see the module doc)."""
    uncapped = round_to_minor_unit(earned.base * boost.multiplier, earned.currency)
    amount = uncapped
    inputs = {**earned.inputs, "base": str(earned.base), **boost.inputs}
    cap = program.caps.per_period.get(earned.currency)
    if cap is not None and cap_used is not None:
        left = max(cap - cap_used, ZERO)
        if amount > left:
            inputs.update(uncapped=str(uncapped), cap=str(cap), capped="true")
            amount = left
    return Entry(
        entry_id=entry_id_for(
            source_event_id=earned.source_event_id, rule=earned.rule, partner_id=earned.partner_id
        ),
        partner_id=earned.partner_id,
        customer_id=earned.customer_id,
        rule=earned.rule,
        kind="accrual",
        amount=amount,
        currency=earned.currency,
        event_time=earned.event_time,
        payable_at=earned.event_time + timedelta(days=program.hold_days),
        source_event_id=earned.source_event_id,
        program_id=program.program_id,
        program_version=program.version,
        inputs=inputs,
    )


def _reversal(
    original: Entry,
    *,
    rule: str,
    amount: Decimal,
    at: datetime,
    source_event_id: str,
    inputs: Mapping[str, str],
) -> Entry:
    return Entry(
        entry_id=entry_id_for(
            source_event_id=source_event_id,
            rule=rule,
            partner_id=original.partner_id,
            reverses=original.entry_id,
        ),
        partner_id=original.partner_id,
        customer_id=original.customer_id,
        rule=rule,
        kind="reversal",
        amount=amount,
        currency=original.currency,
        event_time=at,
        payable_at=at,
        source_event_id=source_event_id,
        program_id=original.program_id,
        program_version=original.program_version,
        reverses=original.entry_id,
        inputs={**original.inputs, **inputs, "original_rule": original.rule},
    )


def clawback(
    event: SubscriptionCancelled,
    customer: CustomerState,
    ledger: CustomerLedger,
    program: Program,
    windows: Mapping[str, int],
) -> list[Entry]:
    """A cancellation within the clawback window of the start reverses what is left of each
    new-logo and implementation entry; within an upsell's or cross-sell's reversal window
    (`windows`: rule → days, from each original's program) what is left of it."""
    start = customer.started_at
    rule = program.rules.clawback
    reversals: list[Entry] = []
    early = (
        rule is not None
        and start is not None
        and (event.time - start).days <= rule.within_days  # whole days
    )
    targets = list(rule.rules) if rule is not None and early else []
    for original in ledger.accruals(*targets, "upsell", "cross_sell"):
        if original.rule in ("upsell", "cross_sell"):
            days = windows.get(original.entry_id)
            if days is None or (event.time - original.event_time).days > days:
                continue
        if original.event_time > event.time:
            continue  # accrued after the cancellation (a later event): not this one's to reverse
        left = ledger.remaining(original)
        if left == ZERO:
            continue
        reversals.append(
            _reversal(
                original,
                rule="clawback",
                amount=-left,
                at=event.time,
                source_event_id=event.id,
                inputs={"reason": "cancelled early", "fraction": "1"},
            )
        )
    return reversals


def contraction(
    event: SubscriptionContracted, ledger: CustomerLedger, windows: Mapping[str, int]
) -> list[Entry]:
    """ARR removed within an upsell's (or cross-sell's) reversal window reverses it in
    proportion (ARR removed / ARR it added), newest first; what is left when fully reversed."""
    d = event.data
    removed = annual(d.previous_mrr.amount - d.mrr.amount)
    reversals: list[Entry] = []
    candidates = sorted(
        ledger.accruals("upsell", "cross_sell"), key=lambda e: e.event_time, reverse=True
    )
    for original in candidates:
        if removed <= 0:
            break
        days = windows.get(original.entry_id)
        if days is None or not 0 <= (event.time - original.event_time).days <= days:
            continue  # outside its window, or accrued after this contraction
        added = Decimal(original.inputs["arr_added"])
        earlier = ledger.referencing(original.entry_id)
        mine = [e for e in earlier if e.source_event_id == event.id]
        if mine:  # this contraction was applied already (seen again after a late entry)
            removed -= sum((Decimal(e.inputs.get("arr_reversed", "0")) for e in mine), ZERO)
            continue
        already = sum((Decimal(e.inputs.get("arr_reversed", "0")) for e in earlier), ZERO)
        left_arr = added - already
        left = ledger.remaining(original)
        if left_arr <= 0 or left == ZERO:
            continue
        take = min(removed, left_arr)
        removed -= take
        if take == left_arr:
            amount = -left
        else:
            amount = -round_to_minor_unit(original.amount * take / added, original.currency)
        reversals.append(
            _reversal(
                original,
                rule="contraction",
                amount=amount,
                at=event.time,
                source_event_id=event.id,
                inputs={
                    "reason": "contracted",
                    "arr_reversed": str(take),
                    "fraction": str(take / added),
                },
            )
        )
    return reversals


def renewal_correction(
    original: Entry,
    *,
    ledger: CustomerLedger,
    band_now: str,
    program: Program,
    source_event_id: str,
) -> Entry | None:
    """A renewal priced with the band known when it was processed, while a health change
    that arrived later shows another band in force at the renewal's event time: the
    difference, as an adjustment referencing the renewal (the walk then holds a positive one
    to the cap of the renewal's month: domain/caps.py)."""
    rule = program.rules.renewal
    adjustments = [e for e in ledger.referencing(original.entry_id) if e.kind == "adjustment"]
    applied = adjustments[-1].inputs["band"] if adjustments else original.inputs["band"]
    if rule is None or applied == band_now:
        return None
    base = Decimal(original.inputs["arr"]) * Decimal(original.inputs["rate"])
    multiplier = rule.band_multipliers[Band(band_now)]
    target = round_to_minor_unit(
        base * multiplier * Decimal(original.inputs["multiplier"]), original.currency
    )
    delta = target - ledger.remaining(original)
    return adjustment_of(
        original,
        source_event_id=source_event_id,
        amount=delta,
        event_time=original.event_time,
        payable_at=original.payable_at,
        inputs={
            **original.inputs,
            "band": band_now,
            "band_multiplier": str(multiplier),
            "previous_band": applied,
            "reason": "band in force at the renewal arrived late",
        },
    )
