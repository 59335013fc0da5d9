"""The demo ISP's customers and subscribers, drawn from a seeded random generator: the same seed gives the
same people, addresses, plans and payment habits on every run (dates are relative to the day of the load).

Pure: no I/O. `load` sends what this module describes through the public APIs.
"""

from __future__ import annotations

import ipaddress
import random
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from demo.catalog import Plan, plans_for
from demo.geography import COUNTRIES, COUNTRY_SHARES, DIRECT_REALM, PARTNERS, City, Country, Partner

# How a customer pays: on time; late but everything in the end; stopped paying some months ago (the last
# `unpaid_months` invoices are open, the older of them overdue: dunning's cases); or only the latest invoice
# is still open (not due yet).
PaymentHabit = Literal["on_time", "late", "defaulting", "latest_open"]
HABITS: tuple[tuple[PaymentHabit, int], ...] = (("on_time", 84), ("late", 6), ("defaulting", 6), ("latest_open", 4))

Lifecycle = Literal["active", "pending", "terminated"]

TENURE: tuple[tuple[int, int], ...] = ((1, 46), (2, 28), (3, 10), (4, 7), (5, 5), (6, 4))  # months, weight
HISTORY_WINDOW_DAYS = 10  # sessions are sent for the last this many days: the running cycles must cover them


@dataclass
class SubscriberSpec:
    username: str
    plan: Plan
    lifecycle: Lifecycle
    mac: str
    # filled in as the load goes on
    subscriber_id: str | None = None
    subscription_id: str | None = None


@dataclass
class CustomerSpec:
    key: str
    country: Country
    city: City
    partner: Partner | None
    business: bool
    habit: PaymentHabit
    unpaid_months: int  # defaulting: how many of the latest invoices stay unpaid
    months_with_us: int  # how many billing cycles the customer has had
    body: dict[str, Any]  # the POST /customers body
    started: date  # the day its subscriptions started: the anchor of its monthly billing cycles
    subscribers: list[SubscriberSpec] = field(default_factory=list)
    customer_id: str | None = None
    sla: bool = False  # a business customer with an SLA on its first line


def ascii_slug(text: str) -> str:
    german = text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    plain = unicodedata.normalize("NFKD", german).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


class Generator:
    """Draws the demo ISP. `customers(n)` is deterministic for a given seed and day."""

    def __init__(self, seed: int, today: datetime) -> None:
        self.rng = random.Random(seed)
        self.today = today
        self._usernames: Counter[str] = Counter()
        self._static_ips = self._address_pool()
        self._ipv6_serial = 0
        self._mac_serial = 0

    # --- small draws ---------------------------------------------------------------------------------

    def _weighted(self, options: tuple[tuple[Any, int], ...]) -> Any:
        values, weights = zip(*options, strict=True)
        return self.rng.choices(values, weights)[0]

    @staticmethod
    def _address_pool() -> list[str]:
        # Documentation ranges (RFC 5737): static addresses of business lines, never real hosts.
        nets = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
        return [str(h) for n in nets for h in ipaddress.IPv4Network(n).hosts()]

    def _mac(self) -> str:
        self._mac_serial += 1
        # locally administered unicast prefix 02:..., unique by serial
        return "02:5e:" + ":".join(f"{b:02x}" for b in self._mac_serial.to_bytes(4, "big"))

    def _ipv6_prefix(self) -> str:
        self._ipv6_serial += 1
        # 2001:db8::/32 is the documentation prefix; one /56 per customer
        return str(ipaddress.IPv6Network(((0x20010DB8 << 96) | (self._ipv6_serial << 72), 56)))

    def _phone(self, country: Country, city: City) -> str:
        if country.code == "US":
            return f"{country.dialing_code} {city.phone_prefix} 555 01{self.rng.randint(0, 99):02d}"
        if country.code == "GB":
            return f"{country.dialing_code} {city.phone_prefix} 496 0{self.rng.randint(0, 999):03d}"
        digits = "".join(str(self.rng.randint(0, 9)) for _ in range(7))
        return f"{country.dialing_code} {city.phone_prefix} {digits}"

    def _street(self, country: Country) -> str:
        street, number = self.rng.choice(country.streets), self.rng.randint(1, 180)
        return f"{number} {street}" if country.house_number_first else f"{street} {number}"

    def _username(self, first: str, last: str, realm: str) -> str:
        base = f"{ascii_slug(first)}.{ascii_slug(last)}"
        self._usernames[f"{base}@{realm}"] += 1
        n = self._usernames[f"{base}@{realm}"]
        return f"{base}{n if n > 1 else ''}@{realm}"

    def _partner(self, country: Country) -> Partner | None:
        draw = self.rng.random()
        for partner in PARTNERS:
            share = partner.shares.get(country.code, 0.0)
            if draw < share:
                return partner
            draw -= share
        return None  # sold directly

    # --- customers -----------------------------------------------------------------------------------

    def customers(self, count: int) -> list[CustomerSpec]:
        out = []
        for country in COUNTRIES:
            for i in range(round(count * COUNTRY_SHARES[country.code])):
                out.append(self._customer(country, i))
        self.rng.shuffle(out)  # countries interleaved, as sign-ups come in
        return out

    def _customer(self, country: Country, index: int) -> CustomerSpec:
        rng = self.rng
        city = rng.choice(country.cities)
        partner = self._partner(country)
        business = rng.random() < 0.06
        first, last = rng.choice(country.first_names), rng.choice(country.last_names)
        if business:
            name = f"{last} {rng.choice(('Consulting', 'Logistics', 'Design', 'Dental', 'Bakery', 'Media'))} " \
                   f"{rng.choice(country.company_forms)}"  # fmt: skip
        else:
            name = f"{first} {last}"
        realm = partner.realm if partner else DIRECT_REALM
        connection, technology = self._weighted(tuple(((c, t), w) for c, t, w in country.access))
        habit: PaymentHabit = self._weighted(HABITS)
        # cycles billed so far: a growing ISP, half of whose customers joined in the last two months; those who
        # stopped paying have been customers for a while (their debts reach every aging bucket)
        months: int = self._weighted(TENURE) if habit != "defaulting" else rng.randint(3, 6)
        installing = rng.random() < 0.04  # signed up, line not installed yet: subscriber stays pending
        lat = round(city.lat + rng.uniform(-0.06, 0.06), 5)
        lon = round(city.lon + rng.uniform(-0.09, 0.09), 5)
        tags = ["business"] if business else ["residential"]
        if rng.random() < 0.02:
            tags.append("vip")
        plan = rng.choice(plans_for(country.code, connection, business))
        body: dict[str, Any] = {
            "name": name,
            "email": f"{ascii_slug(first)}.{ascii_slug(last)}{index}@example.{'com' if business else 'net'}",
            "phone": self._phone(country, city),
            "partner_id": None,  # set once the partner exists
            "region": f"{country.code}-{city.state}",
            "tags": tags,
            "timezone": city.timezone,
            "billing_address_line1": self._street(country),
            "billing_city": city.name,
            "billing_postal_code": rng.choice(city.postal_codes),
            "billing_country": country.code,
            "service_city": city.name,
            "service_state_province": city.state,
            "service_country": country.code,
            "service_coordinates": {"lat": lat, "lon": lon},
            "connection_type": connection,
            "last_mile_technology": technology,
            "service_plan_speed": plan.speed,
            "current_bandwidth_profile": plan.bandwidth_profile,
            "ipv6_prefix": self._ipv6_prefix(),
        }
        body["service_address_line1"] = body["billing_address_line1"]
        body["service_postal_code"] = body["billing_postal_code"]
        if installing:
            body["installation_status"] = rng.choice(("scheduled", "in_progress"))
            body["scheduled_installation_date"] = (self.today + timedelta(days=rng.randint(1, 14))).isoformat()
            body["installation_technician_id"] = f"tech-{country.code.lower()}-{rng.randint(1, 12):02d}"
        else:
            body["installation_status"] = "completed"
            body["installation_technician_id"] = f"tech-{country.code.lower()}-{rng.randint(1, 12):02d}"
            uptime = 100 - round(rng.expovariate(1 / 0.08), 2)
            body["avg_uptime_percent"] = max(uptime, 97.5)
            outages = 0 if rng.random() < 0.7 else rng.randint(1, 4)
            body["total_outages"] = outages
            body["total_downtime_minutes"] = outages * rng.randint(5, 180)
            if outages:
                body["last_outage_date"] = (self.today - timedelta(days=rng.randint(2, 90))).isoformat()
        mac = self._mac()
        body["assigned_devices"] = {"cpe_mac": mac, "router_id": f"cpe-{mac[-8:].replace(':', '')}"}
        if technology in ("gpon", "xgs-pon"):
            body["assigned_devices"]["onu_serial"] = f"ONT{country.code}{self._mac_serial:08X}"
        if business:
            body["static_ip_assigned"] = self._static_ips.pop(0)
        started = cycle_anchor(self.today.date(), months, rng)
        if not installing:  # installed a few days before the service (and its billing) started
            installed = datetime.combine(started - timedelta(days=rng.randint(1, 5)), time(rng.randint(8, 16)), UTC)
            body["installation_date"] = installed.isoformat()
        customer = CustomerSpec(
            key=f"{country.code}-{index:05d}", country=country, city=city, partner=partner, business=business,
            habit=habit, unpaid_months=rng.randint(1, min(4, months)) if habit == "defaulting" else 0,
            months_with_us=months, body=body, started=started,
        )  # fmt: skip
        lines = rng.randint(1, 3) if business else (2 if rng.random() < 0.07 else 1)
        for line in range(lines):
            if line == 0:
                line_mac, line_plan = mac, plan
            else:
                line_mac = self._mac()
                line_plan = rng.choice(plans_for(country.code, connection, business))
            if installing:
                lifecycle: Lifecycle = "pending"
            else:
                lifecycle = "terminated" if line > 0 and rng.random() < 0.15 else "active"
            # residential: anna.mueller@realm; business lines: mueller.line2@realm
            given, family = (last, f"line{line + 1}") if business else (first, last)
            username = self._username(given, family, realm)
            customer.subscribers.append(SubscriberSpec(username, line_plan, lifecycle, line_mac))
        return customer


def cycle_anchor(today: date, months: int, rng: random.Random) -> date:
    """A start date `months` whole cycles ago plus 12-27 days, on a day of the month that every month has:
    `months` cycles have ended, and the running one began before the sessions the demo sends."""
    while True:
        day = today - timedelta(days=rng.randint(HISTORY_WINDOW_DAYS + 2, 27))
        if day.day <= 28:
            break
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, day.day)
