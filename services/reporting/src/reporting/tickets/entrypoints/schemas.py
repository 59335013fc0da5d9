"""Response shapes of the support analytics endpoints (for the OpenAPI document; the routes build plain JSON)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class TicketRef(BaseModel):
    ticket_id: str
    status: str
    ticket_type: str
    customer_id: str


class OpenSession(BaseModel):
    session_key: str
    session_id: str = Field(description="Acct-Session-Id")
    start_time: datetime
    last_update: datetime = Field(description="The session's latest accounting record")
    nas_id: str
    nas_ip_address: str
    framed_ip_address: str | None
    framed_ipv6_prefix: str | None
    session_duration_seconds: int = Field(description="Acct-Session-Time so far")
    input_octets: int = Field(description="Bytes from the subscriber so far (64-bit counter)")
    output_octets: int = Field(description="Bytes to the subscriber so far (64-bit counter)")


class RecentSession(BaseModel):
    session_key: str
    session_id: str = Field(description="Acct-Session-Id")
    start_time: datetime
    stop_time: datetime | None = Field(description="null: no stop yet")
    last_update: datetime = Field(description="The session's latest accounting record: its stop, else its update")
    stopped_by: str | None = Field(description="stop (the NAS's Stop record), nas (NAS reset), null: no stop")
    terminate_cause: str | None
    session_duration_seconds: int
    input_octets: int
    output_octets: int
    nas_id: str
    nas_ip_address: str
    framed_ip_address: str | None


class WindowFigures(BaseModel):
    sessions: int = Field(description="Sessions started in the window (all of them, not only those listed)")
    input_octets: int
    output_octets: int
    session_time_seconds: int


class LineSessions(BaseModel):
    subscriber_id: str
    username: str | None = Field(description="null: the subscriber is not known to reporting (yet)")
    online: bool = Field(description="At least one session open now")
    open: list[OpenSession] = Field(description="Sessions online now, newest start first")
    recent: list[RecentSession] = Field(description="Sessions started in the window, newest first, at most `limit`")
    window: WindowFigures
    has_more: bool = Field(description="More sessions started in the window than `recent` lists")


class TicketSessionsOut(BaseModel):
    ticket: TicketRef
    as_of: datetime
    window_from: datetime = Field(description="Recent sessions started at or after this: `as_of` minus `days`")
    days: int
    limit: int
    stale_after_seconds: int = Field(description="A session without a Stop is open until its last record plus this")
    subscribers: list[LineSessions] = Field(description="The ticket's affected subscribers, in its order")
