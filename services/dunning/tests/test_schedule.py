"""The durable schedule: due steps claimed with row locks, each step once, spacing kept after downtime."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from bss_runtime.clock import ManualClock

from .support import (
    START,
    add_campaign,
    add_customer,
    campaign_body,
    execution_detail,
    outbox_events,
    overdue,
    report_overdue,
)

SPACED = campaign_body(
    "Spaced", {"type": "email"}, {"type": "email", "delay_days": 3}, {"type": "custom", "delay_days": 7}
)


async def test_after_downtime_a_due_step_runs_once_and_the_next_is_spaced_from_when_it_ran(offline_dunning, smtp):
    clock = ManualClock(START)
    service = await offline_dunning(smtp_port=smtp.port, clock=clock)
    await add_campaign(service, SPACED)
    await add_customer(service, "cust-1", email="ada@example.net")
    execution_id = await report_overdue(service, overdue("inv-1", "cust-1"))
    assert execution_id is not None

    # The workers were down for thirty days: thirty daily ticks and the times of all three steps went by.
    clock.advance(timedelta(days=30))
    assert await service.scheduler.run_due_steps() == 1
    ran_at = clock.now()
    execution, _ = await execution_detail(service, execution_id)
    assert (execution.current_step, execution.next_action_at) == (1, ran_at + timedelta(days=3))
    for _ in range(5):  # more ticks find nothing due
        assert await service.scheduler.run_due_steps() == 0
    assert len(smtp.messages) == 1

    clock.advance(timedelta(days=3))
    assert await service.scheduler.run_due_steps() == 1
    clock.advance(timedelta(days=6, hours=23))
    assert await service.scheduler.run_due_steps() == 0
    clock.advance(timedelta(hours=1))
    assert await service.scheduler.run_due_steps() == 1

    execution, logs = await execution_detail(service, execution_id)
    assert [(log.step_number, log.attempt, log.status, log.executed_at) for log in logs] == [
        (1, 1, "succeeded", ran_at),
        (2, 1, "succeeded", ran_at + timedelta(days=3)),
        (3, 1, "succeeded", ran_at + timedelta(days=10)),
    ]
    assert (execution.status, execution.current_step, execution.next_action_at) == ("in_progress", 3, None)
    assert len(smtp.messages) == 2
    assert len({m["Message-ID"] for m in smtp.messages}) == 2


async def test_two_workers_over_the_same_due_executions_never_run_a_step_twice(offline_dunning, smtp, fresh_database):
    # Two instances of the service on one database, each with its own engine (as two replicas would be),
    # each running three step loops at once.
    url = await fresh_database("dunning")
    clock = ManualClock(START)
    first = await offline_dunning(smtp_port=smtp.port, clock=clock, database_url=url)
    second = await offline_dunning(smtp_port=smtp.port, clock=clock, database_url=url)
    await add_campaign(first, campaign_body("Three steps", {"type": "email"}, {"type": "suspend_service"},
                                            {"type": "custom"}))  # fmt: skip
    executions = 30
    for n in range(executions):
        await add_customer(first, f"cust-{n}", subscriber_id=f"sub-{n}", email=f"c{n}@example.net")
        assert await report_overdue(first, overdue(f"inv-{n}", f"cust-{n}", subscriber_id=f"sub-{n}"))

    ran = await asyncio.gather(
        *(first.scheduler.run_due_steps() for _ in range(3)), *(second.scheduler.run_due_steps() for _ in range(3))
    )

    # Every step of every execution ran exactly once, and both replicas did part of the work.
    # Without `FOR UPDATE SKIP LOCKED` in `claim_due_execution`, loops that look for due work at the same time
    # read the same execution row: each sends its email (the SMTP server gets it twice) and requests the
    # suspension, and the action log's unique (execution, step, attempt) stops only the second commit,
    # after its effects left the process.
    assert sum(ran) == executions * 3
    assert sum(ran[:3]) > 0 and sum(ran[3:]) > 0
    assert sorted(m["To"] for m in smtp.messages) == sorted(f"c{n}@example.net" for n in range(executions))
    steps = await outbox_events(first, "bss.dunning.execution.step-executed")
    per_step = Counter((e["data"]["execution_id"], e["data"]["step_number"]) for e in steps)
    assert len(per_step) == executions * 3 and set(per_step.values()) == {1}
    suspensions = await outbox_events(first, "bss.customers.subscriber.suspension-requested")
    assert sorted(e["data"]["subscriber_id"] for e in suspensions) == sorted(f"sub-{n}" for n in range(executions))
