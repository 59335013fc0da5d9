"""BI file delivery: a schedule's outputs written into a directory under BI_DELIVERY_DIRECTORY_ROOT and uploaded to
a real OpenSSH server (sshd started by this module on a loopback port, key authentication), byte for byte; with
the server stopped the delivery goes retrying, then failed; unsafe paths and bad keys answer 422 naming the field."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from reporting.bi.adapters.files import DirectoryWriter
from reporting.bi.domain import file_delivery as files
from reporting.bi.domain.model import Invalid

from .bi_support import BiHarness
from .reporting_support import new_tenant
from .sftp_support import SshServer
from .test_aging import AS_OF, seed_receivables


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    server = SshServer(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@pytest.fixture
def root(bi: BiHarness, tmp_path: Path) -> Iterator[Path]:
    """The service's BI_DELIVERY_DIRECTORY_ROOT for the test: a directory of its own."""
    directory = tmp_path / "deliveries"
    directory.mkdir()
    original = bi.service.bi.directories
    object.__setattr__(bi.service.bi, "directories", DirectoryWriter(str(directory)))
    yield directory
    object.__setattr__(bi.service.bi, "directories", original)


async def _scheduled_run(bi: BiHarness, tenant: str, **destinations: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A schedule with these destinations, its due run rendered, and the schedule and execution as the API shows."""
    template = await bi.template(tenant, "finance", name="Aging by region", output_formats=["csv", "json"])
    body = {"template_id": template["template_id"], "name": "Nightly aging", "cron": "0 2 * * *",
            "parameters": {"as_of": AS_OF.isoformat()}} | destinations  # fmt: skip
    schedule = await bi.req("POST", "/report-schedules", tenant, "finance", status=201, json=body)
    bi.clock.set(datetime.fromisoformat(schedule["next_run_at"]))
    await bi.worker.start_due_schedules()
    await bi.worker.run_pending_executions()
    [execution] = [e for e in await bi.req("GET", "/report-executions", tenant) if e["schedule_id"]]
    assert execution["status"] == "completed", execution
    return schedule, execution


async def _deliveries(bi: BiHarness, tenant: str, execution_id: str) -> dict[str, dict[str, Any]]:
    return {d["channel"]: d for d in (await bi.execution(tenant, execution_id))["deliveries"]}


async def test_outputs_are_written_to_the_directory_and_to_the_sftp_server_with_equal_bytes(
    bi: BiHarness, sshd: SshServer, root: Path
) -> None:
    tenant = new_tenant()
    await seed_receivables(bi, tenant)
    remote = f"{sshd.inbox}/{tenant}/aging"  # created on the server by the delivery
    schedule, execution = await _scheduled_run(
        bi, tenant, directory={"path": f"finance/./{tenant}/"}, sftp=sshd.destination(remote)
    )
    assert schedule["directory"] == {"path": f"finance/{tenant}"}
    assert schedule["sftp"] == {"host": "127.0.0.1", "port": sshd.port, "username": sshd.user, "remote_dir": remote,
                                "known_host_key": sshd.host_public_key, "private_key_set": True}  # fmt: skip
    queued = await _deliveries(bi, tenant, execution["execution_id"])
    assert {c: (d["status"], d["attempts"]) for c, d in queued.items()} == {
        "directory": ("pending", 0),
        "sftp": ("pending", 0),
    }
    assert queued["sftp"]["target"] == f"sftp://{sshd.user}@127.0.0.1:{sshd.port}{remote}"

    await bi.worker.make_due_deliveries()
    done = await _deliveries(bi, tenant, execution["execution_id"])
    assert {c: (d["status"], d["attempts"], d["last_error"]) for c, d in done.items()} == {
        "directory": ("delivered", 1, None),
        "sftp": ("delivered", 1, None),
    }

    expected = {
        o["filename"]: (await bi.download(tenant, execution["execution_id"], o["format"], "finance")).content
        for o in execution["outputs"]
    }
    assert len(expected) == 2 and all(expected.values())
    for directory in (root / "finance" / tenant, Path(remote)):  # nothing else: no temporary file left behind
        assert {p.name: p.read_bytes() for p in directory.iterdir()} == expected, directory


async def test_with_the_server_stopped_the_sftp_delivery_goes_retrying_then_failed(
    bi: BiHarness, sshd: SshServer
) -> None:
    tenant = new_tenant()
    remote = f"{sshd.inbox}/{tenant}"
    sshd.stop()
    try:
        _, execution = await _scheduled_run(bi, tenant, sftp=sshd.destination(remote))
        tries = []
        for attempt in range(1, bi.settings.bi_delivery_max_attempts + 1):
            await bi.worker.make_due_deliveries()
            delivery = (await _deliveries(bi, tenant, execution["execution_id"]))["sftp"]
            tries.append((delivery["status"], delivery["attempts"]))
            assert f"sftp://{sshd.user}@127.0.0.1:{sshd.port}" in delivery["last_error"]
            assert "refused" in delivery["last_error"].lower(), delivery["last_error"]
            if delivery["status"] == "retrying":
                retry_at = datetime.fromisoformat(delivery["next_attempt_at"])
                assert retry_at == bi.clock.now() + timedelta(seconds=60 * 2 ** (attempt - 1))  # backoff doubles
                bi.clock.set(retry_at - timedelta(seconds=1))
                await bi.worker.make_due_deliveries()  # not before its time
                assert (await _deliveries(bi, tenant, execution["execution_id"]))["sftp"]["attempts"] == attempt
                bi.clock.set(retry_at)
        last = bi.settings.bi_delivery_max_attempts
        assert tries == [("retrying", n) for n in range(1, last)] + [("failed", last)]
        assert delivery["next_attempt_at"] is None
    finally:
        sshd.start()
    await bi.worker.make_due_deliveries()  # failed is final: the server back does not revive it
    assert (await _deliveries(bi, tenant, execution["execution_id"]))["sftp"]["attempts"] == last
    assert not await asyncio.to_thread(os.path.exists, remote)


async def test_a_server_with_another_host_key_is_refused(bi: BiHarness, sshd: SshServer) -> None:
    tenant = new_tenant()
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode().strip()
    _, execution = await _scheduled_run(
        bi, tenant, sftp=sshd.destination(f"{sshd.inbox}/{tenant}", known_host_key=impostor)
    )
    await bi.worker.make_due_deliveries()
    delivery = (await _deliveries(bi, tenant, execution["execution_id"]))["sftp"]
    assert (delivery["status"], delivery["attempts"]) == ("retrying", 1)
    assert "host key" in delivery["last_error"].lower(), delivery["last_error"]
    assert not (sshd.inbox / tenant).exists()


async def test_a_symbolic_link_out_of_the_root_is_not_followed(bi: BiHarness, root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    tenant = new_tenant()
    _, execution = await _scheduled_run(bi, tenant, directory={"path": "escape/reports"})
    await bi.worker.make_due_deliveries()
    delivery = (await _deliveries(bi, tenant, execution["execution_id"]))["directory"]
    assert (delivery["status"], delivery["attempts"]) == ("retrying", 1)
    assert "leads out of BI_DELIVERY_DIRECTORY_ROOT" in delivery["last_error"]
    assert list(outside.iterdir()) == []


async def test_unsafe_paths_and_bad_keys_are_422_naming_the_field(bi: BiHarness, sshd: SshServer, root: Path) -> None:
    tenant = new_tenant()
    template = await bi.template(tenant, "finance", output_formats=["json"])

    async def loc(**fields: Any) -> list[Any]:
        body = {"template_id": template["template_id"], "name": "x", "cron": "0 6 * * 1"} | fields
        response = await bi.call("POST", "/report-schedules", tenant, "finance", json=body)
        assert response.status_code == 422, response.text
        return list(response.json()["detail"][0]["loc"])

    for path in ("../etc", "/etc/cron.d", "a/../../b", "a\\..\\b", "a\x01b", ""):
        assert await loc(directory={"path": path}) == ["body", "directory", "path"], path
    assert await loc(sftp=sshd.destination("../../etc")) == ["body", "sftp", "remote_dir"]
    assert await loc(sftp=sshd.destination(private_key="not a key")) == ["body", "sftp", "private_key"]
    assert await loc(sftp=sshd.destination(known_host_key="ssh-ed25519 nonsense")) == ["body", "sftp", "known_host_key"]
    assert await loc(sftp=sshd.destination(port=70000)) == ["body", "sftp", "port"]
    assert await loc(sftp=sshd.destination(host="evil host;rm")) == ["body", "sftp", "host"]
    assert await loc(sftp={"host": "127.0.0.1", "username": "u"}) == ["body", "sftp", "private_key"]
    ok = {"template_id": template["template_id"], "name": "ok", "cron": "0 6 * * 1", "directory": {"path": "x"}}
    created = await bi.req("POST", "/report-schedules", tenant, "finance", status=201, json=ok)
    patch = await bi.call("PATCH", f"/report-schedules/{created['schedule_id']}", tenant, "finance",
                          json={"directory": {"path": "../x"}})  # fmt: skip
    assert patch.status_code == 422 and patch.json()["detail"][0]["loc"] == ["body", "directory", "path"]

    object.__setattr__(bi.service.bi, "directories", DirectoryWriter(None))  # the root fixture puts it back
    assert await loc(directory={"path": "x"}) == ["body", "directory"]


def test_path_rules() -> None:
    assert files.directory_path(("p",), "a/./b//c/") == "a/b/c"
    assert files.directory_path(("p",), ".") == "."
    assert files.remote_dir(("r",), "/srv/in/") == "/srv/in"
    for bad in ("..", "a/..", "/abs", "a\\b", "x\ny", " "):
        with pytest.raises(Invalid) as caught:
            files.directory_path(("directory", "path"), bad)
        assert caught.value.field == ("directory", "path")
    assert files.temporary_name("r_20250331.csv", "0123456789abcdef") == ".r_20250331.csv.0123456789ab.part"
    assert files.sftp_target("u", "::1", 22, "in") == "sftp://u@[::1]:22/~/in"
    assert files.sftp_target("u", "h", 2222, "/srv") == "sftp://u@h:2222/srv"
    statuses = [files.status_after_failure(n, 3) for n in (1, 2, 3)]
    assert statuses == ["retrying", "retrying", "failed"]


async def test_sshd_is_a_real_server(sshd: SshServer) -> None:
    """The fixture serves SFTP with the keys it made, and only with them (checked apart from the service)."""

    async def listing(private_key: str) -> list[str]:
        async with (
            asyncssh.connect("127.0.0.1", sshd.port, username=sshd.user, config=None, agent_path=None,
                             client_keys=[asyncssh.import_private_key(private_key)],
                             known_hosts=([asyncssh.import_public_key(sshd.host_public_key)], [], [])) as conn,
            conn.start_sftp_client() as sftp,
        ):  # fmt: skip
            return list(await sftp.listdir(str(sshd.inbox)))

    assert "." in await listing(sshd.client_private_key)
    stranger = asyncssh.generate_private_key("ssh-ed25519").export_private_key("openssh").decode()
    with pytest.raises(asyncssh.PermissionDenied):
        await listing(stranger)
