"""The gateway: the real nginx with deploy/gateway/nginx.local.conf and routes.conf sends every public path to
the service that owns it. The services are stand-ins that answer with their name and the path they got."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"customers": 8101, "billing": 8102, "dunning": 8103, "reporting": 8104, "radius_ingest": 8105}
DOCS_PAGE = "<script>const ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui' })</script>"


def _stand_in(name: str) -> ThreadingHTTPServer:
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
            self.send_response(200)
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


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    state = tmp_path_factory.mktemp("gateway")
    servers = {name: _stand_in(name) for name in SERVICES}
    port = _free_port()
    conf = (ROOT / "deploy/gateway/nginx.local.conf").read_text()
    conf = conf.replace("@GATEWAY_PORT@", str(port)).replace("@STATE@", str(state))
    for name, default_port in SERVICES.items():  # the same file, pointed at the stand-ins
        conf = conf.replace(f"@SERVICE_PORT_{default_port - 8100}@", str(servers[name].server_address[1]))
    (state / "nginx.conf").write_text(conf)
    shutil.copy(ROOT / "deploy/gateway/routes.conf", state / "routes.conf")
    (state / "nginx-tmp").mkdir()
    errors = state / "nginx-error.log"
    subprocess.run([nginx, "-e", str(errors), "-c", str(state / "nginx.conf")], check=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)
        yield url
    finally:
        subprocess.run([nginx, "-e", str(errors), "-c", str(state / "nginx.conf"), "-s", "stop"], check=False)
        for server in servers.values():
            server.shutdown()


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
        ("/dunning/stats", "dunning", "/dunning/stats"),
        ("/dunning/executions/e-1", "dunning", "/dunning/executions/e-1"),
        ("/radius/nas-clients", "radius_ingest", "/nas-clients"),
        ("/radius/nas-clients/bng-1", "radius_ingest", "/nas-clients/bng-1"),
        ("/radius/sessions/open?nas_id=bng-1", "radius_ingest", "/sessions/open?nas_id=bng-1"),
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
    ["/customersx", "/partnership", "/nas-clients", "/sessions/open", "/reports", "/radius/metrics", "/radius/readyz",
     "/radius/healthz", "/metrics", "/readyz"],
)  # fmt: skip
def test_paths_no_service_publishes_are_not_found(gateway: str, path: str) -> None:
    assert httpx.get(f"{gateway}{path}").status_code == 404


@pytest.mark.parametrize(
    ("service", "page"),
    [("customers", "customers"), ("billing", "billing"), ("dunning", "dunning"), ("reporting", "reporting"),
     ("radius_ingest", "radius-ingest")],
)  # fmt: skip
def test_api_pages_load_their_service_document(gateway: str, service: str, page: str) -> None:
    html = httpx.get(f"{gateway}/docs/{page}").text
    assert f"url: '/docs/{page}/openapi.json'" in html
    document = httpx.get(f"{gateway}/docs/{page}/openapi.json").json()
    assert document["info"]["title"] == service


def test_radius_ingest_document_names_its_gateway_prefix(gateway: str) -> None:
    document = httpx.get(f"{gateway}/docs/radius-ingest/openapi.json").json()
    assert document["servers"] == [{"url": "/radius"}]
    assert "servers" not in httpx.get(f"{gateway}/docs/billing/openapi.json").json()


def test_index_of_api_pages(gateway: str) -> None:
    html = httpx.get(f"{gateway}/docs").text
    for page in ("customers", "billing", "dunning", "reporting", "radius-ingest"):
        assert f'href="/docs/{page}"' in html
