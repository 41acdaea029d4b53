#!/usr/bin/env bash
# The whole test suite: C unit tests (meson test), the pytest integration
# suite and the attack suite (tests/security) as root and as an unprivileged
# user, the same against an AddressSanitizer + UndefinedBehaviorSanitizer
# build, the unit tests under valgrind, static analysis (cppcheck,
# clang-tidy) and a short run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

./scripts/setup.sh

# An unprivileged account for the rootless runs.
test_user=${CORRAL_TEST_USER:-corraltest}
if ! id "$test_user" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash "$test_user"
fi
# The rootless run reads the tree and executes the binaries.
chmod o+rx "$repo" || true
d=$repo
while [[ $d != / ]]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done

pytest() { /usr/bin/python3 -m pytest -p no:cacheprovider "$@"; }

status=0
step() {
  echo "=== $*"
  if ! "$@"; then
    echo "=== FAILED: $*"
    status=1
  fi
}

step meson test -C build --print-errorlogs
# Each suite has its own conftest module: run them separately.
for suite in tests/integration tests/security; do
  step pytest -q "$suite"
  step runuser -u "$test_user" -- env CORRAL_BIN="$repo/build/corral" \
    /usr/bin/python3 -m pytest -p no:cacheprovider -q --basetemp="/tmp/corral-pytest-$test_user" "$suite"
done

# Sanitizers: the same tests against an ASan+UBSan build.
if [[ ! -f build-asan/build.ninja ]]; then
  meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
ninja -C build-asan >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=98
step meson test -C build-asan --print-errorlogs
for suite in tests/integration tests/security; do
  step env CORRAL_BIN="$repo/build-asan/corral" /usr/bin/python3 -m pytest -p no:cacheprovider -q "$suite"
done
unset ASAN_OPTIONS UBSAN_OPTIONS

step ./scripts/valgrind-unit.sh build
step ./scripts/lint.sh
step ./scripts/fuzz.sh 10

exit $status
