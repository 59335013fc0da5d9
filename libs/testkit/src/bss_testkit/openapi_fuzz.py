"""Fuzz a service's whole HTTP API from its own OpenAPI document with schemathesis, bounded in time.

`serve(app)` runs the FastAPI app under uvicorn on a loopback port, in the test's event loop (the app's database
pool and consumers live there); `fuzz(base_url, headers)` runs the schemathesis CLI against it in a subprocess
and returns its exit code and output. The checks are the ones issue 11 asks for: no response is a server error,
and every response with a documented status conforms to its schema. Every route in the document is covered, so
a new route is fuzzed without anyone listing it.

A run lasts `FUZZ_SECONDS` (default 25) with up to `FUZZ_MAX_EXAMPLES` (default 100) cases per operation and a
fixed seed; set them higher for a long hunt (`FUZZ_SECONDS=600 pytest services/billing/tests/test_openapi_fuzz.py`).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

CHECKS = "not_a_server_error,response_schema_conformance"
SECONDS = int(os.environ.get("FUZZ_SECONDS", "25"))
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "100"))


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """The app (lifespan included) served over HTTP on 127.0.0.1; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # the server failed to start: raise why
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass(frozen=True)
class FuzzResult:
    exit_code: int
    output: str


async def fuzz(
    base_url: str,
    headers: Mapping[str, str],
    *,
    seconds: int = SECONDS,
    max_examples: int = MAX_EXAMPLES,
    seed: int = 11,
) -> FuzzResult:
    """Run schemathesis over `base_url`/openapi.json for at most about `seconds` (plus start-up)."""
    st = Path(sys.executable).with_name("st")
    command = [
        str(st), "run", f"{base_url}/openapi.json",
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
