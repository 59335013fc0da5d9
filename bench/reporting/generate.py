"""Bench data: a "raw" normalized schema as the seeds queried it (customers, subscribers, invoices, payments,
SLA instances/breaches/credits, radacct), and the reporting read model derived from the same facts.

Everything is generated in PostgreSQL (generate_series, setseed'ed random()) so that ten million sessions take
seconds, not hours. The read model is written straight from the raw facts, with the values the projections
would have produced from the events (the tests prove the projections; this measures the queries).
"""

from __future__ import annotations

from dataclasses import dataclass

TENANT = "bench-isp"
EXPORT_TENANT = "bench-export"
CURRENCY_BY_COUNTRY = "CASE country WHEN 'US' THEN 'USD' WHEN 'GB' THEN 'GBP' WHEN 'CH' THEN 'CHF' ELSE 'EUR' END"


@dataclass(frozen=True)
class Sizes:
    subscribers: int
    invoices_per_customer: int
    sessions: int
    breaches: int
    export_rows: int

    @property
    def invoices(self) -> int:
        return self.subscribers * self.invoices_per_customer


RAW_SCHEMA = """
DROP SCHEMA IF EXISTS raw CASCADE;
CREATE SCHEMA raw;
CREATE TABLE raw.meta (generated_at timestamptz NOT NULL, sizes jsonb NOT NULL);
CREATE TABLE raw.customers (
    tenant_id text, id text, name text, email text, phone text, partner_id text, billing_country text,
    currency text, PRIMARY KEY (tenant_id, id));
CREATE TABLE raw.subscribers (
    tenant_id text, id text, customer_id text, username text, plan_id text, status text,
    created_at timestamptz, activated_at timestamptz, suspended_at timestamptz, PRIMARY KEY (tenant_id, id));
CREATE TABLE raw.invoices (
    tenant_id text, id text, invoice_number text, customer_id text, subscriber_id text, currency text,
    issue_date date, due_date date, total_minor bigint, status text, voided_at timestamptz, fate text,
    PRIMARY KEY (tenant_id, id));
CREATE TABLE raw.payments (
    tenant_id text, id text, invoice_id text, amount_minor bigint, currency text, received_at timestamptz,
    PRIMARY KEY (tenant_id, id));
CREATE TABLE raw.sla_instances (
    tenant_id text, id text, customer_id text, service_id text, service_name text, PRIMARY KEY (tenant_id, id));
CREATE TABLE raw.sla_breaches (
    tenant_id text, id text, instance_id text, breach_type text, severity text, target_value float8,
    actual_value float8, deviation_percent float8, period_start timestamptz, period_end timestamptz,
    detected_at timestamptz, resolved_at timestamptz, resolution text, expected_credit_minor bigint,
    currency text, PRIMARY KEY (tenant_id, id));
CREATE TABLE raw.sla_credits (
    tenant_id text, id text, breach_id text, amount_minor bigint, currency text, issued_at timestamptz,
    PRIMARY KEY (tenant_id, id));
CREATE TABLE raw.radacct (
    radacctid bigint PRIMARY KEY, tenant_id text, acctuniqueid text, acctsessionid text, username text,
    nasid text, nasipaddress text, framedipaddress text, acctstarttime timestamptz, acctupdatetime timestamptz,
    acctstoptime timestamptz, acctsessiontime bigint, acctinputoctets bigint, acctoutputoctets bigint,
    acctterminatecause text);
"""

# The indexes a team querying these tables at request time would have added (foreign keys, status, time).
RAW_INDEXES = """
CREATE INDEX ON raw.subscribers (tenant_id, status);
CREATE INDEX ON raw.subscribers (tenant_id, username);
CREATE INDEX ON raw.invoices (tenant_id, customer_id);
CREATE INDEX ON raw.invoices (tenant_id, status);
CREATE INDEX ON raw.payments (tenant_id, invoice_id);
CREATE INDEX ON raw.sla_breaches (tenant_id, detected_at);
CREATE INDEX ON raw.sla_credits (tenant_id, breach_id);
CREATE INDEX radacct_user_time ON raw.radacct (tenant_id, username, (coalesce(acctstoptime, acctupdatetime)));
CREATE INDEX radacct_time ON raw.radacct (tenant_id, (coalesce(acctstoptime, acctupdatetime)));
CREATE INDEX radacct_start ON raw.radacct (tenant_id, acctstarttime);
"""


def raw_data(s: Sizes, cutoff: str) -> list[str]:
    """INSERTs of the raw facts. `:now` is bound by the caller; `cutoff` is the oldest session start."""
    t = TENANT
    return [
        "SELECT setseed(0.42)",
        f"""INSERT INTO raw.customers
            SELECT '{t}', 'c' || n, 'Customer ' || n, 'c' || n || '@example.net', '+49 30 ' || n,
                   CASE WHEN n % 10 = 0 THEN NULL ELSE 'p' || (n % 40) END, country, {CURRENCY_BY_COUNTRY}
            FROM (SELECT n, (ARRAY['DE','FR','AT','NL','BE','IT','ES','PL','US','GB','CH','SE'])[1 + n % 12] AS country
                  FROM generate_series(1, {s.subscribers}) n) x""",
        f"""INSERT INTO raw.subscribers
            SELECT '{t}', 's' || n, 'c' || n, 'user' || n, 'plan-' || (n % 5),
                   CASE WHEN n % 100 < 92 THEN 'active' WHEN n % 100 < 97 THEN 'suspended'
                        WHEN n % 100 < 99 THEN 'terminated' ELSE 'pending' END,
                   :now - (400 + n % 300) * interval '1 day', :now - (399 + n % 300) * interval '1 day',
                   CASE WHEN n % 100 BETWEEN 92 AND 96
                        THEN :now - (n % 200) * interval '1 day' - (n % 24) * interval '1 hour' END
            FROM generate_series(1, {s.subscribers}) n""",
        # Monthly invoices; the fate decides what happens to each: paid, left open, half paid, voided.
        f"""INSERT INTO raw.invoices
            SELECT '{t}', 'i' || c || '-' || k, 'INV-' || c || '-' || k, 'c' || c, 's' || c, cu.currency,
                   issue, issue + 14, 2000 + (random() * 18000)::int,
                   CASE WHEN fate = 'paid' THEN 'paid' WHEN fate = 'void' THEN 'void' ELSE 'open' END,
                   CASE WHEN fate = 'void' THEN issue + 3 + interval '10 hours' END, fate
            FROM (
                SELECT c, k,
                       (date_trunc('month', :now) - ({s.invoices_per_customer - 1} - k) * interval '1 month')::date
                           AS issue,
                       CASE WHEN r < 0.005 THEN 'void'
                            WHEN c % 100 BETWEEN 92 AND 96 AND k >= {s.invoices_per_customer} - 1 - c % 6 THEN 'open'
                            WHEN k = {s.invoices_per_customer - 1} AND r < 0.7 THEN 'open'
                            WHEN k = {s.invoices_per_customer - 2} AND r < 0.1 THEN 'open'
                            WHEN r < 0.015 THEN 'open'
                            WHEN r < 0.035 THEN 'partial'
                            ELSE 'paid' END AS fate
                FROM (SELECT n / {s.invoices_per_customer} + 1 AS c, n % {s.invoices_per_customer} AS k, random() AS r
                      FROM generate_series(0, {s.invoices - 1}) n) g
            ) x JOIN raw.customers cu ON cu.tenant_id = '{t}' AND cu.id = 'c' || x.c""",
        """INSERT INTO raw.payments
            SELECT tenant_id, 'pay-' || id, id, CASE WHEN fate = 'partial' THEN total_minor / 2 ELSE total_minor END,
                   currency, LEAST(due_date - (random() * 10)::int + interval '13 hours', :now - interval '1 minute')
            FROM raw.invoices WHERE fate IN ('paid', 'partial')""",
        f"""INSERT INTO raw.sla_instances
            SELECT '{t}', 'inst-' || n, 'c' || n, 's' || n, 'Business Internet ' || (100 * (1 + n % 10)) || 'Mbps'
            FROM generate_series(1, {max(s.breaches // 4, 1)}) n""",
        f"""INSERT INTO raw.sla_breaches
            SELECT '{t}', 'b' || n, 'inst-' || (1 + n % {max(s.breaches // 4, 1)}), 'availability',
                   (ARRAY['minor','major','critical'])[1 + n % 3], 99.9, 99.9 - d, round((d / 99.9 * 100)::numeric, 2),
                   detected - interval '30 days', detected, detected,
                   CASE WHEN n % 5 <> 0 THEN detected + interval '6 hours' END,
                   CASE WHEN n % 5 <> 0 THEN 'repaired' END, (d * 10000)::bigint, cu.currency
            FROM (SELECT n, :now - random() * interval '365 days' AS detected,
                         round((random() * 3)::numeric, 2)::float8 AS d
                  FROM generate_series(1, {s.breaches}) n) x
            JOIN raw.customers cu ON cu.tenant_id = '{t}' AND cu.id = 'c' || (1 + n % {max(s.breaches // 4, 1)})""",
        """INSERT INTO raw.sla_credits
            SELECT b.tenant_id, 'cn-' || b.id, b.id, b.expected_credit_minor, b.currency,
                   b.detected_at + interval '1 day'
            FROM raw.sla_breaches b WHERE b.expected_credit_minor > 0 AND right(b.id, 1) IN ('0','1','2','3','4','5')
              AND b.detected_at + interval '1 day' < :now""",
        # Sessions evenly over the retention period; those that would still be running now stay open.
        f"""INSERT INTO raw.radacct
            SELECT n, '{t}', 'sess-' || n, 'acct-' || n, 'user' || u, 'nas-' || (u % 50), '10.0.' || (u % 50) || '.1',
                   '100.64.' || (u % 250) || '.' || (n % 250), start,
                   LEAST(start + dur, :now),
                   CASE WHEN start + dur < :now THEN start + dur END,
                   extract(epoch FROM LEAST(start + dur, :now) - start)::bigint,
                   (random() * 2e9)::bigint, (random() * 8e9)::bigint,
                   CASE WHEN start + dur < :now THEN 'User-Request' END
            FROM (SELECT n, 1 + n % {s.subscribers} AS u,
                         timestamptz '{cutoff}'
                             + (n::float8 / {s.sessions}) * (:now - timestamptz '{cutoff}' - interval '2 hours')
                             + random() * interval '1 hour' AS start,
                         random() * interval '8 hours' AS dur
                  FROM generate_series(1, {s.sessions}) n) x""",
    ]


def read_model_data(s: Sizes) -> list[str]:
    """The read model, from the raw facts, as the projections would have written it."""
    t = TENANT
    return [
        """INSERT INTO readmodel.customers
            SELECT tenant_id, id, name, email, phone, partner_id, NULL, billing_country, '2025-01-01'
            FROM raw.customers""",
        """INSERT INTO readmodel.subscribers
            SELECT tenant_id, id, customer_id, username, plan_id, status, created_at, activated_at, suspended_at,
                   CASE WHEN suspended_at IS NOT NULL THEN 'non-payment' END, NULL,
                   coalesce(suspended_at, activated_at)
            FROM raw.subscribers""",
        """INSERT INTO readmodel.invoices
            SELECT i.tenant_id, i.id, i.invoice_number, i.customer_id, i.subscriber_id, NULL, NULL, c.partner_id,
                   c.billing_country, i.currency, i.issue_date, i.due_date, i.total_minor,
                   CASE WHEN i.status = 'void' THEN 0 ELSE i.total_minor - coalesce(p.paid, 0) END,
                   CASE i.status WHEN 'void' THEN 'voided' WHEN 'paid' THEN 'paid' ELSE 'open' END,
                   i.issue_date + interval '6 hours',
                   -- billing declares an unpaid invoice overdue the day after its due date
                   CASE WHEN i.status = 'open' AND i.total_minor > coalesce(p.paid, 0) AND i.due_date < :now::date
                        THEN LEAST(i.due_date + interval '1 day 6 hours', :now - interval '1 minute') END,
                   CASE WHEN i.status = 'paid' THEN p.last END, i.voided_at
            FROM raw.invoices i
            JOIN raw.customers c ON c.tenant_id = i.tenant_id AND c.id = i.customer_id
            LEFT JOIN (SELECT tenant_id, invoice_id, sum(amount_minor) AS paid, max(received_at) AS last
                       FROM raw.payments GROUP BY 1, 2) p ON p.tenant_id = i.tenant_id AND p.invoice_id = i.id""",
        # Per customer and currency, its invoices owing money (domain/customer_balances.py); the bench's currencies
        # all have two decimals.
        """INSERT INTO readmodel.customer_balances
            SELECT tenant_id, customer_id, currency, 2, count(*), count(*) FILTER (WHERE overdue_at IS NOT NULL),
                   sum(balance_minor)
            FROM readmodel.invoices WHERE balance_minor > 0 GROUP BY 1, 2, 3""",
        """INSERT INTO readmodel.invoice_movements
            SELECT tenant_id, md5('issued:' || id)::uuid, id, 'issued', issue_date::timestamp AT TIME ZONE 'UTC',
                   total_minor
            FROM raw.invoices
            UNION ALL
            SELECT tenant_id, md5('payment:' || id)::uuid, invoice_id, 'payment', received_at, -amount_minor
            FROM raw.payments
            UNION ALL
            SELECT tenant_id, md5('voided:' || id)::uuid, id, 'voided', voided_at, -total_minor
            FROM raw.invoices WHERE status = 'void'""",
        """INSERT INTO readmodel.aging_balances
            SELECT tenant_id, coalesce(partner_id, ''), coalesce(billing_country, ''), currency, due_date, count(*),
                   sum(balance_minor)
            FROM readmodel.invoices WHERE balance_minor > 0 GROUP BY 1, 2, 3, 4, 5""",
        # Each invoice's change of positive balance and of being owed, per day (domain/aging.py `contribution`).
        """INSERT INTO readmodel.aging_changes
            WITH daily AS (
                SELECT tenant_id, invoice_id, (effective_at AT TIME ZONE 'UTC')::date AS d, sum(delta_minor) AS delta
                FROM readmodel.invoice_movements GROUP BY 1, 2, 3
            ), running AS (
                SELECT *, sum(delta) OVER (PARTITION BY tenant_id, invoice_id ORDER BY d) AS bal FROM daily
            ), steps AS (
                SELECT *, greatest(bal, 0) - coalesce(lag(greatest(bal, 0)) OVER w, 0) AS dpos,
                       (bal > 0)::int - coalesce(lag((bal > 0)::int) OVER w, 0) AS dcount
                FROM running WINDOW w AS (PARTITION BY tenant_id, invoice_id ORDER BY d)
            )
            SELECT s.tenant_id, s.d, coalesce(i.partner_id, ''), coalesce(i.billing_country, ''), i.currency,
                   i.due_date, sum(s.dcount), sum(s.dpos)
            FROM steps s JOIN readmodel.invoices i ON i.tenant_id = s.tenant_id AND i.invoice_id = s.invoice_id
            GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(s.dcount) <> 0 OR sum(s.dpos) <> 0""",
        """INSERT INTO readmodel.sla_breaches
            SELECT b.tenant_id, b.id, b.instance_id, i.customer_id, 'sla-gold', i.service_id, i.service_name,
                   b.breach_type, b.severity, b.target_value, b.actual_value, b.deviation_percent, b.period_start,
                   b.period_end, b.detected_at, b.expected_credit_minor, b.currency,
                   CASE b.currency WHEN 'JPY' THEN 0 ELSE 2 END, b.resolved_at, b.resolution,
                   coalesce((SELECT sum(amount_minor) FROM raw.sla_credits c
                             WHERE c.tenant_id = b.tenant_id AND c.breach_id = b.id), 0)
            FROM raw.sla_breaches b JOIN raw.sla_instances i ON i.tenant_id = b.tenant_id AND i.id = b.instance_id""",
        """INSERT INTO readmodel.sla_totals
            SELECT tenant_id, currency, resolved_at IS NOT NULL, count(*), sum(credit_issued_minor)
            FROM readmodel.sla_breaches WHERE detected_at IS NOT NULL GROUP BY 1, 2, 3""",
        """INSERT INTO readmodel.sla_credits
            SELECT c.tenant_id, c.id, c.breach_id, b.instance_id, c.amount_minor, c.currency, c.issued_at
            FROM raw.sla_credits c JOIN raw.sla_breaches b ON b.tenant_id = c.tenant_id AND b.id = c.breach_id""",
        """INSERT INTO readmodel.sessions
            SELECT tenant_id, acctuniqueid, acctstarttime, username, acctsessionid, nasid, nasipaddress,
                   framedipaddress, NULL, NULL, NULL, coalesce(acctstoptime, acctupdatetime),
                   coalesce(acctstoptime, acctupdatetime), CASE WHEN acctstoptime IS NOT NULL THEN 'stop' END,
                   acctstoptime, acctterminatecause, acctsessiontime, acctinputoctets, acctoutputoctets
            FROM raw.radacct""",
        """INSERT INTO readmodel.session_hours
            SELECT tenant_id, date_trunc('hour', time, 'UTC'), count(*), sum(input_octets), sum(output_octets),
                   sum(session_time_seconds)
            FROM readmodel.sessions GROUP BY 1, 2""",
        """INSERT INTO readmodel.session_days
            SELECT tenant_id, (hour AT TIME ZONE 'UTC')::date, sum(sessions), sum(input_octets), sum(output_octets),
                   sum(session_time_seconds)
            FROM readmodel.session_hours GROUP BY 1, 2""",
        # A tenant of its own for the million-row export.
        f"""INSERT INTO readmodel.subscribers
            SELECT '{EXPORT_TENANT}', 'x' || lpad(n::text, 8, '0'), 'xc' || n, 'xuser' || n, 'plan-1', 'active',
                   :now - interval '100 days', :now - interval '99 days', NULL, NULL, NULL, :now - interval '99 days'
            FROM generate_series(1, {s.export_rows}) n""",
        f"SELECT '{t}'",
    ]
