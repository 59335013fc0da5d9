"""Kafka records of this service's events: the same CloudEvents envelope as `Envelope.wrap(...)` produces.

The hot path publishes straight to Kafka (not through the outbox) and encodes tens of thousands of envelopes
a second, so `encode_accounting` writes the envelope and its data as JSON text directly from the event's
plain data, field by field in the contract model's order. Tests prove the result equal to the contract's
own serialisation (`Envelope.wrap(model).model_dump_json()`).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bss_contracts import DomainEvent
from radius_ingest.domain.accounting import TIME_FIELDS, Accounting

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_string: Any = json.encoder.encode_basestring  # type: ignore[attr-defined]  # the C encoder, no ASCII escaping
_FIELDS: dict[type[DomainEvent], tuple[str, ...]] = {}
_ISO: dict[int, str] = {}


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    topic: str  # without the deployment's prefix
    key: bytes
    value: bytes
    headers: list[tuple[str, str | bytes | None]]


def iso_seconds(epoch: int) -> str:
    """ "2026-01-01T00:00:00Z" as pydantic writes aware UTC datetimes (cached: events repeat their seconds)."""
    text = _ISO.get(epoch)
    if text is None:
        if len(_ISO) > 200_000:
            _ISO.clear()
        text = _ISO[epoch] = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return text


def _iso(moment: datetime) -> str:
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _envelope(
    *, event_type: str, schema_version: int, ident: str, source: str, when: str, subject: str, tenant_id: str,
    correlation: str, data_json: str, topic: str, header_time: str,
) -> KafkaRecord:  # fmt: skip
    value = (
        f'{{"specversion":"1.0","id":"{ident}","source":{_string(source)},"type":"{event_type}",'
        f'"time":"{when}","subject":{_string(subject)},"datacontenttype":"application/json",'
        f'"schema_version":{schema_version},"tenant_id":{_string(tenant_id)},'
        f'"correlation_id":"{correlation}","causation_id":null,"data":{data_json}}}'
    ).encode()
    headers: list[tuple[str, str | bytes | None]] = [
        ("content-type", b"application/cloudevents+json"),
        ("ce_specversion", b"1.0"),
        ("ce_id", ident.encode()),
        ("ce_type", event_type.encode()),
        ("ce_source", source.encode()),
        ("ce_subject", subject.encode()),
        ("ce_time", header_time.encode()),
        ("tenant_id", tenant_id.encode()),
        ("correlation_id", correlation.encode()),
    ]
    return KafkaRecord(topic, subject.encode(), value, headers)


def _data_json(model: type[DomainEvent], data: dict[str, Any]) -> str:
    fields = _FIELDS.get(model)
    if fields is None:
        fields = _FIELDS[model] = tuple(model.model_fields)
    parts = []
    for name in fields:
        value = data.get(name)
        if value is None:
            rendered = "null"
        elif name in TIME_FIELDS:
            rendered = f'"{iso_seconds(value)}"'
        elif type(value) is int:
            rendered = str(value)
        else:
            rendered = _string(value)
        parts.append(f'"{name}":{rendered}')
    return "{" + ",".join(parts) + "}"


def encode_accounting(accounting: Accounting, *, tenant_id: str, source: str) -> KafkaRecord:
    """The hot path's encoder (no pydantic): see the module docstring."""
    model = accounting.model
    when = iso_seconds(accounting.event_time)
    return _envelope(
        event_type=model.event_type, schema_version=model.schema_version, ident=accounting.event_id, source=source,
        when=when, subject=accounting.key, tenant_id=tenant_id, correlation=accounting.event_id,
        data_json=_data_json(model, accounting.data), topic=model.topic.name,
        header_time=when[:-1] + "+00:00",
    )  # fmt: skip


def encode(
    event: DomainEvent,
    *,
    event_id: uuid.UUID | str,
    tenant_id: str,
    time: datetime,
    source: str,
    correlation_id: uuid.UUID | None = None,
) -> KafkaRecord:
    """Any contract model, serialised by pydantic (the reference `encode_accounting` is held to)."""
    ident = str(event_id)
    return _envelope(
        event_type=event.event_type, schema_version=event.schema_version, ident=ident, source=source,
        when=_iso(time), subject=event.key(), tenant_id=tenant_id,
        correlation=ident if correlation_id is None else str(correlation_id),
        data_json=event.model_dump_json(), topic=event.topic.name, header_time=time.isoformat(),
    )  # fmt: skip
