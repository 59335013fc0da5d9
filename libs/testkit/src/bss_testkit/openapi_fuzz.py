"""Fuzz a service's whole HTTP API from its own OpenAPI document with schemathesis, bounded in time.

`fuzz(schema_url, headers)` runs the schemathesis CLI in a subprocess against the API the document describes
(its `servers` entry, if any, gives the base path: the gateway says `/radius` for radius-ingest) and returns its
exit code and output. tests/e2e/test_openapi_fuzz.py runs it for every service through the gateway. The checks
are the ones issue 11 asks for: no response is a server error, and every response with a documented status
conforms to its schema. Every route in the document is covered, so a new route is fuzzed without anyone listing
it.

A run lasts `FUZZ_SECONDS` (default 25) with up to `FUZZ_MAX_EXAMPLES` (default 100) cases per operation and a
fixed seed; set them higher for a long hunt (`FUZZ_SECONDS=600 pytest tests/e2e/test_openapi_fuzz.py -k billing`).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CHECKS = "not_a_server_error,response_schema_conformance"
SECONDS = int(os.environ.get("FUZZ_SECONDS", "25"))
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "100"))


@dataclass(frozen=True)
class FuzzResult:
    exit_code: int
    output: str


async def fuzz(
    schema_url: str,
    headers: Mapping[str, str],
    *,
    seconds: int = SECONDS,
    max_examples: int = MAX_EXAMPLES,
    seed: int = 11,
) -> FuzzResult:
    """Run schemathesis over the API `schema_url` describes for at most about `seconds` (plus start-up)."""
    st = Path(sys.executable).with_name("st")
    command = [
        str(st), "run", schema_url,
        "--checks", CHECKS,
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(max_examples),
        "--max-time", str(seconds),
        "--seed", str(seed),
        "--workers", "1",
        "--request-timeout", "20",
        "--suppress-health-check", "all",
        "--no-color",
        *[arg for name, value in headers.items() for arg in ("--header", f"{name}: {value}")],
    ]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="schemathesis-") as scratch:  # its example database stays out of the tree
        process = await asyncio.create_subprocess_exec(
            *command, cwd=scratch, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        output, _ = await process.communicate()
        result = FuzzResult(await process.wait(), output.decode(errors="replace"))
    print(result.output)  # shown by pytest with -s or on failure: the operations, phases and case counts
    return result
