"""/business-intelligence/*: report templates, executions and their outputs, schedules, usage analytics.

Every route needs a token with a staff role (admin, finance, collections, ops, support); what each may do with
which template is decided by the template's report type and report (bi/domain/model.py, README). Things a caller may
not see answer 404, as do other tenants' ids.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import Row

from bss_runtime.auth import Principal, Role, require_roles
from bss_runtime.errors import DomainError, NotFound, SafeJSONResponse
from bss_runtime.inputs import Day, Id, Offset, limit
from reporting.bi.adapters import repository as repo
from reporting.bi.adapters import storage
from reporting.bi.domain import model as bi
from reporting.bi.domain.model import Invalid, InvalidRequest, ReportType
from reporting.bi.entrypoints import schemas as s
from reporting.bi.service_layer import catalog, runs
from reporting.bi.service_layer.deps import BiDeps

router = APIRouter(prefix="/business-intelligence", tags=["business intelligence"])

STAFF = (Role.FINANCE, Role.COLLECTIONS, Role.OPS, Role.SUPPORT)
Staff = Annotated[Principal, Depends(require_roles(*STAFF))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


async def _deps(request: Request) -> BiDeps:
    deps: BiDeps = request.app.state.bi
    return deps


Deps = Annotated[BiDeps, Depends(_deps)]


class Gone(DomainError):
    status_code = 410


def install(app: FastAPI) -> None:
    """422 answers in FastAPI's own shape for the BI rules (the field's path in `loc`)."""

    def answer(problems: list[Invalid]) -> JSONResponse:
        detail = [{"type": "value_error", "loc": ["body", *p.field], "msg": p.message} for p in problems]
        return SafeJSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(Invalid)
    async def _invalid(_: Request, exc: Invalid) -> JSONResponse:
        return answer([exc])

    @app.exception_handler(InvalidRequest)
    async def _invalid_request(_: Request, exc: InvalidRequest) -> JSONResponse:
        return answer(exc.problems)


# ---------------------------------------------------------------- templates


def _template_out(row: Row[Any]) -> s.TemplateOut:
    return s.TemplateOut(
        template_id=row.template_id, name=row.name, description=row.description,
        report_type=ReportType(row.report_type), report=row.report, output_formats=list(row.output_formats),
        parameters_schema=row.parameters_schema, default_parameters=row.default_parameters, is_public=row.is_public,
        allowed_roles=sorted(bi.template_roles(ReportType(row.report_type), row.report)),
        created_by=row.created_by, created_at=row.created_at, updated_at=row.updated_at,
    )  # fmt: skip


@router.post("/report-templates", status_code=status.HTTP_201_CREATED, response_model=s.TemplateOut)
async def create_template(body: s.TemplateIn, deps: Deps, principal: Staff) -> s.TemplateOut:
    fields = body.model_dump(exclude={"data_source_ids"})
    fields["report"] = body.report or bi.DEFAULT_REPORT[body.report_type]
    spec = catalog.TemplateSpec(**fields)
    template_id = await catalog.create_template(deps, principal, spec)
    return await get_template(template_id, deps, principal)


@router.get("/report-templates", response_model=list[s.TemplateOut])
async def list_templates(
    deps: Deps,
    principal: Staff,
    report_type: ReportType | None = None,
    report: s.ReportName | None = None,
    limit: Annotated[int, limit(200)] = 50,
    offset: Offset = 0,
) -> list[s.TemplateOut]:
    """The templates this caller may run: public ones and their own (admin: all). A page of them: visibility is
    decided per row, so the page is cut from the visible ones (a tenant has tens of templates, not millions)."""
    async with deps.database.transaction() as session:
        rows = await repo.list_templates(session, principal.tenant_id)
    chosen = [
        r
        for r in rows
        if catalog.visible(principal, r)
        and (report_type is None or r.report_type == report_type)
        and (report is None or r.report == report)
    ]
    return [_template_out(r) for r in chosen[offset : offset + limit]]


@router.get("/report-templates/{template_id}", response_model=s.TemplateOut)
async def get_template(template_id: str, deps: Deps, principal: Staff) -> s.TemplateOut:
    async with deps.database.transaction() as session:
        return _template_out(await catalog.template_for(session, principal, template_id))


@router.patch("/report-templates/{template_id}", response_model=s.TemplateOut)
async def update_template(template_id: str, body: s.TemplatePatch, deps: Deps, principal: Staff) -> s.TemplateOut:
    changes = body.model_dump(exclude_unset=True)
    for required in ("name", "report_type", "report", "output_formats", "parameters_schema", "default_parameters",
                     "is_public"):  # fmt: skip
        if required in changes and changes[required] is None:
            raise Invalid((required,), "may be changed, not removed")
    await catalog.update_template(deps, principal, template_id, changes)
    return await get_template(template_id, deps, principal)


@router.delete("/report-templates/{template_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_template(template_id: str, deps: Deps, principal: Staff) -> Response:
    await catalog.delete_template(deps, principal, template_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- executions


def _output_path(execution_id: str, output_format: str) -> str:
    return f"/business-intelligence/report-executions/{execution_id}/outputs/{output_format}"


async def _executions_out(
    deps: BiDeps, tenant: str, executions: Sequence[Row[Any]], templates: Mapping[str, Row[Any]]
) -> list[s.ExecutionOut]:
    ids = [e.execution_id for e in executions]
    async with deps.database.transaction() as session:
        outputs = await repo.list_outputs(session, tenant, ids)
        deliveries = await repo.list_deliveries(session, tenant, ids)
    return [
        _execution_out(
            e,
            templates[e.template_id],
            [o for o in outputs if o.execution_id == e.execution_id],
            [d for d in deliveries if d.execution_id == e.execution_id],
        )
        for e in executions
    ]


def _execution_out(
    execution: Row[Any], template: Row[Any], outputs: Sequence[Row[Any]], deliveries: Sequence[Row[Any]]
) -> s.ExecutionOut:
    duration = None
    if execution.started_at and execution.finished_at:
        duration = (execution.finished_at - execution.started_at).total_seconds()
    return s.ExecutionOut(
        execution_id=execution.execution_id, template_id=execution.template_id, template_name=template.name,
        schedule_id=execution.schedule_id, parameters=execution.parameters,
        output_formats=list(execution.output_formats), status=execution.status, error=execution.error,
        attempts=execution.attempts, requested_by=execution.requested_by, requested_at=execution.requested_at,
        started_at=execution.started_at, finished_at=execution.finished_at, duration_seconds=duration,
        row_count=execution.row_count,
        outputs=[
            s.OutputOut(
                format=o.format, filename=o.filename, media_type=o.media_type, size_bytes=o.size_bytes,
                sha256=o.sha256, created_at=o.created_at, expired=o.expired_at is not None,
                download_path=_output_path(o.execution_id, o.format),
            )
            for o in outputs
        ],
        deliveries=[
            s.DeliveryOut(
                delivery_id=d.delivery_id, channel=d.channel, target=d.target, status=d.status,
                attempts=d.attempts, last_error=d.last_error, next_attempt_at=d.next_attempt_at,
                delivered_at=d.delivered_at,
            )
            for d in deliveries
        ],
    )  # fmt: skip


@router.post("/report-executions", status_code=status.HTTP_202_ACCEPTED, response_model=s.ExecutionOut)
async def request_execution(body: s.ExecutionIn, deps: Deps, principal: Staff) -> s.ExecutionOut:
    """Queue a run of the template; the worker renders every output format (poll the execution)."""
    execution_id = await runs.request_execution(deps, principal, body.template_id, body.parameters)
    return await get_execution(execution_id, deps, principal)


@router.get("/report-executions", response_model=list[s.ExecutionOut])
async def list_executions(
    deps: Deps,
    principal: Staff,
    template_id: Id | None = None,
    execution_status: Annotated[bi.Status | None, Query(alias="status")] = None,
    limit: Annotated[int, limit(200)] = 50,
    offset: Offset = 0,
) -> list[s.ExecutionOut]:
    """Newest first; only executions of templates this caller may see."""
    async with deps.database.transaction() as session:
        templates = {
            t.template_id: t
            for t in await repo.list_templates(session, principal.tenant_id, with_deleted=True)
            if catalog.visible(principal, t) and (template_id is None or t.template_id == template_id)
        }
        rows = await repo.list_executions(
            session, principal.tenant_id, template_ids=list(templates),
            status=execution_status.value if execution_status else None, limit=limit, offset=offset,
        )  # fmt: skip
    return await _executions_out(deps, principal.tenant_id, rows, templates)


@router.get("/report-executions/{execution_id}", response_model=s.ExecutionOut)
async def get_execution(execution_id: str, deps: Deps, principal: Staff) -> s.ExecutionOut:
    async with deps.database.transaction() as session:
        execution, template = await runs.execution_for(session, principal, execution_id)
    return (await _executions_out(deps, principal.tenant_id, [execution], {template.template_id: template}))[0]


@router.get("/report-executions/{execution_id}/outputs", response_model=list[s.OutputOut])
async def list_outputs(execution_id: str, deps: Deps, principal: Staff) -> list[s.OutputOut]:
    return (await get_execution(execution_id, deps, principal)).outputs


@router.get("/report-executions/{execution_id}/outputs/{output_format}", response_class=StreamingResponse)
async def download_output(execution_id: str, output_format: str, deps: Deps, principal: Staff) -> StreamingResponse:
    """The output's bytes, as an attachment; every download is recorded in the access log."""
    tenant = principal.tenant_id
    async with deps.database.transaction() as session:
        _, template = await runs.execution_for(session, principal, execution_id)
        output = await repo.get_output(session, tenant, execution_id, output_format)
        if output is None:
            raise NotFound(f"execution {execution_id} has no {output_format} output")
        if output.expired_at is not None:
            raise Gone(f"removed by retention ({deps.settings.bi_output_retention_days} days) on {output.expired_at}")
        await repo.log_access(session, tenant, principal.subject, "output.downloaded", deps.clock.now(),
                              template_id=template.template_id, execution_id=execution_id,
                              output_format=output_format)  # fmt: skip

    async def body() -> AsyncIterator[bytes]:
        async with deps.database.transaction() as session:
            async for chunk in storage.chunks(session, tenant, execution_id, output_format):
                yield chunk

    return StreamingResponse(
        body(),
        media_type=output.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{output.filename}"',
            "Content-Length": str(output.size_bytes),
        },
    )


# ---------------------------------------------------------------- schedules


def _schedule_out(row: Row[Any]) -> s.ScheduleOut:
    return s.ScheduleOut(
        schedule_id=row.schedule_id, template_id=row.template_id, name=row.name, parameters=row.parameters,
        output_formats=list(row.output_formats), cron=row.cron, timezone=row.timezone, enabled=row.enabled,
        next_run_at=row.next_run_at, last_run_at=row.last_run_at, email_recipients=list(row.email_recipients),
        webhook_url=row.webhook_url, webhook_secret_set=bool(row.webhook_secret),
        directory=s.DirectoryDestination(path=row.directory_path) if row.directory_path else None,
        sftp=_sftp_out(row.sftp), created_by=row.created_by, created_at=row.created_at, updated_at=row.updated_at,
    )  # fmt: skip


def _sftp_out(sftp: dict[str, Any] | None) -> s.SftpDestinationOut | None:
    if not sftp:
        return None
    return s.SftpDestinationOut(
        host=sftp["host"], port=sftp["port"], username=sftp["username"], known_host_key=sftp["known_host_key"],
        remote_dir=sftp["remote_dir"], private_key_set=bool(sftp.get("private_key")),
    )  # fmt: skip


def _schedule_fields(body: s.ScheduleIn | s.SchedulePatch, *, partial: bool) -> dict[str, Any]:
    fields = body.model_dump(exclude_unset=partial)
    if fields.get("webhook_url") is not None:
        fields["webhook_url"] = str(fields["webhook_url"])
    if "directory" in fields:
        directory = fields.pop("directory")
        fields["directory_path"] = directory["path"] if directory else None
    return fields


@router.post("/report-schedules", status_code=status.HTTP_201_CREATED, response_model=s.ScheduleOut)
async def create_schedule(body: s.ScheduleIn, deps: Deps, principal: Staff) -> s.ScheduleOut:
    spec = catalog.ScheduleSpec(**_schedule_fields(body, partial=False))
    schedule_id = await catalog.create_schedule(deps, principal, spec)
    return await get_schedule(schedule_id, deps, principal)


@router.get("/report-schedules", response_model=list[s.ScheduleOut])
async def list_schedules(
    deps: Deps, principal: Staff, limit: Annotated[int, limit(200)] = 50, offset: Offset = 0
) -> list[s.ScheduleOut]:
    """A page of the schedules this caller may see (cut from the visible ones, as templates are)."""
    async with deps.database.transaction() as session:
        visible = await catalog.visible_schedules(session, principal)
    return [_schedule_out(r) for r in visible[offset : offset + limit]]


@router.get("/report-schedules/{schedule_id}", response_model=s.ScheduleOut)
async def get_schedule(schedule_id: str, deps: Deps, principal: Staff) -> s.ScheduleOut:
    async with deps.database.transaction() as session:
        return _schedule_out(await catalog.schedule_for(session, principal, schedule_id))


@router.patch("/report-schedules/{schedule_id}", response_model=s.ScheduleOut)
async def update_schedule(schedule_id: str, body: s.SchedulePatch, deps: Deps, principal: Staff) -> s.ScheduleOut:
    changes = _schedule_fields(body, partial=True)
    for required in ("name", "parameters", "cron", "timezone", "enabled", "email_recipients"):
        if required in changes and changes[required] is None:
            raise Invalid((required,), "may be changed, not removed")
    await catalog.update_schedule(deps, principal, schedule_id, changes)
    return await get_schedule(schedule_id, deps, principal)


@router.delete("/report-schedules/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_schedule(schedule_id: str, deps: Deps, principal: Staff) -> Response:
    await catalog.delete_schedule(deps, principal, schedule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- analytics and audit


def _period(start_date: date | None, end_date: date | None, today: date) -> tuple[date, date]:
    end = end_date or today
    start = start_date or end - timedelta(days=29)
    if start > end:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "end_date"), "msg": "must not be before start_date",
              "input": str(end)}]
        )  # fmt: skip
    return start, end


@router.get("/analytics/usage", response_model=s.UsageOut)
async def usage(
    deps: Deps,
    principal: Admin,
    start_date: Annotated[Day | None, Query(description="First UTC day; default end_date minus 29 days")] = None,
    end_date: Annotated[Day | None, Query(description="Last UTC day (included); default today")] = None,
) -> s.UsageOut:
    """Executions asked for in the period per template, status and day, their average duration (completed
    ones, from start to finish), failures, and the downloads made in the period. Admin only: it spans every
    report type and every user's private templates."""
    start, end = _period(start_date, end_date, deps.clock.now().astimezone(UTC).date())
    async with deps.database.transaction() as session:
        u = await repo.usage(session, principal.tenant_id, start, end)
    counts = u.by_status
    return s.UsageOut(
        start_date=start, end_date=end, executions=sum(counts.values()), completed=counts.get("completed", 0),
        failed=counts.get("failed", 0), pending=counts.get("pending", 0), running=counts.get("running", 0),
        downloads=sum(u.downloads.values()), average_duration_seconds=u.average_seconds,
        by_template=[
            s.TemplateUsage(
                template_id=r.template_id, template_name=r.name, executions=r.executions, completed=r.completed,
                failed=r.failed, average_duration_seconds=float(r.avg_seconds) if r.avg_seconds is not None else None,
                downloads=u.downloads.get(r.template_id, 0),
            )
            for r in u.by_template
        ],
        by_day=[s.DayUsage(date=r.day, executions=r.executions, completed=r.completed, failed=r.failed)
                for r in u.by_day],
    )  # fmt: skip


@router.get("/access-log", response_model=list[s.AccessEntry])
async def access_log(
    deps: Deps,
    principal: Admin,
    start_date: Day | None = None,
    end_date: Day | None = None,
    limit: Annotated[int, limit(1000)] = 100,
    offset: Offset = 0,
) -> list[s.AccessEntry]:
    """Who did what (executions asked for, downloads, changes to templates and schedules), newest first."""
    start, end = _period(start_date, end_date, deps.clock.now().astimezone(UTC).date())
    since = datetime.combine(start, datetime.min.time(), UTC)
    until = datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC)
    async with deps.database.transaction() as session:
        rows = await repo.list_access_log(session, principal.tenant_id, since=since, until=until, limit=limit,
                                          offset=offset)  # fmt: skip
    return [
        s.AccessEntry(at=r.at, subject=r.subject, action=r.action, template_id=r.template_id,
                      execution_id=r.execution_id, schedule_id=r.schedule_id, format=r.format)
        for r in rows
    ]  # fmt: skip
