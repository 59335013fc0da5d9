"""compose.yaml stays in step with local mode, checked without Docker: it parses (YAML with its anchors and merge
keys), everything it references exists (services, volumes, files, modules, the gateway's upstreams), and the
services, ports, environment variable names, databases and Kafka cluster settings equal what deploy/local runs with
`KAFKA_BROKERS=3 REPLICAS=2` (asked of the scripts themselves: `services.sh env`, `kafka.sh config`)."""

from __future__ import annotations

import base64
import importlib.util
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from bss_contracts.topics import MIN_INSYNC_REPLICAS, REPLICATION_FACTOR

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("customers", "billing", "dunning", "reporting", "radius-ingest", "support")
BROKERS = ("kafka-1", "kafka-2", "kafka-3")
REPLICAS = 2
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
    assert set(compose["services"]) == {*SERVICES, *BROKERS, "postgres", "mailpit", "gateway"}


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


def test_the_gateway_sends_each_upstream_to_its_service_and_port(compose: dict[str, Any]) -> None:
    conf = (ROOT / "deploy/compose/nginx.conf").read_text()
    upstreams = dict(re.findall(r"upstream (\w+)\s*\{\s*server ([\w.-]+:\d+)", conf))
    expected = {s.replace("-", "_"): f"{s}:{compose['services'][s]['environment']['HTTP_PORT']}" for s in SERVICES}
    assert upstreams == expected
    used = set(re.findall(r"proxy_pass http://(\w+)", (ROOT / "deploy/gateway/routes.conf").read_text()))
    assert used == set(upstreams)
    assert "proxy_next_upstream error timeout" in conf  # another instance when one is down, as in local mode
    assert set(compose["services"]["gateway"]["depends_on"]) == set(SERVICES)


def test_the_runtime_image_has_the_radius_dictionaries_radius_ingest_loads() -> None:
    from radius_ingest.protocol.dictionary import DEFAULT_DIRECTORY

    dockerfile = (ROOT / "deploy/compose/Dockerfile").read_text()
    runtime_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    assert re.search(r"apt-get install [^\n]*freeradius-common", runtime_stage), "runtime stage lacks the dictionaries"
    # The package that stage installs is the one that puts the dictionaries where radius-ingest looks by default.
    files = subprocess.run(["dpkg", "-L", "freeradius-common"], capture_output=True, text=True, check=True).stdout
    assert f"{DEFAULT_DIRECTORY}/dictionary" in files.splitlines()
