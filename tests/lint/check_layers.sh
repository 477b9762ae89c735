#!/usr/bin/env bash
# Checks rules a compiler does not: every caller-visible error is built in
# common/errors, and the layers depend on each other only one way
#   server -> api -> {core, migrate, sync} -> store -> common, store/sqlite -> store
# (see the Layout section of the style guide). Prints each breach; exit 1 if any.
# Usage: check_layers.sh [SERVICE_DIR]
set -uo pipefail
cd "${1:-$(dirname "$0")/../../service}"
fail=0
breach() {
  echo "$1"
  fail=1
}

# 1. Statuses with a code are built only in common/errors.cc, and become
#    grpc::Status only in api/status.cc (ToGrpcStatus).
while IFS= read -r line; do
  breach "error built outside common/errors: $line"
done < <(grep -rnE 'absl::[A-Za-z]+Error\(|absl::Status\([^)]*(code\(\)|StatusCode)' --include='*.cc' --include='*.h' . |
  grep -v '^./common/errors.cc:')
while IFS= read -r line; do
  breach "grpc::Status built outside ToGrpcStatus: $line"
done < <(grep -rnE 'grpc::Status\(' --include='*.cc' --include='*.h' . | grep -v '^./api/status.cc:')

# 2. Includes follow the layers.
forbid() {  # forbid <folder> <regex of forbidden includes> <why>
  while IFS= read -r line; do
    breach "$3: $line"
  done < <(grep -rnE "#include [\"<]($2)" --include='*.cc' --include='*.h' "$1")
}
forbid ./common 'store/|core/|migrate/|api/|server/|grpcpp|datagate/v1' "common depends on nothing above it"
forbid ./store 'core/|migrate/|api/|server/|grpcpp|datagate/v1' "store sees no layer above it"
forbid ./core 'store/sqlite/|store/postgres/|sync/|migrate/|api/|server/|grpcpp|datagate/v1|google/protobuf' "core sees only the store interface"
forbid ./migrate 'store/sqlite/|store/postgres/|core/|api/|server/|grpcpp|datagate/v1' "migrate sees only the store interface"
forbid ./sync 'store/sqlite/|store/postgres/|core/|migrate/|api/|server/|grpcpp|datagate/v1' "sync sees only the store interfaces"
forbid ./api 'store/sqlite/|store/postgres/|server/' "api does not pick the store"
while IFS= read -r line; do
  breach "the store interface includes an implementation: $line"
done < <(grep -nE '#include "store/sqlite/' store/store.h store/store.cc)

# 3. CMake targets encode the same picture.
for target in datagate_core datagate_migrate datagate_sync; do
  deps=$(awk "/target_link_libraries\\($target /,/\\)/" CMakeLists.txt)
  if grep -qE 'datagate_store_sqlite|datagate_store_postgres|datagate_api|datagate_server|datagate_core |datagate_migrate |datagate_sync ' <<<"${deps#*$target}"; then
    breach "$target links more than the store interface: $deps"
  fi
done

exit $fail
