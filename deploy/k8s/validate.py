"""Renders a kustomize overlay of deploy/k8s and validates every object it yields, offline.

- Kubernetes' own kinds (Deployment, Service, PodDisruptionBudget, Ingress, ConfigMap, Namespace, ...) against
  the OpenAPI-derived JSON schemas of Kubernetes `KUBERNETES_VERSION`, strict (an unknown field is an error),
  as shipped by the Python package kubernetes-validate (pinned in uv.lock).
- Custom resources (Strimzi Kafka, KafkaNodePool, KafkaTopic; CloudNativePG Cluster; KEDA ScaledObject) against
  the `openAPIV3Schema` of their CustomResourceDefinitions in .tools/k8s/crds, pinned and installed by
  scripts/install-k8s-tools.sh. Made strict the way the API server prunes: an object schema with properties and
  no `x-kubernetes-preserve-unknown-fields` takes no other field (the server would silently drop it).
- Every object's name is a DNS-1123 subdomain, a Service's a DNS-1035 label.

A kind with no schema is an error, never a pass. Nothing is downloaded here.

    .venv/bin/python deploy/k8s/validate.py [local production]   # prints each object's verdict, exit 1 on any error
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("local", "production")
TOOLS = ROOT / ".tools" / "k8s"
KUSTOMIZE = TOOLS / "bin" / "kustomize"
CRDS = TOOLS / "crds"
KUBERNETES_VERSION = "1.32.0"

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

Manifest = dict[str, Any]
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, when PyYAML has it: the CRDs are large


class ToolsMissing(RuntimeError):
    """kustomize or the CRDs are not installed: `make install` (scripts/install-k8s-tools.sh) puts them there."""


def render(overlay: str) -> list[Manifest]:
    """`kustomize build deploy/k8s/overlays/<overlay>`: the objects, in kustomize's order."""
    if not KUSTOMIZE.exists():
        raise ToolsMissing(f"{KUSTOMIZE.relative_to(ROOT)} is missing: run `make install`")
    built = subprocess.run(  # noqa: S603  (the pinned kustomize of .tools, fixed arguments)
        [str(KUSTOMIZE), "build", str(K8S / "overlays" / overlay)], capture_output=True, text=True, check=False
    )
    if built.returncode != 0:
        raise RuntimeError(f"kustomize build {overlay} failed: {built.stderr.strip()}")
    return [doc for doc in yaml.load_all(built.stdout, Loader=LOADER) if doc]


def _strict(schema: Any) -> Any:
    """An OpenAPI v3 structural schema as a JSON schema that refuses what the API server would prune."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items()}
    if out.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields", False)
    ):
        out["additionalProperties"] = False
    return out


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> strict JSON schema, for every served version of every installed CRD."""
    if not CRDS.is_dir() or not any(CRDS.glob("*.yaml")):
        raise ToolsMissing(f"{CRDS.relative_to(ROOT)} has no CRDs: run `make install`")
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(CRDS.glob("*.yaml")):
        for crd in yaml.load_all(path.read_text(), Loader=LOADER):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served", True) and "schema" in version:
                    schema = version["schema"]["openAPIV3Schema"]
                    schemas[(f"{group}/{version['name']}", kind)] = _strict(schema)
    return schemas


def _where(error: jsonschema.ValidationError) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "(top)"


def problems(obj: Manifest) -> list[str]:
    """What is wrong with one object; empty when it is valid."""
    found: list[str] = []
    name = str(obj.get("metadata", {}).get("name", ""))
    if not DNS_SUBDOMAIN.match(name) or len(name) > 253:
        found.append(f"metadata/name {name!r} is not a DNS-1123 subdomain")
    if obj.get("kind") == "Service" and (not DNS_LABEL.match(name) or len(name) > 63):
        found.append(f"metadata/name {name!r} of a Service is not a DNS-1035 label")
    key = (str(obj.get("apiVersion")), str(obj.get("kind")))
    schema = crd_schemas().get(key)
    if schema is not None:
        validator = jsonschema.Draft4Validator(schema)
        found += [f"{_where(e)}: {e.message}" for e in validator.iter_errors(obj)]
        return found
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        found.append(f"no schema for {key[0]} {key[1]}: neither Kubernetes {KUBERNETES_VERSION} nor an installed CRD")
    except kubernetes_validate.ValidationError as error:
        found.append(f"{_where(error)}: {error.message}")
    return found


def label(obj: Manifest) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def validate_overlay(overlay: str) -> Iterator[tuple[Manifest, list[str]]]:
    for obj in render(overlay):
        yield obj, problems(obj)


def main(argv: list[str]) -> int:
    failed = 0
    for overlay in argv or list(OVERLAYS):
        count = 0
        for obj, found in validate_overlay(overlay):
            count += 1
            for problem in found:
                failed += 1
                print(f"{overlay}: {label(obj)}: {problem}")
        print(f"{overlay}: {count} objects rendered and validated")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
