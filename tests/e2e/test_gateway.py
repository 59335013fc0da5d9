"""The gateway: the real nginx with deploy/gateway/nginx.local.conf and routes.conf sends every public path to
the service that owns it. The services are stand-ins that answer with their name and the path they got."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "customers": 8101,
    "billing": 8102,
    "dunning": 8103,
    "reporting": 8104,
    "radius_ingest": 8105,
    "support": 8106,
    "ops": 8107,
}
DOCS_PAGE = "<script>const ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui' })</script>"


def _stand_in(name: str, status: int = 200) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            if self.path == "/docs":
                payload, kind = DOCS_PAGE.encode(), "text/html"
            elif self.path == "/openapi.json":
                payload, kind = b'{"openapi":"3.1.0","info":{"title":"' + name.encode() + b'"}}', "application/json"
            else:
                answer = {"service": name, "method": self.command, "path": self.path, "body": body,
                          "authorization": self.headers.get("Authorization")}  # fmt: skip
                payload, kind = json.dumps(answer).encode(), "application/json"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_DELETE = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _render(
    state: Path, port: int, backends: dict[str, int | list[int]], *, rate: str, burst: int, retry_after: int
) -> Path:
    """deploy/gateway/nginx.local.conf as deploy/local/services.sh renders it, upstreams at `backends` (a list:
    replicas of one service)."""
    conf = (ROOT / "deploy/gateway/nginx.local.conf").read_text()
    values = {"@GATEWAY_PORT@": str(port), "@STATE@": str(state), "@GATEWAY_RATE_LIMIT@": rate,
              "@GATEWAY_RATE_BURST@": str(burst), "@GATEWAY_RETRY_AFTER@": str(retry_after),
              "@CONSOLE_DIR@": str(ROOT / "console/dist")}  # fmt: skip
    for name, default_port in SERVICES.items():  # the same file, pointed at the stand-ins
        ports = backends[name] if isinstance(backends[name], list) else [backends[name]]
        servers = "".join(f"server 127.0.0.1:{p} max_fails=1 fail_timeout=2s; " for p in ports)  # as services.sh
        values[f"@SERVERS_{default_port - 8100}@"] = servers
    for placeholder, value in values.items():
        conf = conf.replace(placeholder, value)
    assert "@" not in conf.replace("@rate_limited", ""), "a placeholder services.sh renders is not rendered here"
    (state / "nginx.conf").write_text(conf)
    shutil.copy(ROOT / "deploy/gateway/routes.conf", state / "routes.conf")
    (state / "console-config.json").write_text('{"oidc": null}')  # services.sh writes it (no JWT_JWKS_URL)
    state.chmod(0o755)  # nginx's workers (another user when the tests run as root) read it, as in $STATE
    (state / "nginx-tmp").mkdir()
    return state / "nginx.conf"


@contextmanager
def _nginx(
    state: Path, backends: dict[str, int | list[int]], *, rate: str, burst: int, retry_after: int = 1
) -> Iterator[str]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = _free_port()
    conf = _render(state, port, backends, rate=rate, burst=burst, retry_after=retry_after)
    errors = state / "nginx-error.log"
    subprocess.run([nginx, "-e", str(errors), "-c", str(conf)], check=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)
        yield url
    finally:
        subprocess.run([nginx, "-e", str(errors), "-c", str(conf), "-s", "stop"], check=False)


@pytest.fixture(scope="module")
def stand_ins() -> Iterator[dict[str, int]]:
    servers = {name: _stand_in(name) for name in SERVICES}
    yield {name: server.server_address[1] for name, server in servers.items()}
    for server in servers.values():
        server.shutdown()


@pytest.fixture(scope="module")
def gateway(stand_ins: dict[str, int]) -> Iterator[str]:
    """The gateway as `make up` starts it (its default limits: 50r/s, burst 100)."""
    # Under /var/tmp like $STATE, not pytest's 0700 temporary directory: nginx's workers (another user when the
    # tests run as root) read /console/config.json from it.
    state = Path(tempfile.mkdtemp(prefix="ispbss-gateway-", dir="/var/tmp"))
    try:
        with _nginx(state, stand_ins, rate="50r/s", burst=100) as url:
            yield url
    finally:
        shutil.rmtree(state, ignore_errors=True)


@pytest.mark.parametrize(
    ("path", "service", "upstream_path"),
    [
        ("/customers", "customers", "/customers"),
        ("/customers?limit=5&partner_id=p1", "customers", "/customers?limit=5&partner_id=p1"),
        ("/customers/c-1/subscribers", "customers", "/customers/c-1/subscribers"),
        ("/partners", "customers", "/partners"),
        ("/partners/p-1", "customers", "/partners/p-1"),
        ("/subscribers?status=suspended", "customers", "/subscribers?status=suspended"),
        ("/subscribers/s-1/history", "customers", "/subscribers/s-1/history"),
        ("/dev/token", "customers", "/dev/token"),
        ("/support/tickets?status=open", "support", "/support/tickets?status=open"),
        ("/support/sla/calendar", "support", "/support/sla/calendar"),
        ("/billing/plans", "billing", "/billing/plans"),
        ("/billing/invoices?status=open", "billing", "/billing/invoices?status=open"),
        ("/billing/customers/c-1", "billing", "/billing/customers/c-1"),
        ("/billing/sla/breaches", "billing", "/billing/sla/breaches"),
        ("/billing/reports/blocked-customers", "reporting", "/billing/reports/blocked-customers"),
        ("/billing/reports/aging/by-partner", "reporting", "/billing/reports/aging/by-partner"),
        ("/billing/reports/services/export?format=csv", "reporting", "/billing/reports/services/export?format=csv"),
        ("/business-intelligence/report-templates", "reporting", "/business-intelligence/report-templates"),
        (
            "/business-intelligence/report-executions/x/outputs/csv",
            "reporting",
            "/business-intelligence/report-executions/x/outputs/csv",
        ),
        ("/analytics/revenue/mrr?as_of=2026-11-30", "reporting", "/analytics/revenue/mrr?as_of=2026-11-30"),
        ("/analytics/network/online", "reporting", "/analytics/network/online"),
        (
            "/analytics/support/tickets/t-1/sessions?days=7",
            "reporting",
            "/analytics/support/tickets/t-1/sessions?days=7",
        ),
        ("/alerts?state=firing", "reporting", "/alerts?state=firing"),
        ("/alerts/rules", "reporting", "/alerts/rules"),
        ("/dunning/stats", "dunning", "/dunning/stats"),
        ("/dunning/executions/e-1", "dunning", "/dunning/executions/e-1"),
        ("/radius/nas-clients", "radius_ingest", "/nas-clients"),
        ("/radius/nas-clients/bng-1", "radius_ingest", "/nas-clients/bng-1"),
        ("/radius/sessions/open?nas_id=bng-1", "radius_ingest", "/sessions/open?nas_id=bng-1"),
        ("/ops/lag?service=reporting", "ops", "/ops/lag?service=reporting"),
        ("/ops/dead-letters/bss.billing.sla", "ops", "/ops/dead-letters/bss.billing.sla"),
    ],
)
def test_each_public_path_reaches_its_service(gateway: str, path: str, service: str, upstream_path: str) -> None:
    response = httpx.get(f"{gateway}{path}", headers={"Authorization": "Bearer t0ken"})
    assert response.status_code == 200
    assert response.json() == {
        "service": service, "method": "GET", "path": upstream_path, "body": "", "authorization": "Bearer t0ken",
    }  # fmt: skip


def test_writes_pass_through_with_their_body(gateway: str) -> None:
    response = httpx.post(f"{gateway}/billing/payments", json={"amount_minor": 1250})
    assert response.json()["service"] == "billing"
    assert response.json()["method"] == "POST"
    assert json.loads(response.json()["body"]) == {"amount_minor": 1250}
    response = httpx.patch(f"{gateway}/radius/nas-clients/bng-1", json={"secret": "s"})
    assert (response.json()["service"], response.json()["path"]) == ("radius_ingest", "/nas-clients/bng-1")


@pytest.mark.parametrize(
    "path",
    ["/customersx", "/partnership", "/nas-clients", "/sessions/open", "/reports", "/metrics", "/readyz",
     "/dev/other", "/dev/token/x"],
)  # fmt: skip
def test_paths_no_service_publishes_are_not_found(gateway: str, path: str) -> None:
    assert httpx.get(f"{gateway}{path}").status_code == 404


INTERNALS = ("healthz", "readyz", "metrics")
PUBLIC_PREFIXES = ("/customers", "/partners", "/subscribers", "/billing", "/billing/reports",
                   "/business-intelligence", "/analytics", "/alerts", "/dunning", "/radius", "/ops")  # fmt: skip


@pytest.mark.parametrize("prefix", PUBLIC_PREFIXES)
def test_no_service_internals_are_reachable(gateway: str, prefix: str) -> None:
    """Under every public prefix (so for all five services), in every spelling that nginx normalizes to it."""
    for internal in INTERNALS:
        encoded = "".join(f"%{ord(c):02X}" for c in internal)
        for path in (f"{prefix}/{internal}", f"{prefix}/{internal}/", f"{prefix}/{internal}?format=json",
                     f"{prefix}/x/../{internal}", f"{prefix}//{internal}", f"{prefix}/{encoded}",
                     f"{prefix}/x/%2E%2E/{internal}", f"{prefix}/deeper/{internal}"):  # fmt: skip
            answer = httpx.get(f"{gateway}{path}")
            assert answer.status_code == 404, (path, answer.text)
            assert "service" not in answer.text, (path, answer.text)  # nginx answered; no stand-in saw it
    assert httpx.get(f"{gateway}/healthz").status_code == 200  # the gateway's own


def _client(source: str) -> httpx.Client:
    """A client whose connections come from `source` (any 127.x.y.z is this machine's loopback)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=5)


def test_each_client_is_limited_to_its_rate_and_burst(tmp_path: Path, stand_ins: dict[str, int]) -> None:
    """A gateway with 1 request a minute and a burst of 4 per client: of 12 quick requests, exactly 5 (1 + 4) are
    served, the other 7 answer 429 with a JSON body and Retry-After; a second client is not affected by the first
    and gets its own 5. At one request a minute, nothing drains during the test however slow the stand-ins are,
    so the counts are exact."""
    limited = _nginx(tmp_path, stand_ins, rate="1r/m", burst=4, retry_after=60)
    with limited as url, _client("127.0.0.2") as first, _client("127.0.0.3") as second:
        answers = [first.get(f"{url}/billing/plans") for _ in range(12)]
        assert [a.status_code for a in answers] == [200] * 5 + [429] * 7
        assert answers[0].json()["service"] == "billing"
        refused = answers[-1]
        assert refused.headers["content-type"] == "application/json"
        assert refused.headers["retry-after"] == "60"
        assert refused.json()["detail"][0]["type"] == "rate_limited"

        paths = ["/customers", "/dunning/stats", "/radius/nas-clients", "/billing/reports/aging", "/partners", "/x"]
        assert [second.get(f"{url}{p}").status_code for p in paths] == [200] * 5 + [429]  # every path counts
        assert first.get(f"{url}/customers").status_code == 429  # the first is still limited, whatever the path
        assert httpx.get(f"{url}/healthz").status_code == 200  # the gateway's own (a `return`) is not limited


def test_the_console_is_served_at_console(gateway: str) -> None:
    """console/dist (built by console/build.sh in `make install`) at /console/, its module scripts as JavaScript."""
    assert httpx.get(f"{gateway}/console").headers["location"].endswith("/console/")
    page = httpx.get(f"{gateway}/console/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text == (ROOT / "console/dist/index.html").read_text()
    scripts = re.findall(r'src="(/console/assets/[^"]+\.js)"', page.text)
    assert scripts
    for script in scripts:
        answer = httpx.get(f"{gateway}{script}")
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/javascript"
    assert httpx.get(f"{gateway}/console/assets/missing.js").status_code == 404
    config = httpx.get(f"{gateway}/console/config.json")  # the console's settings (its OIDC sign-in)
    assert config.json() == {"oidc": None} and config.headers["cache-control"] == "no-store"


def test_a_request_goes_to_another_replica_when_one_is_down(tmp_path: Path, stand_ins: dict[str, int]) -> None:
    """Customers with three replicas (REPLICAS=3): one down (its port refuses connections), one answering 503 (its
    database is down), one well. Every request reaches the well one, except a POST the 503 replica got: nginx never
    resends a write a replica may have applied, so the client sees its 503 and decides."""
    down = _free_port()
    unwell = _stand_in("customers-unwell", status=503)
    backends: dict[str, int | list[int]] = {
        **stand_ins,
        "customers": [down, unwell.server_address[1], stand_ins["customers"]],
    }
    try:
        with _nginx(tmp_path, backends, rate="1000r/s", burst=1000) as url:
            reads = [httpx.get(f"{url}/customers/c-{i}") for i in range(12)]
            assert [(r.status_code, r.json()["service"]) for r in reads] == [(200, "customers")] * 12
            writes = [httpx.post(f"{url}/customers", json={"n": i}) for i in range(12)]
            served = [(w.status_code, w.json()["service"]) for w in writes]
            assert set(served) <= {(200, "customers"), (503, "customers-unwell")}, served
            assert (200, "customers") in served  # the down replica's writes were resent to another
    finally:
        unwell.shutdown()
