"""Money as Decimal with an ISO 4217 currency: never a float."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
AMOUNT_PATTERN = r"^-?[0-9]{1,14}(\.[0-9]{1,4})?$"


class Money(BaseModel):
    """An amount in one currency; amounts travel as JSON strings to keep every digit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Annotated[
        Decimal,
        Field(allow_inf_nan=False, max_digits=18, decimal_places=4),
        WithJsonSchema({"type": "string", "pattern": AMOUNT_PATTERN}),
    ]
    currency: CurrencyCode

    @field_validator("amount", mode="before")
    @classmethod
    def _no_binary_floats(cls, value: object) -> object:
        """A JSON number arrives as a float and may already have lost digits: refuse it."""
        if isinstance(value, float):
            raise ValueError('amount must be a decimal string such as "12.50", not a number')
        return value
