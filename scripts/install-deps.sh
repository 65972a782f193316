#!/usr/bin/env bash
# Installs the Debian packages Shoal needs to build, test and benchmark.
# Idempotent: packages already present are skipped; nothing is installed when all are present.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config
  libevent-dev libuv1-dev
  libflatbuffers-dev flatbuffers-compiler
  librocksdb-dev libxxhash-dev libspdlog-dev libfmt-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libyaml-cpp-dev libcli11-dev prometheus-cpp-dev libcivetweb-dev
  libgoogle-perftools-dev google-perftools
  liblz4-dev libzstd-dev
  redis-tools redis-server nutcracker faketime
  python3-redis python3-pytest
  prometheus
)
if [[ "${SHOAL_WITH_BAZEL:-0}" == "1" ]]; then
  PACKAGES+=(bazel-bootstrap)
fi
if [[ "${SHOAL_WITH_FUZZ:-0}" == "1" ]]; then
  PACKAGES+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian redis-server, nutcracker and prometheus packages start system services; Shoal's
# scripts and tests start their own instances on free ports (the tests need only prometheus'
# `promtool`), so stop the packaged ones if they came up.
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl stop redis-server nutcracker prometheus >/dev/null 2>&1 || true
fi
$SUDO service redis-server stop >/dev/null 2>&1 || true
$SUDO service prometheus stop >/dev/null 2>&1 || true
