"""The demo's BNG capacities: exactly the busiest BNG is over the capacity rule's threshold."""

from __future__ import annotations

from demo.alerts import NEAR_FULL_PERCENT, capacities


def test_only_the_busiest_bng_is_over_the_threshold() -> None:
    online = {"bng-de-ber-01": 412, "bng-de-mun-01": 120, "bng-at-vie-01": 0, "bng-ch-zur-01": 37}
    sized = capacities(online)
    assert set(sized) == set(online)
    over = {nas for nas, n in online.items() if n * 100 / sized[nas] > NEAR_FULL_PERCENT}
    assert over == {"bng-de-ber-01"}
    assert all(c >= 1 for c in sized.values())
    assert capacities({}) == {}
