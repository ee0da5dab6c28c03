"""Money as Decimal with an ISO 4217 currency: never a float."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class Money(BaseModel):
    """An amount in one currency; amounts travel as JSON strings to keep every digit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Decimal = Field(allow_inf_nan=False, max_digits=18, decimal_places=4)
    currency: CurrencyCode
