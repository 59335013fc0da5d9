"""What the demo ISP sells: plans per country (billing's plans), and SLAs for business lines."""

from __future__ import annotations

from dataclasses import dataclass

GB = 10**9


@dataclass(frozen=True)
class Plan:
    code: str
    name: str
    country: str
    currency: str
    price_minor: int
    speed: str  # shown on the customer as service_plan_speed
    bandwidth_profile: str
    included_octets: int | None = None  # None: unlimited
    overage_price_per_gb_minor: int = 0
    overage_increment_octets: int = GB
    business: bool = False
    access: tuple[str, ...] = ("ftth", "fiber", "cable")  # connection types it is sold on


PLANS = (
    Plan("DE-FIBER-100", "Glasfaser 100", "DE", "EUR", 2999, "100/40 Mbps", "res-100m"),
    Plan("DE-FIBER-500", "Glasfaser 500", "DE", "EUR", 4499, "500/200 Mbps", "res-500m"),
    Plan("DE-FIBER-1000", "Glasfaser 1000", "DE", "EUR", 6499, "1000/500 Mbps", "res-1g"),
    Plan("DE-DSL-50", "DSL 50", "DE", "EUR", 2499, "50/10 Mbps", "res-dsl-50m", 300 * GB, 100, access=("dsl",)),
    Plan("DE-BUSINESS-1G", "Business Glasfaser 1G", "DE", "EUR", 14900, "1000/1000 Mbps", "biz-1g", business=True),
    Plan("FR-FIBRE-500", "Fibre 500", "FR", "EUR", 2999, "500/400 Mbps", "res-500m"),
    Plan("FR-FIBRE-2G", "Fibre 2 Gbit/s", "FR", "EUR", 4499, "2000/700 Mbps", "res-2g"),
    Plan("FR-ADSL", "ADSL Essentiel", "FR", "EUR", 2299, "20/1 Mbps", "res-adsl", 250 * GB, 100, access=("dsl",)),
    Plan("FR-PRO-1G", "Fibre Pro 1G", "FR", "EUR", 12900, "1000/1000 Mbps", "biz-1g", business=True),
    Plan("GB-FIBRE-150", "Fibre 150", "GB", "GBP", 2600, "150/30 Mbps", "res-150m"),
    Plan("GB-FIBRE-500", "Full Fibre 500", "GB", "GBP", 3900, "500/70 Mbps", "res-500m"),
    Plan("GB-FIBRE-900", "Full Fibre 900", "GB", "GBP", 5500, "900/110 Mbps", "res-900m"),
    Plan("GB-ESSENTIAL-36", "Essential 36", "GB", "GBP", 2200, "36/10 Mbps", "res-36m", 200 * GB, 100, access=("dsl",)),
    Plan("GB-BUSINESS-1G", "Business Fibre 1G", "GB", "GBP", 12900, "1000/1000 Mbps", "biz-1g", business=True),
    Plan("US-INTERNET-300", "Internet 300", "US", "USD", 5000, "300/20 Mbps", "res-300m", 1200 * GB, 200, 50 * GB),
    Plan("US-GIG", "Gig", "US", "USD", 8000, "1000/35 Mbps", "res-1g"),
    Plan("US-WIRELESS-100", "Home Wireless 100", "US", "USD", 4500, "100/20 Mbps", "res-fwa-100m", 500 * GB, 200,
         10 * GB, access=("wireless",)),
    Plan("US-BUSINESS-1G", "Business Fiber 1G", "US", "USD", 19900, "1000/1000 Mbps", "biz-1g", business=True),
)  # fmt: skip


def plans_for(country: str, connection_type: str, business: bool) -> list[Plan]:
    return [
        p
        for p in PLANS
        if p.country == country and p.business == business and (business or connection_type in p.access)
    ]


@dataclass(frozen=True)
class SlaDefinition:
    name: str
    target_percent: str  # decimal text, as the API takes it
    step_percent: str
    credit_percent_per_step: str
    cap_percent: str


SLAS = (
    SlaDefinition("Business Fibre 99.9", "99.9", "0.1", "5", "50"),
    SlaDefinition("Business Premium 99.95", "99.95", "0.05", "10", "100"),
)
