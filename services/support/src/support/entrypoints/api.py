"""HTTP API: tickets (support writes, ops reads, admin all), their transitions, comments, attachments and
history; the tenant's SLA calendar, targets and outage policy (admin writes). One transaction per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Query, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events.support import TicketChannel, TicketPriority, TicketStatus, TicketType
from bss_runtime.auth import Principal, Role, require_roles
from bss_runtime.errors import NotFound, RuleViolation
from bss_runtime.inputs import Id, Offset, Text, Timestamp, limit
from support.adapters import repository as repo
from support.entrypoints import schemas
from support.service_layer import tickets as cases
from support.service_layer.deps import SupportDeps

router = APIRouter(prefix="/support", tags=["support"])

Writer = Annotated[Principal, Depends(require_roles(Role.SUPPORT))]
Reader = Annotated[Principal, Depends(require_roles(Role.SUPPORT, Role.OPS))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


def _deps(request: Request) -> SupportDeps:
    deps: SupportDeps = request.app.state.support
    return deps


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the route returns, rolled back when it raises."""
    async with _deps(request).database.transaction() as session:
        yield session


Deps = Annotated[SupportDeps, Depends(_deps)]
Session = Annotated[AsyncSession, Depends(_session)]


# --- tickets -------------------------------------------------------------------------------------------------


@router.post("/tickets", status_code=status.HTTP_201_CREATED)
async def open_ticket(body: schemas.TicketCreate, who: Writer, deps: Deps, session: Session) -> schemas.TicketOut:
    new = cases.NewTicket(**{**body.model_dump(), "subscriber_ids": tuple(body.subscriber_ids),
                             "device_serials": tuple(body.device_serials)})  # fmt: skip
    ticket_id = await cases.open_ticket(session, deps, who.tenant_id, who.subject, new)
    assert ticket_id is not None
    return schemas.TicketOut.of(await repo.get_ticket(session, who.tenant_id, ticket_id))


@router.get("/tickets")
async def search_tickets(
    who: Reader,
    session: Session,
    status_: Annotated[list[TicketStatus] | None, Query(alias="status")] = None,
    ticket_type: Annotated[list[TicketType] | None, Query()] = None,
    priority: Annotated[list[TicketPriority] | None, Query()] = None,
    channel: Annotated[list[TicketChannel] | None, Query()] = None,
    assignee: Annotated[str, Text(200)] | None = None,
    breached: bool | None = None,
    customer_id: Id | None = None,
    subscriber_id: Id | None = None,
    address: Annotated[str, Text(200)] | None = Query(default=None, description="Part of the service address"),
    created_from: Timestamp | None = None,
    created_to: Timestamp | None = None,
    limit: Annotated[int, limit(500)] = 50,
    offset: Offset = 0,
) -> schemas.TicketPage:
    """Newest first; every filter narrows (a list parameter matches any of its values)."""
    if created_from and created_to and created_from >= created_to:
        raise RuleViolation("created_from must be before created_to", field="created_from")
    f = repo.TicketFilter(
        status=status_ or (), ticket_type=ticket_type or (), priority=priority or (), channel=channel or (),
        assignee=assignee,
        breached=breached, customer_id=customer_id, subscriber_id=subscriber_id, address=address,
        created_from=created_from, created_to=created_to,
    )  # fmt: skip
    rows, total = await repo.search_tickets(session, who.tenant_id, f, limit=limit, offset=offset)
    return schemas.TicketPage(items=[schemas.TicketOut.of(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/tickets/{ticket_id}")
async def get_ticket(ticket_id: Id, who: Reader, session: Session) -> schemas.TicketDetail:
    """The ticket with its comments, attachments, history, the affected lines' status and the customer's
    collections (why a suspended line is down), and where reporting shows the lines' sessions."""
    row = await repo.get_ticket(session, who.tenant_id, ticket_id)
    if row is None:
        raise NotFound(f"ticket {ticket_id} not found")
    subscribers = await repo.subscribers_of(session, who.tenant_id, row.subscriber_ids)
    links = {
        "sessions": f"/analytics/support/tickets/{quote(ticket_id, safe='')}/sessions",  # open now + recent, per line
        **{
            f"sessions:{s}": "/billing/reports/sessions/history?" + urlencode({"subscriber_id": s})
            for s in row.subscriber_ids
        },
    }
    comments = await repo.comments_of(session, who.tenant_id, ticket_id)
    attachments = await repo.attachments_of(session, who.tenant_id, ticket_id)
    changes = await repo.history_of(session, who.tenant_id, ticket_id)
    return schemas.TicketDetail(
        **schemas.TicketOut.of(row).model_dump(),
        comments=[schemas.CommentOut.model_validate(dict(c._mapping)) for c in comments],
        attachments=[schemas.AttachmentOut.model_validate(dict(a._mapping)) for a in attachments],
        history=[schemas.HistoryOut.model_validate(dict(h._mapping)) for h in changes],
        subscribers=[
            schemas.SubscriberState(
                subscriber_id=s.subscriber_id, username=s.username, status=s.status, status_reason=s.status_reason,
                status_requested_by=s.status_requested_by, changed_at=s.changed_at,
                suspended_by_dunning=s.status == "suspended" and s.status_requested_by == "dunning",
            )
            for s in subscribers
        ],
        dunning=[
            schemas.DunningState.model_validate(dict(d._mapping))
            for d in await repo.dunning_of(session, who.tenant_id, row.customer_id)
        ],
        links=links,
    )  # fmt: skip


@router.patch("/tickets/{ticket_id}")
async def update_ticket(
    ticket_id: Id, body: schemas.TicketUpdate, who: Writer, deps: Deps, session: Session
) -> schemas.TicketOut:
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    for field in ("ticket_type", "subject", "priority", "channel", "subscriber_ids", "device_serials"):
        if field in changes and changes[field] is None:
            raise RuleViolation(f"{field} cannot be null", field=field)
    await cases.update_ticket(session, deps, who.tenant_id, who.subject, ticket_id, changes)
    return schemas.TicketOut.of(await repo.get_ticket(session, who.tenant_id, ticket_id))


@router.post("/tickets/{ticket_id}/transitions")
async def transition(
    ticket_id: Id, body: schemas.TransitionIn, who: Writer, deps: Deps, session: Session
) -> schemas.TicketOut:
    """Move the ticket to a status; 409 when its lifecycle does not allow that move."""
    await cases.transition(session, deps, who.tenant_id, who.subject, ticket_id, body.status, body.reason)
    return schemas.TicketOut.of(await repo.get_ticket(session, who.tenant_id, ticket_id))


@router.post("/tickets/{ticket_id}/comments", status_code=status.HTTP_201_CREATED)
async def add_comment(
    ticket_id: Id, body: schemas.CommentIn, who: Writer, deps: Deps, session: Session
) -> schemas.CreatedOut:
    """A comment to the customer (the first is the first response) or an internal note."""
    comment_id = await cases.add_comment(session, deps, who.tenant_id, who.subject, ticket_id, body.body, body.internal)
    return schemas.CreatedOut(id=comment_id)


@router.post("/tickets/{ticket_id}/attachments", status_code=status.HTTP_201_CREATED)
async def add_attachment(
    ticket_id: Id, body: schemas.AttachmentIn, who: Writer, deps: Deps, session: Session
) -> schemas.CreatedOut:
    attachment_id = await cases.add_attachment(session, deps, who.tenant_id, who.subject, ticket_id, body.model_dump())
    return schemas.CreatedOut(id=attachment_id)


# --- the tenant's SLA settings -------------------------------------------------------------------------------


@router.get("/sla/calendar")
async def get_calendar(who: Reader, session: Session) -> schemas.CalendarOut:
    cal = repo.calendar_of_row(await repo.calendar_row(session, who.tenant_id))
    hours = {
        str(d): [o.strftime("%H:%M"), "24:00" if c == c.max else c.strftime("%H:%M")]
        for d, (o, c) in sorted(cal.hours.items())
    }  # fmt: skip
    return schemas.CalendarOut(timezone=cal.timezone, hours=hours, holidays=sorted(cal.holidays))


@router.put("/sla/calendar")
async def put_calendar(body: schemas.CalendarIn, who: Admin, session: Session) -> schemas.CalendarOut:
    """Business hours per weekday in the tenant's time zone, and holidays. Applies to tickets opened after."""
    try:
        ZoneInfo(body.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise RuleViolation(f"unknown time zone {body.timezone!r}", field="timezone") from None
    hours = {d: list(span) for d, span in body.hours.items()}
    try:
        repo.calendar_from(body.timezone, hours, [d.isoformat() for d in body.holidays])
    except ValueError as exc:
        raise RuleViolation(str(exc), field="hours") from None
    if not hours:
        raise RuleViolation("at least one weekday must have business hours", field="hours")
    await repo.put_calendar(session, who.tenant_id, body.timezone, hours, [d.isoformat() for d in body.holidays])
    return await get_calendar(who, session)


@router.get("/sla/policies")
async def list_policies(who: Reader, session: Session) -> list[schemas.PolicyOut]:
    """The tenant's targets; a priority without one uses the defaults (README)."""
    return [schemas.PolicyOut.model_validate(dict(r._mapping)) for r in await repo.policy_rows(session, who.tenant_id)]


@router.put("/sla/policies/{priority}/{ticket_type}")
async def put_policy(
    priority: TicketPriority,
    ticket_type: TicketType | Literal["*"],
    body: schemas.PolicyIn,
    who: Admin,
    session: Session,
) -> schemas.PolicyOut:
    """Targets in business minutes for a priority and a ticket type (`*`: every type without its own)."""
    if body.resolution_minutes < body.response_minutes:
        raise RuleViolation("the resolution target is shorter than the response target", field="resolution_minutes")
    await repo.put_policy(session, who.tenant_id, priority, ticket_type, body.response_minutes, body.resolution_minutes)
    return schemas.PolicyOut(priority=priority, ticket_type=ticket_type, **body.model_dump())


@router.get("/sla/outage-policy")
async def get_outage_policy(who: Reader, session: Session) -> schemas.OutagePolicyOut:
    enabled, min_severity = await repo.outage_policy(session, who.tenant_id)
    return schemas.OutagePolicyOut(enabled=enabled, min_severity=min_severity)


@router.put("/sla/outage-policy")
async def put_outage_policy(body: schemas.OutagePolicyIn, who: Admin, session: Session) -> schemas.OutagePolicyOut:
    """Whether billing's SLA breaches open fault tickets for the affected customers, from which severity."""
    await repo.put_outage_policy(session, who.tenant_id, body.enabled, body.min_severity)
    return schemas.OutagePolicyOut(enabled=body.enabled, min_severity=body.min_severity)
