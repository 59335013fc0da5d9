"""compose.yaml stays in step with local mode, checked without Docker: it parses (YAML with its anchors and merge
keys), everything it references exists (services, volumes, files, modules, the gateway's upstreams), and the
services, the ops API (bssctl serve), ports, environment variable names, databases and Kafka cluster settings equal
what deploy/local runs with `KAFKA_BROKERS=3 REPLICAS=2` (asked of the scripts themselves: `services.sh env`,
`kafka.sh config`). The image's build stage is replayed with uv (offline, dry run) on what its COPY lines copy."""

from __future__ import annotations

import base64
import fnmatch
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from bss_contracts.topics import MIN_INSYNC_REPLICAS, REPLICATION_FACTOR, Service
from bssctl.api import OpsSettings
from bssctl.cli import app as bssctl_app
from bssctl.outbox import url_variable

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("customers", "billing", "dunning", "reporting", "radius-ingest", "support")
BROKERS = ("kafka-1", "kafka-2", "kafka-3")
REPLICAS = 2
OPS = "ops"  # the ops API (bssctl serve): compose's service name, and `services.sh env ops`
# Set in compose only, each for a reason: the image runs every service (SERVICE_MODULE picks one), a container
# listens on every interface (local mode: 127.0.0.1), and compose passes JWT_SECRET through from the host
# (local mode leaves it unset: the services' local-mode default).
COMPOSE_ONLY = {"SERVICE_MODULE", "HTTP_HOST", "JWT_SECRET"}
# Kafka settings that name hosts, ports or paths (equal in meaning, not in text) or only format the storage.
KAFKA_PLACES = {"node.id", "controller.quorum.voters", "listeners", "advertised.listeners", "log.dirs", "cluster.id"}
# Local-mode Kafka settings compose leaves at the image's defaults (they only size a laptop's broker).
KAFKA_LOCAL_ONLY = {
    "num.partitions", "delete.topic.enable", "num.network.threads", "num.io.threads",
    "num.recovery.threads.per.data.dir", "log.retention.hours", "log.segment.bytes",
}  # fmt: skip


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def local(script: str, *args: str, **env: str) -> str:
    """What a deploy/local script prints, with local mode's defaults (no port or state overrides)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "PG_", "SERVICE_", "RADIUS_"))}
    keep = {k: v for k, v in keep.items() if not k.endswith("DATABASE_URL") and k not in ("BSS_STATE_DIR", "HTTP_PORT")}
    with tempfile.TemporaryDirectory() as state:  # services.sh makes its state directory
        done = subprocess.run(
            [str(ROOT / "deploy/local" / script), *args],
            env=keep | {"BSS_STATE_DIR": state, **env},
            capture_output=True,
            text=True,
            check=True,
        )
    return done.stdout


def local_env(service: str) -> dict[str, str]:
    out = local("services.sh", "env", service, KAFKA_BROKERS="3", REPLICAS=str(REPLICAS))
    return dict(line.split("=", 1) for line in out.splitlines())


def test_compose_has_every_service_of_local_mode_and_what_it_needs(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {*SERVICES, OPS, *BROKERS, "postgres", "mailpit", "gateway"}


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_local_modes_variables_ports_and_database(compose: dict[str, Any], service: str) -> None:
    spec = compose["services"][service]
    env = {k: str(v) for k, v in spec["environment"].items()}
    here = local_env(service)
    assert set(env) - COMPOSE_ONLY == set(here), "variable names differ from local mode's"
    assert env["SERVICE_NAME"] == here["SERVICE_NAME"] == service
    assert env["HTTP_PORT"] == here["HTTP_PORT"]
    compose_db, local_db = urlsplit(env["DATABASE_URL"]), urlsplit(here["DATABASE_URL"])
    assert (compose_db.scheme, compose_db.username, compose_db.path) == (
        local_db.scheme, local_db.username, local_db.path,
    )  # fmt: skip
    assert compose_db.hostname in compose["services"]  # postgres, by its service name
    assert importlib.util.find_spec(env["SERVICE_MODULE"]) is not None, env["SERVICE_MODULE"]
    if service == "radius-ingest":
        assert env["RADIUS_PORT"] == "1813" and spec["ports"] == ["1813:1813/udp"]  # RFC 2866's port, as root's
        assert "deploy" not in spec  # one UDP socket per host port: scaled by workers (compose.yaml says why)
    else:
        assert spec["deploy"]["replicas"] == REPLICAS
    for dependency in spec["depends_on"]:
        assert dependency in compose["services"]
    dockerfile = ROOT / spec["build"]["context"] / spec["build"]["dockerfile"]
    assert dockerfile.is_file()


def test_the_ops_api_has_local_modes_variables_port_and_every_services_database(compose: dict[str, Any]) -> None:
    spec = compose["services"][OPS]
    env = {k: str(v) for k, v in spec["environment"].items()}
    here = local_env(OPS)
    assert set(env) - COMPOSE_ONLY == set(here), "variable names differ from local mode's"
    assert env["SERVICE_NAME"] == here["SERVICE_NAME"] == "bssctl"
    assert env["HTTP_PORT"] == here["HTTP_PORT"] == "8107"  # SERVICE_PORT_BASE + 7, inside the compose network
    assert env["HTTP_HOST"] == "0.0.0.0"  # a container listens on every interface
    assert env["KAFKA_BOOTSTRAP_SERVERS"].split(",") == [f"{broker}:9092" for broker in BROKERS]
    # Every <SERVICE>_DATABASE_URL `bssctl outbox` reads, each the very URL that service runs with in compose.
    databases = {name for name in env if name.endswith("_DATABASE_URL")}
    assert databases == {url_variable(s) for s in Service} == {n for n in here if n.endswith("_DATABASE_URL")}
    for service in SERVICES:
        variable = url_variable(Service(service))
        assert env[variable] == compose["services"][service]["environment"]["DATABASE_URL"], variable
        compose_db, local_db = urlsplit(env[variable]), urlsplit(here[variable])
        assert (compose_db.scheme, compose_db.username, compose_db.path) == (
            local_db.scheme, local_db.username, local_db.path,
        )  # fmt: skip
    # /ops/health probes every service: by its compose name at its port (the gateway's view), local mode's names.
    targets = OpsSettings(ops_service_urls=env["OPS_SERVICE_URLS"]).service_urls()
    local_targets = OpsSettings(ops_service_urls=here["OPS_SERVICE_URLS"]).service_urls()
    assert set(targets) == set(local_targets) == set(SERVICES)
    for service, url in targets.items():
        port = str(compose["services"][service]["environment"]["HTTP_PORT"])
        assert url == f"http://{service}:{port}", service
        assert urlsplit(local_targets[service]).port == int(port)
    # It runs bssctl's serve command from the services' image, one instance; what it waits for exists.
    assert spec["command"] == ["python", "-m", "bssctl", "serve"]
    assert importlib.util.find_spec("bssctl") is not None
    assert "serve" in {c.name for c in bssctl_app.registered_commands}
    assert spec["build"] == compose["services"]["customers"]["build"]
    assert "deploy" not in spec and "ports" not in spec  # one instance, reached through the gateway
    for dependency in spec["depends_on"]:
        assert dependency in compose["services"]


def test_the_bootstrap_servers_are_the_three_brokers(compose: dict[str, Any]) -> None:
    here = local_env("customers")["KAFKA_BOOTSTRAP_SERVERS"]
    assert here == "127.0.0.1:59092,127.0.0.1:59094,127.0.0.1:59096"
    for service in SERVICES:
        servers = compose["services"][service]["environment"]["KAFKA_BOOTSTRAP_SERVERS"].split(",")
        assert servers == [f"{broker}:9092" for broker in BROKERS]


def kafka_settings(environment: dict[str, Any]) -> dict[str, str]:
    """The apache/kafka image's KAFKA_X_Y variables as server.properties keys (x.y)."""
    return {
        name.removeprefix("KAFKA_").lower().replace("_", "."): str(value)
        for name, value in environment.items()
        if name.startswith("KAFKA_")
    }


@pytest.mark.parametrize("node", [1, 2, 3])
def test_each_broker_is_configured_as_local_modes_cluster_node(compose: dict[str, Any], node: int) -> None:
    spec = compose["services"][f"kafka-{node}"]
    settings = kafka_settings(spec["environment"])
    here = dict(
        line.split("=", 1)
        for line in local("kafka.sh", "config", str(node), KAFKA_BROKERS="3").splitlines()
        if line and not line.startswith("#")
    )
    assert {k: v for k, v in settings.items() if k not in KAFKA_PLACES} == {
        k: v for k, v in here.items() if k not in KAFKA_PLACES | KAFKA_LOCAL_ONLY
    }
    assert (settings["default.replication.factor"], settings["min.insync.replicas"]) == (
        str(REPLICATION_FACTOR), str(MIN_INSYNC_REPLICAS),
    )  # fmt: skip
    # The same roles, listeners and quorum, by service name instead of loopback ports.
    assert settings["node.id"] == here["node.id"] == str(node)
    voters = [f"{i}@kafka-{i}:9093" for i in (1, 2, 3)]
    assert settings["controller.quorum.voters"].split(",") == voters
    assert len(here["controller.quorum.voters"].split(",")) == 3
    assert settings["advertised.listeners"] == f"PLAINTEXT://kafka-{node}:9092"
    # One cluster id formats every node: a 16-byte UUID in URL-safe base64, as StorageTool random-uuid makes.
    assert len(base64.urlsafe_b64decode(spec["environment"]["CLUSTER_ID"] + "==")) == 16
    local_port = int(re.search(r":(\d+)$", here["advertised.listeners"]).group(1))  # type: ignore[union-attr]
    assert spec["ports"] == [f"{local_port}:9092"]  # 59092, 59094, 59096 on the host as in local mode
    volume = spec["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]


def test_published_ports_equal_local_modes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["gateway"]["ports"] == ["8080:8080"]  # GATEWAY_PORT's default
    assert services["postgres"]["ports"] == ["55432:5432"]  # PG_PORT's
    env_sh = (ROOT / "deploy/local/env.sh").read_text()
    assert 'PG_PORT="${PG_PORT:-55432}"' in env_sh and 'KAFKA_PORT="${KAFKA_PORT:-59092}"' in env_sh
    assert 'GATEWAY_PORT="${GATEWAY_PORT:-8080}"' in (ROOT / "deploy/local/services.sh").read_text()


def test_every_file_and_volume_compose_mounts_exists(compose: dict[str, Any]) -> None:
    for name, spec in compose["services"].items():
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).is_file(), (name, source)
            else:
                assert source in compose["volumes"], (name, source)


def test_the_databases_compose_creates_are_the_ones_the_services_use(compose: dict[str, Any]) -> None:
    created = set(
        re.findall(r"CREATE DATABASE (\w+) OWNER (\w+);", (ROOT / "deploy/compose/init-databases.sql").read_text())
    )
    used = set()
    for service in SERVICES:
        url = urlsplit(compose["services"][service]["environment"]["DATABASE_URL"])
        used.add((url.path.lstrip("/"), url.username))
    assert used == created
    # The ops API reads every one of them (outbox backlogs), as the role that owns it.
    ops = compose["services"][OPS]["environment"]
    urls = [urlsplit(url) for name, url in ops.items() if name.endswith("_DATABASE_URL")]
    read = {(url.path.lstrip("/"), url.username) for url in urls}
    assert read == created


def test_the_gateway_sends_each_upstream_to_its_service_and_port(compose: dict[str, Any]) -> None:
    conf = (ROOT / "deploy/compose/nginx.conf").read_text()
    upstreams = dict(re.findall(r"upstream (\w+)\s*\{\s*server ([\w.-]+:\d+)", conf))
    routed = (*SERVICES, OPS)
    expected = {s.replace("-", "_"): f"{s}:{compose['services'][s]['environment']['HTTP_PORT']}" for s in routed}
    assert upstreams == expected
    routes = (ROOT / "deploy/gateway/routes.conf").read_text()
    used = set(re.findall(r"proxy_pass http://(\w+)", routes))
    assert used == set(upstreams)
    # /ops/ goes to the ops API, in the routes every gateway includes; nothing of compose's own answers it instead.
    assert re.findall(r"location /ops/\s*\{\s*proxy_pass http://(\w+);", routes) == [OPS]
    assert not re.search(r"location[ =~^*]*/ops", conf)
    assert "include /etc/nginx/routes.conf;" in conf
    assert "proxy_next_upstream error timeout" in conf  # another instance when one is down, as in local mode
    assert set(compose["services"]["gateway"]["depends_on"]) == set(routed)


def test_the_runtime_image_has_the_radius_dictionaries_radius_ingest_loads() -> None:
    from radius_ingest.protocol.dictionary import DEFAULT_DIRECTORY

    dockerfile = (ROOT / "deploy/compose/Dockerfile").read_text()
    runtime_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    assert re.search(r"apt-get install [^\n]*freeradius-common", runtime_stage), "runtime stage lacks the dictionaries"
    # The package that stage installs is the one that puts the dictionaries where radius-ingest looks by default.
    files = subprocess.run(["dpkg", "-L", "freeradius-common"], capture_output=True, text=True, check=True).stdout
    assert f"{DEFAULT_DIRECTORY}/dictionary" in files.splitlines()


def _dockerignored(patterns: list[str]) -> Any:
    """shutil.copytree's ignore: what .dockerignore keeps out of the build context (its patterns as used here)."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = set()
        for name in names:
            path = os.path.relpath(os.path.join(directory, name), ROOT)
            for pattern in patterns:
                if fnmatch.fnmatch(path, pattern) or (pattern.startswith("**/") and fnmatch.fnmatch(name, pattern[3:])):
                    skipped.add(name)
        return skipped

    return ignore


def _uv() -> list[str]:
    """uv as scripts/install.sh finds it: on PATH, else python3's module."""
    for candidate in (shutil.which("uv"), Path.home() / ".local/bin/uv", Path.home() / ".cargo/bin/uv"):
        if candidate and Path(candidate).is_file():
            return [str(candidate)]
    return [shutil.which("python3") or "python3", "-m", "uv"]


def test_the_image_holds_the_workspace_it_syncs_and_the_module_each_container_runs(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    """The build stage's COPY lines, replayed into a scratch directory (with .dockerignore), then its `uv sync` as
    a dry run offline: every workspace member the root's lock names is there (tools/ too: bssctl is one), and the
    module each container runs (SERVICE_MODULE, or the ops API's `-m bssctl`) has its source in the copy."""
    dockerfile = (ROOT / "deploy/compose/Dockerfile").read_text()
    build_stage = dockerfile.split("\nFROM ")[1]  # from its FROM ... AS build to the runtime stage's FROM
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()]
    app = tmp_path / "app"
    app.mkdir()
    for line in build_stage.splitlines():
        words = line.split()
        if words[:1] != ["COPY"] or any(w.startswith("--from") for w in words):
            continue
        *sources, destination = words[1:]
        for source in sources:
            target = app / destination / source if destination.endswith("/") else app / destination
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, target, ignore=_dockerignored(ignored))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / source, target)
    sync = re.search(r"RUN (uv sync [^&\n]*)", build_stage)
    assert sync is not None, "the build stage does not run uv sync"
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_") and k != "VIRTUAL_ENV"}
    done = subprocess.run(
        [*_uv(), *shlex.split(sync.group(1))[1:], "--dry-run", "--offline", "--python", sys.executable],
        cwd=app,
        env=env | {"UV_PYTHON_DOWNLOADS": "never"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "bssctl" in done.stderr  # the ops API's package is one the image installs
    members = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]["members"]
    for member in members:  # each member glob's top directory is copied (tools/* too)
        assert (app / member.split("/")[0]).is_dir(), member
    for name, spec in compose["services"].items():
        if spec.get("build") != compose["services"]["customers"]["build"]:
            continue
        command = spec.get("command") or ["python", "-m", spec["environment"]["SERVICE_MODULE"]]
        module = command[command.index("-m") + 1]
        found = importlib.util.find_spec(module)
        assert found is not None and found.origin is not None, (name, module)
        assert (app / Path(found.origin).relative_to(ROOT)).is_file(), (name, module)
