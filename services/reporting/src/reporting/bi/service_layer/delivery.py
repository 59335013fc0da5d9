"""Deliveries of scheduled reports: email with the outputs attached, a signed webhook linking them, or the
outputs themselves as files in a directory or on an SFTP server (adapters/files.py: temporary name, then rename).

Each try happens while the delivery's row is locked (`FOR UPDATE SKIP LOCKED`), and its outcome is written in
the same transaction: two workers never send one delivery at once. A failed try is retried with exponential
backoff up to BI_DELIVERY_MAX_ATTEMPTS; every try is counted and the last error kept. A delivery is `pending`
until its first try, `retrying` while a failed try waits for its next, then `delivered` or `failed`. If the process dies
mid-try the transaction rolls back and the delivery is tried again: receivers may see a repeat (same
delivery id header / Message-ID; a file written again under the same name), never a loss.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from bss_runtime.delivery import DeliveryFailed
from reporting.bi.adapters import repository as repo
from reporting.bi.adapters import storage
from reporting.bi.adapters.files import OutgoingFile, SftpDestination
from reporting.bi.domain import model as bi
from reporting.bi.domain.file_delivery import DeliveryStatus, status_after_failure
from reporting.bi.service_layer.deps import BiDeps


def download_url(deps: BiDeps, execution_id: str, output_format: str) -> str:
    base = deps.settings.bi_public_base_url.rstrip("/")
    return f"{base}/business-intelligence/report-executions/{execution_id}/outputs/{output_format}"


async def deliver_next(deps: BiDeps) -> bool:
    """Make one try of one due delivery. False: none was due."""
    now = deps.clock.now()
    async with deps.database.transaction() as session:
        delivery = await repo.claim_delivery(session, now)
        if delivery is None:
            return False
        tenant = delivery.tenant_id
        execution = await repo.get_execution(session, tenant, delivery.execution_id)
        template = execution and await repo.get_template(session, tenant, execution.template_id, with_deleted=True)
        schedule = await repo.get_schedule(session, tenant, delivery.schedule_id)
        attempts = delivery.attempts + 1
        try:
            if execution is None or template is None or schedule is None:
                raise DeliveryFailed("its schedule or execution no longer exists")
            outputs = await repo.list_outputs(session, tenant, [execution.execution_id])
            if delivery.channel == "email":
                await _email(deps, session, delivery, execution, template, outputs)
            elif delivery.channel == "webhook":
                await _webhook(deps, delivery, execution, template, schedule, outputs)
            else:
                await _files(deps, session, delivery, schedule, outputs)
        except DeliveryFailed as exc:
            status = status_after_failure(attempts, deps.settings.bi_delivery_max_attempts)
            if schedule is None:
                status = DeliveryStatus.FAILED
            delay = timedelta(seconds=bi.retry_delay(deps.settings.bi_retry_backoff_seconds, attempts))
            await repo.update_delivery(
                session, tenant, delivery.delivery_id, attempts=attempts, last_error=str(exc)[:2000],
                status=status.value, next_attempt_at=None if status == DeliveryStatus.FAILED else now + delay,
            )  # fmt: skip
        else:
            await repo.update_delivery(session, tenant, delivery.delivery_id, attempts=attempts, last_error=None,
                                       status=DeliveryStatus.DELIVERED.value, delivered_at=now,
                                       next_attempt_at=None)  # fmt: skip
    return True


def _summary(execution: Row[Any], template: Row[Any]) -> str:
    when = execution.requested_at.astimezone(UTC)
    if execution.status == "completed":
        return f"Report '{template.name}' of {when:%Y-%m-%d %H:%M} UTC is ready"
    return f"Report '{template.name}' of {when:%Y-%m-%d %H:%M} UTC failed: {execution.error}"


async def _email(
    deps: BiDeps,
    session: AsyncSession,
    delivery: Row[Any],
    execution: Row[Any],
    template: Row[Any],
    outputs: Sequence[Row[Any]],
) -> None:
    """One message to every recipient; outputs attached while they fit BI_EMAIL_MAX_ATTACHMENT_BYTES (in
    all), the others linked."""
    message = EmailMessage()
    message["From"] = deps.settings.mail_from
    message["To"] = delivery.target
    message["Subject"] = _summary(execution, template)
    message["Date"] = format_datetime(deps.clock.now())
    message["Message-ID"] = make_msgid(idstring=delivery.delivery_id, domain="reports.ispbss.local")
    lines = [_summary(execution, template) + ".", ""]
    budget = deps.settings.bi_email_max_attachment_bytes
    attachments = []
    for output in outputs:
        if output.expired_at is None and output.size_bytes <= budget:
            budget -= output.size_bytes
            attachments.append(output)
            lines.append(f"- {output.filename} ({output.size_bytes} bytes), attached")
        else:
            lines.append(f"- {output.filename}: {download_url(deps, execution.execution_id, output.format)}")
    message.set_content("\n".join(lines) + "\n")
    for output in attachments:
        data = await storage.read_all(session, delivery.tenant_id, execution.execution_id, output.format)
        maintype, _, subtype = output.media_type.split(";")[0].partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=output.filename)
    await deps.mailer.send(message)


def webhook_body(deps: BiDeps, delivery: Row[Any], execution: Row[Any], template: Row[Any],
                 outputs: Sequence[Row[Any]]) -> bytes:  # fmt: skip
    body = {
        "event": f"report.{execution.status}",
        "delivery_id": delivery.delivery_id,
        "execution_id": execution.execution_id,
        "schedule_id": delivery.schedule_id,
        "template_id": template.template_id,
        "template_name": template.name,
        "report": template.report,
        "status": execution.status,
        "error": execution.error,
        "requested_at": _iso(execution.requested_at),
        "finished_at": _iso(execution.finished_at),
        "outputs": [
            {
                "format": o.format,
                "filename": o.filename,
                "media_type": o.media_type,
                "size_bytes": o.size_bytes,
                "sha256": o.sha256,
                "url": download_url(deps, execution.execution_id, o.format),
            }
            for o in outputs
            if o.expired_at is None
        ],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


async def _webhook(
    deps: BiDeps,
    delivery: Row[Any],
    execution: Row[Any],
    template: Row[Any],
    schedule: Row[Any],
    outputs: Sequence[Row[Any]],
) -> None:
    body = webhook_body(deps, delivery, execution, template, outputs)
    await deps.webhooks.post(delivery.target, body, secret=schedule.webhook_secret or "",
                             delivery_id=delivery.delivery_id)  # fmt: skip


async def _files(
    deps: BiDeps, session: AsyncSession, delivery: Row[Any], schedule: Row[Any], outputs: Sequence[Row[Any]]
) -> None:
    """Every output of the execution, as a file named as its download is, into the schedule's destination."""

    def content(output: Row[Any]) -> Callable[[], AsyncIterator[bytes]]:
        return lambda: storage.chunks(session, delivery.tenant_id, output.execution_id, output.format)

    files = [OutgoingFile(o.filename, content(o)) for o in outputs if o.expired_at is None]
    if len(files) < len(outputs):
        raise DeliveryFailed("outputs were removed by retention before they could be delivered")
    if delivery.channel == "directory":
        if not schedule.directory_path:
            raise DeliveryFailed("the schedule no longer names a directory")
        await deps.directories.write(schedule.directory_path, files, delivery.delivery_id)
    elif delivery.channel == "sftp":
        if not schedule.sftp:
            raise DeliveryFailed("the schedule no longer names an SFTP server")
        await deps.sftp.upload(SftpDestination(**schedule.sftp), files, delivery.delivery_id)
    else:
        raise DeliveryFailed(f"unknown channel {delivery.channel}")
