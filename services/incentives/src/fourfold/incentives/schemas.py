"""The API shapes (requests and responses). Amounts travel as decimal strings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from fourfold.service.text import RequestModel

Text = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"^[^\x00]*$")]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=r"^[^\x00]*$")]
Ident = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00]*$")]
Period = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
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
    amount: Decimal
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
    total: Decimal = Field(description="Every entry not rejected: what the partner earned, net.")
    paid: Decimal = Field(description="Paid out by statements so far.")
    due: Decimal = Field(description="total − paid; negative after clawbacks of paid entries.")
    held: Decimal = Field(description="Entries still in their holding period.")
    payable: Decimal = Field(description="Entries past their hold, not yet paid.")


class Balance(BaseModel):
    partner_id: str
    at: datetime
    currencies: list[BalanceLine]


class StatementLine(BaseModel):
    currency: str
    opening: Decimal
    earned: Decimal
    reversed: Decimal
    closing: Decimal
    paid_before: Decimal
    due: Decimal
    paid: Decimal | None = None


class RuleTotal(BaseModel):
    rule: str
    currency: str
    entries: int
    amount: Decimal


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
    amount: Decimal = Field(
        description="The adjustment (in the entry's currency, within its minor unit); "
        "positive pays the partner more.",
        allow_inf_nan=False,
        max_digits=18,
        decimal_places=4,
    )
    comment: Text


class PayIn(_In):
    payout_reference: Ident


class TierIn(_In):
    tier: Ident
    effective_at: AwareDatetime | None = Field(
        default=None, description="From when the tier applies (event time); default: now."
    )
    reason: Annotated[str, StringConstraints(max_length=500, pattern=r"^[^\x00]*$")] | None = None


class TierOut(BaseModel):
    partner_id: str
    tier: str
    effective_at: datetime
    event_id: str


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
    program_version: Ident
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime


class Adjustment(BaseModel):
    entry_id: str
    adjusts_entry_id: str
    partner_id: str
    customer_id: str
    rule: str
    amount: Decimal
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
    actual: Decimal
    what_if: Decimal
    difference: Decimal


class WhatIf(BaseModel):
    program_version: str
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    events: int
    rows: list[WhatIfRow]
