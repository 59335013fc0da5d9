"""deploy/k8s: every overlay renders with kustomize and each object is valid against the pinned Kubernetes and CRD
schemas (deploy/k8s/validate.py, offline); the KafkaTopics are the topic registry's; the objects fit together
(each service's probes, Service, PodDisruptionBudget, database, secrets, consumer-lag autoscaling; the ops API,
bssctl serve, with every database and its route).

kustomize and the CRDs come from `make install` (scripts/install-k8s-tools.sh): without them these tests fail.
"""

from __future__ import annotations

import copy
import importlib.util
import re
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from billing.config import Settings as BillingSettings
from bss_contracts.topics import ALL_TOPICS, Service, dead_letter_name
from bssctl.api import OpsSettings
from bssctl.outbox import url_variable
from customers.config import Settings as CustomersSettings
from dunning.config import Settings as DunningSettings
from radius_ingest.config import Settings as RadiusIngestSettings
from reporting.config import Settings as ReportingSettings
from support.config import Settings as SupportSettings

ROOT = Path(__file__).resolve().parents[2]

SETTINGS: dict[str, Any] = {
    "customers": CustomersSettings,
    "billing": BillingSettings,
    "dunning": DunningSettings,
    "reporting": ReportingSettings,
    "radius-ingest": RadiusIngestSettings,
    "support": SupportSettings,
}
# Variables a container gets that are not settings: the image's service switch, and the database credentials that
# DATABASE_URL is composed of.
NOT_SETTINGS = {"SERVICE_MODULE", "DB_USER", "DB_PASSWORD"}
# Brokers and topic replicas each overlay is meant to have.
BROKERS = {"local": 1, "production": 3}


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"deploy_k8s_{name}", ROOT / "deploy" / "k8s" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


validate = _load("validate")
generate = _load("generate")


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {overlay: validate.render(overlay) for overlay in validate.OVERLAYS}


def index(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    return containers[0]


def test_generated_files_are_current():
    assert generate.stale_files() == []


def test_committed_topics_are_the_registry():
    """Read back the committed file (not the generator's output) and compare with the registry itself."""
    committed = [d for d in yaml.safe_load_all(generate.TOPICS_FILE.read_text()) if d]
    got = {d["spec"]["topicName"]: (d["spec"]["partitions"], d["spec"]["config"]) for d in committed}
    wanted: dict[str, tuple[int, dict[str, str]]] = {}
    for topic in ALL_TOPICS:
        wanted[topic.name] = (topic.partitions, topic.config() | {"min.insync.replicas": "2"})
        wanted[dead_letter_name(topic.name)] = (1, {"retention.ms": "-1", "min.insync.replicas": "2"})
    assert got == wanted
    assert {d["metadata"]["name"] for d in committed} == set(wanted)
    assert {d["spec"]["replicas"] for d in committed} == {3}


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_every_object_is_valid(rendered, overlay):
    objects = rendered[overlay]
    errors = [f"{validate.label(o)}: {p}" for o in objects for p in validate.problems(o)]
    assert errors == []
    kinds = Counter(o["kind"] for o in objects)
    assert kinds["Deployment"] >= 6 and kinds["KafkaTopic"] == 2 * len(ALL_TOPICS)
    assert kinds["Cluster"] == len(SETTINGS) and kinds["ScaledObject"] >= 1 and kinds["Kafka"] == 1
    # Secrets are referenced, never rendered from the repository.
    assert kinds["Secret"] == 0


def test_the_validator_rejects_what_a_cluster_would_refuse(rendered):
    """Each schema really applies: a mistake in each kind is reported (a validator passing everything would not)."""
    objects = index(rendered["production"])

    def broken(key: tuple[str, str], change: Any) -> list[str]:
        obj = copy.deepcopy(objects[key])
        change(obj)
        return validate.problems(obj)

    assert broken(("Deployment", "billing"), lambda o: o["spec"].update(replica=2))
    assert broken(("PodDisruptionBudget", "billing"), lambda o: o["spec"].update(minAvailable=[1]))
    assert broken(("Ingress", "ispbss"), lambda o: o["spec"]["rules"][0].update(paths=[]))
    assert broken(("Service", "billing"), lambda o: o["metadata"].update(name="Billing_API"))
    assert broken(("Service", "billing"), lambda o: o.update(apiVersion="v9"))
    assert broken(("KafkaTopic", "bss.billing.invoice"), lambda o: o["spec"].update(partitions="six"))
    assert broken(("Kafka", "ispbss"), lambda o: o["spec"]["kafka"].update(listner=[]))
    assert broken(("KafkaNodePool", "brokers"), lambda o: o["spec"].update(roles=["leader"]))
    assert broken(("Cluster", "billing-db"), lambda o: o["spec"].update(instances="3"))
    assert broken(("ScaledObject", "billing"), lambda o: o["spec"].pop("triggers"))
    assert validate.problems(objects[("Deployment", "billing")]) == []


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_each_service_is_deployed_probed_and_protected(rendered, overlay):
    objects = index(rendered[overlay])
    for name, settings in SETTINGS.items():
        deployment = objects[("Deployment", name)]
        c = container(deployment)
        env = {e["name"]: e for e in c["env"]}
        assert env["SERVICE_NAME"]["value"] == name
        port = int(env["HTTP_PORT"]["value"])
        assert port == settings.model_fields["http_port"].default  # the same port as local mode and compose
        assert {"name": "http", "containerPort": port, "protocol": "TCP"} in c["ports"]
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items()
        service = objects[("Service", name)]
        assert service["spec"]["selector"] == selector
        assert service["spec"]["ports"][0]["port"] == port
        pdb = objects[("PodDisruptionBudget", name)]
        assert pdb["spec"]["selector"]["matchLabels"] == selector

        # Variable names are the service's settings, as in local mode and compose (a misspelt one would be ignored).
        assert set(env) - NOT_SETTINGS <= {f.upper() for f in settings.model_fields}, name
        assert [f["configMapRef"]["name"] for f in c["envFrom"]] == ["ispbss-config"]

        # Its own database, with credentials from the Secret the CloudNativePG operator writes.
        db = objects[("Cluster", f"{name}-db")]["spec"]["bootstrap"]["initdb"]
        url = env["DATABASE_URL"]["value"]
        assert url == f"postgresql+asyncpg://$(DB_USER):$(DB_PASSWORD)@{name}-db-rw:5432/{db['database']}"
        for variable in ("DB_USER", "DB_PASSWORD", "JWT_SECRET"):
            ref = env[variable]["valueFrom"]["secretKeyRef"]
            assert ref["name"] in {f"{name}-db-app", "ispbss-jwt"}
            assert ref.get("optional") is not True
    # Every service gets the ConfigMap: each of its names is a setting of some service (the others ignore it).
    every_setting = {f.upper() for settings in SETTINGS.values() for f in settings.model_fields}
    assert set(objects[("ConfigMap", "ispbss-config")]["data"]) <= every_setting
    # The gateway: nginx with the routes, behind the Ingress.
    assert objects[("Ingress", "ispbss")]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == (
        "gateway"
    )
    gateway_config = next(o for o in rendered[overlay] if o["metadata"]["name"].startswith("gateway-nginx"))
    assert gateway_config["data"]["routes.conf"] == (ROOT / "deploy" / "gateway" / "routes.conf").read_text()
    for upstream in re.findall(r"server ([a-z-]+):(\d+);", gateway_config["data"]["nginx.conf"]):
        assert ("Service", upstream[0]) in objects and int(upstream[1]) == objects[("Service", upstream[0])]["spec"][
            "ports"
        ][0]["port"]


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_the_ops_api_runs_once_reads_every_services_database_and_is_routed(rendered, overlay):
    """bssctl serve, as local mode and compose run it: one replica of the services' image with bssctl's command,
    each service's database by the credentials of that service's own Secret, every service probed, /ops/ routed."""
    objects = index(rendered[overlay])
    deployment = objects[("Deployment", "ops")]
    assert deployment["spec"]["replicas"] == 1
    c = container(deployment)
    assert c["command"] == ["python", "-m", "bssctl", "serve"]
    assert c["image"] == container(objects[("Deployment", "billing")])["image"]
    env = {e["name"]: e for e in c["env"]}
    assert env["SERVICE_NAME"]["value"] == "bssctl"
    port = int(env["HTTP_PORT"]["value"])
    assert port == OpsSettings.model_fields["http_port"].default == 8107
    assert {"name": "http", "containerPort": port, "protocol": "TCP"} in c["ports"]
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert [f["configMapRef"]["name"] for f in c["envFrom"]] == ["ispbss-config"]
    assert env["JWT_SECRET"]["valueFrom"]["secretKeyRef"] == {"name": "ispbss-jwt", "key": "JWT_SECRET"}
    credentials = set()
    for service in Service:
        variable = url_variable(service)
        prefix = variable.removesuffix("_DATABASE_URL")
        db = objects[("Cluster", f"{service.value}-db")]["spec"]["bootstrap"]["initdb"]
        assert env[variable]["value"] == (
            f"postgresql+asyncpg://$({prefix}_DB_USER):$({prefix}_DB_PASSWORD)@{service.value}-db-rw:5432/{db['database']}"
        )
        for part, key in (("USER", "username"), ("PASSWORD", "password")):
            ref = env[f"{prefix}_DB_{part}"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": f"{service.value}-db-app", "key": key}
            credentials.add(f"{prefix}_DB_{part}")
    names = [e["name"] for e in c["env"]]
    for service in Service:  # $(VAR) is expanded only from variables defined before it
        prefix = url_variable(service).removesuffix("_DATABASE_URL")
        assert names.index(f"{prefix}_DB_USER") < names.index(url_variable(service))
        assert names.index(f"{prefix}_DB_PASSWORD") < names.index(url_variable(service))
    # The rest are settings of the ops API (a misspelt one would be ignored).
    databases = {url_variable(s) for s in Service}
    assert set(env) - credentials - databases <= {f.upper() for f in OpsSettings.model_fields}
    # /ops/health probes each service's Service at its port.
    targets = OpsSettings(ops_service_urls=env["OPS_SERVICE_URLS"]["value"]).service_urls()
    assert set(targets) == {s.value for s in Service}
    for name, url in targets.items():
        assert url == f"http://{name}:{objects[('Service', name)]['spec']['ports'][0]['port']}"
    service = objects[("Service", "ops")]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["port"] == port
    gateway_config = next(o for o in rendered[overlay] if o["metadata"]["name"].startswith("gateway-nginx"))
    assert re.search(rf"upstream ops\s*\{{\s*server ops:{port};", gateway_config["data"]["nginx.conf"])
    assert re.search(r"location /ops/\s*\{\s*proxy_pass http://ops;", gateway_config["data"]["routes.conf"])


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_radius_accounting_is_a_udp_service_keeping_the_nas_address(rendered, overlay):
    objects = index(rendered[overlay])
    udp = objects[("Service", "radius-ingest-accounting")]["spec"]
    assert udp["ports"][0]["protocol"] == "UDP" and udp["ports"][0]["port"] == 1813
    assert udp["externalTrafficPolicy"] == "Local"
    env = {e["name"]: e.get("value") for e in container(objects[("Deployment", "radius-ingest")])["env"]}
    assert env["RADIUS_PORT"] == "1813" and env["RADIUS_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_kafka_is_kraft_with_node_pools_and_replicated_topics(rendered, overlay):
    objects = rendered[overlay]
    kafka = of_kind(objects, "Kafka")[0]
    assert kafka["metadata"]["annotations"] == {"strimzi.io/node-pools": "enabled", "strimzi.io/kraft": "enabled"}
    pools = of_kind(objects, "KafkaNodePool")
    assert all(p["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"] for p in pools)
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    controllers = sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"])
    assert brokers == BROKERS[overlay] and controllers % 2 == 1
    bootstrap = f"{kafka['metadata']['name']}-kafka-bootstrap:9092"
    assert index(objects)[("ConfigMap", "ispbss-config")]["data"]["KAFKA_BOOTSTRAP_SERVERS"] == bootstrap
    config = kafka["spec"]["kafka"]["config"]
    assert config["auto.create.topics.enable"] is False
    assert config["offsets.topic.replication.factor"] == brokers
    topics = {t["spec"]["topicName"]: t["spec"] for t in of_kind(objects, "KafkaTopic")}
    assert set(topics) == {t.name for t in ALL_TOPICS} | {dead_letter_name(t.name) for t in ALL_TOPICS}
    for topic in ALL_TOPICS:
        assert topics[topic.name]["partitions"] == topic.partitions
    for spec in topics.values():
        assert spec["replicas"] == brokers
        # One broker may be lost without refusing writes, where there are brokers to lose.
        assert int(spec["config"]["min.insync.replicas"]) == max(1, brokers - 1)


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_consumers_scale_on_their_groups_lag_up_to_their_partitions(rendered, overlay):
    objects = rendered[overlay]
    deployments = {d["metadata"]["name"]: d for d in of_kind(objects, "Deployment")}
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s["spec"] for s in of_kind(objects, "ScaledObject")}
    consumers = {str(c) for t in ALL_TOPICS for c in t.consumers}
    assert set(scaled) == consumers
    for name, spec in scaled.items():
        env = {e["name"]: e.get("value") for e in container(deployments[name])["env"]}
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == env["SERVICE_NAME"]
        most_partitions = max(t.partitions for t in ALL_TOPICS if name in {str(c) for c in t.consumers})
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= most_partitions
