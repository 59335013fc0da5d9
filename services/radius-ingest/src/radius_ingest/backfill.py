"""Backfill: FreeRADIUS `detail` files and `radacct` CSV exports published as the very same events.

    python -m radius_ingest.backfill detail /var/log/freeradius/radacct/10.0.0.1/detail-2025* [--tenant T --nas-id N]
    python -m radius_ingest.backfill radacct radacct.csv [--tenant T --nas-id N]

Records go through the same domain code as live packets (`to_event`), so event ids are the same: importing
a file twice, or a period the live server also saw, does not double-count downstream (consumers deduplicate
on the event id). Each record's NAS client is found by its source address (Packet-Src-IP-Address in detail
files, else NAS-IP-Address; `nasipaddress` in radacct), unless --tenant and --nas-id name it.

A `radacct` row is a session's last state: it becomes SessionStarted (at acctstarttime, zero counters),
then SessionStopped if acctstoptime is set, else SessionUpdated at acctupdatetime.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from bss_runtime.db import Database
from radius_ingest.adapters import repository
from radius_ingest.adapters.kafka import producer_config
from radius_ingest.adapters.records import encode_accounting
from radius_ingest.config import Settings
from radius_ingest.domain.accounting import Accounting, NotAccounting, interpret
from radius_ingest.domain.nas import NasClient, NasDirectory
from radius_ingest.protocol.dictionary import RadiusDictionary

log = logging.getLogger(__name__)
_GIGA = 1 << 32


@dataclass
class Record:
    attributes: dict[str, Any]
    arrival: float  # when FreeRADIUS received it (detail `Timestamp`), for arrival minus Acct-Delay-Time
    source_ip: str


# --- detail files ---------------------------------------------------------------------------------

_LINE = re.compile(r"^\s+([A-Za-z0-9-]+)\s*(?:=|:=|\+=)\s*(.*?)\s*$")
_DATE_FORMATS = ("%b %d %Y %H:%M:%S %Z", "%b %d %Y %H:%M:%S")


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        body = text[1:-1]
        return re.sub(r"\\(\\|\"|[0-7]{3}|n|r|t)", _unescape, body)
    return text


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    return {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}.get(code) or chr(int(code, 8))


def _date(text: str) -> int:
    if text.isdigit():
        return int(text)
    cleaned = " ".join(text.split())
    for fmt in _DATE_FORMATS:
        try:
            return int(datetime.strptime(cleaned, fmt).replace(tzinfo=UTC).timestamp())
        except ValueError:
            continue
    raise ValueError(f"unreadable date {text!r}")


def typed_value(dictionary: RadiusDictionary, name: str, raw: str) -> Any:
    """A detail file's printed value as the wire decoder would have produced it."""
    spec = dictionary.by_name[name]
    text = _unquote(raw)
    if spec.type == "integer":
        return int(text) if text.isdigit() else dictionary.value_code(name, text)
    if spec.type == "integer64":
        return int(text)
    if spec.type == "date":
        return _date(text)
    return text


def read_detail(path: Path, dictionary: RadiusDictionary) -> Iterator[Record]:
    attributes: dict[str, Any] = {}
    extras: dict[str, str] = {}

    def finish() -> Record | None:
        if not attributes:
            return None
        arrival = float(extras.get("Timestamp", "0") or 0)
        source = extras.get("Packet-Src-IP-Address") or str(attributes.get("NAS-IP-Address", ""))
        return Record(dict(attributes), arrival, source)

    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if not line.strip() or not line[0].isspace():  # a blank line or the next record's date header
                if (record := finish()) is not None:
                    yield record
                attributes.clear()
                extras.clear()
                continue
            match = _LINE.match(line)
            if not match:
                continue
            name, raw = match.groups()
            if name in dictionary.by_name:
                try:
                    attributes.setdefault(name, typed_value(dictionary, name, raw))
                except (KeyError, ValueError):
                    log.warning("unreadable value skipped", extra={"attribute": name, "value": raw[:100]})
            else:  # FreeRADIUS's own (Timestamp, Packet-Src-IP-Address, Acct-Unique-Session-Id, ...)
                extras[name] = _unquote(raw)
    if (record := finish()) is not None:
        yield record


# --- radacct CSV -----------------------------------------------------------------------------------


def _timestamp(text: str | None) -> int | None:
    if not text:
        return None
    value = text.strip().replace(" ", "T", 1)
    if re.search(r"[+-]\d\d$", value):
        value += ":00"  # PostgreSQL prints "+00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def read_radacct(path: Path, dictionary: RadiusDictionary) -> Iterator[Record]:
    with path.open(newline="", encoding="utf-8") as handle:
        for raw in csv.DictReader(handle):
            row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
            start = _timestamp(row.get("acctstarttime"))
            if start is None:
                continue
            common: dict[str, Any] = {
                "User-Name": row.get("username", ""),
                "Acct-Session-Id": row.get("acctsessionid", ""),
                "NAS-IP-Address": row.get("nasipaddress", ""),
            }
            optional = {
                "NAS-Port-Id": row.get("nasportid"),
                "Framed-IP-Address": row.get("framedipaddress"),
                "Framed-IPv6-Prefix": row.get("framedipv6prefix"),
                "Delegated-IPv6-Prefix": row.get("delegatedipv6prefix"),
                "Calling-Station-Id": row.get("callingstationid"),
                "Called-Station-Id": row.get("calledstationid"),
            }
            common |= {k: v for k, v in optional.items() if v}
            if port_type := row.get("nasporttype"):
                try:
                    common["NAS-Port-Type"] = typed_value(dictionary, "NAS-Port-Type", port_type)
                except KeyError:
                    log.warning("unknown NAS-Port-Type skipped", extra={"value": port_type})
            source = common["NAS-IP-Address"]
            yield Record(common | {"Acct-Status-Type": dictionary.value_code("Acct-Status-Type", "Start"),
                                   "Event-Timestamp": start}, start, source)  # fmt: skip
            stop, update = _timestamp(row.get("acctstoptime")), _timestamp(row.get("acctupdatetime"))
            if stop is None and update is None:
                continue
            counters: dict[str, Any] = {
                "Acct-Session-Time": int(row.get("acctsessiontime") or 0),
                # radacct keeps 64-bit totals (FreeRADIUS folds the gigawords in): split them back.
                "Acct-Input-Octets": int(row.get("acctinputoctets") or 0) % _GIGA,
                "Acct-Input-Gigawords": int(row.get("acctinputoctets") or 0) // _GIGA,
                "Acct-Output-Octets": int(row.get("acctoutputoctets") or 0) % _GIGA,
                "Acct-Output-Gigawords": int(row.get("acctoutputoctets") or 0) // _GIGA,
            }
            status = "Stop" if stop is not None else "Interim-Update"
            last = (
                common
                | counters
                | {
                    "Acct-Status-Type": dictionary.value_code("Acct-Status-Type", status),
                    "Event-Timestamp": stop if stop is not None else update,
                }
            )
            if stop is not None and (cause := row.get("acctterminatecause")):
                try:
                    last["Acct-Terminate-Cause"] = typed_value(dictionary, "Acct-Terminate-Cause", cause)
                except KeyError:
                    log.warning("unknown Acct-Terminate-Cause skipped", extra={"value": cause})
            yield Record(last, float(last["Event-Timestamp"]), source)


# --- publishing ------------------------------------------------------------------------------------


class Backfill:
    def __init__(self, settings: Settings, directory: NasDirectory, fixed: NasClient | None) -> None:
        self.settings = settings
        self.dictionary = RadiusDictionary.load(settings.radius_dictionary_dir)
        self.directory = directory
        self.fixed = fixed
        self.counts: Counter[str] = Counter()
        self.producer = Producer(producer_config(
            settings.kafka_bootstrap_servers, client_id=f"{settings.service_name}-backfill", linger_ms=20,
            delivery_timeout_ms=settings.kafka_delivery_timeout_ms,
        ))  # fmt: skip

    def _delivered(self, error: KafkaError | None, _message: Message) -> None:
        self.counts["published" if error is None else "failed"] += 1

    def event_for(self, record: Record) -> tuple[Accounting, NasClient] | None:
        client = self.fixed or self.directory.lookup(record.source_ip)
        if client is None:
            self.counts["no_nas_client"] += 1
            return None
        try:
            event = interpret(record.attributes, client, record.source_ip, record.arrival, self.dictionary)
        except (NotAccounting, ValueError) as exc:
            log.warning("record skipped", extra={"reason": str(exc)[:200]})
            self.counts["invalid"] += 1
            return None
        if event is None:
            self.counts["ignored_status"] += 1
            return None
        return event, client

    def publish(self, records: Iterator[Record]) -> Counter[str]:
        source = f"/services/{self.settings.service_name}"
        for record in records:
            found = self.event_for(record)
            if found is None:
                continue
            event, client = found
            kafka = encode_accounting(event, tenant_id=client.tenant_id, source=source)
            while True:
                try:
                    self.producer.produce(self.settings.kafka_topic_prefix + kafka.topic, kafka.value, kafka.key,
                                          headers=kafka.headers, on_delivery=self._delivered)  # fmt: skip
                    break
                except BufferError:
                    self.producer.poll(0.1)
            self.counts["records"] += 1
            self.producer.poll(0)
        left = self.producer.flush(120)
        self.counts["failed"] += left
        return self.counts


async def _directory(settings: Settings) -> NasDirectory:
    database = Database(settings.database_url, pool_size=1)
    try:
        async with database.engine.connect() as conn:
            return NasDirectory(await repository.all_clients(conn))
    finally:
        await database.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m radius_ingest.backfill", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("format", choices=("detail", "radacct"))
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--tenant", help="tenant of every record (with --nas-id); default: by NAS client address")
    parser.add_argument("--nas-id", help="NAS client id of every record (with --tenant)")
    args = parser.parse_args(argv)
    if bool(args.tenant) != bool(args.nas_id):
        parser.error("--tenant and --nas-id go together")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    settings = Settings()
    asyncio.run(_ensure_topics(settings))
    fixed = NasClient(args.tenant, args.nas_id, "0.0.0.0/0", b"") if args.tenant else None
    directory = NasDirectory([]) if fixed else asyncio.run(_directory(settings))
    backfill = Backfill(settings, directory, fixed)
    reader = read_detail if args.format == "detail" else read_radacct
    for path in args.files:
        backfill.publish(reader(path, backfill.dictionary))
    counts = dict(backfill.counts)
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return 1 if counts.get("failed") or counts.get("records", 0) != counts.get("published", 0) else 0


async def _ensure_topics(settings: Settings) -> None:
    from bss_contracts import topics
    from bss_runtime.kafka import ensure_topics

    await ensure_topics(settings.kafka_bootstrap_servers, settings.kafka_topic_prefix, [topics.SESSIONS, topics.NAS])


if __name__ == "__main__":
    sys.exit(main())
