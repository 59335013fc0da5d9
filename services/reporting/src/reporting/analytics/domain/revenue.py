"""Recurring revenue, exactly: MRR as of an instant, its movements per period, and the KPIs built on them.

Pure functions over dated MRR changes; no I/O. Definitions (those of ChartMogul / Baremetrics):

- A customer's MRR in a currency at an instant is the sum of the monthly recurring amounts of that customer's
  subscriptions in that currency, after every change effective at or before that instant.
- Movements are classified per customer and currency by comparing the customer's MRR just before the period
  (`before`) with the MRR at the end of it (`after`):
  new (0 -> >0, never had MRR before), reactivation (0 -> >0, had MRR at some earlier time), expansion
  (after > before > 0), contraction (0 < after < before), churn (before > 0, after = 0). The amounts are signed
  deltas (contraction and churn negative), so `starting + new + expansion + contraction + churn + reactivation
  = ending` holds by construction for every period and currency.
- Money stays in integer minor units of one currency; figures are never summed across currencies.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Literal

Movement = Literal["new", "expansion", "contraction", "churn", "reactivation"]
MOVEMENTS: tuple[Movement, ...] = ("new", "expansion", "contraction", "churn", "reactivation")
Interval = Literal["month", "week", "day"]


@dataclass(frozen=True, order=True)
class MrrChange:
    """From `effective_at` on, `customer_id`'s MRR in `currency` is `mrr_minor` (until its next change)."""

    customer_id: str
    currency: str
    effective_at: datetime
    mrr_minor: int


def classify(before: int, after: int, *, had_mrr_earlier: bool) -> Movement | None:
    """The movement of one customer in one currency over a period; None when the MRR did not move."""
    if before == after:
        return None
    if before == 0:
        return "reactivation" if had_mrr_earlier else "new"
    if after == 0:
        return "churn"
    return "expansion" if after > before else "contraction"


class History:
    """Every customer's dated MRR per currency, answering "what was the MRR at instant t" without replaying."""

    def __init__(self, changes: Iterable[MrrChange]) -> None:
        timeline: dict[tuple[str, str], list[tuple[datetime, int]]] = defaultdict(list)
        for c in sorted(changes, key=lambda c: (c.customer_id, c.currency, c.effective_at)):
            timeline[(c.customer_id, c.currency)].append((c.effective_at, c.mrr_minor))
        self._times = {k: [t for t, _ in v] for k, v in timeline.items()}
        self._values = {k: [m for _, m in v] for k, v in timeline.items()}
        # the earliest instant each customer had MRR > 0 in the currency
        self._first_paid = {k: next((t for t, m in v if m > 0), None) for k, v in timeline.items()}

    @property
    def keys(self) -> list[tuple[str, str]]:
        return sorted(self._times)

    def mrr(self, key: tuple[str, str], at: datetime) -> int:
        """The MRR after every change effective strictly before `at` (the state at the start of instant `at`)."""
        i = bisect_left(self._times[key], at)  # how many changes are strictly before `at`
        return self._values[key][i - 1] if i else 0

    def had_mrr_before(self, key: tuple[str, str], at: datetime) -> bool:
        first = self._first_paid[key]
        return first is not None and first < at


@dataclass
class Snapshot:
    """MRR in one currency at one instant."""

    currency: str
    mrr_minor: int = 0
    paying_customers: int = 0

    @property
    def arpu_minor(self) -> int | None:
        return round(Fraction(self.mrr_minor, self.paying_customers)) if self.paying_customers else None


def snapshot(history: History, at: datetime) -> dict[str, Snapshot]:
    """MRR and paying customers per currency at the start of instant `at`."""
    out: dict[str, Snapshot] = {}
    for key in history.keys:
        mrr = history.mrr(key, at)
        if mrr:
            s = out.setdefault(key[1], Snapshot(key[1]))
            s.mrr_minor += mrr
            s.paying_customers += 1
    return dict(sorted(out.items()))


@dataclass
class PeriodMovements:
    """One period [start, end) in one currency."""

    currency: str
    start: datetime
    end: datetime
    starting_mrr_minor: int = 0
    ending_mrr_minor: int = 0
    amounts: dict[Movement, int] = field(default_factory=lambda: dict.fromkeys(MOVEMENTS, 0))
    customers: dict[Movement, int] = field(default_factory=lambda: dict.fromkeys(MOVEMENTS, 0))
    starting_customers: int = 0
    ending_customers: int = 0

    def check(self) -> None:
        total = self.starting_mrr_minor + sum(self.amounts.values())
        if total != self.ending_mrr_minor:
            raise AssertionError(
                f"{self.currency} {self.start}: start + movements = {total} != {self.ending_mrr_minor}"
            )


def movements(history: History, start: datetime, end: datetime) -> dict[str, PeriodMovements]:
    """The movements of every customer over [start, end), per currency (asserted: start + movements = end)."""
    out: dict[str, PeriodMovements] = {}
    for key in history.keys:
        before, after = history.mrr(key, start), history.mrr(key, end)
        if not before and not after:
            continue
        p = out.setdefault(key[1], PeriodMovements(key[1], start, end))
        p.starting_mrr_minor += before
        p.ending_mrr_minor += after
        p.starting_customers += before > 0
        p.ending_customers += after > 0
        kind = classify(before, after, had_mrr_earlier=history.had_mrr_before(key, start))
        if kind is not None:
            p.amounts[kind] += after - before
            p.customers[kind] += 1
    for p in out.values():
        p.check()
    return dict(sorted(out.items()))


def periods(first: date, last: date, interval: Interval) -> list[tuple[date, date]]:
    """Consecutive [start, end) periods covering the days first..last: calendar months, ISO weeks (Monday
    first) or days, the first one starting at the period that contains `first`."""
    if interval == "day":
        start = first
    elif interval == "week":
        start = first - timedelta(days=first.weekday())
    else:
        start = first.replace(day=1)
    out = []
    while start <= last:
        end = next_period(start, interval)
        out.append((start, end))
        start = end
    return out


def next_period(start: date, interval: Interval) -> date:
    if interval == "day":
        return start + timedelta(days=1)
    if interval == "week":
        return start + timedelta(days=7)
    return date(start.year + (start.month == 12), start.month % 12 + 1, 1)


# ---------------------------------------------------------------- KPIs of one month in one currency

DEFAULT_GROSS_MARGIN = Fraction(80, 100)
"""The gross margin LTV uses when the tenant set none: 80 %, a common figure for access networks' recurring
revenue once the network is built (tenants set theirs with PUT /analytics/settings)."""


def ratio(numerator: int | Fraction, denominator: int | Fraction) -> Fraction | None:
    return Fraction(numerator) / Fraction(denominator) if denominator else None


@dataclass(frozen=True)
class MonthKpis:
    currency: str
    starting_mrr_minor: int
    ending_mrr_minor: int
    starting_customers: int
    ending_customers: int
    churned_customers: int
    churned_mrr_minor: int  # positive
    contraction_mrr_minor: int  # positive
    expansion_mrr_minor: int
    reactivation_mrr_minor: int
    new_mrr_minor: int
    invoiced_minor: int
    collected_minor: int
    receivables_end_minor: int
    days_in_month: int
    gigabytes: Fraction
    gross_margin: Fraction

    @property
    def logo_churn_rate(self) -> Fraction | None:
        """Customers paying at the start of the month who had no MRR at its end / customers paying at its start."""
        return ratio(self.churned_customers, self.starting_customers)

    @property
    def gross_revenue_churn(self) -> Fraction | None:
        """(churned + contraction MRR) / starting MRR."""
        return ratio(self.churned_mrr_minor + self.contraction_mrr_minor, self.starting_mrr_minor)

    @property
    def net_revenue_churn(self) -> Fraction | None:
        """(churned + contraction - expansion MRR) / starting MRR (negative: expansion outgrew the losses)."""
        return ratio(
            self.churned_mrr_minor + self.contraction_mrr_minor - self.expansion_mrr_minor, self.starting_mrr_minor
        )

    @property
    def net_revenue_retention(self) -> Fraction | None:
        """(starting + expansion - contraction - churned MRR) / starting MRR: what the customers of the start kept."""
        kept = self.starting_mrr_minor + self.expansion_mrr_minor - self.contraction_mrr_minor - self.churned_mrr_minor
        return ratio(kept, self.starting_mrr_minor)

    @property
    def arpu_minor(self) -> int | None:
        """Ending MRR / customers paying at the end of the month."""
        value = ratio(self.ending_mrr_minor, self.ending_customers)
        return None if value is None else round(value)

    @property
    def ltv_minor(self) -> int | None:
        """ARPU x gross margin / gross revenue churn (none while no revenue churned)."""
        arpu = ratio(self.ending_mrr_minor, self.ending_customers)
        churn = self.gross_revenue_churn
        if arpu is None or not churn:
            return None
        return round(arpu * self.gross_margin / churn)

    @property
    def mrr_growth(self) -> Fraction | None:
        """(ending - starting MRR) / starting MRR: this month's end against the previous month's end."""
        return ratio(self.ending_mrr_minor - self.starting_mrr_minor, self.starting_mrr_minor)

    @property
    def dso_days(self) -> Fraction | None:
        """Receivables at the end of the month / invoiced in the month x days in the month."""
        value = ratio(self.receivables_end_minor, self.invoiced_minor)
        return None if value is None else value * self.days_in_month

    @property
    def collection_rate(self) -> Fraction | None:
        """Collected in the month / invoiced in the month."""
        return ratio(self.collected_minor, self.invoiced_minor)

    @property
    def revenue_per_gb_minor(self) -> int | None:
        """Invoiced in the month / gigabytes (10^9 bytes, in + out) used in the month."""
        value = ratio(self.invoiced_minor, self.gigabytes)
        return None if value is None else round(value)


def month_kpis(
    moved: dict[str, PeriodMovements],
    month: date,
    *,
    invoiced: dict[str, int],
    collected: dict[str, int],
    receivables: dict[str, int],
    gigabytes: Fraction,
    gross_margin: Fraction,
) -> dict[str, MonthKpis]:
    """The KPIs of the calendar month `month` (its first day) for every currency with MRR or invoices, from the
    month's movements (`movements(history, start, end)` or the rollups)."""
    end_day = next_period(month, "month")
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end = datetime(end_day.year, end_day.month, 1, tzinfo=UTC)
    currencies = sorted(set(moved) | set(invoiced) | set(collected) | {c for c, v in receivables.items() if v})
    out = {}
    for currency in currencies:
        p = moved.get(currency) or PeriodMovements(currency, start, end)
        out[currency] = MonthKpis(
            currency=currency,
            starting_mrr_minor=p.starting_mrr_minor,
            ending_mrr_minor=p.ending_mrr_minor,
            starting_customers=p.starting_customers,
            ending_customers=p.ending_customers,
            churned_customers=p.customers["churn"],
            churned_mrr_minor=-p.amounts["churn"],
            contraction_mrr_minor=-p.amounts["contraction"],
            expansion_mrr_minor=p.amounts["expansion"],
            reactivation_mrr_minor=p.amounts["reactivation"],
            new_mrr_minor=p.amounts["new"],
            invoiced_minor=invoiced.get(currency, 0),
            collected_minor=collected.get(currency, 0),
            receivables_end_minor=receivables.get(currency, 0),
            days_in_month=(end_day - month).days,
            gigabytes=gigabytes,
            gross_margin=gross_margin,
        )
    return out


def decimal_text(value: Fraction | None, places: int = 6) -> str | None:
    """A ratio for JSON: a decimal string rounded half to even to `places` digits (exact, no float)."""
    if value is None:
        return None
    scaled = round(value * 10**places)
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled)).rjust(places + 1, "0")
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def convert_minor(amount_minor: int, rate: Fraction, from_exponent: int, to_exponent: int) -> int:
    """`amount_minor` of one currency in minor units of another at `rate` (units of the target per unit of the
    source), rounded half to even."""
    return round(Fraction(amount_minor) * rate * Fraction(10) ** (to_exponent - from_exponent))


# ---------------------------------------------------------------- a customer's MRR from its subscriptions' events

KIND_ORDER = {"started": 0, "plan_changed": 1, "canceled": 2, "ended": 3}


@dataclass(frozen=True)
class SubscriptionChange:
    """One subscription event as the read model keeps it."""

    subscription_id: str
    effective_at: datetime
    kind: str
    event_id: str
    mrr_after_minor: int


def customer_timeline(changes: Iterable[SubscriptionChange]) -> list[tuple[datetime, int, int]]:
    """(effective_at, MRR, active subscriptions) of one customer in one currency at every instant where either
    changes, from the events of that customer's subscriptions in any order (equal instants: started, plan
    changed, ended, then by id). A cancellation only schedules the end, so it moves nothing."""
    ordered = sorted(
        (c for c in changes if c.kind != "canceled"),
        key=lambda c: (c.effective_at, KIND_ORDER[c.kind], c.subscription_id, c.event_id),
    )
    state: dict[str, tuple[int, bool]] = {}
    out: list[tuple[datetime, int, int]] = []
    last = (0, 0)
    for i, c in enumerate(ordered):
        state[c.subscription_id] = (c.mrr_after_minor, c.kind != "ended")
        if i + 1 < len(ordered) and ordered[i + 1].effective_at == c.effective_at:
            continue  # the instant's other changes first
        now = (sum(m for m, _ in state.values()), sum(a for _, a in state.values()))
        if now != last:
            out.append((c.effective_at, *now))
            last = now
    return out


# ---------------------------------------------------------------- rollups: what one customer adds to the sums

ROLLUP_INTERVALS: tuple[Interval, ...] = ("day", "week", "month")
Timeline = Sequence[tuple[datetime, int, int]]  # (effective_at, MRR, active subscriptions), as customer_timeline


def period_start(day: date, interval: Interval) -> date:
    if interval == "day":
        return day
    if interval == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _state_before(timeline: Timeline, at: datetime) -> int:
    mrr = 0
    for when, value, _ in timeline:
        if when >= at:
            break
        mrr = value
    return mrr


def day_deltas(timeline: Timeline) -> dict[date, tuple[int, int, int]]:
    """Per UTC day, how much the customer changed MRR, paying customers (0/1) and active subscriptions that day:
    the state as of the end of day D is the sum of the deltas of the days up to D."""
    out: dict[date, tuple[int, int, int]] = {}
    previous = (0, 0, 0)
    for when, mrr, active in timeline:
        now = (mrr, int(mrr > 0), active)
        d = when.astimezone(UTC).date()
        old = out.get(d, (0, 0, 0))
        out[d] = (old[0] + now[0] - previous[0], old[1] + now[1] - previous[1], old[2] + now[2] - previous[2])
        previous = now
    return {d: v for d, v in out.items() if v != (0, 0, 0)}


def period_movements(timeline: Timeline) -> dict[tuple[Interval, date, Movement], int]:
    """The customer's movement (signed amount) in every day, ISO week and month in which its MRR changed."""
    out: dict[tuple[Interval, date, Movement], int] = {}
    first_paid = next((when for when, mrr, _ in timeline if mrr > 0), None)
    for interval in ROLLUP_INTERVALS:
        starts = sorted({period_start(when.astimezone(UTC).date(), interval) for when, _, _ in timeline})
        for start in starts:
            a = datetime.combine(start, datetime.min.time(), UTC)
            b = datetime.combine(next_period(start, interval), datetime.min.time(), UTC)
            before, after = _state_before(timeline, a), _state_before(timeline, b)
            kind = classify(before, after, had_mrr_earlier=first_paid is not None and first_paid < a)
            if kind is not None:
                out[(interval, start, kind)] = after - before
    return out


@dataclass
class Rollup:
    """Net changes to the rollup tables, accumulated over customers (new contribution minus old)."""

    days: dict[tuple[str, str, date], list[int]] = field(default_factory=dict)  # (tenant, currency, day)
    moves: dict[tuple[str, str, Interval, date, Movement], list[int]] = field(default_factory=dict)

    def add(self, tenant: str, currency: str, timeline: Timeline, sign: int) -> None:
        for d, (mrr, paying, active) in day_deltas(timeline).items():
            row = self.days.setdefault((tenant, currency, d), [0, 0, 0])
            row[0] += sign * mrr
            row[1] += sign * paying
            row[2] += sign * active
        for (interval, start, kind), amount in period_movements(timeline).items():
            move = self.moves.setdefault((tenant, currency, interval, start, kind), [0, 0])
            move[0] += sign * amount
            move[1] += sign


def periods_from_rollups(
    spans: Sequence[tuple[date, date]],
    base: dict[str, tuple[int, int]],
    deltas: Iterable[tuple[str, date, int, int]],
    moves: Iterable[tuple[str, date, str, int, int]],
) -> list[dict[str, PeriodMovements]]:
    """Movements per period from the rollups: `base` = (MRR, paying customers) per currency at the start of the
    first span; `deltas` = (currency, day, MRR change, paying change) of the days inside the spans; `moves` =
    (currency, period start, movement, amount, customers) of the spans' interval. Equal to `movements()` over
    the same history (a property test), and asserted: start + movements = end."""
    by_day: dict[tuple[str, int], list[int]] = {}
    index = {start: i for i, (start, _) in enumerate(spans)}
    starts = [s for s, _ in spans]
    for currency, day, mrr, paying in deltas:
        i = bisect_left(starts, day + timedelta(days=1)) - 1  # the span whose start is on or before the day
        row = by_day.setdefault((currency, i), [0, 0])
        row[0] += mrr
        row[1] += paying
    moved: dict[tuple[str, int], dict[str, tuple[int, int]]] = {}
    for currency, start, kind, amount, customers in moves:
        moved.setdefault((currency, index[start]), {})[kind] = (amount, customers)
    currencies = sorted(set(base) | {c for c, _ in by_day} | {c for c, _ in moved})
    running = {c: base.get(c, (0, 0)) for c in currencies}
    out: list[dict[str, PeriodMovements]] = []
    for i, (start, end) in enumerate(spans):
        period: dict[str, PeriodMovements] = {}
        for currency in currencies:
            mrr, paying = running[currency]
            change = by_day.get((currency, i), [0, 0])
            after = (mrr + change[0], paying + change[1])
            running[currency] = after
            if not mrr and not after[0]:
                continue
            p = PeriodMovements(
                currency,
                datetime.combine(start, datetime.min.time(), UTC),
                datetime.combine(end, datetime.min.time(), UTC),
                starting_mrr_minor=mrr,
                ending_mrr_minor=after[0],
                starting_customers=paying,
                ending_customers=after[1],
            )
            for kind, (amount, customers) in moved.get((currency, i), {}).items():
                p.amounts[kind] = amount  # type: ignore[index]
                p.customers[kind] = customers  # type: ignore[index]
            p.check()
            period[currency] = p
        out.append(period)
    return out
