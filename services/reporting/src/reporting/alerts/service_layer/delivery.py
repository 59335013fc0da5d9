"""Sending the notifications alert transitions owe, outside every rule and alert lock: intent, call, outcome.

1. intent: the evaluation wrote a `pending` notification row with the state change (same transaction);
2. claim: a short transaction takes one due row (`FOR UPDATE SKIP LOCKED`), leases it for
   ALERT_DELIVERY_LEASE_SECONDS and counts the try, and commits: no lock is held during the call;
3. call: one SMTP conversation or one signed webhook POST;
4. outcome: a second transaction records `delivered`, or the error and the next try (exponential backoff from
   ALERT_RETRY_BACKOFF_SECONDS), `failed` after ALERT_DELIVERY_MAX_ATTEMPTS tries.
A worker that dies between 2 and 4 leaves the lease to run out; the row is then tried again, so a receiver may
see a repeat (same notification id header and Message-ID), never a loss. Two workers never hold one lease.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from bss_runtime.delivery import DeliveryFailed
from reporting.alerts.adapters import repository as repo
from reporting.alerts.service_layer.deps import AlertsDeps


def retry_delay(first_seconds: float, attempts: int) -> float:
    return float(first_seconds * 2 ** max(attempts - 1, 0))


async def deliver_next(deps: AlertsDeps) -> bool:
    """One try of one due notification. False: none was due."""
    now = deps.clock.now()
    s = deps.settings
    async with deps.database.transaction() as session:
        claimed = await repo.claim_notification(session, now, now + timedelta(seconds=s.alert_delivery_lease_seconds))
        if claimed is None:
            return False
    attempts = claimed.attempts + 1
    try:
        if claimed.channel == "email":
            await deps.mailer.send(_email(deps, claimed.target, json.loads(claimed.body), now))
        else:
            if not claimed.signature:
                raise DeliveryFailed("a webhook notification without a signature is not sent")
            await deps.webhooks.post(
                claimed.target,
                claimed.body.encode(),
                signature=claimed.signature,
                notification_id=claimed.notification_id,
            )
    except DeliveryFailed as exc:
        last = attempts >= s.alert_delivery_max_attempts
        delay = timedelta(seconds=retry_delay(s.alert_retry_backoff_seconds, attempts))
        outcome: dict[str, Any] = {
            "status": "failed" if last else "pending",
            "last_error": str(exc)[:2000],
            "next_attempt_at": None if last else now + delay,
        }
    else:
        outcome = {"status": "delivered", "last_error": None, "delivered_at": now, "next_attempt_at": None}
    async with deps.database.transaction() as session:
        await repo.finish_notification(session, claimed.tenant_id, claimed.notification_id, attempts, **outcome)
    return True


async def deliver_due(deps: AlertsDeps, *, at_most: int = 1000) -> int:
    done = 0
    while done < at_most and await deliver_next(deps):
        done += 1
    return done


def subject_line(body: dict[str, Any]) -> str:
    tag = {"alert.firing": "FIRING", "alert.reminder": "STILL FIRING", "alert.resolved": "RESOLVED"}[body["event"]]
    return f"[{tag}] {body['rule_name']}: {body['subject']}"


def _email(deps: AlertsDeps, to: str, body: dict[str, Any], now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = deps.settings.alert_mail_from
    message["To"] = ", ".join(to.split(","))  # with spaces: a long list is folded, not one line past SMTP's limit
    message["Subject"] = subject_line(body)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(idstring=body["notification_id"], domain="alerts.ispbss.local")
    lines = [
        body["summary"],
        "",
        f"Rule: {body['rule_name']} ({body['kind']}, severity {body['severity']})",
        f"Subject: {body['subject']}",
        f"Value: {body['value']}  threshold: {body['threshold']}",
        f"Started: {body['started_at']}  fired: {body['fired_at']}",
    ]
    if body["resolved_at"]:
        lines.append(f"Resolved: {body['resolved_at']}")
    lines.append(f"Alert: {body['alert_id']}")
    message.set_content("\n".join(lines) + "\n")
    return message
