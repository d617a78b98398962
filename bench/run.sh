#!/usr/bin/env bash
# Benchmarks of docs/performance.md. Not part of CI.
#
#   bench/run.sh            post-build and medium sizes, watch latency (a few minutes)
#   bench/run.sh --full     also the ~1 GB backfill (10,000 files, ~1,000,000 test cases) and the
#                           rescan of an imported 100,000-file tree (~15-20 minutes, ~2 GB in $TMPDIR)
#   SIZES=backfill bench/run.sh   just that size; RESCAN=1 adds the rescan (SIZES=none RESCAN=1: only it)
#
# Corpora, ledgers and binaries go to a new ${TMPDIR:-/tmp}/bench-run.XXXXXX (deleted at the end); results
# (JSON lines and a Markdown table) to bench/out/ (ignored by git). Extra flags after -- go to
# `octane-bench run` (e.g. -- -rate 20 -concurrency 8 -latency 100ms -keep).
set -euo pipefail
cd "$(dirname "$0")/.."

sizes="${SIZES:-post-build,medium}"
rescan="${RESCAN:-}"
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --full) sizes="post-build,medium,backfill"; rescan=1 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: bench/run.sh [--full] [-- octane-bench run flags]" >&2; exit 2 ;;
  esac
  shift
done

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-run.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
echo "== building octane-import and octane-bench into $work/bin" >&2
go build -o "$work/bin/octane-import" ./cmd/octane-import
go build -o "$work/bin/octane-bench" ./bench/cmd/octane-bench
echo "== $(uptime)" >&2
echo "== disk: $(df -h "$work" | tail -1)" >&2

args=(run -bin "$work/bin/octane-import" -work "$work/data" -out bench/out -sizes "$sizes")
if [ -n "$rescan" ]; then args+=(-rescan); fi
"$work/bin/octane-bench" "${args[@]}" ${extra[@]+"${extra[@]}"}
echo "== $(uptime)" >&2
