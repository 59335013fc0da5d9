"""Suite-wide order and placement of the whole-system tests.

Four files start whole stacks of their own (PostgreSQL, Kafka, every service, the gateway): the two fault tests, and
the console and OpenAPI-fuzzing files, which share one stack (`tests/e2e/conftest.py`). Two of them at once on a
2-core machine starve each other and everything beside them. So:

- collection puts the fault tests first and the shared-stack files last and together, so that the shared stack is
  stopped as soon as they are done rather than idling beside everything else;
- with several test processes (`make test`'s `-n`), the four files are one unit of work, run one after the other on
  one process, while the other processes take the remaining files one at a time.

(`make test` passes `--no-loadscope-reorder`: pytest-xdist would otherwise hand out the units with the most tests
first.)
"""

from __future__ import annotations

from typing import Any

import pytest

FIRST = ("tests/e2e/test_cluster_faults.py", "tests/e2e/test_faults.py")
LAST = ("tests/e2e/test_console.py", "tests/e2e/test_openapi_fuzz.py")
WHOLE_STACK = "whole-stack tests"


def _path(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _rank(item: pytest.Item) -> int:
    path = _path(item.nodeid)
    if path in FIRST:
        return FIRST.index(path)
    if path in LAST:
        return len(FIRST) + 1 + LAST.index(path)
    return len(FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: the rest keep their order


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile`, except that the whole-stack files are one unit of work (see the module's docstring)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class WholeStackFilesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = _path(nodeid)
            return WHOLE_STACK if path in FIRST + LAST else path

    return WholeStackFilesTogether(config, log)
