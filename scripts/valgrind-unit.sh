#!/usr/bin/env bash
# Run every C unit test (tests/unit/test_*) of a build directory under
# valgrind's memcheck; fail on any memory error or definite leak, in the test
# or in any child it forks (forked children stay under valgrind; exec'd
# programs do not: --trace-children=no).
#
#   scripts/valgrind-unit.sh [BUILDDIR]      # default: build
#
# BUILDDIR must not be a sanitizer build (valgrind cannot run ASan binaries);
# it is brought up to date with ninja first.
#
# valgrind 3.19 (Debian 12) lacks some of the system calls the tests exist to
# exercise; it answers them with ENOSYS ("unhandled amd64-linux syscall").
# Tests are therefore run in one of three modes:
#   full         the test must pass and valgrind must report no error;
#   errors-only  valgrind must report no error, but the test's own verdict is
#                not counted: it probes or requires a call valgrind lacks;
#   skip         not run at all: the test cannot do anything useful under
#                valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

builddir=$(realpath -m "${1:-build}")
if [[ ! -f $builddir/build.ninja ]]; then
  echo "valgrind-unit: $builddir is not a meson build directory (meson setup $builddir)" >&2
  exit 2
fi
ninja -C "$builddir" >/dev/null

declare -A skip=(
  [test_exec]="valgrind 3.19 cannot run clone(CLONE_VM) outside a thread library, which every sandbox start makes (the sentinel shares the supervisor's memory: 'Unsupported clone() flags 0x111'); it kills the test at its first sandbox, which then leaves that sandbox's cgroup behind. Covered by the ASan/UBSan run"
  [test_usage]="valgrind 3.19 cannot run clone(CLONE_VM) outside a thread library, which every sandbox start makes (the sentinel shares the supervisor's memory: 'Unsupported clone() flags 0x111'); it kills the test at its first sandbox, which then leaves that sandbox's cgroup behind. Covered by the ASan/UBSan run"
  [test_sandbox_snapshot]="valgrind 3.19 cannot run clone(CLONE_VM) outside a thread library, which every sandbox start makes (the sentinel shares the supervisor's memory: 'Unsupported clone() flags 0x111'); it kills the test at its first sandbox, which then leaves that sandbox's cgroup behind. Covered by the ASan/UBSan run"
  [test_seccomp]="valgrind 3.19 does not implement seccomp(2) (syscall 317), so libseccomp cannot load or probe a filter; and a filter installed in the process would also apply to valgrind's own system calls"
  [test_landlock]="valgrind 3.19 does not implement landlock_create_ruleset/add_rule/restrict_self (444-446): the test would only skip itself"
)
declare -A errors_only=(
  [test_host_check]="valgrind 3.19 answers ENOSYS to open_tree and fsopen (428, 430), so the probes under test report the new mount API and idmapped mounts missing"
  [test_cgroup]="valgrind 3.19 answers ENOSYS to clone3 (435), which the CLONE_INTO_CGROUP case requires (test_cgroup.c: CHECK(child > 0))"
)

tmp=$(mktemp -d /tmp/corral-valgrind.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# Suppressions for valgrind's own false positives, each justified.
cat >"$tmp/corral.supp" <<'EOF'
# mount(2) ignores its filesystemtype argument for MS_BIND, MS_MOVE, MS_REMOUNT
# and propagation changes (MS_PRIVATE, ...), where callers pass NULL
# (host_check.c probe_userns: mount(NULL, "/", NULL, MS_REC | MS_PRIVATE,
# NULL)); valgrind 3.19 reads it as a string regardless.
{
   mount-null-filesystemtype-for-propagation-change
   Memcheck:Param
   mount(type)
   fun:mount
}
EOF

shopt -s nullglob
tests=()
for t in "$builddir"/tests/unit/test_*; do
  [[ -f $t && -x $t ]] && tests+=("$t")
done
if ((${#tests[@]} == 0)); then
  echo "valgrind-unit: no unit test binaries in $builddir/tests/unit" >&2
  exit 2
fi
if nm "${tests[0]}" 2>/dev/null | grep -q '__asan_init\|__tsan_init\|__msan_init'; then
  echo "valgrind-unit: $builddir is a sanitizer build; valgrind needs a plain one (e.g. build)" >&2
  exit 2
fi

echo "=== $(valgrind --version) on $builddir"
status=0
for t in "${tests[@]}"; do
  name=$(basename "$t")
  if [[ -n ${skip[$name]:-} ]]; then
    echo "SKIP $name: ${skip[$name]}"
    continue
  fi
  logdir=$tmp/$name
  mkdir -p "$logdir"
  rc=0
  (timeout 900 valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
      --trace-children=no --suppressions="$tmp/corral.supp" \
      --log-file="$logdir/valgrind.%p.log" "$t") >"$logdir/out" 2>&1 || rc=$?
  # Errors of every process (the test and the children it forked).
  errors=0
  for log in "$logdir"/valgrind.*.log; do
    n=$(sed -n 's/^==[0-9]*== ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -n 1)
    errors=$((errors + ${n:-0}))
  done
  verdict=$(tail -n 1 "$logdir/out")
  if ((errors > 0)); then
    echo "FAIL $name: $errors valgrind error(s):"
    for log in "$logdir"/valgrind.*.log; do
      grep -q 'ERROR SUMMARY: [1-9]' "$log" || continue
      # The error reports themselves, without the banner and heap summary.
      sed -n '/^==[0-9]*== Command:/,$p' "$log" |
        grep -vE '^==[0-9]+== (Command|Parent PID|HEAP SUMMARY|    in use|  total heap|All heap|For lists|For counts|Use --track|Rerun with|LEAK SUMMARY|   (definitely|indirectly|possibly) lost|   still reachable|        suppressed|$)' |
        grep -v '^--' | sed 's/^/    /'
    done
    status=1
  elif [[ -n ${errors_only[$name]:-} ]]; then
    echo "ok   $name: no valgrind errors (test verdict not counted: ${errors_only[$name]}; it said: $verdict)"
  elif ((rc == 77)); then
    echo "SKIP $name: skipped itself under valgrind: $(grep -m1 '# SKIP' "$logdir/out" || echo "$verdict")"
  elif ((rc != 0)); then
    echo "FAIL $name: exit $rc under valgrind, no valgrind error ($verdict):"
    { grep -E '^not ok|^#' "$logdir/out" || true; } | sed 's/^/    /' | head -n 40
    status=1
  else
    echo "ok   $name: no valgrind errors ($verdict)"
  fi
done
exit $status
