"""The accounting server end to end: radclient (Debian's freeradius-utils) as the NAS, events read from Kafka."""

from __future__ import annotations

import asyncio
import multiprocessing
import re
import socket
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bss_contracts import RawEnvelope, topics
from bss_contracts.events.radius import NasAccountingOn, SessionStarted, SessionStopped, SessionUpdated
from bss_testkit.events import EventProbe, eventually
from radius_ingest.protocol.authenticators import accounting_response
from radius_ingest.telemetry import SLOTS, Counters, WorkerMetrics

from .conftest import NAS_ID, TENANT
from .support import GIGA, SECRET, Service, accounting_request, attrs, exchange, radclient

pytestmark = pytest.mark.timeout(180)

STARTED, UPDATED, STOPPED = SessionStarted.event_type, SessionUpdated.event_type, SessionStopped.event_type


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def metric(service: Service, outcome: str) -> float:
    async with service.http() as http:
        text = (await http.get("/metrics")).text
    found = re.search(rf'^radius_packets_total\{{outcome="{outcome}"\}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@pytest.fixture
async def probe(service: Service) -> EventProbe:
    async with EventProbe(service.settings.kafka_bootstrap_servers, service.settings.kafka_topic_prefix,
                          topics.SESSIONS, topics.NAS) as probe:  # fmt: skip
        yield probe


async def test_start_interim_stop_round_trip_with_gigawords(service: Service, probe: EventProbe) -> None:
    user, sid = unique("alice") + "@isp.example", unique("S")
    common = {"User_Name": user, "Acct_Session_Id": sid, "NAS_IP_Address": "10.1.0.1", "NAS_Port": 7,
              "NAS_Port_Id": "ge-0/0/1.7", "NAS_Port_Type": "Ethernet", "NAS_Identifier": "bras-east",
              "Calling_Station_Id": "00:11:22:33:44:55", "Called_Station_Id": "bng-1",
              "Framed_IP_Address": "100.64.1.9"}  # fmt: skip
    start = await radclient(service.radius_port, attrs(**common, Acct_Status_Type="Start", Event_Timestamp=1767225600))
    interim = await radclient(service.radius_port, attrs(
        **common, Acct_Status_Type="Interim-Update", Event_Timestamp=1767226200, Acct_Session_Time=600,
        Acct_Input_Octets=123, Acct_Input_Gigawords=5, Acct_Output_Octets=4294967295, Acct_Output_Gigawords=2,
        Acct_Input_Packets=1000, Acct_Output_Packets=2000,
        Framed_IPv6_Prefix="2001:db8:1:2::/64", Delegated_IPv6_Prefix="2001:db8:ff00::/56",
    ))  # fmt: skip
    stop = await radclient(service.radius_port, attrs(
        **common, Acct_Status_Type="Stop", Acct_Session_Time=900, Acct_Delay_Time=0,
        Acct_Input_Octets=7, Acct_Input_Gigawords=4294967295, Acct_Output_Octets=0, Acct_Output_Gigawords=1,
        Acct_Terminate_Cause="User-Request",
    ))  # fmt: skip
    assert start.answered and interim.answered and stop.answered, (start, interim, stop)

    events = await probe.wait_for(lambda e: e.subject == user, count=3)
    assert [e.type for e in events] == [STARTED, UPDATED, STOPPED]  # one key: one partition, in order
    started, updated, stopped = events
    for envelope in events:
        assert envelope.tenant_id == TENANT and envelope.source == "/services/radius-ingest"
        assert envelope.data["nas_id"] == NAS_ID and envelope.data["acct_session_id"] == sid
    assert len({e.data["session_key"] for e in events}) == 1

    s = started.parse_data(SessionStarted).data
    assert s.event_time.timestamp() == 1767225600 == s.session_start_time.timestamp()
    assert (s.input_octets, s.output_octets, s.nas_port, s.nas_port_id) == (0, 0, 7, "ge-0/0/1.7")
    assert (s.nas_ip_address, s.nas_identifier, s.nas_port_type) == ("10.1.0.1", "bras-east", "Ethernet")
    assert (s.framed_ip_address, s.calling_station_id, s.called_station_id) == (
        "100.64.1.9",
        "00:11:22:33:44:55",
        "bng-1",
    )

    u = updated.parse_data(SessionUpdated).data
    assert u.input_octets == 5 * GIGA + 123 == 21_474_836_603
    assert u.output_octets == 2 * GIGA + 4_294_967_295 == 12_884_901_887
    assert (u.input_packets, u.output_packets, u.session_time_seconds) == (1000, 2000, 600)
    assert u.framed_ipv6_prefix == "2001:db8:1:2::/64" and u.delegated_ipv6_prefix == "2001:db8:ff00::/56"
    assert u.session_start_time.timestamp() == 1767225600

    t = stopped.parse_data(SessionStopped).data
    assert t.input_octets == 4_294_967_295 * GIGA + 7 == 18_446_744_069_414_584_327  # the largest gigawords
    assert t.output_octets == GIGA
    assert t.terminate_cause == "User-Request"
    # No Event-Timestamp: arrival minus Acct-Delay-Time, i.e. about now.
    assert abs(t.event_time.timestamp() - stopped.time.timestamp()) < 1
    assert t.session_start_time.timestamp() == int(t.event_time.timestamp()) - 900


async def test_wrong_secret_and_unknown_nas_get_no_reply(service: Service, probe: EventProbe) -> None:
    user = unique("mallory")
    bad_before, unknown_before = await metric(service, "bad_authenticator"), await metric(service, "unknown_nas")
    wrong = await radclient(service.radius_port, attrs(User_Name=user, Acct_Status_Type="Start", Acct_Session_Id="x"),
                            secret="not-the-secret", retries=1, timeout=1)  # fmt: skip
    assert not wrong.answered and "No reply" in wrong.stdout + wrong.stderr
    # A source address no NAS client covers: silently dropped too.
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.77", 0))
    packet = accounting_request(
        9, SECRET, [("User-Name", user), ("Acct-Status-Type", "Start"), ("Acct-Session-Id", "y")]
    )
    assert await exchange(service.radius_port, [packet], sock=stranger, wait=1.0) == []
    stranger.close()

    await eventually(lambda: _grew(service, "bad_authenticator", bad_before), timeout=10)
    await eventually(lambda: _grew(service, "unknown_nas", unknown_before), timeout=10)
    seen = await probe.settle(1.0)
    assert not [e for e in seen if e.subject == user]


async def _grew(service: Service, outcome: str, before: float) -> bool:
    return await metric(service, outcome) > before


async def test_retransmission_and_resend_are_answered_without_double_counting(
    service: Service, probe: EventProbe
) -> None:
    user = unique("bob")
    fields: list[tuple[str, object]] = [
        ("User-Name", user), ("Acct-Session-Id", "R-1"), ("Acct-Status-Type", "Interim-Update"),
        ("NAS-IP-Address", "10.1.0.2"), ("Acct-Session-Time", 300), ("Acct-Input-Octets", 1000),
        ("Acct-Output-Octets", 2000), ("Acct-Input-Gigawords", 1),
    ]  # fmt: skip
    first = accounting_request(17, SECRET, [*fields, ("Acct-Delay-Time", 0)])
    # A retransmission: the very same datagram from the same source port.
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    replies = await exchange(service.radius_port, [first], sock=sock, wait=3.0)
    replies += await exchange(service.radius_port, [first], sock=sock, wait=1.0)
    assert replies == [accounting_response(17, first[4:20], SECRET.encode())] * 2
    # An application-level resend: same session and counters, new Identifier, Acct-Delay-Time grown by 5.
    resend = accounting_request(18, SECRET, [*fields, ("Acct-Delay-Time", 5)])
    assert await exchange(service.radius_port, [resend], sock=sock, wait=2.0) == [
        accounting_response(18, resend[4:20], SECRET.encode())
    ]
    sock.close()
    # radclient retransmitting on its own (a short timeout): still one event.
    start = attrs(User_Name=user, Acct_Session_Id="R-2", Acct_Status_Type="Start")
    retrying = await radclient(service.radius_port, start, retries=3, timeout=1)
    assert retrying.answered

    await probe.wait_for(lambda e: e.subject == user, count=2)
    mine = [e for e in await probe.settle(2.0) if e.subject == user]
    assert sorted(e.type for e in mine) == [STARTED, UPDATED]
    [update] = [e for e in mine if e.type == UPDATED]
    assert update.data["input_octets"] == GIGA + 1000
    assert await metric(service, "retransmission") >= 1 and await metric(service, "resend") >= 1


async def test_malformed_packets_never_crash_the_server_and_padding_is_ignored(
    service: Service, probe: EventProbe
) -> None:
    user = unique("carol")
    good = accounting_request(
        40, SECRET, [("User-Name", user), ("Acct-Session-Id", "P-1"), ("Acct-Status-Type", "Start")]
    )
    length = len(good).to_bytes(2, "big")
    malformed = [
        b"",
        b"\x04\x01\x00",  # shorter than a header
        good[:2] + (len(good) + 10).to_bytes(2, "big") + good[4:],  # Length beyond the datagram
        good[:2] + b"\x00\x13" + good[4:],  # Length 19 < 20
        good[:2] + b"\x10\x01" + good[4:] + bytes(4200),  # Length 4097 > 4096
        good[:20] + b"\x01\x00" + good[22:],  # attribute length 0
        good[:20] + b"\x01\x01" + good[22:],  # attribute length 1
        good[:2] + length + good[4:-1] + b"",  # last attribute runs past Length
        good[:2] + (len(good) + 1).to_bytes(2, "big") + good[4:] + b"\x2c",  # a lone attribute type byte
    ]
    before = await metric(service, "malformed")
    assert await exchange(service.radius_port, malformed, wait=1.0) == []
    # Bytes after Length are padding (RFC 2865 §3): ignored, the packet is valid.
    replies = await exchange(service.radius_port, [good + b"\x00\xffpadding"], wait=3.0)
    assert replies == [accounting_response(40, good[4:20], SECRET.encode())]
    [started] = await probe.wait_for(lambda e: e.subject == user)
    assert started.type == STARTED
    await eventually(lambda: _at_least(service, "malformed", before + len(malformed) - 1), timeout=10)
    assert service.process.poll() is None
    healthy = await radclient(service.radius_port, "Message-Authenticator = 0x00\n", command="status")
    assert healthy.answered


async def _at_least(service: Service, outcome: str, value: float) -> bool:
    return await metric(service, outcome) >= value


async def test_message_authenticator_is_checked_when_present(service: Service, probe: EventProbe) -> None:
    user = unique("dave")
    signed = await radclient(service.radius_port, attrs(User_Name=user, Acct_Session_Id="M-1",
                             Acct_Status_Type="Start") + "Message-Authenticator = 0x00\n")  # fmt: skip
    assert signed.answered
    fields: list[tuple[str, object]] = [("User-Name", user), ("Acct-Session-Id", "M-2"), ("Acct-Status-Type", "Start")]
    # A Message-Authenticator that is wrong, under a Request Authenticator that is right: discarded.
    forged = accounting_request(41, SECRET, fields, message_authenticator="wrong")
    assert await exchange(service.radius_port, [forged], wait=1.5) == []
    # The same, signed right: accepted.
    fields[1] = ("Acct-Session-Id", "M-3")
    valid = accounting_request(42, SECRET, fields, message_authenticator="valid")
    assert await exchange(service.radius_port, [valid], wait=3.0) == [
        accounting_response(42, valid[4:20], SECRET.encode())
    ]
    await probe.wait_for(lambda e: e.subject == user, count=2)
    await probe.settle(1.0)
    assert sorted(e.data["acct_session_id"] for e in probe.seen if e.subject == user) == ["M-1", "M-3"]


async def test_accounting_on_closes_the_open_sessions_of_that_nas(service: Service, probe: EventProbe) -> None:
    nas_ip, other_ip = "10.9.0.1", "10.9.0.2"
    users = {name: unique(name) for name in ("open1", "open2", "stopped", "othernas")}
    t0 = 1767300000

    async def send(user: str, ip: str, status: str, at: int, **more: object) -> None:
        request = attrs(User_Name=user, Acct_Session_Id=f"s-{user}", NAS_IP_Address=ip,
                        Acct_Status_Type=status, Event_Timestamp=at, **more)  # fmt: skip
        sent = await radclient(service.radius_port, request)
        assert sent.answered, sent

    await send(users["open1"], nas_ip, "Start", t0)
    await send(users["open1"], nas_ip, "Interim-Update", t0 + 300, Acct_Session_Time=300,
               Acct_Input_Octets=10, Acct_Input_Gigawords=3, Acct_Output_Octets=20)  # fmt: skip
    await send(users["open2"], nas_ip, "Start", t0 + 60)
    await send(users["stopped"], nas_ip, "Start", t0)
    await send(users["stopped"], nas_ip, "Stop", t0 + 120, Acct_Session_Time=120, Acct_Terminate_Cause="Lost-Carrier")
    await send(users["othernas"], other_ip, "Start", t0)
    # The tracker reads the session topic behind the UDP path: a NAS reboots long after its last Stop. Wait for it
    # to have read that Stop, or the reset closes the session a second time (documented in workers.py).
    engine = create_async_engine(service.settings.database_url)
    try:

        async def stop_tracked() -> bool:
            async with engine.connect() as db:
                query = text("select closed from sessions where username = :user")
                return bool((await db.execute(query, {"user": users["stopped"]})).scalar())

        await eventually(stop_tracked, timeout=60)
    finally:
        await engine.dispose()
    on = await radclient(service.radius_port, attrs(Acct_Status_Type="Accounting-On", NAS_IP_Address=nas_ip,
                                                    Acct_Session_Id="0", Event_Timestamp=t0 + 1000))  # fmt: skip
    assert on.answered

    [nas_on] = await probe.wait_for(
        lambda e: e.type == NasAccountingOn.event_type and e.data["nas_ip_address"] == nas_ip
    )
    assert nas_on.tenant_id == TENANT and nas_on.data["nas_id"] == NAS_ID and nas_on.data["reason"] == "accounting-on"

    def closed_by_nas(e: RawEnvelope) -> bool:
        return e.type == STOPPED and e.data.get("terminate_cause") == "NAS-Reboot"

    closed = await probe.wait_for(lambda e: closed_by_nas(e) and e.subject in users.values(), count=2, timeout=60)
    by_user = {e.subject: e.parse_data(SessionStopped).data for e in closed}
    assert set(by_user) == {users["open1"], users["open2"]}
    assert by_user[users["open1"]].input_octets == 3 * GIGA + 10  # the last counters known
    assert by_user[users["open1"]].output_octets == 20
    assert by_user[users["open1"]].event_time.timestamp() == t0 + 1000
    await probe.settle(1.5)
    assert len([e for e in probe.seen if closed_by_nas(e) and e.subject in users.values()]) == 2

    async with service.http() as http:
        still_open = (
            await http.get("/sessions/open", params={"nas_id": NAS_ID}, headers=service.token(TENANT, "support"))
        ).json()
        # paged: pages of two, newest first, make up the whole list with no session twice
        everything = (
            await http.get("/sessions/open", params={"limit": 1000}, headers=service.token(TENANT, "ops"))
        ).json()
        pages: list[dict[str, object]] = []
        while page := (
            await http.get(
                "/sessions/open", params={"limit": 2, "offset": len(pages)}, headers=service.token(TENANT, "ops")
            )
        ).json():
            assert len(page) <= 2
            pages += page
        too_many = await http.get("/sessions/open", params={"limit": 1001}, headers=service.token(TENANT, "ops"))
    open_users = {s["username"] for s in still_open}
    assert users["othernas"] in open_users
    assert not open_users & {users["open1"], users["open2"], users["stopped"]}
    assert [s["session_key"] for s in pages] == [s["session_key"] for s in everything]
    assert users["othernas"] in {s["username"] for s in everything}
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["loc"][-1] == "limit"


async def test_nas_clients_are_managed_over_http_and_picked_up_by_the_workers(
    service: Service, probe: EventProbe
) -> None:
    tenant, user = "globex", unique("ivan")
    ops, support = service.token(tenant, "ops"), service.token(tenant, "support")
    async with service.http() as http:
        created = await http.post("/nas-clients", headers=ops,
                                  json={"nas_id": "bng-5", "address": "127.0.0.5", "secret": "s3cret-5"})  # fmt: skip
        assert created.status_code == 201, created.text
        assert created.json()["address"] == "127.0.0.5/32" and "secret" not in created.json()
        bad = await http.post("/nas-clients", headers=ops, json={"nas_id": "x", "address": "10.0.0.300", "secret": "s"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "address"
        taken = await http.post(
            "/nas-clients", headers=ops, json={"nas_id": "y", "address": "127.0.0.1", "secret": "s"}
        )
        assert taken.status_code == 409  # 127.0.0.1 belongs to another tenant's client
        forbidden = await http.post("/nas-clients", headers=support,
                                    json={"nas_id": "z", "address": "127.0.0.6", "secret": "s"})  # fmt: skip
        assert forbidden.status_code == 403
        listed = (await http.get("/nas-clients", headers=support)).json()
        assert [c["nas_id"] for c in listed] == ["bng-5"]
        assert (await http.get("/nas-clients", headers=service.token(TENANT, "support"))).json()[0]["nas_id"] == NAS_ID

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.5", 0))
    packet = accounting_request(
        5, "s3cret-5", [("User-Name", user), ("Acct-Session-Id", "H-1"), ("Acct-Status-Type", "Start")]
    )

    async def answered() -> bool:
        return bool(await exchange(service.radius_port, [packet], sock=sock, wait=0.5))

    await eventually(answered, timeout=15)
    [event] = await probe.wait_for(lambda e: e.subject == user)
    assert event.tenant_id == tenant and event.data["nas_id"] == "bng-5"

    async with service.http() as http:
        assert (await http.delete("/nas-clients/bng-5", headers=ops)).status_code == 204
        assert (await http.get("/nas-clients/bng-5", headers=ops)).status_code == 404
    await asyncio.sleep(1.5)  # workers reload clients every 0.3 s in these tests
    later = accounting_request(
        6, "s3cret-5", [("User-Name", user), ("Acct-Session-Id", "H-2"), ("Acct-Status-Type", "Start")]
    )
    assert await exchange(service.radius_port, [later], sock=sock, wait=1.0) == []
    sock.close()


async def test_ready_only_once_every_udp_worker_serves_the_accounting_port(service: Service) -> None:
    async with service.http() as http:
        ready = await http.get("/readyz")
        text = (await http.get("/metrics")).text
    assert ready.status_code == 200 and ready.json()["checks"]["radius_udp"] == "ok"
    workers = service.settings.radius_workers
    assert re.search(rf"^radius_workers_listening {workers}\.0$", text, re.MULTILINE), text

    # the check itself, on a shared array like the workers': one of two listening is not ready
    shared = multiprocessing.get_context("spawn").Array("q", SLOTS * 2, lock=False)
    first = Counters(shared, 0)  # type: ignore[arg-type]
    first.values["listening"] = 1
    first.flush()
    with pytest.raises(RuntimeError, match="1 of 2 UDP workers listening"):
        await WorkerMetrics(shared, 2).ready()  # type: ignore[arg-type]
