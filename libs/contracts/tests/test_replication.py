"""The registry's replication on clusters of every size: production's three copies with two in sync where the
cluster allows it, and the single broker of local mode unchanged (one copy, no topic setting)."""

from __future__ import annotations

import pytest

from bss_contracts.topics import MIN_INSYNC_REPLICAS, REPLICATION_FACTOR, Replication


@pytest.mark.parametrize(
    ("brokers", "factor", "min_insync", "config"),
    [
        (1, 1, 1, {}),
        (2, 2, 1, {"min.insync.replicas": "1"}),
        (3, 3, 2, {"min.insync.replicas": "2"}),
        (5, 3, 2, {"min.insync.replicas": "2"}),
    ],
)
def test_replication_is_the_registrys_as_far_as_the_cluster_allows(
    brokers: int, factor: int, min_insync: int, config: dict[str, str]
) -> None:
    copies = Replication.for_brokers(brokers)
    assert (copies.factor, copies.min_insync, copies.config()) == (factor, min_insync, config)
    assert copies.factor <= REPLICATION_FACTOR and copies.min_insync <= MIN_INSYNC_REPLICAS
    assert copies.min_insync < copies.factor or copies.factor == 1  # one copy may always be lost, if there are two


def test_a_cluster_without_brokers_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one broker"):
        Replication.for_brokers(0)
