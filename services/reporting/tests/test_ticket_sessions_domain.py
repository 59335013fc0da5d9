"""The pure rules of a ticket's sessions (domain/ticket_sessions.py): open now, and the lines in the ticket's order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reporting.analytics.domain.concurrency import STALE_AFTER
from reporting.tickets.domain.ticket_sessions import WindowTotals, is_open, lines, online_cutoff, window_start

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_open_is_online_now_by_the_stale_timeout_of_online_now() -> None:
    start = NOW - timedelta(days=3)
    assert is_open(start, None, NOW - STALE_AFTER + timedelta(seconds=1), NOW)
    assert not is_open(start, None, NOW - STALE_AFTER, NOW)  # half-open: exactly stale is gone
    assert not is_open(start, NOW - timedelta(minutes=1), NOW - timedelta(minutes=1), NOW)  # stopped
    assert not is_open(NOW + timedelta(seconds=1), None, NOW + timedelta(seconds=1), NOW)  # starts after now
    assert is_open(NOW, None, NOW, NOW)
    assert online_cutoff(NOW) == NOW - STALE_AFTER
    assert window_start(NOW, 7) == NOW - timedelta(days=7)


def test_lines_keep_the_tickets_order_once_each_and_unknown_subscribers_empty() -> None:
    names = {"s-1": "one@isp", "s-2": "two@isp"}
    totals = {"one@isp": WindowTotals(2, 2**33, 5, 60)}
    out = lines(["s-2", "s-9", "s-1", "s-2"], names, {"two@isp": ["o2"]}, {"one@isp": ["r1", "r0"]}, totals)
    assert [(x.subscriber_id, x.username, x.open, x.recent, x.totals) for x in out] == [
        ("s-2", "two@isp", ["o2"], [], WindowTotals()),
        ("s-9", None, [], [], WindowTotals()),
        ("s-1", "one@isp", [], ["r1", "r0"], WindowTotals(2, 2**33, 5, 60)),
    ]
    assert lines([], names, {}, {}, {}) == []
