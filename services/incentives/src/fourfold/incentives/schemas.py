"""The API shapes (requests and responses). Amounts travel as decimal strings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from fourfold.events.bounds import EventTime, Identifier
from fourfold.events.bounds import Text as EventText
from fourfold.events.money import FORMATTED_PATTERN, Amount
from fourfold.service.text import RequestModel

Text = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=r"^[^\x00]*$")]
Ident = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00]*$")]
Period = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
Shown = Annotated[
    str,
    Field(
        pattern=FORMATTED_PATTERN,
        description="Decimal text in the currency's minor unit (USD 2 digits, JPY 0, BHD 3).",
        examples=["600.00"],
    ),
]
"""An amount as the API shows it (`fourfold.events.money.format_amount`), beside its currency."""
EntryStatus = Literal["accrued", "payable", "approved", "rejected", "paid"]


class _In(RequestModel):
    """A request body: unknown fields refused, unstorable strings a 422 naming the field."""

    model_config = ConfigDict(extra="forbid")


class Transition(BaseModel):
    status: str
    reason: str | None
    actor: str
    at: datetime


class LedgerEntry(BaseModel):
    """One ledger entry and why: the rule, the program version and the inputs it used."""

    entry_id: str
    partner_id: str
    customer_id: str
    rule: str
    kind: Literal["accrual", "reversal", "adjustment"]
    amount: Shown
    currency: str
    period: str
    event_time: datetime
    payable_at: datetime
    status: EntryStatus
    source_event_id: str
    program_id: str
    program_version: str
    reverses_entry_id: str | None
    inputs: dict[str, Any]
    created_at: datetime
    history: list[Transition] | None = None


class EntryPage(BaseModel):
    partner_id: str
    items: list[LedgerEntry]
    next_cursor: str | None


class BalanceLine(BaseModel):
    currency: str
    total: Shown = Field(description="Every entry not rejected: what the partner earned, net.")
    paid: Shown = Field(description="Paid out by statements so far.")
    due: Shown = Field(description="total − paid; negative after clawbacks of paid entries.")
    held: Shown = Field(description="Entries still in their holding period.")
    payable: Shown = Field(description="Entries past their hold, not yet paid.")


class Balance(BaseModel):
    partner_id: str
    at: datetime
    currencies: list[BalanceLine]


class StatementLine(BaseModel):
    currency: str
    opening: Shown
    earned: Shown
    reversed: Shown
    closing: Shown
    paid_before: Shown
    due: Shown
    paid: Shown | None = None


class RuleTotal(BaseModel):
    rule: str
    currency: str
    entries: int
    amount: Shown


class Statement(BaseModel):
    """A partner's statement for a calendar month, per currency."""

    partner_id: str
    period: str
    status: Literal["open", "approved", "paid"]
    payout_reference: str | None
    currencies: list[StatementLine]
    rules: list[RuleTotal]
    entries: int
    entries_url: str
    history: list[Transition]


class StatementList(BaseModel):
    partner_id: str
    items: list[Statement]


class DisputeIn(_In):
    entry_id: Ident
    comment: Text


class CommentIn(_In):
    comment: Text


class DisputeMessage(BaseModel):
    kind: Literal["opened", "comment", "accepted", "rejected"]
    author: str
    author_role: str
    text: str
    adjustment_entry_id: str | None
    at: datetime


class Dispute(BaseModel):
    dispute_id: str
    partner_id: str
    entry_id: str
    status: Literal["open", "accepted", "rejected"]
    opened_by: str
    opened_at: datetime
    thread: list[DisputeMessage]


class DisputeList(BaseModel):
    partner_id: str
    items: list[Dispute]


class RejectIn(_In):
    reason: Reason


class AcceptIn(_In):
    amount: Amount = Field(
        description="The adjustment as a decimal string (in the entry's currency, within its "
        "minor unit); positive pays the partner more."
    )
    comment: Text


class PayIn(_In):
    payout_reference: Ident


class TierIn(_In):
    """Becomes a `partner.tier_changed`: its fields carry that contract's bounds."""

    tier: Identifier
    effective_at: EventTime | None = Field(
        default=None, description="From when the tier applies (event time); default: now."
    )
    reason: EventText | None = None


class TierOut(BaseModel):
    partner_id: str
    tier: str
    effective_at: datetime
    event_id: str


class TierChange(BaseModel):
    tier: str
    effective_at: datetime
    event_id: str
    reason: str | None


class PartnerTier(BaseModel):
    partner_id: str
    tier: str = Field(
        description="In force now: the last change effective by now, else the default tier "
        "of the program in force."
    )
    certifications: list[str] = Field(description="Held now, in the order they multiply.")
    changes: list[TierChange] = Field(description="Every tier change, by effective time.")


class ProgramVersion(BaseModel):
    version: str
    program_id: str
    effective_from: str
    effective_to: str | None
    uploaded_by: str
    uploaded_at: datetime
    activated_at: datetime | None
    in_force: bool = Field(description="Activated and covering today.")


class ProgramList(BaseModel):
    items: list[ProgramVersion]


class ProgramDetail(ProgramVersion):
    source: str
    program: dict[str, Any]


class Validation(BaseModel):
    valid: bool
    version: str | None = None
    problems: list[dict[str, Any]] = []


class RangeIn(_In):
    """[from, to) in event time: within the years an event's time may have."""

    program_version: Ident
    from_: EventTime = Field(alias="from")
    to: EventTime


class Adjustment(BaseModel):
    entry_id: str
    adjusts_entry_id: str | None = Field(
        description="The entry this one adjusts; null for an entry the ledger never had, "
        "which the recalculation appended itself."
    )
    partner_id: str
    customer_id: str
    rule: str
    amount: Shown
    currency: str


class Recalculation(BaseModel):
    run_id: str
    program_version: str
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    period: str
    adjustments: list[Adjustment]


class WhatIfRow(BaseModel):
    partner_id: str
    rule: str
    currency: str
    actual: Shown
    what_if: Shown
    difference: Shown


class WhatIf(BaseModel):
    program_version: str
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    events: int
    rows: list[WhatIfRow]
