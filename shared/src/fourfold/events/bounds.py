"""The bounds every event field carries, defined once: what ingest accepts, every consumer
can store and compute with.

Each type below is an `Annotated` alias that a contract field uses as its type (`seats:
Seats`, `paid_at: EventTime`); the bound is enforced by the model (so by ingest, which
validates with these contracts, and by every consumer's parser) and published in the
generated JSON Schemas (`docs/events/`). Why these numbers:

- **Times and dates** are within the years `EARLIEST_YEAR`..`LATEST_YEAR` (as written, before
  the zone offset is applied): date arithmetic a consumer does (`term_end - 60 days`,
  `start + 365 days`, a day's midnight in UTC) never leaves Python's `datetime` range (years
  1..9999), and every value fits PostgreSQL's `timestamptz` and `date`.
- **Integers** have domain maxima far below 2**53 (exact as a JSON number read as a double,
  and as a PostgreSQL `bigint`), leaving room for sums: `Seats` up to `MAX_SEATS`, `Count` up
  to `MAX_COUNT`.
- **Measurements** (`Quantity`) are finite floats from 0 to `MAX_QUANTITY`, so rounding one
  to an integer gives an `int64`, and a sum of a few hundred of them is still exact enough.
- **Derived numbers** (`Measure`: ratios, averages) are finite and within ±`MAX_MEASURE`.
- **Text** never holds a NUL (PostgreSQL `text` cannot) and has a maximum length.

Money has its own module (`fourfold.events.money`): Decimal amounts that fit a NUMERIC
column and an ISO 4217 currency.

A new event reuses these types; a field that needs a tighter bound adds a `Field(...)` to
the type (`seats: Annotated[Seats, Field(ge=1)]`: the outer bound wins), never a looser
one.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Final, TypeVar

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints, WithJsonSchema

EARLIEST_YEAR: Final = 1970
"""The first year a time or date in an event may have."""
LATEST_YEAR: Final = 2199
"""The last year a time or date in an event may have."""
YEAR_PATTERN: Final = r"^(19[7-9][0-9]|2[01][0-9]{2})-"
"""The year window as a JSON Schema pattern on the RFC 3339 text (keep it in step)."""

MAX_SEATS: Final = 10_000_000
"""Seats on one subscription."""
MAX_COUNT: Final = 1_000_000_000_000
"""Any other count in an event: features, attempts, failed payments, seats in use."""
MAX_QUANTITY: Final = 1_000_000_000_000.0
"""A usage measurement (`usage.reported` value)."""
MAX_MEASURE: Final = 1_000_000_000_000_000.0
"""A derived ratio or average (utilisation, active users per day, usage trend)."""

MAX_ID_LENGTH: Final = 128
MAX_NAME_LENGTH: Final = 256
MAX_URI_LENGTH: Final = 2048

NO_NUL: Final = r"^[^\x00]*$"
"""No NUL: PostgreSQL text cannot hold it, and an id that cannot be stored cannot be deduped."""

_Dated = TypeVar("_Dated", date, datetime)


def _in_window(value: _Dated) -> _Dated:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"year must be within {EARLIEST_YEAR}..{LATEST_YEAR}")
    return value


_WINDOW = f"Year {EARLIEST_YEAR}–{LATEST_YEAR}."

EventTime = Annotated[
    AwareDatetime,
    AfterValidator(_in_window),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": YEAR_PATTERN,
            "description": f"RFC 3339 with a zone offset. {_WINDOW}",
        }
    ),
]
"""A zone-aware instant within the year window."""

EventDate = Annotated[
    date,
    AfterValidator(_in_window),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date",
            "pattern": YEAR_PATTERN,
            "description": f"A calendar date (YYYY-MM-DD). {_WINDOW}",
        }
    ),
]
"""A calendar date within the year window."""

Seats = Annotated[int, Field(ge=0, le=MAX_SEATS)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Quantity = Annotated[float, Field(ge=0, le=MAX_QUANTITY, allow_inf_nan=False)]
Measure = Annotated[float, Field(ge=-MAX_MEASURE, le=MAX_MEASURE, allow_inf_nan=False)]
Score = Annotated[int, Field(ge=0, le=100)]
"""A health score."""
ScoreChange = Annotated[int, Field(ge=-100, le=100)]
"""The difference of two health scores."""

Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH, pattern=NO_NUL)
]
"""An id or a short name (customer, plan, rule): 1–128 characters."""
NonEmpty = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH, pattern=NO_NUL)
]
"""The envelope's `id` and `source`: 1–256 characters."""
UriText = Annotated[str, StringConstraints(max_length=MAX_URI_LENGTH, pattern=NO_NUL)]
"""A URI or path-like attribute (`subject`, `dataschema`): at most 2048 characters."""
ShortText = Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)]
"""A title."""
Text = Annotated[str, StringConstraints(max_length=500, pattern=NO_NUL)]
"""A reason."""
LongText = Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)]
"""A comment or a message."""

__all__ = [
    "EARLIEST_YEAR",
    "LATEST_YEAR",
    "MAX_COUNT",
    "MAX_ID_LENGTH",
    "MAX_MEASURE",
    "MAX_NAME_LENGTH",
    "MAX_QUANTITY",
    "MAX_SEATS",
    "MAX_URI_LENGTH",
    "NO_NUL",
    "YEAR_PATTERN",
    "Count",
    "EventDate",
    "EventTime",
    "Identifier",
    "LongText",
    "Measure",
    "NonEmpty",
    "Quantity",
    "Score",
    "ScoreChange",
    "Seats",
    "ShortText",
    "Text",
    "UriText",
]
