#!/usr/bin/env bash
# Installs what a fresh machine needs to run and test ISP BSS: Debian packages, uv, the Python workspace.
# Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: RADIUS peers for tests (radclient), the gateway, FreeRADIUS for the benchmark, a JDK for Kafka,
# Chromium for the operator console's browser tests (tests/e2e/test_console.py drives /usr/bin/chromium).
# Pango for WeasyPrint (BI PDF outputs); poppler-utils (pdftotext) for the tests that read those PDFs back.
# openssh-server: the BI SFTP delivery tests start their own sshd (/usr/sbin/sshd) on a loopback port.
APT_PACKAGES=(curl freeradius-utils freeradius-common nginx-light freeradius freeradius-postgresql default-jre-headless maven postgresql-15 chromium libpango-1.0-0 libpangoft2-1.0-0 poppler-utils openssh-server)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The freeradius package starts a system service; the project runs its own instances only.
  $SUDO systemctl disable --now freeradius >/dev/null 2>&1 || true
  $SUDO service freeradius stop >/dev/null 2>&1 || true
  $SUDO service nginx stop >/dev/null 2>&1 || true
  # openssh-server starts a system sshd; the tests run their own, as the current user.
  $SUDO systemctl disable --now ssh >/dev/null 2>&1 || true
  $SUDO service ssh stop >/dev/null 2>&1 || true
fi

if ! command -v uv >/dev/null 2>&1 && ! python3 -m uv --version >/dev/null 2>&1; then
  echo "installing uv"
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
fi
# radius-ingest's native extension (services/radius-ingest/native) is built by maturin with cargo during
# `uv sync`: rustup installs cargo into ~/.cargo/bin, which non-login shells often lack on PATH.
if ! command -v cargo >/dev/null 2>&1 && [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]; then
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || { echo "cargo (Rust >= 1.77) is needed to build radius-ingest's native extension" >&2; exit 1; }
export UV_PYTHON_DOWNLOADS=never
UV=uv; command -v uv >/dev/null 2>&1 || UV="python3 -m uv"
$UV sync --frozen --quiet --python python3.11

# tests/k8s: kustomize and the CRDs of Strimzi, CloudNativePG and KEDA, pinned, into .tools/k8s (Go, a JDK, Maven).
scripts/install-k8s-tools.sh

# The operator console (console/): npm packages from the committed lock, then a build into console/dist, which
# the gateway serves at /console/. Node.js and npm come with the machine (Debian's nodejs is too old for Vite).
if ! command -v npm >/dev/null 2>&1; then
  echo "npm (Node.js >= 20.19) is needed to build the operator console (console/)" >&2; exit 1
fi
console/build.sh
