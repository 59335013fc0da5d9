"""Executions: asked for by a user or a due schedule, run by a worker, written in every format asked for.

An execution is claimed in a short transaction (`FOR UPDATE SKIP LOCKED`, with a lease so that one whose worker
died is taken over), its report is fetched from the report's own endpoint, and each output is written in a
transaction of its own; the execution is then completed (and its deliveries queued) in one transaction.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Row, insert
from sqlalchemy.ext.asyncio import AsyncSession

from bss_runtime.auth import Principal, issue_token
from bss_runtime.errors import NotFound
from reporting.bi.adapters import render, storage
from reporting.bi.adapters import repository as repo
from reporting.bi.adapters.files import SftpDestination
from reporting.bi.adapters.report_call import call_report
from reporting.bi.adapters.tables import deliveries, executions
from reporting.bi.domain import model as bi
from reporting.bi.domain.model import Forbidden, InvalidRequest, ReportType, Source, Status
from reporting.bi.service_layer.catalog import template_for
from reporting.bi.service_layer.deps import BiDeps

log = logging.getLogger(__name__)
PAGE = 1000  # the paged reports' largest page


class PermanentFailure(Exception):
    """Trying again would fail the same way (the report refused the parameters, too many rows, ...)."""


# ---------------------------------------------------------------- asking


async def _new_execution(
    session: AsyncSession,
    template: Row[Any],
    parameters: Mapping[str, Any],
    formats: list[str],
    *,
    requested_by: str,
    now: datetime,
    schedule_id: str | None = None,
) -> str:
    execution_id = str(uuid.uuid4())
    await session.execute(
        insert(executions).values(
            tenant_id=template.tenant_id, execution_id=execution_id, template_id=template.template_id,
            schedule_id=schedule_id, parameters=dict(parameters), output_formats=formats, status=Status.PENDING,
            requested_by=requested_by, requested_at=now, not_before=now,
        )
    )  # fmt: skip
    return execution_id


async def request_execution(deps: BiDeps, principal: Principal, template_id: str, parameters: dict[str, Any]) -> str:
    now = deps.clock.now()
    async with deps.database.transaction() as session:
        template = await template_for(session, principal, template_id)
        if not bi.may_run(principal, ReportType(template.report_type), template.report):
            raise Forbidden("this template's report is not among those your roles may run")
        merged = bi.resolve_dates(template.report, dict(template.default_parameters) | parameters, now)
        problems = bi.check_parameters(template.parameters_schema, merged, "parameters")
        if problems:
            raise InvalidRequest(problems)
        execution_id = await _new_execution(
            session, template, merged, list(template.output_formats), requested_by=principal.subject, now=now
        )
        await repo.log_access(session, principal.tenant_id, principal.subject, "execution.requested", now,
                              template_id=template_id, execution_id=execution_id)  # fmt: skip
    return execution_id


async def run_due_schedule(deps: BiDeps) -> bool:
    """Start the execution of one due schedule; its next run is the first slot after now, so a schedule that
    missed several slots while the service was down runs once, not once per slot. False: none is due."""
    now = deps.clock.now()
    async with deps.database.transaction() as session:
        schedule = await repo.claim_due_schedule(session, now)
        if schedule is None:
            return False
        tenant = schedule.tenant_id
        template = await repo.get_template(session, tenant, schedule.template_id)
        next_run_at = bi.next_run(schedule.cron, schedule.timezone, now)
        await repo.update_schedule(session, tenant, schedule.schedule_id, next_run_at=next_run_at, last_run_at=now)
        if template is None:  # deleted meanwhile (deletion is refused while schedules exist; kept safe anyway)
            await repo.update_schedule(session, tenant, schedule.schedule_id, enabled=False, next_run_at=None)
            return True
        merged = bi.resolve_dates(
            template.report, dict(template.default_parameters) | dict(schedule.parameters), now, schedule.timezone
        )
        execution_id = await _new_execution(
            session, template, merged, list(schedule.output_formats),
            requested_by=schedule.created_by, now=now, schedule_id=schedule.schedule_id,
        )  # fmt: skip
        await repo.log_access(session, tenant, f"schedule:{schedule.schedule_id}", "execution.scheduled", now,
                              template_id=template.template_id, execution_id=execution_id,
                              schedule_id=schedule.schedule_id)  # fmt: skip
    return True


# ---------------------------------------------------------------- running


@dataclass(frozen=True)
class Claimed:
    execution: Row[Any]
    template: Row[Any]
    attempt: int


async def claim_execution(deps: BiDeps) -> Claimed | None:
    now = deps.clock.now()
    async with deps.database.transaction() as session:
        row = await repo.claim_execution(session, now)
        if row is None:
            return None
        template = await repo.get_template(session, row.tenant_id, row.template_id, with_deleted=True)
        assert template is not None, "executions name their template (foreign key)"
        attempt = row.attempts + 1
        lease = timedelta(seconds=deps.settings.bi_execution_lease_seconds)
        await repo.update_execution(
            session, row.tenant_id, row.execution_id, status=Status.RUNNING, attempts=attempt, error=None,
            started_at=row.started_at or now, lease_until=now + lease,
        )  # fmt: skip
        return Claimed(row, template, attempt)


async def run_next_execution(deps: BiDeps) -> bool:
    """Run one pending execution to its end (or to its next retry). False: there was none."""
    claimed = await claim_execution(deps)
    if claimed is None:
        return False
    execution, attempt = claimed.execution, claimed.attempt
    max_attempts = deps.settings.bi_execution_max_attempts
    try:
        if attempt > max_attempts:  # its worker died that often while holding it
            raise PermanentFailure(f"abandoned by its worker {attempt - 1} times")
        problems = bi.check_parameters(claimed.template.parameters_schema, execution.parameters, "parameters")
        if problems:
            raise PermanentFailure("parameters no longer fit the template: " + "; ".join(p.message for p in problems))
        row_count = await _render(deps, claimed)
    except (PermanentFailure, render.RenderError) as exc:
        await finish_execution(deps, claimed, Status.FAILED, error=str(exc))
    except Exception as exc:
        log.exception("report execution failed", extra={"execution_id": execution.execution_id})
        error = f"{type(exc).__name__}: {exc}"
        if attempt >= max_attempts:
            await finish_execution(deps, claimed, Status.FAILED, error=f"{error} (after {attempt} tries)")
        else:
            delay = bi.retry_delay(deps.settings.bi_retry_backoff_seconds, attempt)
            await _retry_later(deps, claimed, error, deps.clock.now() + timedelta(seconds=delay))
    else:
        await finish_execution(deps, claimed, Status.COMPLETED, row_count=row_count)
    return True


async def _still_ours(session: AsyncSession, claimed: Claimed) -> bool:
    """False if the lease ran out and another worker took the execution over meanwhile."""
    row = await repo.get_execution(session, claimed.execution.tenant_id, claimed.execution.execution_id)
    return row is not None and row.status == Status.RUNNING and row.attempts == claimed.attempt


async def _retry_later(deps: BiDeps, claimed: Claimed, error: str, when: datetime) -> None:
    e = claimed.execution
    async with deps.database.transaction() as session:
        if await _still_ours(session, claimed):
            await repo.update_execution(session, e.tenant_id, e.execution_id, status=Status.PENDING, error=error,
                                        not_before=when, lease_until=None)  # fmt: skip


async def finish_execution(
    deps: BiDeps, claimed: Claimed, status: Status, *, error: str | None = None, row_count: int | None = None
) -> None:
    e, now = claimed.execution, deps.clock.now()
    async with deps.database.transaction() as session:
        if not await _still_ours(session, claimed):
            return
        await repo.update_execution(session, e.tenant_id, e.execution_id, status=status, error=error,
                                    finished_at=now, lease_until=None, row_count=row_count)  # fmt: skip
        if e.schedule_id is not None:
            await _queue_deliveries(
                session, e.tenant_id, e.schedule_id, e.execution_id, now, completed=status == Status.COMPLETED
            )


async def _queue_deliveries(
    session: AsyncSession, tenant: str, schedule_id: str, execution_id: str, now: datetime, *, completed: bool
) -> None:
    """One delivery per way out the schedule names. Failures are emailed and posted too (the recipients learn of
    them); files are delivered only when there are outputs to write."""
    schedule = await repo.get_schedule(session, tenant, schedule_id)
    if schedule is None:
        return
    targets = []
    if schedule.email_recipients:
        targets.append(("email", ", ".join(schedule.email_recipients)))
    if schedule.webhook_url:
        targets.append(("webhook", schedule.webhook_url))
    if completed and schedule.directory_path:
        targets.append(("directory", schedule.directory_path))
    if completed and schedule.sftp:
        targets.append(("sftp", SftpDestination(**schedule.sftp).target))
    for channel, target in targets:
        await session.execute(
            insert(deliveries).values(
                tenant_id=tenant, delivery_id=str(uuid.uuid4()), execution_id=execution_id, schedule_id=schedule_id,
                channel=channel, target=target, status="pending", next_attempt_at=now, created_at=now,
            )
        )  # fmt: skip


# ---------------------------------------------------------------- rendering


def _token(deps: BiDeps, claimed: Claimed) -> str:
    """The report is fetched with the template's own roles, for the execution's tenant."""
    t = claimed.template
    roles = bi.template_roles(ReportType(t.report_type), t.report)
    lease = timedelta(seconds=deps.settings.bi_execution_lease_seconds)
    return issue_token(deps.jwt, subject=f"bi:{claimed.execution.execution_id}", tenant_id=t.tenant_id,
                       roles=roles, ttl=lease)  # fmt: skip


def _refused(status: int, body: bytes) -> Exception:
    try:
        detail: Any = json.loads(body).get("detail", body.decode(errors="replace"))
    except (ValueError, AttributeError):
        detail = body.decode(errors="replace")
    message = f"the report answered HTTP {status}: {detail}"
    return PermanentFailure(message) if 400 <= status < 500 else RuntimeError(message)


async def _fetch_json(deps: BiDeps, source: Source, query: dict[str, str], token: str) -> tuple[bytes, Any]:
    answer = await call_report(deps.reports_app, source.path, query, token)
    if answer.status != 200:
        raise _refused(answer.status, answer.body)
    return answer.body, json.loads(answer.body)


@dataclass(frozen=True)
class Fetched:
    body: bytes  # the JSON output
    rows: list[dict[str, Any]]
    summary: dict[str, Any] | None


async def _fetch_rows(deps: BiDeps, source: Source, query: dict[str, str], token: str) -> Fetched:
    """Every row of the report: one answer, or page after page of a paged report."""
    cap = deps.settings.bi_max_rows
    if source.rows_key is None:
        body, answer = await _fetch_json(deps, source, query, token)
        rows = bi.rows_of(source, answer)
        if len(rows) > cap:
            raise PermanentFailure(f"{len(rows)} rows: more than BI_MAX_ROWS ({cap}); narrow the parameters")
        return Fetched(body, rows, None)
    rows, summary, offset = [], None, 0
    while True:
        _, page = await _fetch_json(deps, source, query | {"limit": str(PAGE), "offset": str(offset)}, token)
        summary = summary or page.get("summary")
        rows.extend(page[source.rows_key])
        if len(rows) > cap:
            raise PermanentFailure(f"more than BI_MAX_ROWS ({cap}) rows; narrow the parameters")
        if not page["pagination"]["has_more"]:
            break
        offset += PAGE
    if summary is not None and "returned_sessions" in summary:
        summary = summary | {"returned_sessions": len(rows)}
    return Fetched(to_json({"summary": summary, source.rows_key: rows}), rows, summary)


async def _render(deps: BiDeps, claimed: Claimed) -> int | None:
    e, t = claimed.execution, claimed.template
    source = bi.SOURCES[t.report]
    query = bi.query_parameters(source, e.parameters)
    token = _token(deps, claimed)
    filename_at = e.requested_at
    formats = list(e.output_formats)

    # The services export writes csv/json/xlsx/parquet itself: its bytes are stored as they stream in.
    for fmt in [f for f in formats if f in source.native_formats]:
        async with deps.database.transaction() as session:
            writer = storage.OutputWriter(session, e.tenant_id, e.execution_id, fmt)
            await writer.begin(bi.output_filename(t.name, filename_at, fmt), deps.clock.now())
            answer = await call_report(deps.reports_app, source.path, query | {"format": fmt}, token, writer.write)
            if answer.status != 200:
                raise _refused(answer.status, answer.body)
            await writer.finish()
    rest = [f for f in formats if f not in source.native_formats]
    if not rest:
        return None

    fetched = await _fetch_rows(deps, source, query | ({"format": "json"} if source.native_formats else {}), token)
    flat = [bi.flatten(r) for r in fetched.rows]
    columns = bi.columns_of(flat)
    timestamps = set(source.timestamps)
    for fmt in rest:
        data = await asyncio.to_thread(
            _encode,
            fmt,
            fetched,
            flat,
            columns,
            timestamps,
            t.name,
            t.report,
            e.parameters,
            deps.clock.now(),
            e.tenant_id,
        )
        async with deps.database.transaction() as session:
            name = bi.output_filename(t.name, filename_at, fmt)
            await storage.store(session, e.tenant_id, e.execution_id, fmt, name, deps.clock.now(), data)
    return len(fetched.rows)


def _encode(
    fmt: str,
    fetched: Fetched,
    rows: list[dict[str, Any]],
    columns: list[str],
    timestamps: set[str],
    title: str,
    report: str,
    parameters: Mapping[str, Any],
    now: datetime,
    tenant: str = "",
) -> bytes:
    if fmt == "json":
        return fetched.body
    if fmt == "csv":
        return render.to_csv(rows, columns)
    if fmt == "xlsx":
        return render.to_xlsx(rows, columns, timestamps, sheet_name=report.replace("/", " "))
    if fmt == "parquet":
        return render.to_parquet(rows, columns, timestamps)
    if fmt == "html":
        return render.to_html(rows, columns, title=title, generated_at=now, parameters=parameters,
                                 summary=fetched.summary)  # fmt: skip
    if fmt == "pdf":
        return render.to_pdf(rows, columns, title=title, tenant=tenant, report=report, generated_at=now,
                             parameters=parameters, summary=fetched.summary)  # fmt: skip
    if fmt == "txt":
        return render.to_txt(rows, columns, title=title, generated_at=now, parameters=parameters,
                             summary=fetched.summary)  # fmt: skip
    raise render.RenderError(f"unknown format {fmt}")


# ---------------------------------------------------------------- reading


async def execution_for(session: AsyncSession, principal: Principal, execution_id: str) -> tuple[Row[Any], Row[Any]]:
    """The execution and its template, if this principal may see them; 404 otherwise."""
    execution = await repo.get_execution(session, principal.tenant_id, execution_id)
    if execution is None:
        raise NotFound(f"no report execution {execution_id}")
    try:
        template = await template_for(session, principal, execution.template_id, with_deleted=True)
    except NotFound:
        raise NotFound(f"no report execution {execution_id}") from None
    return execution, template


async def clean_expired_outputs(deps: BiDeps, batch: int = 100) -> int:
    """Remove the content of outputs older than the retention; returns how many (run until 0)."""
    now = deps.clock.now()
    cutoff = now - timedelta(days=deps.settings.bi_output_retention_days)
    async with deps.database.transaction() as session:
        return await repo.expire_outputs(session, cutoff, now, batch)
