"""Suite-wide collection order: the whole-system tests first.

`make test` hands whole files to two pytest-xdist workers in collection order. The tests that start a private stack
take minutes each; collected last (tests/ comes after libs/ and services/), they would run at the end on one
worker while the other sits idle. Longest first, they overlap with everything else.
"""

from __future__ import annotations

import pytest

LONGEST_FIRST = (
    "tests/e2e/test_cluster_faults.py",
    "tests/e2e/test_faults.py",
    "tests/e2e/test_console.py",
    "tests/e2e/test_openapi_fuzz.py",
)


def _rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: the rest keep their order
