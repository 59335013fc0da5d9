"""Backward compatibility of event schemas: can consumers written against `old` still read `new`?

A change breaks consumers when it removes or renames a field, changes a field's type, makes an optional
field required, or narrows an enum. Adding an optional field, or widening a type, does not. A breaking change
is allowed only together with a new `schema_version` (the old schema stays committed beside the new one).
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Every way in which `new` breaks readers of `old`, as readable sentences (empty: compatible)."""
    return _compare(old, new, old.get("$defs", {}), new.get("$defs", {}), "data")


def _resolve(schema: Schema, defs: Schema) -> Schema:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _resolve(defs[ref.removeprefix("#/$defs/")], defs)
    return schema


def _types(schema: Schema, defs: Schema) -> set[str]:
    """The JSON types (and enum/const values) a schema admits, flattened over anyOf."""
    schema = _resolve(schema, defs)
    if "anyOf" in schema:
        out: set[str] = set()
        for option in schema["anyOf"]:
            out |= _types(option, defs)
        return out
    if "const" in schema:
        return {f"const:{schema['const']!r}"}
    if "enum" in schema:
        return {f"const:{v!r}" for v in schema["enum"]}
    t = schema.get("type")
    if isinstance(t, list):
        return set(t)
    if t == "integer":
        return {"integer"}
    if t:
        fmt = schema.get("format")
        return {f"{t}:{fmt}" if fmt else t}
    return {"any"}


def _widened(old: set[str], new: set[str]) -> bool:
    if "any" in new:
        return True
    for t in old:
        if t in new:
            continue
        if t == "integer" and "number" in new:
            continue
        if t.startswith("const:") and "string" in new:
            continue
        if ":" in t and not t.startswith("const:") and t.split(":")[0] in new:
            continue  # a format dropped: wider
        return False
    return True


def _compare(old: Schema, new: Schema, old_defs: Schema, new_defs: Schema, path: str) -> list[str]:
    old, new = _resolve(old, old_defs), _resolve(new, new_defs)
    problems: list[str] = []
    if not _widened(_types(old, old_defs), _types(new, new_defs)):
        problems.append(f"{path}: type changed from {sorted(_types(old, old_defs))} to {sorted(_types(new, new_defs))}")
        return problems
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name, old_prop in old_props.items():
        if name not in new_props:
            problems.append(f"{path}.{name}: field removed (or renamed)")
            continue
        problems += _compare(old_prop, new_props[name], old_defs, new_defs, f"{path}.{name}")
    for name in sorted(new_required - old_required):
        what = "optional field made required" if name in old_props else "new required field"
        problems.append(f"{path}.{name}: {what}")
    for key in ("items",):
        if key in old and key in new:
            problems += _compare(old[key], new[key], old_defs, new_defs, f"{path}[]")
    return problems
