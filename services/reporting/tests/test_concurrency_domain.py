"""Peak concurrency from session intervals, exactly: hand-built cases and a property against a brute-force count."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from reporting.analytics.domain.concurrency import (
    ALL_NAS,
    HOUR,
    STALE_AFTER,
    HourLevel,
    Peak,
    SessionSpan,
    bucket_start,
    daily_peaks,
    hourly_peaks,
    level_changes,
    session_interval,
    summarize_hour,
)

T0 = datetime(2026, 3, 28, 22, tzinfo=UTC)  # Berlin moves to summer time at 01:00 UTC on the 29th


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def peaks_of(intervals: list[SessionSpan], hours: int, nas: str = ALL_NAS) -> list[Peak]:
    """Through the same path as the read model: level changes, hour summaries, peaks."""
    changes = level_changes(("t", None, i) for i in intervals)
    by_hour: dict[datetime, list[tuple[datetime, int]]] = defaultdict(list)
    before = 0
    for (_, n, moment), change in changes.items():
        if n != nas:
            continue
        if moment < T0:
            before += change
        else:
            by_hour[bucket_start(moment, "hour")].append((moment, change))
    kept = {hour: summarize_hour(hour, found) for hour, found in by_hour.items()}
    return hourly_peaks(before, T0, hours, kept)


def brute_force(intervals: list[SessionSpan], hours: int) -> list[Peak]:
    peaks = []
    for i in range(hours):
        hour = T0 + i * HOUR
        instants = sorted({hour} | {m for iv in intervals for m in (iv.start, iv.end) if hour <= m < hour + HOUR})
        levels = [(sum(iv.start <= t < iv.end for iv in intervals), t) for t in instants]
        top = max(n for n, _ in levels)
        peaks.append(Peak(hour, top, next(t for n, t in levels if n == top)))
    return peaks


def test_touching_intervals_do_not_overlap_and_nested_ones_do() -> None:
    touching = [SessionSpan("a", at(10), at(20)), SessionSpan("a", at(20), at(30))]
    assert peaks_of(touching, 1) == [Peak(T0, 1, at(10))]
    nested = [SessionSpan("a", at(10), at(50)), SessionSpan("b", at(20), at(30)), SessionSpan("a", at(25), at(26))]
    assert peaks_of(nested, 1) == [Peak(T0, 3, at(25))]
    assert peaks_of(nested, 1, nas="a") == [Peak(T0, 2, at(25))]
    assert peaks_of(nested, 1, nas="b") == [Peak(T0, 1, at(20))]


def test_same_instant_stop_and_start_and_a_session_across_hours() -> None:
    sessions = [
        SessionSpan("a", at(-30), at(60)),  # began before the window: the level the first hour begins with
        SessionSpan("a", at(60), at(150)),  # starts when the first ends: 1, not 2, at 23:00
        SessionSpan("a", at(59), at(61)),
    ]
    assert peaks_of(sessions, 3) == [
        Peak(T0, 2, at(59)),
        Peak(T0 + HOUR, 2, at(60)),  # the level the hour began with does not hold at 23:00 itself: -1 +1 there
        Peak(T0 + 2 * HOUR, 1, T0 + 2 * HOUR),
    ]
    assert summarize_hour(T0 + HOUR, [(at(60), 0)]) == HourLevel(0, 0, T0 + HOUR)


def test_an_open_session_counts_until_its_last_record_plus_the_stale_timeout() -> None:
    open_one = session_interval("a", at(0), None, at(5))
    assert open_one == SessionSpan("a", at(0), at(5) + STALE_AFTER)
    stopped = session_interval("a", at(0), at(3), at(5))
    assert stopped.end == at(3)
    # a later record moves the end: only the changes that moved are written
    moved = level_changes([("t", open_one, session_interval("a", at(0), None, at(50)))])
    assert moved == {("t", "a", at(65)): 1, ("t", "a", at(110)): -1, ("t", "", at(65)): 1, ("t", "", at(110)): -1}
    assert level_changes([("t", open_one, open_one)]) == {}


def test_days_in_a_zone_across_midnight_and_a_dst_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    sessions = [SessionSpan("a", at(90), at(100)), SessionSpan("a", at(95), at(97)), SessionSpan("a", at(200), at(400))]
    hourly = peaks_of(sessions, 8)
    days = daily_peaks(hourly, berlin)
    # 22:00 UTC is 23:00 in Berlin on the 28th; 23:00 UTC is midnight of the 29th, a day of 23 hours
    assert [(d.period_start, d.peak, d.at) for d in days] == [(T0, 0, T0), (T0 + HOUR, 2, at(95))]
    assert sum(1 for h in hourly if h.period_start.astimezone(berlin).date().day == 29) == 7  # of its 23 hours
    # in UTC the first day holds 22:00 and 23:00, the second from midnight on
    assert daily_peaks(hourly, UTC) == [Peak(T0, 2, at(95)), Peak(T0 + 2 * HOUR, 1, at(200))]


minutes = st.integers(min_value=-90, max_value=5 * 60)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(minutes, st.integers(min_value=0, max_value=200), st.sampled_from("ab")), max_size=40))
def test_peaks_equal_a_brute_force_count(spans: list[tuple[int, int, str]]) -> None:
    intervals = [SessionSpan(nas, at(start), at(start + length)) for start, length, nas in spans]
    assert peaks_of(intervals, 5) == brute_force(intervals, 5)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(minutes, st.integers(min_value=0, max_value=200)), min_size=1, max_size=20), st.data())
def test_moving_intervals_one_change_at_a_time_equals_counting_the_final_ones(
    spans: list[tuple[int, int]], data: st.DataObject
) -> None:
    """Sessions whose end moves (new records) or that stop: the sum of the moves' changes is the final level."""
    first = [SessionSpan("a", at(s), at(s + n)) for s, n in spans]
    final = [SessionSpan("a", iv.start, iv.start + timedelta(minutes=data.draw(st.integers(0, 300)))) for iv in first]
    moves = [("t", None, iv) for iv in first] + [("t", a, b) for a, b in zip(first, final, strict=True)]
    total: dict[tuple[str, str, datetime], int] = defaultdict(int)
    for move in moves:
        for key, change in level_changes([move]).items():
            total[key] += change
    assert {k: v for k, v in total.items() if v} == level_changes(("t", None, iv) for iv in final)
