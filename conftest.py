"""Suite-wide collection order: the whole-system tests at both ends.

The tests that start private stacks of their own (the fault tests) come first. The two files that share one stack
(tests/e2e/conftest.py: the console and the OpenAPI fuzzing) come last and together, so that their session-scoped
stack is stopped as soon as they are done rather than idling beside everything else. (`make test` passes
`--no-loadscope-reorder`: pytest-xdist would otherwise hand out the files with the most tests first.)
"""

from __future__ import annotations

import pytest

FIRST = ("tests/e2e/test_cluster_faults.py", "tests/e2e/test_faults.py")
LAST = ("tests/e2e/test_console.py", "tests/e2e/test_openapi_fuzz.py")


def _rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    if path in FIRST:
        return FIRST.index(path)
    if path in LAST:
        return len(FIRST) + 1 + LAST.index(path)
    return len(FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: the rest keep their order
