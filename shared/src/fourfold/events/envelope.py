"""The CloudEvents 1.0 envelope (structured mode, JSON) shared by every Fourfold event."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from fourfold.events.bounds import NO_NUL, EventTime, Identifier, NonEmpty, UriText

EXTENSION_NAME: Final = r"^[a-z0-9]{1,20}$"
"""CloudEvents extension attribute names: lower-case letters and digits, at most 20."""
MAX_EXTENSION_INT: Final = 2**31 - 1
"""CloudEvents `Integer`: a signed 32-bit value."""

ExtensionName = Annotated[str, StringConstraints(pattern=EXTENSION_NAME)]
"""Checked by pydantic-core as the key of each extra attribute (no Python call per event)."""

ExtensionValue = (
    Annotated[str, StringConstraints(max_length=2048, pattern=NO_NUL)]
    | bool
    | Annotated[int, Field(ge=-MAX_EXTENSION_INT - 1, le=MAX_EXTENSION_INT)]
)
"""A CloudEvents extension attribute's value: a string, a boolean or a 32-bit integer."""


class EventData(BaseModel):
    """Base of every typed `data` payload: strict about unknown fields so typos fail loudly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def partition_key(self) -> str:
        """The Kafka key: the customer id, so one customer's events stay in order."""
        customer_id = getattr(self, "customer_id", None)
        if customer_id is None:
            raise NotImplementedError(f"{type(self).__name__} must define partition_key")
        return str(customer_id)


class Envelope(BaseModel):
    """CloudEvents 1.0 attributes; `time` is required because handlers order by event time."""

    model_config = ConfigDict(
        frozen=True,
        extra="allow",
        json_schema_extra={"propertyNames": {"pattern": EXTENSION_NAME}},
    )
    __pydantic_extra__: dict[ExtensionName, ExtensionValue] = Field(init=False)

    topic: ClassVar[str]

    specversion: Literal["1.0"] = "1.0"
    id: NonEmpty
    source: NonEmpty
    type: str
    time: EventTime
    subject: UriText | None = None
    datacontenttype: Literal["application/json"] | None = None
    dataschema: UriText | None = None
    data: EventData

    @property
    def key(self) -> str:
        return self.data.partition_key()

    def to_json_bytes(self) -> bytes:
        """Serialise for the broker (structured-mode CloudEvent).

        Nulls are kept: some fields are required yet nullable (a first health.changed has
        no previous score), and a reader must get back exactly what was validated.
        """
        return self.model_dump_json().encode()

    def dedupe_key(self) -> tuple[str, str]:
        """CloudEvents identity: `source` + `id` are unique per distinct event."""
        return (self.source, self.id)

    def extensions(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


__all__ = ["Envelope", "EventData", "Identifier", "NonEmpty"]
