"""The CloudEvents 1.0 envelope (structured mode, JSON) shared by every Fourfold event."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints

# No NUL: PostgreSQL text cannot hold it, and an id that cannot be stored cannot be deduped.
NO_NUL = r"^[^\x00]*$"
NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=NO_NUL)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_NUL)]


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

    model_config = ConfigDict(frozen=True, extra="allow")

    topic: ClassVar[str]

    specversion: Literal["1.0"] = "1.0"
    id: NonEmpty
    source: NonEmpty
    type: str
    time: AwareDatetime
    subject: str | None = None
    datacontenttype: Literal["application/json"] | None = None
    dataschema: str | None = None
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
