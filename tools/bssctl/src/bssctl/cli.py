"""The `bssctl` command line: options, output (a table, lines, or `--json`) and exit codes.

Each command is a thin wrapper: it parses its options, runs one coroutine of its module on a `Cluster` and
prints the result. `main()` turns every failure into one line on stderr and an exit code (see `bssctl`'s
package docstring): usage errors and unknown names exit 2, unreachable infrastructure 3, never a traceback.
"""

import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Annotated, Any, TypeVar

import typer
from typer._click.exceptions import NoArgsIsHelpError, UsageError  # typer vendors click: its errors are here

from bss_contracts.topics import Service
from bssctl import (
    BAD_INPUT,
    OK,
    THRESHOLD_EXCEEDED,
    UNAVAILABLE,
    dlq,
    inventory,
    metrics,
    outbox,
    replay,
    tail,
    topics,
    trace,
)
from bssctl.inventory import BadInput
from bssctl.kafka import Cluster
from bssctl.lag import lag as lag_of

T = TypeVar("T")

app = typer.Typer(
    help="Ops tooling for ISP BSS: topics, lag, decoded tails, dead letters, traces, outbox, replay. "
    "Exit codes: 0 ok, 1 threshold exceeded, 2 bad input or refused, 3 broker/database unreachable.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
dlq_app = typer.Typer(help="Dead letters: list, show, redrive.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(dlq_app, name="dlq")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


@dataclass(frozen=True)
class Target:
    bootstrap: str
    prefix: str
    group_prefix: str | None


@app.callback()
def options(
    ctx: typer.Context,
    bootstrap: Annotated[
        str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka bootstrap servers.")
    ] = "127.0.0.1:59092",
    prefix: Annotated[
        str, typer.Option(envvar="KAFKA_TOPIC_PREFIX", help="The deployment's topic prefix (KAFKA_TOPIC_PREFIX).")
    ] = "",
    group_prefix: Annotated[
        str | None,
        typer.Option(
            envvar="KAFKA_GROUP_PREFIX",
            help="Prepended to the services' consumer group names (unset: the topic prefix, as the services do).",
        ),
    ] = None,
) -> None:
    ctx.obj = Target(bootstrap, prefix, group_prefix)


def _run(ctx: typer.Context, work: Callable[[Cluster], Coroutine[Any, Any, T]]) -> T:
    target: Target = ctx.obj

    async def go() -> T:
        async with Cluster(target.bootstrap, target.prefix, target.group_prefix) as cluster:
            return await work(cluster)

    return asyncio.run(go())


def _json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _table(rows: Sequence[dict[str, Any]], empty: str = "(none)") -> None:
    if not rows:
        print(empty)
        return
    columns = list(dict.fromkeys(c for r in rows for c in r))  # every row's columns, in first-seen order
    cells = [[("-" if r.get(c) is None else str(r[c])) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


@app.command("topics")
def topics_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every registry topic and its .dlq twin: partitions, cleanup policy and retention (broker config),
    producer, consumers, record count, end offset per partition."""
    rows = _run(ctx, topics.topics)
    if as_json:
        _json(rows)
    else:
        _table(topics.table_rows(rows))


@app.command("lag")
def lag_command(
    ctx: typer.Context,
    service: Annotated[str | None, typer.Option(help="Only this service's consumer group(s).")] = None,
    max_lag: Annotated[int | None, typer.Option(help="Exit 1 if any partition lags by more records.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Per consumer group and partition: committed offset, end offset, lag, and the age of the oldest
    unconsumed record. Groups are the services' (and radius-ingest-session-tracker)."""
    chosen = inventory.service(service) if service else None
    groups = _run(ctx, lambda c: lag_of(c, chosen))
    if as_json:
        _json([s | {"partitions": [r.to_json() for r in rows]} for s, rows in groups])
    else:
        for summary, rows in groups:
            print(
                f"group {summary['group']}: {summary['state']}, {summary['members']} member(s), lag {summary['lag']}"
                + (f", oldest unconsumed {summary['oldest_age_s']}s ago" if summary["oldest_age_s"] is not None else "")
            )
            _table([{k: v for k, v in r.to_json().items() if k != "group"} for r in rows], empty="  (no topics)")
            print()
    worst = max((r.lag for _, rows in groups for r in rows), default=0)
    if max_lag is not None and worst > max_lag:
        print(f"bssctl: lag {worst} exceeds --max-lag {max_lag}", file=sys.stderr)
        raise typer.Exit(THRESHOLD_EXCEEDED)


@app.command("tail")
def tail_command(
    ctx: typer.Context,
    topic: Annotated[str, typer.Argument(help="A registry topic name (without the prefix), or its .dlq twin.")],
    from_beginning: Annotated[bool, typer.Option(help="Start at the beginning of every partition.")] = False,
    since: Annotated[str | None, typer.Option(help="Start at this time: 10m, 2h, 7d or ISO 8601.")] = None,
    offset: Annotated[str | None, typer.Option(help="PARTITION:OFFSET: that partition only, from there.")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Only events of this CloudEvents type.")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's events.")] = None,
    key: Annotated[str | None, typer.Option(help="Only records with this key.")] = None,
    follow: Annotated[bool, typer.Option(help="Keep reading new records until interrupted.")] = False,
    limit: Annotated[int | None, typer.Option(help="Stop after this many matching records.")] = None,
    as_json: JsonOption = False,
) -> None:
    """A topic's records decoded as envelopes, one line each (or one JSON object per line). Without a start
    option: the last 10 records of each partition."""
    name = inventory.topic_name(topic)
    if sum((from_beginning, since is not None, offset is not None)) > 1:
        raise BadInput("give at most one of --from-beginning, --since, --offset")
    start_at = inventory.since(since) if since else None
    at_offset = tail.parse_offset(offset) if offset else None
    filters = tail.Filters(type=type_, tenant=tenant, key=key)

    async def work(cluster: Cluster) -> None:
        begin = await tail.starts(cluster, name, from_beginning=from_beginning, since=start_at, offset=at_offset)
        async for batch in tail.tail(cluster, name, begin, filters, follow=follow, limit=limit):
            sys.stdout.write("".join(f"{r.json_line() if as_json else tail.line(r)}\n" for r in batch))
            if follow:
                sys.stdout.flush()

    _run(ctx, work)


@app.command("trace")
def trace_command(
    ctx: typer.Context,
    ident: Annotated[str, typer.Argument(metavar="ID", help="Event id, correlation id, invoice/subscriber/... id.")],
    since: Annotated[str, typer.Option(help="How far back to look: 10m, 2h, 7d or ISO 8601.")] = "7d",
    as_json: JsonOption = False,
) -> None:
    """Every event of the flow ID belongs to, across all topics, as a causation tree (cause above effect)."""
    start_at = inventory.since(since)
    roots = _run(ctx, lambda c: trace.trace(c, ident, start_at))
    if as_json:
        _json(roots)
    else:
        print("\n".join(trace.render(roots)))


@dlq_app.command("list")
def dlq_list(
    ctx: typer.Context,
    topic: Annotated[str | None, typer.Option(help="Only this topic's dead letters.")] = None,
    reason: Annotated[str | None, typer.Option(help="Only this dlq.reason.")] = None,
    since: Annotated[str | None, typer.Option(help="Only dead-lettered since: 10m, 2h, 7d or ISO 8601.")] = None,
    until: Annotated[str | None, typer.Option(help="Only dead-lettered before: 10m, 2h, 7d or ISO 8601.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Dead letters of every topic: reason, source topic:partition:offset, group, event, whether redriven."""
    start_at = inventory.since(since) if since else None
    end_at = inventory.since(until) if until else None

    async def work(cluster: Cluster) -> list[dict[str, Any]]:
        letters = await dlq.dead_letters(cluster, topic, start_at, end_at)
        done = await dlq.redrives(cluster)
        return [d.summary(done) for d in letters if reason is None or d.header("reason") == reason]

    rows = _run(ctx, work)
    if as_json:
        _json(rows)
        return
    _table(
        [
            {k: v for k, v in r.items() if k not in ("error", "redriven")}
            | {"redriven": len(r["redriven"]), "error": (r["error"] or "")[:60]}
            for r in rows
        ],
        empty="(no dead letters)",
    )


@dlq_app.command("show")
def dlq_show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="ID", help="An event id, or a dead letter's TOPIC.dlq:P:O ref.")],
    as_json: JsonOption = False,
) -> None:
    """One dead letter in full: the dlq.* headers (reason, error, source, group), the envelope, redrives."""

    async def work(cluster: Cluster) -> list[dict[str, Any]]:
        letters = [d for d in await dlq.dead_letters(cluster) if ref in (d.event_id, d.ref)]
        if not letters:
            raise BadInput(f"no dead letter with event id or ref {ref!r}")
        done = await dlq.redrives(cluster)
        return [d.record.to_json() | {"redrives": done.get(d.ref, []), "ref": d.ref} for d in letters]

    shown = _run(ctx, work)
    if as_json:
        _json(shown)
        return
    for letter in shown:
        print(f"dead letter {letter['ref']} at {letter['timestamp']}")
        for name, value in letter["headers"].items():
            print(f"  {name}: {value}")
        print("  envelope: " + json.dumps(letter.get("envelope", letter.get("value")), indent=2).replace("\n", "\n  "))
        for done in letter["redrives"]:
            print(f"  redriven {done['at']} by {done['by']} -> {done['republished']} ({done['redrive_id']})")


@dlq_app.command("redrive")
def dlq_redrive(
    ctx: typer.Context,
    ids: Annotated[list[str] | None, typer.Option("--id", help="Event id or dead-letter ref (repeatable).")] = None,
    reason: Annotated[str | None, typer.Option(help="Every dead letter with this dlq.reason.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every dead letter (of --topic).")] = False,
    topic: Annotated[str | None, typer.Option(help="Only this topic's dead letters.")] = None,
    since: Annotated[str | None, typer.Option(help="Only dead-lettered since: 10m, 2h, 7d or ISO 8601.")] = None,
    until: Annotated[str | None, typer.Option(help="Only dead-lettered before: 10m, 2h, 7d or ISO 8601.")] = None,
    dry_run: Annotated[bool, typer.Option(help="Show what would be redriven; change nothing.")] = False,
    force: Annotated[bool, typer.Option(help="Redrive again dead letters that were redriven before.")] = False,
    by: Annotated[str | None, typer.Option(help="Who redrives (recorded); default user@host.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Republish chosen dead letters to their source topic and partition; each redrive is recorded on
    bss.ops.redrives. Repeating one is harmless (consumers skip events they processed)."""
    start_at = inventory.since(since) if since else None
    end_at = inventory.since(until) if until else None

    async def work(cluster: Cluster) -> list[dict[str, Any]]:
        letters = await dlq.dead_letters(cluster, topic, start_at, end_at)
        chosen = dlq.select(letters, ids=ids or (), reason=reason, everything=everything)
        return await dlq.redrive(cluster, chosen, dry_run=dry_run, force=force, by=by)

    results = _run(ctx, work)
    if as_json:
        _json(results)
    else:
        _table(results, empty="(nothing chosen)")


@app.command("outbox")
def outbox_command(
    service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
    max_backlog: Annotated[int | None, typer.Option(help="Exit 1 if a service has more unsent rows.")] = None,
    max_age: Annotated[float | None, typer.Option(help="Exit 1 if an unsent row is older (seconds).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Each service's outbox backlog and oldest unsent row, from <SERVICE>_DATABASE_URL."""
    chosen = [inventory.service(service)] if service else list(Service)
    for svc in chosen:
        if service and not os.environ.get(outbox.url_variable(svc)):
            raise BadInput(f"{outbox.url_variable(svc)} is not set")

    async def work() -> list[dict[str, Any]]:
        return [await outbox.backlog(s) for s in chosen]

    rows = asyncio.run(work())
    if as_json:
        _json(rows)
    else:
        _table([{k: v for k, v in r.items() if k != "last_error"} for r in rows])
    over = [
        r
        for r in rows
        if (max_backlog is not None and r.get("backlog", 0) > max_backlog)
        or (max_age is not None and (r.get("oldest_age_s") or 0) > max_age)
    ]
    if over:
        print(f"bssctl: outbox over threshold: {', '.join(r['service'] for r in over)}", file=sys.stderr)
        raise typer.Exit(THRESHOLD_EXCEEDED)


@app.command("replay")
def replay_command(
    ctx: typer.Context,
    service: Annotated[str, typer.Option(help="The service whose consumer group is reset.")],
    since: Annotated[str, typer.Option(help="Reset to this time: 10m, 2h, 7d or ISO 8601.")],
    group: Annotated[
        str | None, typer.Option(help="Another group of the service (radius-ingest-session-tracker).")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Show the new offsets; commit nothing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Reset a service's consumer group to the first offsets at or after a time, so the service re-reads from
    there when it starts. Refused while the group has members (stop the service first)."""
    svc = inventory.service(service)
    chosen = inventory.group(group) if group else inventory.group(svc.value)
    if chosen.service is not svc:
        raise BadInput(f"group {chosen.name!r} is not a group of {svc.value}")
    at = inventory.since(since)
    plan = _run(ctx, lambda c: replay.replay(c, chosen, at, dry_run=dry_run))
    if as_json:
        _json(plan)
    else:
        _table(plan)
    if not as_json:
        print(f"{'would reset' if dry_run else 'reset'} {chosen.name} to {at.astimezone(UTC).isoformat()}")


@app.command("metrics")
def metrics_command(
    ctx: typer.Context,
    serve: Annotated[
        int | None, typer.Option(help="Serve them over HTTP on this port (every GET) until stopped.")
    ] = None,
    host: Annotated[str, typer.Option(help="The address to serve on.")] = "127.0.0.1",
) -> None:
    """Lag, oldest unconsumed age, group members, DLQ depth and outbox backlog in the Prometheus text format:
    printed once, or served for scraping with --serve."""
    target: Target = ctx.obj
    if serve is not None:
        asyncio.run(metrics.serve(target.bootstrap, target.prefix, target.group_prefix, serve, host))
        return
    sys.stdout.write(metrics.exposition(_run(ctx, metrics.samples)))


@app.command("serve")
def serve_command(ctx: typer.Context) -> None:
    """The ops API (lag, dead letters and their redrive, outbox backlogs, service health) over HTTP for the
    operator console, on HTTP_HOST:HTTP_PORT (bssctl.api; the gateway routes /ops/ to it). Tokens as the
    services verify theirs (JWT_*); the ops or admin role."""
    import uvicorn

    from bss_runtime.settings import ensure_safe_to_serve
    from bss_runtime.telemetry import configure_logging
    from bssctl.api import OpsSettings, create_app

    target: Target = ctx.obj
    settings = OpsSettings(
        kafka_bootstrap_servers=target.bootstrap,
        kafka_topic_prefix=target.prefix,
        kafka_group_prefix=target.group_prefix,
    )
    ensure_safe_to_serve(settings)
    configure_logging(settings.service_name, settings.log_level)
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None)


def _error(code: int, message: str) -> int:
    print(f"bssctl: {message}", file=sys.stderr)
    return code


def _exit_code(argv: Sequence[str] | None) -> int:
    try:
        code = app(args=list(argv) if argv is not None else None, standalone_mode=False)
    except BadInput as exc:
        return _error(BAD_INPUT, str(exc))
    except typer.Exit as exc:
        return int(exc.exit_code)
    except NoArgsIsHelpError as exc:  # `bssctl` or `bssctl dlq` alone: the help, as --help would print it
        print(exc.format_message())
        return OK
    except UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "bssctl"
        return _error(BAD_INPUT, f"{exc.format_message()} (see: {where} --help)")
    except (typer.Abort, KeyboardInterrupt):
        return OK
    except BrokenPipeError:
        raise
    except Exception as exc:  # unreachable broker or database, or a failure of ours: one line, not a traceback
        return _error(UNAVAILABLE, f"{type(exc).__name__}: {exc}".splitlines()[0][:500])
    return code if isinstance(code, int) else OK


def main(argv: Sequence[str] | None = None) -> None:
    """The entry point: run the command, map every failure to one stderr line and an exit code."""
    logging.basicConfig(level=logging.CRITICAL)  # aiokafka logs retries with tracebacks: not for this screen
    try:
        code = _exit_code(argv)
        sys.stdout.flush()
    except BrokenPipeError:  # `bssctl tail ... | head`: the reader has gone, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = OK
    sys.exit(code)
