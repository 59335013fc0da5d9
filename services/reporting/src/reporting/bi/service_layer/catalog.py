"""Use cases of report templates and schedules: one transaction each, recorded in the access log."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bss_runtime.auth import Principal
from bss_runtime.errors import Conflict, NotFound
from reporting.bi.adapters import repository as repo
from reporting.bi.adapters.files import KeyProblem, parse_keys
from reporting.bi.adapters.tables import schedules, templates
from reporting.bi.domain import file_delivery as files
from reporting.bi.domain import model as bi
from reporting.bi.domain.model import Forbidden, Invalid, InvalidRequest, ReportType
from reporting.bi.service_layer.deps import BiDeps

_ANY_MOMENT = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TemplateSpec:
    name: str
    description: str | None
    report_type: ReportType
    report: str
    output_formats: list[str]
    parameters_schema: dict[str, Any]
    default_parameters: dict[str, Any]
    is_public: bool


def _check_spec(spec: TemplateSpec) -> None:
    bi.check_template(spec.report_type, spec.report, spec.output_formats, spec.parameters_schema)
    # Relative dates (`last_month`...) are kept as written and resolved at each run; checked as one of their values.
    defaults = bi.resolve_dates(spec.report, spec.default_parameters, _ANY_MOMENT)
    problems = bi.check_parameters(spec.parameters_schema, defaults, "default_parameters", partial=True)
    if problems:
        raise InvalidRequest(problems)


def _spec_of(row: Row[Any]) -> TemplateSpec:
    return TemplateSpec(
        name=row.name, description=row.description, report_type=ReportType(row.report_type), report=row.report,
        output_formats=list(row.output_formats), parameters_schema=dict(row.parameters_schema),
        default_parameters=dict(row.default_parameters), is_public=row.is_public,
    )  # fmt: skip


def visible(principal: Principal, template: Row[Any]) -> bool:
    return bi.may_see(
        principal, ReportType(template.report_type), template.report,
        is_public=template.is_public, created_by=template.created_by,
    )  # fmt: skip


async def template_for(
    session: AsyncSession, principal: Principal, template_id: str, *, with_deleted: bool = False
) -> Row[Any]:
    """The template if this principal may see it; 404 otherwise (another tenant's or a private one alike)."""
    row = await repo.get_template(session, principal.tenant_id, template_id, with_deleted=with_deleted)
    if row is None or not visible(principal, row):
        raise NotFound(f"no report template {template_id}")
    return row


def _require_author(principal: Principal, report_type: ReportType) -> None:
    if not bi.may_author(principal, report_type):
        roles = ", ".join(sorted(bi.AUTHOR_ROLES[report_type]))
        raise Forbidden(f"{report_type} templates are defined by: admin, {roles}")


async def _name_unique(session: AsyncSession, write: Any) -> None:
    try:
        async with session.begin_nested():
            await session.execute(write)
    except IntegrityError as exc:
        raise Conflict("a report template with this name exists", field="name") from exc


async def create_template(deps: BiDeps, principal: Principal, spec: TemplateSpec) -> str:
    _require_author(principal, spec.report_type)
    _check_spec(spec)
    template_id, now = str(uuid.uuid4()), deps.clock.now()
    async with deps.database.transaction() as session:
        await _name_unique(
            session,
            insert(templates).values(
                tenant_id=principal.tenant_id, template_id=template_id, name=spec.name, description=spec.description,
                report_type=spec.report_type.value, report=spec.report, output_formats=spec.output_formats,
                parameters_schema=spec.parameters_schema, default_parameters=spec.default_parameters,
                is_public=spec.is_public, created_by=principal.subject, created_at=now, updated_at=now,
            ),
        )  # fmt: skip
        await repo.log_access(session, principal.tenant_id, principal.subject, "template.created", now,
                              template_id=template_id)  # fmt: skip
    return template_id


async def update_template(deps: BiDeps, principal: Principal, template_id: str, changes: Mapping[str, Any]) -> None:
    now = deps.clock.now()
    async with deps.database.transaction() as session:
        row = await template_for(session, principal, template_id)
        _require_author(principal, ReportType(row.report_type))
        spec = TemplateSpec(**(_spec_of(row).__dict__ | dict(changes)))
        _require_author(principal, spec.report_type)
        _check_spec(spec)
        await _name_unique(
            session,
            templates.update()
            .where(templates.c.tenant_id == principal.tenant_id, templates.c.template_id == template_id)
            .values(**{k: (v.value if isinstance(v, ReportType) else v) for k, v in spec.__dict__.items()},
                    updated_at=now),
        )  # fmt: skip
        await repo.log_access(session, principal.tenant_id, principal.subject, "template.updated", now,
                              template_id=template_id)  # fmt: skip


async def delete_template(deps: BiDeps, principal: Principal, template_id: str) -> None:
    """Soft delete: its executions, outputs and analytics keep naming it. Refused while schedules use it."""
    now = deps.clock.now()
    async with deps.database.transaction() as session:
        row = await template_for(session, principal, template_id)
        _require_author(principal, ReportType(row.report_type))
        using = await repo.list_schedules(session, principal.tenant_id, template_id)
        if using:
            names = ", ".join(s.name for s in using)
            raise Conflict(f"schedules use this template ({names}): delete them first")
        await repo.update_template(session, principal.tenant_id, template_id, deleted_at=now, updated_at=now)
        await repo.log_access(session, principal.tenant_id, principal.subject, "template.deleted", now,
                              template_id=template_id)  # fmt: skip


# ---------------------------------------------------------------- schedules


@dataclass(frozen=True)
class ScheduleSpec:
    template_id: str
    name: str
    parameters: dict[str, Any]
    output_formats: list[str] | None  # None: the template's
    cron: str
    timezone: str
    enabled: bool
    email_recipients: list[str]
    webhook_url: str | None
    webhook_secret: str | None
    directory_path: str | None = None  # under BI_DELIVERY_DIRECTORY_ROOT
    sftp: dict[str, Any] | None = None  # SftpDestination's fields


def _checked_destinations(deps: BiDeps, spec: ScheduleSpec) -> ScheduleSpec:
    """The spec with its file destinations checked and normalised (422 naming the field otherwise)."""
    directory_path, sftp = spec.directory_path, spec.sftp
    if directory_path is not None:
        if not deps.directories.root:
            raise Invalid(("directory",), "directory delivery is not enabled here (BI_DELIVERY_DIRECTORY_ROOT)")
        directory_path = files.directory_path(("directory", "path"), directory_path)
    if sftp is not None:
        sftp = dict(sftp) | {"remote_dir": files.remote_dir(("sftp", "remote_dir"), sftp["remote_dir"])}
        try:
            parse_keys(sftp["private_key"], sftp["known_host_key"])
        except KeyProblem as exc:
            raise Invalid(("sftp", exc.which), str(exc)) from exc
    return replace(spec, directory_path=directory_path, sftp=sftp)


async def _check_schedule(session: AsyncSession, principal: Principal, spec: ScheduleSpec) -> Row[Any]:
    """The template the schedule runs, after checking who asks and what they ask for."""
    template = await template_for(session, principal, spec.template_id)
    report_type = ReportType(template.report_type)
    if not (bi.may_author(principal, report_type) and bi.may_run(principal, report_type, template.report)):
        raise Forbidden("schedules send reports out: only who may both define and run this template may set them")
    formats = spec.output_formats if spec.output_formats is not None else list(template.output_formats)
    unknown = [f for f in formats if f not in template.output_formats]
    if unknown or not formats:
        raise Invalid(("output_formats",), f"the template renders {', '.join(template.output_formats)}")
    if spec.webhook_url and not spec.webhook_secret:
        raise Invalid(("webhook_secret",), "a webhook needs a secret to sign its requests with")
    bi.zone(spec.timezone)
    bi.next_run(spec.cron, spec.timezone, _ANY_MOMENT)  # it parses and matches
    merged = bi.resolve_dates(template.report, template.default_parameters | spec.parameters, _ANY_MOMENT)
    problems = bi.check_parameters(template.parameters_schema, merged, "parameters")
    if problems:
        raise InvalidRequest(problems)
    return template


def _schedule_values(spec: ScheduleSpec, template: Row[Any], next_run_at: Any) -> dict[str, Any]:
    return dict(
        template_id=spec.template_id, name=spec.name, parameters=spec.parameters,
        output_formats=spec.output_formats if spec.output_formats is not None else list(template.output_formats),
        cron=spec.cron, timezone=spec.timezone, enabled=spec.enabled, next_run_at=next_run_at,
        email_recipients=spec.email_recipients, webhook_url=spec.webhook_url, webhook_secret=spec.webhook_secret,
        directory_path=spec.directory_path, sftp=spec.sftp,
    )  # fmt: skip


async def create_schedule(deps: BiDeps, principal: Principal, spec: ScheduleSpec) -> str:
    schedule_id, now = str(uuid.uuid4()), deps.clock.now()
    spec = _checked_destinations(deps, spec)
    async with deps.database.transaction() as session:
        template = await _check_schedule(session, principal, spec)
        next_run_at = bi.next_run(spec.cron, spec.timezone, now) if spec.enabled else None
        await session.execute(
            insert(schedules).values(
                tenant_id=principal.tenant_id, schedule_id=schedule_id, created_by=principal.subject,
                created_at=now, updated_at=now, **_schedule_values(spec, template, next_run_at),
            )
        )  # fmt: skip
        await repo.log_access(session, principal.tenant_id, principal.subject, "schedule.created", now,
                              template_id=spec.template_id, schedule_id=schedule_id)  # fmt: skip
    return schedule_id


async def schedule_for(session: AsyncSession, principal: Principal, schedule_id: str) -> Row[Any]:
    """The schedule if this principal may manage it (it names recipients and secrets); 404 otherwise."""
    row = await repo.get_schedule(session, principal.tenant_id, schedule_id)
    if row is None:
        raise NotFound(f"no report schedule {schedule_id}")
    template = await repo.get_template(session, principal.tenant_id, row.template_id, with_deleted=True)
    report_type = ReportType(template.report_type) if template else None
    if (
        template is None
        or report_type is None
        or not visible(principal, template)
        or not bi.may_author(principal, report_type)
    ):
        raise NotFound(f"no report schedule {schedule_id}")
    return row


async def visible_schedules(session: AsyncSession, principal: Principal) -> Sequence[Row[Any]]:
    rows = await repo.list_schedules(session, principal.tenant_id)
    out = []
    for row in rows:
        template = await repo.get_template(session, principal.tenant_id, row.template_id, with_deleted=True)
        if template and visible(principal, template) and bi.may_author(principal, ReportType(template.report_type)):
            out.append(row)
    return out


async def update_schedule(deps: BiDeps, principal: Principal, schedule_id: str, changes: Mapping[str, Any]) -> None:
    now = deps.clock.now()
    async with deps.database.transaction() as session:
        row = await schedule_for(session, principal, schedule_id)
        current = {f: getattr(row, f) for f in ScheduleSpec.__dataclass_fields__}
        spec = _checked_destinations(deps, ScheduleSpec(**(current | dict(changes))))
        template = await _check_schedule(session, principal, spec)
        timing_changed = any(k in changes for k in ("cron", "timezone", "enabled"))
        next_run_at = row.next_run_at
        if not spec.enabled:
            next_run_at = None
        elif timing_changed or next_run_at is None:
            next_run_at = bi.next_run(spec.cron, spec.timezone, now)
        await repo.update_schedule(session, principal.tenant_id, schedule_id, updated_at=now,
                                   **_schedule_values(spec, template, next_run_at))  # fmt: skip
        await repo.log_access(session, principal.tenant_id, principal.subject, "schedule.updated", now,
                              template_id=spec.template_id, schedule_id=schedule_id)  # fmt: skip


async def delete_schedule(deps: BiDeps, principal: Principal, schedule_id: str) -> None:
    now = deps.clock.now()
    async with deps.database.transaction() as session:
        row = await schedule_for(session, principal, schedule_id)
        await repo.cancel_deliveries_of_schedule(session, principal.tenant_id, schedule_id, "schedule deleted")
        await session.execute(
            schedules.delete().where(
                schedules.c.tenant_id == principal.tenant_id, schedules.c.schedule_id == schedule_id
            )
        )
        await repo.log_access(session, principal.tenant_id, principal.subject, "schedule.deleted", now,
                              template_id=row.template_id, schedule_id=schedule_id)  # fmt: skip
