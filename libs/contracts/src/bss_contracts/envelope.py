"""The event envelope: CloudEvents 1.0 attributes plus tenancy, tracing and the schema version.

On Kafka an event travels in CloudEvents *structured mode*: the record value is the whole envelope as JSON
(`application/cloudevents+json`), the record key is the event's ordering key, and the ids are repeated in
headers so that tools can route and trace without parsing the value.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from bss_contracts.topics import Topic


class DomainEvent(BaseModel):
    """Base of every event payload (the envelope's `data`).

    Subclasses declare their CloudEvents `type`, schema version, topic and which field is the ordering key.
    Payloads are immutable and reject unknown fields on the producer side (`extra="forbid"` is applied only
    when producing: consumers ignore fields added by newer producers, see `Envelope.parse_data`).
    """

    model_config = ConfigDict(frozen=True)

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    topic: ClassVar[Topic]
    key_field: ClassVar[str]

    def key(self) -> str:
        """The Kafka record key: events with the same key stay in order."""
        return str(getattr(self, self.key_field))


E = TypeVar("E", bound=DomainEvent)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


class Envelope(BaseModel, Generic[E]):
    """A domain event with its CloudEvents attributes."""

    model_config = ConfigDict(frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: UUID = Field(default_factory=uuid4, description="Unique per event; consumers deduplicate on it")
    source: str = Field(description="The producing service, e.g. /services/billing")
    type: str = Field(description="The event type, e.g. bss.billing.invoice.overdue")
    time: AwareDatetime = Field(description="When the fact happened (UTC)")
    subject: str = Field(description="The ordering key: the aggregate the event is about")
    datacontenttype: Literal["application/json"] = "application/json"
    schema_version: int = Field(ge=1, description="Version of the `data` schema for this type")
    tenant_id: str = Field(min_length=1, max_length=64)
    correlation_id: UUID = Field(description="The business flow this event belongs to")
    causation_id: UUID | None = Field(default=None, description="The event or request that caused this one")
    data: E

    _normalise_time = field_validator("time")(_utc)

    @classmethod
    def wrap(
        cls,
        data: E,
        *,
        source: str,
        tenant_id: str,
        correlation_id: UUID | None = None,
        causation_id: UUID | None = None,
        time: datetime | None = None,
        event_id: UUID | None = None,
    ) -> Envelope[E]:
        event_id = event_id or uuid4()
        return _envelope_of(builtins.type(data))(  # type: ignore[no-any-return]
            id=event_id,
            source=source,
            type=data.event_type,
            time=time or datetime.now(UTC),
            subject=data.key(),
            schema_version=data.schema_version,
            tenant_id=tenant_id,
            correlation_id=correlation_id or event_id,
            causation_id=causation_id,
            data=data,
        )

    def headers(self) -> dict[str, str]:
        """Kafka headers (CloudEvents Kafka binding names, `ce_` prefix) for routing and tracing."""
        out = {
            "content-type": "application/cloudevents+json",
            "ce_specversion": self.specversion,
            "ce_id": str(self.id),
            "ce_type": self.type,
            "ce_source": self.source,
            "ce_subject": self.subject,
            "ce_time": self.time.isoformat(),
            "tenant_id": self.tenant_id,
            "correlation_id": str(self.correlation_id),
        }
        if self.causation_id:
            out["causation_id"] = str(self.causation_id)
        return out


class RawEnvelope(BaseModel):
    """An envelope whose `data` is not parsed yet: the first step of consuming."""

    model_config = ConfigDict(frozen=True)

    specversion: Literal["1.0"]
    id: UUID
    source: str
    type: str
    time: AwareDatetime
    subject: str
    schema_version: int = Field(ge=1)
    tenant_id: str = Field(min_length=1, max_length=64)
    correlation_id: UUID
    causation_id: UUID | None = None
    data: dict[str, Any]

    def parse_data(self, model: builtins.type[E]) -> Envelope[E]:
        """Validate `data` against `model`, ignoring fields this consumer does not know yet."""
        data = model.model_validate(self.data)
        return Envelope[model](  # type: ignore[valid-type]
            **self.model_dump(exclude={"data"}), data=data
        )


_ENVELOPES: dict[type[DomainEvent], type[Envelope[Any]]] = {}


def _envelope_of(event_type: type[DomainEvent]) -> type[Envelope[Any]]:
    """`Envelope[event_type]`, built once per event type: pydantic's own lookup of a parametrized generic costs
    more than validating the envelope (a bill run wraps thousands of events a second)."""
    found = _ENVELOPES.get(event_type)
    if found is None:
        found = _ENVELOPES[event_type] = Envelope[event_type]  # type: ignore[valid-type]
    return found
