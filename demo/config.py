"""Where the loader finds the system, how big the demo is, and what a previous run left behind."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bss_runtime.settings import ServiceSettings

BASE_TENANT = "demo-isp"


@dataclass(frozen=True)
class Config:
    gateway_url: str
    radius_host: str
    radius_port: int
    jwt_secret: str
    state_dir: Path
    customers: int  # about 1.1 subscribers each
    seed: int
    concurrency: int
    jwt_issuer: str = "ispbss"  # JWT_ISSUER: the services require it in every token (docs/security.md)
    jwt_audience: str = "ispbss"  # JWT_AUDIENCE

    @classmethod
    def from_env(cls) -> Config:
        # the same directory deploy/local/services.sh keeps its state in
        state_dir = Path(os.environ.get("BSS_STATE_DIR", "/var/tmp/ispbss")) / "services"  # noqa: S108
        port_file = state_dir / "radius-port"
        radius_port = os.environ.get("RADIUS_PORT") or (port_file.read_text().strip() if port_file.exists() else "1813")
        gateway_port = os.environ.get("GATEWAY_PORT", "8080")
        settings = ServiceSettings()
        return cls(
            gateway_url=os.environ.get("GATEWAY_URL", f"http://127.0.0.1:{gateway_port}"),
            radius_host=os.environ.get("RADIUS_SERVER", "127.0.0.1"),
            radius_port=int(radius_port),
            jwt_secret=settings.jwt_secret,  # JWT_SECRET, or the services' default
            state_dir=state_dir,
            customers=int(os.environ.get("DEMO_CUSTOMERS", "1800")),
            seed=int(os.environ.get("DEMO_SEED", "20261123")),
            concurrency=int(os.environ.get("DEMO_CONCURRENCY", "20")),
            jwt_issuer=settings.jwt_issuer,
            jwt_audience=settings.jwt_audience,
        )

    @property
    def state_file(self) -> Path:
        return self.state_dir / "demo-state.json"

    @property
    def banner_file(self) -> Path:
        return self.state_dir / "demo-banner.txt"


@dataclass
class State:
    """What the last load did: its tenant, whether it finished, and what it loaded."""

    generation: int = 0  # 0: nothing loaded yet; each new load takes a new tenant
    complete: bool = False
    summary: dict[str, object] = field(default_factory=dict)

    @property
    def tenant_id(self) -> str:
        return BASE_TENANT if self.generation <= 1 else f"{BASE_TENANT}-{self.generation}"

    @classmethod
    def read(cls, path: Path) -> State:
        if not path.exists():
            return cls()
        data = json.loads(path.read_text())
        return cls(int(data["generation"]), bool(data["complete"]), dict(data.get("summary", {})))

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self) | {"tenant_id": self.tenant_id}, indent=2) + "\n")
