#!/usr/bin/env bash
# Installs the Debian bookworm packages datagate needs, skipping apt when
# they are all present already. Run as root (or with sudo available).
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libsqlitecpp-dev libsqlite3-dev libabsl-dev libspdlog-dev libssl-dev
  libgtest-dev libgmock-dev
  libpqxx-dev postgresql pgbouncer
)

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
