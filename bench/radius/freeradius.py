"""FreeRADIUS 3.2 (Debian packages `freeradius`, `freeradius-postgresql`) writing `radacct` in PostgreSQL, in
two setups, configured in a temporary directory and run in the foreground:

- `SQL` (rlm_sql): the usual accounting setup. Each request is answered after its INSERT/UPDATE committed.
  What is Debian's default is kept: the thread pool (start 5, max 32), the sql connection pool sized from it,
  `preacct { acct_unique }` (FreeRADIUS's own policy) and the stock PostgreSQL queries and schema.
- `DETAIL` (detail file + buffered-sql): FreeRADIUS's fastest setup. Each request is appended to a local
  `detail` file (`locking = yes`, never fsynced: an answered record is durable in the page cache only) and
  answered; a second virtual server (`buffered-sql`, Debian's `sites-available/buffered-sql`) reads the file
  back and runs the same rlm_sql queries one request at a time. Tuned as `/work/shared/notes`' anchor run was:
  `recv_buff = 4 MiB` on the listener (no kernel drops), `load_factor = 100` on the reader (Debian's 10 drains
  at ~60 requests/s), and `if (noop) { ok }` after `sql` (an Interim-Update after its Stop updates no row:
  without it the reader retries that record every 30 s and stalls).

Only what a benchmark needs differs from Debian's files: one accounting listener on a loopback port, the
bench's NAS as clients, no authentication sections, and no user switch (it runs as the calling user).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
from packets import Nas

DEBIAN_RADDB = Path("/etc/freeradius/3.0")
SCHEMA = DEBIAN_RADDB / "mods-config/sql/main/postgresql/schema.sql"


async def create_radius_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    parts = urlsplit(admin_url)
    conn = await asyncpg.connect(parts._replace(path=f"/{name}").geturl())
    try:
        await conn.execute(SCHEMA.read_text())
    finally:
        await conn.close()


async def count_radacct(admin_url: str, name: str) -> dict[str, int]:
    parts = urlsplit(admin_url)
    conn = await asyncpg.connect(parts._replace(path=f"/{name}").geturl())
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS sessions, count(acctstoptime) AS stopped, "
            "coalesce(sum(acctinputoctets), 0) AS input_octets FROM radacct"
        )
        assert row is not None
        return {k: int(v) for k, v in row.items()}
    finally:
        await conn.close()


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


SQL = "sql"
DETAIL = "detail"


def detail_files(raddb: Path) -> list[Path]:
    """The detail files not yet read back by buffered-sql (the one being read is renamed `detail.work`)."""
    return sorted((raddb / "radacct").glob("detail*"))


def write_config(raddb: Path, *, port: int, nas: list[Nas], db_url: str, database: str, setup: str = SQL) -> None:
    db = urlsplit(db_url)
    if setup == SQL:
        listen_extra, accounting, servers = "", "sql", ""
    elif setup == DETAIL:
        listen_extra, accounting = "\n\t\trecv_buff = 4194304", "detail"
        servers = """
server buffered-sql {
	listen {
		type = detail
		filename = "${radacctdir}/detail-*"
		load_factor = 100
		poll_interval = 1
		retry_interval = 30
	}
	preacct {
		acct_unique
	}
	accounting {
		sql
		if (noop) {
			ok
		}
	}
}
"""
    else:
        raise ValueError(f"unknown FreeRADIUS setup {setup!r}")
    for sub in ("log", "run", "radacct"):
        (raddb / sub).mkdir(parents=True, exist_ok=True)
    (raddb / "dictionary").write_text("")  # local dictionary (the shared ones come from /usr/share/freeradius)
    (raddb / "clients.conf").write_text(
        "".join(
            f"client {n.identifier} {{\n\tipaddr = {n.source_ip}\n\tsecret = {n.secret.decode()}\n}}\n" for n in nas
        )
    )
    (raddb / "radiusd.conf").write_text(f"""
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = {raddb}/log
raddbdir = {raddb}
radacctdir = {raddb}/radacct
name = freeradius
confdir = {raddb}
modconfdir = {DEBIAN_RADDB}/mods-config
certdir = {DEBIAN_RADDB}/certs
cadir = {DEBIAN_RADDB}/certs
run_dir = {raddb}/run
db_dir = {raddb}
libdir = /usr/lib/freeradius
pidfile = {raddb}/run/freeradius.pid
correct_escapes = true
max_request_time = 30
cleanup_delay = 5
max_requests = 1048576
hostname_lookups = no
log {{
	destination = files
	file = {raddb}/log/radius.log
	syslog_facility = daemon
	stripped_names = no
	auth = no
}}
checkrad = /usr/sbin/checkrad
security {{
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = yes
}}
proxy_requests = no
$INCLUDE clients.conf
thread pool {{
	start_servers = 5
	max_servers = 32
	min_spare_servers = 3
	max_spare_servers = 10
	max_requests_per_server = 0
	auto_limit_acct = no
}}
modules {{
	expr {{
		safe_characters = "@abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_: /"
	}}
	sql {{
		dialect = "postgresql"
		driver = "rlm_sql_${{dialect}}"
		server = "{db.hostname}"
		port = {db.port}
		login = "{db.username}"
		password = "{db.password}"
		radius_db = "{database}"
		acct_table1 = "radacct"
		acct_table2 = "radacct"
		postauth_table = "radpostauth"
		authcheck_table = "radcheck"
		groupcheck_table = "radgroupcheck"
		authreply_table = "radreply"
		groupreply_table = "radgroupreply"
		usergroup_table = "radusergroup"
		delete_stale_sessions = yes
		pool {{
			start = ${{thread[pool].start_servers}}
			min = ${{thread[pool].min_spare_servers}}
			max = ${{thread[pool].max_servers}}
			spare = ${{thread[pool].max_spare_servers}}
			uses = 0
			retry_delay = 30
			lifetime = 0
			idle_timeout = 60
		}}
		read_clients = no
		client_table = "nas"
		group_attribute = "SQL-Group"
		$INCLUDE ${{modconfdir}}/${{.:name}}/main/${{dialect}}/queries.conf
	}}
	always ok {{
		rcode = ok
	}}
	detail {{
		filename = ${{radacctdir}}/detail-bench
		escape_filenames = no
		permissions = 0600
		header = "%t"
		locking = yes
	}}
}}
policy {{
	$INCLUDE {DEBIAN_RADDB}/policy.d/accounting
}}
server default {{
	listen {{
		type = acct
		ipaddr = 127.0.0.1
		port = {port}{listen_extra}
	}}
	preacct {{
		acct_unique
	}}
	accounting {{
		{accounting}
	}}
}}
{servers}""")


class FreeRadius:
    def __init__(self, raddb: Path) -> None:
        self.raddb = raddb
        self.process: subprocess.Popen[bytes] | None = None

    def check(self) -> None:
        done = subprocess.run(["freeradius", "-C", "-d", str(self.raddb)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"freeradius -C failed:\n{done.stdout}{done.stderr}")

    def start(self) -> None:
        log = (self.raddb / "log" / "stdout.log").open("wb")
        self.process = subprocess.Popen(
            ["freeradius", "-f", "-d", str(self.raddb)], stdout=log, stderr=subprocess.STDOUT
        )
        time.sleep(0.5)
        if self.process.poll() is not None:
            raise RuntimeError(f"freeradius exited: see {self.raddb}/log")

    def cpu_seconds(self) -> float:
        return _cpu_of(self.process.pid) if self.process else 0.0

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def run_sync(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]
