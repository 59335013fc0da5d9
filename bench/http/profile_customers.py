"""Where a `POST /customers` spends its Python time: the customers app in this process (its real lifespan:
migrations, relay, consumers) on a fresh database of the shared PostgreSQL and a throwaway topic prefix on the
shared broker, N requests through httpx's ASGI transport (no sockets, no gateway) under cProfile.

    .venv/bin/python bench/http/profile_customers.py [--requests 1000] [--concurrency 8] [--top 40] [--out file.pstats]

Prints requests/s (inflated by cProfile; compare only runs of this script) and the functions with the most
cumulative and own time. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import secrets
import time

import asyncpg
import httpx

from bss_runtime.auth import JwtConfig, issue_token
from bss_testkit.plugin import database_url, plain_postgres_url
from customers.config import Settings
from customers.entrypoints.app import create_app

ADMIN_URL = "postgresql+asyncpg://postgres:postgres@127.0.0.1:55432/postgres"


def body(n: int) -> bytes:
    return json.dumps(
        {
            "name": f"Profile Customer {n}",
            "email": f"p{n}@bench.example",
            "billing_country": "DE",
            "service_city": "Berlin",
            "tags": ["bench"],
        }
    ).encode()


async def run(args: argparse.Namespace) -> None:
    name = f"customers_profile_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(plain_postgres_url(ADMIN_URL))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        settings = Settings(
            database_url=database_url(ADMIN_URL, name),
            kafka_topic_prefix=f"bench-profile-{secrets.token_hex(4)}.",
            environment="test",
        )
        app = create_app(settings)
        token = issue_token(JwtConfig(settings.jwt_secret), subject="bench", tenant_id="bench-profile", roles=["admin"])
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://customers") as client,
        ):
            for n in range(50):  # warm-up: prepared statements, compiled SQL, imports
                assert (await client.post("/customers", content=body(n), headers=headers)).status_code == 201
            queue = iter(range(50, 50 + args.requests))

            async def worker() -> None:
                for n in queue:
                    response = await client.post("/customers", content=body(n), headers=headers)
                    assert response.status_code == 201, response.text

            profile = cProfile.Profile()
            t0 = time.perf_counter()
            profile.enable()
            await asyncio.gather(*(worker() for _ in range(args.concurrency)))
            profile.disable()
            elapsed = time.perf_counter() - t0
        print(f"{args.requests} requests in {elapsed:.2f} s under cProfile: {args.requests / elapsed:.0f} req/s")
        if args.out:
            profile.dump_stats(args.out)
        for order in ("cumulative", "tottime"):
            text = io.StringIO()
            pstats.Stats(profile, stream=text).sort_stats(order).print_stats(args.top)
            print(text.getvalue())
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", default="")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
