"""Each bssctl test module gets its own topic prefix (under the session's), with the registry's topics made.

The services these tests run name their consumer groups with the same prefix (the topic prefix stands in for an
unset KAFKA_GROUP_PREFIX) and bssctl is told so: a group name is global on the broker, and another session running
the customers service at the same time must not show up as a member of ours."""

from __future__ import annotations

from typing import Any

import pytest

from bss_runtime.kafka import ensure_topics

from .support import Bssctl


@pytest.fixture(scope="module")
async def prefix(kafka_bootstrap: str, topic_prefix: str, request: Any) -> str:
    made = f"{topic_prefix}{request.module.__name__.rpartition('.')[2][:24]}."
    await ensure_topics(kafka_bootstrap, made)
    return made


@pytest.fixture(scope="module")
def bssctl(kafka_bootstrap: str, prefix: str) -> Bssctl:
    return Bssctl(kafka_bootstrap, prefix, {"KAFKA_GROUP_PREFIX": prefix})
