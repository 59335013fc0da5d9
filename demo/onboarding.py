"""The customers as they came to the ISP: signed up (customers), paid their invoices over the months
(billing), got their lines (customers), the lines' contracts (billing) and their activation (customers).

In phases, so that a service is asked about a customer or line only once the event that tells it about them
has had time to arrive (a request that comes too early is retried, but it costs the service a request), and
so that two services work at once where the order allows it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from demo import money, people
from demo.api import Api, gather_bounded
from demo.dataset import CustomerSpec


async def onboard(
    api: Api, customers: list[CustomerSpec], partner_ids: dict[str, str], plan_ids: dict[str, str],
    now: datetime, seed: int, closer: money.CycleCloser,
) -> int:  # fmt: skip
    """Returns how many payments were recorded."""
    await gather_bounded(customers, lambda c: people.create_customer(api, c, partner_ids), label="customers")

    # the money paid is recorded before the contracts exist (see demo.money); lines are created meanwhile
    paid: list[int] = (
        await asyncio.gather(
            gather_bounded(customers, lambda c: money.record_payments(api, c, now, seed), label="payments"),
            gather_bounded(customers, lambda c: people.create_lines(api, c, plan_ids), label="subscribers"),
        )
    )[0]
    await gather_bounded(customers, lambda c: money.subscribe(api, c, plan_ids), label="subscriptions")
    closer.start()  # billing's scheduler bills the past cycles too; asking saves its wait
    await gather_bounded(customers, lambda c: people.activate_lines(api, c), label="activations")
    return sum(paid)
