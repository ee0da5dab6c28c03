"""Events in event-time order → ledger entries. The live consumer, the recalculation and
the what-if all run this one walk:

- live: the stored history of the batch's customers with the batch's fresh events among it
  (`fresh` = their ids) and the customers' existing entries; only fresh events earn, the
  rest rebuild state. Late facts are reconciled: a health change that arrives after a
  renewal it precedes corrects that renewal (an adjustment), an entry whose event
  precedes an already-processed cancellation or contraction is reversed by it, and a
  first_value that came before its subscription earns when the subscription arrives.
  Partner facts (tiers, certifications) apply from when they arrive; re-pricing entries
  after a late one is a recalculation.
- replay (recalculation, what-if): every event is fresh, the ledger starts empty, caps
  count from zero; the entries are what the program(s) would have produced.

Caps: `cap_used` maps (partner, period, currency) to what the partner already earned; None
switches caps off (the first pass of the live path, which only learns which keys it needs).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from fourfold.events import (
    CustomerPartnerChanged,
    Envelope,
    HealthChanged,
    MilestoneCompleted,
    PartnerCertified,
    PartnerTierChanged,
    SubscriptionAddonAdded,
    SubscriptionCancelled,
    SubscriptionContracted,
    SubscriptionCreated,
    SubscriptionExpanded,
    SubscriptionRenewed,
)
from fourfold.incentives.domain import rules
from fourfold.incentives.domain.caps import CapKey, cap_adjustment, cap_key
from fourfold.incentives.domain.entries import CustomerLedger, Entry, period_of
from fourfold.incentives.domain.program import Program, ProgramSet
from fourfold.incentives.domain.state import (
    CustomerState,
    PartnerState,
    customer_of_event,
    fold_customer,
    fold_partner,
    partner_of_event,
)


def effective_time(event: Envelope) -> datetime:
    """When an event's fact took effect: a health change when it was scored, a tier, a
    certification or a partner change from its effective instant, anything else its time."""
    match event:
        case HealthChanged():
            return event.data.scored_at
        case PartnerTierChanged() | CustomerPartnerChanged():
            return event.data.effective_at
        case PartnerCertified():
            return event.data.certified_at
    return event.time


def order_key(event: Envelope) -> tuple[object, ...]:
    """Effective time, then id: the one order every walk uses."""
    return (effective_time(event), event.id)


@dataclass
class Accrual:
    """One walk over events; `entries` collects the new entries in the order produced."""

    programs: ProgramSet
    partners: dict[str, PartnerState] = field(default_factory=dict)
    customers: dict[str, CustomerState] = field(default_factory=dict)
    ledgers: dict[str, CustomerLedger] = field(default_factory=dict)
    cap_used: dict[CapKey, Decimal] | None = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    cap_keys: set[CapKey] = field(default_factory=set)
    """Every (partner, period, currency) an earning entry was priced against."""
    _last_fresh_band: dict[str, str] = field(default_factory=dict)
    _pending: dict[str, list[Entry]] = field(default_factory=dict)
    _by_day: dict[date, Program | None] = field(default_factory=dict)
    _boosts: dict[tuple[int, str, tuple[str, ...]], rules.Accelerator] = field(default_factory=dict)

    def _program_for(self, at: datetime) -> Program | None:
        """`programs.for_time(at)`, remembered per UTC day (what a version's range is made
        of) unless a fixed version starts at an instant (recalculation, what-if)."""
        if self.programs.fixed is not None:
            return self.programs.for_time(at)
        day = at.astimezone(UTC).date()
        if day not in self._by_day:
            self._by_day[day] = self.programs.for_time(at)
        return self._by_day[day]

    def seed(self, existing: Iterable[Entry]) -> None:
        """Entries already in the ledger (live path): the walk will not accrue them again.
        Each joins the customer's ledger when the walk reaches its source event, so a rule
        only ever sees what came before its event (a cancellation never reverses an entry
        of a later event, whatever order they were processed in)."""
        for entry in existing:
            self._pending.setdefault(entry.source_event_id, []).append(entry)

    def run(self, events: Iterable[Envelope], fresh: Collection[str] | None = None) -> list[Entry]:
        """Walk `events` (sorted here by event time); `fresh` None means all are fresh."""
        ordered = sorted(events, key=order_key)
        walked = {event.id for event in ordered}
        for source in [s for s in self._pending if s not in walked]:  # adoption, adjustments
            self._release(source)
        for event in ordered:
            self.step(event, fresh=fresh is None or event.id in fresh)
        return self.entries

    def _release(self, source_event_id: str) -> None:
        for entry in self._pending.pop(source_event_id, ()):
            self._ledger(entry.customer_id).add(entry)

    def step(self, event: Envelope, *, fresh: bool) -> None:
        self._release(event.id)
        partner_id = partner_of_event(event)
        if partner_id is not None:
            fold_partner(self._partner(partner_id), event)
            return
        customer_id = customer_of_event(event)
        if customer_id is None:
            return
        customer = self.customers.get(customer_id)
        if customer is None:  # not setdefault: a CustomerState is costly to build per event
            customer = self.customers[customer_id] = CustomerState(customer_id)
        ledger = self._ledger(customer_id)
        self._adoption(event.time, customer, ledger)  # earned before this event, if due
        fold_customer(customer, event)
        if isinstance(event, HealthChanged) and fresh:
            self._last_fresh_band[customer_id] = event.id
        program = self._program_for(event.time)
        if program is not None:
            if fresh:
                self._earn(event, customer, ledger, program)
            elif isinstance(event, SubscriptionRenewed):
                self._correct_renewal(event, customer, ledger, program)
            elif isinstance(
                event, SubscriptionCancelled | SubscriptionContracted | MilestoneCompleted
            ):
                # late facts: an entry whose event precedes an already-processed cancellation
                # or contraction is reversed by it; a first_value processed before its
                # subscription was known earns once the subscription arrives. Entries that
                # exist keep their identity, so nothing doubles.
                self._earn(event, customer, ledger, program)

    def _earn(
        self, event: Envelope, customer: CustomerState, ledger: CustomerLedger, program: Program
    ) -> None:
        earned: rules.Earned | None = None
        match event:
            case SubscriptionCreated():
                earned = rules.new_logo(event, program)
            case MilestoneCompleted():
                earned = rules.implementation_bonus(event, customer, ledger, program)
            case SubscriptionExpanded():
                earned = rules.upsell(event, program)
            case SubscriptionAddonAdded():
                earned = rules.cross_sell(event, program)
            case SubscriptionRenewed():
                earned = rules.renewal(event, customer, program)
            case SubscriptionCancelled():
                windows = self._reversal_windows(ledger)
                for entry in rules.clawback(event, customer, ledger, program, windows):
                    self._add(ledger, entry)
            case SubscriptionContracted():
                for entry in rules.contraction(event, ledger, self._reversal_windows(ledger)):
                    self._add(ledger, entry)
        if earned is not None:
            self._price(earned, ledger, program)

    def sweep(self, at: datetime) -> None:
        """Earn, for every customer walked, what is due by `at` without a further event:
        the adoption bonus of a green streak completed by then (the same entry identity
        the next event would give it, so the two paths never both pay)."""
        for customer_id, customer in self.customers.items():
            self._adoption(at, customer, self._ledger(customer_id))

    def _adoption(self, at: datetime, customer: CustomerState, ledger: CustomerLedger) -> None:
        """The adoption bonus, if a streak completed by `at` (an event's time, or a sweep's)."""
        if "first_value" not in customer.milestones or ledger.has_rule("adoption_bonus"):
            return
        at_program = self._program_for(at)
        if at_program is None:
            return
        due = rules.adoption_due(customer, at, at_program)
        if due is None:
            return
        program = self._program_for(due)
        if program is None:
            return
        earned = rules.adoption_bonus(customer, ledger, due, program)
        if earned is not None:
            self._price(earned, ledger, program)

    def _correct_renewal(
        self,
        event: SubscriptionRenewed,
        customer: CustomerState,
        ledger: CustomerLedger,
        program: Program,
    ) -> None:
        source = self._last_fresh_band.get(customer.customer_id)
        if source is None:
            return
        for original in ledger.accruals("renewal"):
            if original.source_event_id != event.id:
                continue
            owner = self.programs.by_version(original.program_version) or program
            correction = rules.renewal_correction(
                original,
                ledger=ledger,
                band_now=customer.band_at(event.time).value,
                program=owner,
                source_event_id=source,
            )
            if correction is not None:
                self._add_capped(ledger, correction, owner)

    def _add_capped(self, ledger: CustomerLedger, adjustment: Entry, program: Program) -> None:
        """A system adjustment counts against its month's cap (domain/caps.py)."""
        key = cap_key(adjustment)
        cap = program.caps.per_period.get(adjustment.currency)
        if cap is not None:
            self.cap_keys.add(key)
        if self.cap_used is not None:
            adjustment = cap_adjustment(adjustment, cap, self.cap_used.get(key, Decimal(0)))
            self.cap_used[key] = self.cap_used.get(key, Decimal(0)) + adjustment.amount
        if adjustment.amount != 0:
            self._add(ledger, adjustment)

    def _price(self, earned: rules.Earned, ledger: CustomerLedger, program: Program) -> None:
        key = (earned.partner_id, period_of(earned.event_time), earned.currency)
        used = None if self.cap_used is None else self.cap_used.get(key, Decimal(0))
        boost = self._accelerator(self.partners.get(earned.partner_id), earned, program)
        entry = rules.price(earned, boost=boost, program=program, cap_used=used)
        if ledger.has_id(entry.entry_id):
            return
        if entry.currency in program.caps.per_period:
            self.cap_keys.add(key)
        if self.cap_used is not None:
            self.cap_used[key] = self.cap_used.get(key, Decimal(0)) + entry.amount
        if entry.amount != 0 or entry.inputs.get("capped"):
            self._add(ledger, entry)

    def _accelerator(
        self, partner: PartnerState | None, earned: rules.Earned, program: Program
    ) -> rules.Accelerator:
        """The partner's accelerator at the event, combined once per (program, tier,
        certifications) in this walk: a handful of combinations price every entry. The key
        holds `id(program)`: `self.programs` keeps each program alive while the walk runs,
        so no id is reused under it."""
        tier, held = rules.standing(partner, earned.event_time, program)
        key = (id(program), tier, held)
        boost = self._boosts.get(key)
        if boost is None:
            boost = self._boosts[key] = rules.accelerator(program.accelerators, tier, held)
        return boost

    def _reversal_windows(self, ledger: CustomerLedger) -> dict[str, int]:
        """Each upsell or cross-sell entry's reversal window, from the program it accrued under."""
        windows: dict[str, int] = {}
        for entry in ledger.accruals("upsell", "cross_sell"):
            program = self.programs.by_version(entry.program_version)
            rule = None
            if program is not None:
                rule = program.rules.upsell if entry.rule == "upsell" else program.rules.cross_sell
            if rule is not None:
                windows[entry.entry_id] = rule.reversal_days
        return windows

    def _add(self, ledger: CustomerLedger, entry: Entry) -> None:
        if not ledger.has_id(entry.entry_id):
            ledger.add(entry)
            self.entries.append(entry)

    def _ledger(self, customer_id: str) -> CustomerLedger:
        ledger = self.ledgers.get(customer_id)
        if ledger is None:
            ledger = self.ledgers[customer_id] = CustomerLedger()
        return ledger

    def _partner(self, partner_id: str) -> PartnerState:
        state = self.partners.get(partner_id)
        if state is None:
            state = self.partners[partner_id] = PartnerState(partner_id)
        return state


def replay(
    events: Iterable[Envelope], programs: ProgramSet
) -> tuple[list[Entry], dict[CapKey, Decimal]]:
    """Every entry `programs` would have produced from `events` (caps counted from zero)."""
    walk = Accrual(programs=programs)
    entries = walk.run(events)
    return entries, walk.cap_used or {}


def totals(entries: Iterable[Entry]) -> dict[tuple[str, str, str], Decimal]:
    """Sum per (partner, rule, currency)."""
    sums: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for entry in entries:
        sums[(entry.partner_id, entry.rule, entry.currency)] += entry.amount
    return dict(sums)


def accrue(
    *,
    history: Iterable[Envelope],
    fresh: Collection[str],
    existing: Iterable[Entry],
    programs: ProgramSet,
    cap_used: dict[CapKey, Decimal] | None,
    sweep_at: datetime | None = None,
) -> Accrual:
    """The live path: the new entries the `fresh` events (and late facts) produce, given the
    stored history around them and the entries already in the ledger. With `cap_used`
    None, caps are off and `cap_keys` says which (partner, period, currency) to lock and
    load before the real pass. With `sweep_at`, after the walk each customer walked earns
    what time alone made due by then (the adoption bonus of a streak no event closed)."""
    walk = Accrual(programs=programs, cap_used=cap_used)
    walk.seed(existing)
    walk.run(history, fresh)
    if sweep_at is not None:
        walk.sweep(sweep_at)
    return walk
