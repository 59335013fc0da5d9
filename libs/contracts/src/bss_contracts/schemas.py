"""The committed JSON Schemas of every event (`libs/contracts/schemas/<type>.v<N>.json`).

`python -m bss_contracts.schemas` writes them; the contract test compares the code against them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bss_contracts.envelope import DomainEvent
from bss_contracts.registry import EVENT_MODELS, json_schema

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def schema_path(model: type[DomainEvent], directory: Path = SCHEMA_DIR) -> Path:
    return directory / f"{model.event_type}.v{model.schema_version}.json"


def render(model: type[DomainEvent]) -> str:
    return json.dumps(json_schema(model), indent=2, sort_keys=True) + "\n"


def write_all(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for model in EVENT_MODELS:
        path = schema_path(model, directory)
        path.write_text(render(model))
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR):
        print(p)
