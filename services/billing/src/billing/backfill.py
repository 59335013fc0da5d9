"""`python -m billing.backfill [--tenant T]`: write the subscription history events that are missing, now.

Brings the database to the latest revision, then gives every subscription without its SubscriptionStarted (and
Canceled / Ended, as its state says) those events, through the outbox, marked `backfilled`; the running
service's relay publishes them. The scheduler does the same on its own (`subscription-history`); this is for
an operator who wants it done and counted. Running it again writes nothing. Settings come from the
environment, as for the service (DATABASE_URL, ...). Prints `{"subscriptions": n}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from billing.config import Settings
from billing.entrypoints.app import build_runtime
from billing.service_layer import revenue
from bss_runtime.telemetry import configure_logging


async def backfill(settings: Settings, tenant_id: str | None = None) -> int:
    service = build_runtime(settings)
    try:
        await service.runtime.migrate()
        return await revenue.publish_missing_history(service.deps, tenant_id=tenant_id)
    finally:
        await service.runtime.database.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m billing.backfill", description=__doc__)
    parser.add_argument("--tenant", help="only this tenant's subscriptions")
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging(f"{settings.service_name}-backfill", settings.log_level)
    print(json.dumps({"subscriptions": asyncio.run(backfill(settings, args.tenant))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
