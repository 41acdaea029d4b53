#!/usr/bin/env bash
# Static analysis of src/: cppcheck and clang-tidy. Exits non-zero on any
# finding that is not suppressed.
#
#   scripts/lint.sh                  # both tools
#   scripts/lint.sh cppcheck         # one of them
#   scripts/lint.sh clang-tidy
#   LINT_BUILDDIR=build scripts/lint.sh
#
# Both read the compile commands (flags, include paths, defines) of a build
# directory: ./build-lint, set up with the default configuration and built
# (generated headers such as seccomp_prebuilt.h must exist) unless
# LINT_BUILDDIR names another one.
#
# Configuration: .clang-tidy (checks, each disabled one with its reason),
# .clang-tidy-suppressions and .cppcheck-suppressions (one check in one file
# each, justified). Inline: `// cppcheck-suppress ID` and `// NOLINT(check)`.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

tools=("$@")
((${#tools[@]})) || tools=(cppcheck clang-tidy)
for t in "${tools[@]}"; do
  case $t in
    cppcheck | clang-tidy) ;;
    *) echo "usage: $0 [cppcheck] [clang-tidy]" >&2; exit 2 ;;
  esac
done

builddir=${LINT_BUILDDIR:-build-lint}
builddir=$(realpath -m "$builddir")
if [[ ! -f $builddir/build.ninja ]]; then
  meson setup "$builddir" >/dev/null
fi
ninja -C "$builddir" >/dev/null
db=$builddir/compile_commands.json
jobs=$(nproc)

status=0

run_cppcheck() {
  echo "=== cppcheck $(cppcheck --version | sed 's/^Cppcheck //')"
  mkdir -p "$builddir/cppcheck-cache"
  local out
  # --project gives cppcheck the real flags and defines; -I adds the
  # project's include directories for any file it opens by itself.
  # A relative --project path makes cppcheck name files relative to the
  # repository, which --file-filter and the suppressions file rely on.
  if out=$(cppcheck --project="$(realpath --relative-to="$repo" "$db")" --file-filter='src/*' \
             -I include -I src --library=gnu \
             --enable=warning,style,performance,portability \
             --inline-suppr --suppressions-list=.cppcheck-suppressions \
             --cppcheck-build-dir="$builddir/cppcheck-cache" \
             --error-exitcode=1 -q -j "$jobs" \
             --template='{file}:{line}:{column}: {severity}: {message} [{id}]' 2>&1); then
    echo "=== cppcheck: no findings"
  else
    printf '%s\n' "$out"
    echo "=== cppcheck: FAILED ($(grep -c '\[[A-Za-z0-9_]*\]$' <<<"$out") findings)"
    status=1
  fi
}

run_clang_tidy() {
  echo "=== $(clang-tidy --version | grep -o 'LLVM version [0-9.]*' | sed 's/LLVM/clang-tidy/')"
  # Every src/ file in the compile database, once (seccomp_filter.c is built
  # twice: for seccomp-generate and for the library; either will do).
  local files
  files=$(python3 - "$db" "$repo" <<'EOF'
import json, os, sys
db, repo = sys.argv[1], sys.argv[2]
seen = []
for e in json.load(open(db)):
    f = os.path.normpath(os.path.join(e["directory"], e["file"]))
    if f.startswith(os.path.join(repo, "src") + os.sep) and f not in seen:
        seen.append(f)
print("\n".join(sorted(seen)))
EOF
)
  local log=$builddir/clang-tidy.log
  # Each file on its own (parallel); the output of all is then filtered.
  printf '%s\n' "$files" |
    xargs -P "$jobs" -I{} sh -c 'clang-tidy -p "$1" --quiet "$2" 2>/dev/null || true' _ "$builddir" {} \
    >"$log"
  local findings
  findings=$(python3 - "$log" "$repo" .clang-tidy-suppressions "$builddir" <<'EOF'
import fnmatch, os, re, sys
log, repo, supp_file, builddir = sys.argv[1:5]
supp = []
for line in open(supp_file):
    line = line.split("#", 1)[0].strip()
    if line:
        check, path = line.split()
        supp.append((check, path))
used = set()
# Paths are as in the compile database: relative to the build directory.
pat = re.compile(r"^([^: ][^:]*):(\d+):(\d+): (warning|error): (.*) \[([^\]]+)\]$")
out = set()
for line in open(log, errors="replace"):
    m = pat.match(line.rstrip("\n"))
    if not m:
        continue
    path = os.path.relpath(os.path.normpath(os.path.join(builddir, m.group(1))), repo)
    checks = m.group(6).split(",")
    hit = [(c, p) for (c, p) in supp for k in checks
           if fnmatch.fnmatchcase(k, c) and fnmatch.fnmatchcase(path, p)]
    if hit:
        used.update(hit)
        continue
    out.add((path, int(m.group(2)), int(m.group(3)), m.group(4), m.group(5), m.group(6)))
for f in sorted(out):
    print("%s:%d:%d: %s: %s [%s]" % f)
for c, p in supp:
    if (c, p) not in used:
        print("note: unused suppression in %s: %s %s" % (supp_file, c, p), file=sys.stderr)
EOF
)
  if [[ -z $findings ]]; then
    echo "=== clang-tidy: no findings ($(wc -l <<<"$files") files)"
  else
    printf '%s\n' "$findings"
    echo "=== clang-tidy: FAILED ($(wc -l <<<"$findings") findings; full output in $log)"
    status=1
  fi
}

for t in "${tools[@]}"; do
  case $t in
    cppcheck) run_cppcheck ;;
    clang-tidy) run_clang_tidy ;;
  esac
done
exit $status
