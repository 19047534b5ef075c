#!/usr/bin/env bash
# Sets up a Debian 12 machine for wms and builds it. Idempotent: safe to rerun.
#   scripts/setup.sh            install packages (sudo when not root), configure, build
#   WMS_SETUP_NO_INSTALL=1 ...  skip the package step (already installed)
#   WMS_BUILD_DIR=DIR ...       build directory (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git clang-format
  # libraries (DESIGN.md: Debian packages only)
  libtorch-dev libdnnl-dev libopencv-dev libsqlite3-dev libcurl4-openssl-dev libssl-dev
  libgit2-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libspdlog-dev
  libfmt-dev libcpp-httplib-dev libgtest-dev libgmock-dev libbenchmark-dev
  # Debian's oneDNN is built with an OpenCL GPU runtime: its CMake config requires the
  # OpenCL headers (a Recommends of libdnnl-dev, which apt may skip)
  ocl-icd-opencl-dev
  # a real BLAS behind libblas.so.3 (DESIGN.md: BLAS)
  libopenblas0-pthread
  # interop tests and the PyTorch peer benchmarks
  python3-torch python3-numpy python3-opencv python3-pil
  # the dashboard's browser test: Debian's Chromium, driven by playwright-core (npm)
  chromium curl
  # the remote tests: an S3 server that checks SigV4 (OpenStack Swift's s3api, run on
  # 127.0.0.1 by tests/servers/swift_s3.sh) and an independent S3 client (boto3, awscli)
  python3-swift python3-boto3 awscli
  # the shared registry (libpq) and its tests: a PostgreSQL 15 server on 127.0.0.1
  # (tests/servers/postgres.sh), and haproxy in front of a fleet of `wms serve`
  libpq-dev postgresql-15 haproxy
  # the ec2 provider reads the Query API's XML replies
  libxml2-dev
  # the compute providers' tests: an sshd on 127.0.0.1 (tests/servers/sshd.sh) and a
  # single-node Slurm cluster (tests/servers/slurm.sh, auth/none)
  openssh-server openssh-client slurmctld slurmd slurm-client
)

# `scripts/setup.sh --bench` adds what the benchmarks need: the PyTorch peer's
# packages (../shared/bench/README.md) and load generators.
if [ "${1:-}" = "--bench" ]; then
  PACKAGES+=(python3-torchvision python3-fastapi python3-uvicorn python3-multipart python3-prometheus-client wrk hyperfine)
fi

# Node.js and npm for the browser test: Debian's, unless a node with npm is already there.
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${WMS_SETUP_NO_INSTALL:-0}" != 1 ] && [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# playwright-core at the version pinned in tests/browser/package-lock.json (it drives
# /usr/bin/chromium; it downloads no browser).
if [ ! -d tests/browser/node_modules/playwright-core ] || [ tests/browser/package-lock.json -nt tests/browser/node_modules ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error >/dev/null
fi

BUILD_DIR="${WMS_BUILD_DIR:-build}"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$BUILD_DIR" --parallel "$(nproc)"
echo "setup: built $BUILD_DIR/wms"
