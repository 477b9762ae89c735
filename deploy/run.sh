#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs datagate on
# 127.0.0.1:50051 with the embedded SQLite store under ./data, the example
# store schema from deploy/migrations, and a ready tenant "demo".
# Extra arguments go to datagate (e.g. --listen=0.0.0.0:50051).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
bash deploy/build.sh
exec ./build/service/datagate \
  --listen="${DATAGATE_LISTEN:-127.0.0.1:50051}" \
  --data_dir="${DATAGATE_DATA_DIR:-./data}" \
  --migrations_dir="${DATAGATE_MIGRATIONS_DIR:-./deploy/migrations}" \
  --create_tenants="${DATAGATE_CREATE_TENANTS:-demo}" \
  "$@"
