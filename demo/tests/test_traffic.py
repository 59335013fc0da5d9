"""The sessions the demo plays: what a NAS would report, within the days the running billing cycles cover."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from demo.dataset import HISTORY_WINDOW_DAYS, Generator
from demo.radius import INTERIM, START, STOP
from demo.traffic import nas_fleet, sessions_for

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def test_sessions_are_what_a_nas_reports() -> None:
    customers = Generator(5, NOW).customers(300)
    sessions = sessions_for(customers, NOW, seed=5)
    active = {s.username for c in customers for s in c.subscribers if s.lifecycle == "active"}
    assert len(sessions) > 250
    assert {s.identity.username for s in sessions} <= active
    assert len({(s.nas_key, s.identity.acct_session_id) for s in sessions}) == len(sessions)
    ongoing = 0
    for session in sessions:
        reports = session.reports
        assert reports[0].status == START and (reports[0].input_octets, reports[0].output_octets) == (0, 0)
        assert all(r.status == INTERIM for r in reports[1:-1])
        ongoing += reports[-1].status != STOP
        times = [r.time for r in reports]
        assert times == sorted(times)
        assert NOW - timedelta(days=HISTORY_WINDOW_DAYS) <= times[0] and times[-1] <= NOW
        for earlier, later in pairwise(reports):
            assert later.input_octets >= earlier.input_octets and later.output_octets >= earlier.output_octets
            assert later.session_time >= earlier.session_time
    assert 0 < ongoing < len(sessions)
    assert any(s.reports[-1].output_octets > 2**32 for s in sessions)  # Gigawords in use


def test_every_city_has_its_nas_on_its_own_address() -> None:
    fleet = nas_fleet(generation=1)
    assert len(fleet) == 20
    assert len({n.address for n in fleet.values()}) == 20
    assert all(n.address.is_loopback for n in fleet.values())
    assert {n.address for n in nas_fleet(2).values()}.isdisjoint({n.address for n in fleet.values()})
