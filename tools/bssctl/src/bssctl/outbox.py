"""`bssctl outbox`: each service's outbox backlog (rows not yet published) and its oldest unsent row.

The database of service S is named by `<S>_DATABASE_URL` (S upper-cased, `-` as `_`), as in
`deploy/local/env.sh`; a service whose variable is unset is shown as not configured. The outbox table is found in
whichever schema holds it (`WHERE`: reporting keeps its tables in `readmodel`).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bss_contracts.topics import Service

QUERY = """
select count(*) as backlog, min(created_at) as oldest, max(attempts) as attempts,
       (select last_error from {outbox} where published_at is null and last_error is not null
        order by id desc limit 1) as last_error
from {outbox} where published_at is null
"""
# Where the outbox table is: most services keep it in `public`; reporting keeps every table in its own schema
# (`readmodel`, with twins `readmodel_rebuild` / `readmodel_retired` while it rebuilds). The one on the search path
# wins, else the shortest schema name (the live one, not a twin).
WHERE = """
select n.nspname from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relname = 'outbox' and c.relkind in ('r', 'p')
order by n.nspname = any(current_schemas(false)) desc, length(n.nspname), n.nspname
limit 1
"""


def url_variable(service: Service) -> str:
    return f"{service.value.upper().replace('-', '_')}_DATABASE_URL"


def _plain(url: str) -> str:
    """asyncpg wants postgresql://; the services' URLs are SQLAlchemy's postgresql+asyncpg://."""
    return urlunsplit(urlsplit(url)._replace(scheme="postgresql"))


async def backlog(service: Service) -> dict[str, Any]:
    variable = url_variable(service)
    row: dict[str, Any] = {"service": service.value, "database": variable}
    url = os.environ.get(variable)
    if not url:
        return row | {"configured": False}
    conn = await asyncpg.connect(_plain(url), timeout=10)
    try:
        schema = await conn.fetchval(WHERE)
        if schema is None:
            return row | {"configured": True, "error": "no outbox table in this database"}
        outbox = f'"{schema}".outbox'  # a name from the catalog, quoted
        found = await conn.fetchrow(QUERY.format(outbox=outbox))
    finally:
        await conn.close()
    assert found is not None  # an aggregate always returns a row
    oldest: datetime | None = found["oldest"]
    return row | {
        "configured": True,
        "backlog": found["backlog"],
        "oldest_unsent": oldest.isoformat() if oldest else None,
        "oldest_age_s": round((datetime.now(UTC) - oldest).total_seconds(), 1) if oldest else None,
        "max_attempts": found["attempts"],
        "last_error": found["last_error"],
    }
