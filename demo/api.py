"""The gateway's public HTTP API as the loader uses it: bounded concurrency, retries where they are safe."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


class ApiError(Exception):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} answered {status}: {body[:500]}")
        self.status = status
        self.body = body


class Api:
    """An httpx client on the gateway with a bearer token; at most `concurrency` requests at once."""

    def __init__(self, base_url: str, token: str, *, concurrency: int = 20) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self._slots = asyncio.Semaphore(concurrency)
        self.requests = 0

    async def close(self) -> None:
        await self.client.aclose()

    async def request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
        retry_while: Callable[[int, str], bool] | None = None, patience: float = 60.0, timeout: float = 60.0,
    ) -> Any:  # fmt: skip
        """The decoded JSON answer (None for 204). Connection errors and 502-504 (a service restarting) are
        retried, and so is any answer for which `retry_while(status, body)` is true (e.g. "not known yet" while
        an event is on its way to the service), until `patience` seconds have passed. A 429 (the gateway's rate
        limit) is sent again after its Retry-After."""
        deadline = time.monotonic() + patience
        delay = 1.0
        while True:
            try:
                async with self._slots:
                    self.requests += 1
                    response = await self.client.request(method, path, json=json, params=params, timeout=timeout)
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            else:
                status, text = response.status_code, response.text
                if status < 400:
                    return response.json() if status != 204 and text else None
                if status == 429:  # the gateway's rate limit: come back when it says
                    await asyncio.sleep(float(response.headers.get("retry-after", "1")))
                    continue
                transient = status in (502, 503, 504) or (retry_while is not None and retry_while(status, text))
                if not transient or time.monotonic() > deadline:
                    raise ApiError(method, path, status, text)
            # the event the service waits for, or the service itself, is seconds away: do not add to its load
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 3.0)

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params=params or None)

    async def get_all(self, path: str, **params: Any) -> list[Any]:
        """Every item of a list answered a page (`limit`/`offset`) at a time."""
        items: list[Any] = []
        while True:
            page = await self.get(path, limit=200, offset=len(items), **params)
            items += page
            if len(page) < 200:
                return items

    async def post(self, path: str, body: Any = None, **options: Any) -> Any:
        return await self.request("POST", path, json=body, **options)


def not_known_yet(status: int, body: str) -> bool:
    """A 404/409/422 that names an unknown customer, subscriber or invoice: the event that tells this service
    about it has not arrived yet (services learn about each other only through Kafka)."""
    return status in (404, 409, 422) and any(w in body for w in ("not found", "unknown", "not known", "no such"))


async def gather_bounded(items: Iterable[T], work: Callable[[T], Awaitable[Any]], *, label: str,
                         every: int = 500) -> list[Any]:  # fmt: skip
    """Run `work` on every item (the Api bounds how many requests are in flight) and print progress."""
    todo = list(items)
    done = 0
    started = time.monotonic()

    async def one(item: T) -> Any:
        nonlocal done
        result = await work(item)
        done += 1
        if done % every == 0 and done < len(todo):
            print(f"    {label}: {done}/{len(todo)}", flush=True)
        return result

    results = await asyncio.gather(*(one(i) for i in todo))
    print(f"    {label}: {len(todo)} in {time.monotonic() - started:.1f} s", flush=True)
    return results
