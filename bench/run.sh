#!/usr/bin/env bash
# Benchmarks of docs/performance.md. Not part of CI.
#
#   bench/run.sh            post-build, medium, one-report (200,000 test cases in one file) and
#                           tree-2000 (2,000 reports, with the paced 100 ms / 20 req/s step),
#                           watch latency (6-12 minutes, depending on the load)
#   bench/run.sh --full     also the ~1 GB backfill (10,000 files, ~1,000,000 test cases), one-report-10x
#                           (2,000,000 test cases in one ~310 MB file) and the rescan of an imported
#                           100,000-file tree (~25-30 minutes, ~2 GB in $TMPDIR)
#   SIZES=one-report,tree-2000 bench/run.sh   just those sizes; RESCAN=1 adds the rescan
#                                             (SIZES=none RESCAN=1: only it)
#
# Corpora, ledgers and binaries go to a new ${TMPDIR:-/tmp}/bench-run.XXXXXX (deleted at the end); results
# (JSON lines and a Markdown table) to bench/out/ (ignored by git). Extra flags after -- go to
# `octane-bench run` (e.g. -- -rate 20 -concurrency 8 -latency 100ms -keep).
set -euo pipefail
cd "$(dirname "$0")/.."

sizes="${SIZES:-post-build,medium,one-report,tree-2000}"
rescan="${RESCAN:-}"
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --full) sizes="post-build,medium,one-report,tree-2000,backfill,one-report-10x"; rescan=1 ;;
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
