"""`python -m reporting.rebuild [--verify]`: rebuild every read model by replaying the source topics.

Without options the rebuilt tables replace the live ones (the service keeps running). With --verify they
are compared with the live ones row by row instead and dropped; the exit status is 1 if any row differs.
Settings come from the environment, as for the service (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from bss_runtime.service import tune_garbage_collector
from bss_runtime.telemetry import configure_logging
from reporting.config import Settings
from reporting.service_layer.rebuild import Rebuild


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reporting.rebuild", description=__doc__)
    parser.add_argument("--verify", action="store_true", help="compare with the live tables instead of swapping")
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging(f"{settings.service_name}-rebuild", settings.log_level)
    tune_garbage_collector()
    report = asyncio.run(Rebuild(settings).run(swap=not args.verify))
    print(json.dumps(report.__dict__, default=str))
    return 1 if report.differences else 0


if __name__ == "__main__":
    sys.exit(main())
