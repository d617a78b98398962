#!/usr/bin/env bash
# Benchmarks of docs/performance.md. Not part of CI.
#
#   bench/run.sh            post-build, medium, one-report (200,000 test cases in one file) and
#                           tree-2000 (2,000 reports, with the paced 100 ms / 20 req/s step),
#                           watch latency (6-12 minutes, depending on the load)
#   bench/run.sh --full     also the ~1 GB backfill (10,000 files, ~1,000,000 test cases), one-report-10x
#                           (2,000,000 test cases in one ~310 MB file) and the rescan of an imported
#                           100,000-file tree (~25-30 minutes, ~2 GB in $TMPDIR); with PostgreSQL's
#                           server binaries installed, also the PostgreSQL steps of PG=1 (~8 minutes more)
#   SIZES=one-report,tree-2000 bench/run.sh   just those sizes; RESCAN=1 adds the rescan
#                                             (SIZES=none RESCAN=1: only it)
#   PG=1 bench/run.sh       also the steps with the PostgreSQL ledger (issue 17): a private server is
#                           started for the run; the importing steps of the backfill (when in SIZES;
#                           others with -- -pg-sizes medium,...) run again with --state a fresh
#                           database each, and the rescan's three steps with one, with their ratio to
#                           bbolt. --full turns it on when the server binaries are installed (PG=0: off).
#   SIZES=backfill RESCAN=1 PG=1 bench/run.sh   the figures of issue 17 (~10-15 minutes)
#
# Corpora, ledgers and binaries go to a new ${TMPDIR:-/tmp}/bench-run.XXXXXX (deleted at the end); results
# (JSON lines and a Markdown table) to bench/out/ (ignored by git). Extra flags after -- go to
# `octane-bench run` (e.g. -- -rate 20 -concurrency 8 -latency 100ms -keep).
set -euo pipefail
cd "$(dirname "$0")/.."

sizes="${SIZES:-post-build,medium,one-report,tree-2000}"
rescan="${RESCAN:-}"
pg="${PG:-0}"
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --full) sizes="post-build,medium,one-report,tree-2000,backfill,one-report-10x"; rescan=1; pg="${PG:-auto}" ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: bench/run.sh [--full] [-- octane-bench run flags]" >&2; exit 2 ;;
  esac
  shift
done

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-run.XXXXXX")
pg_bin="" pg_started=""
# as_pg runs a server binary as the server's user: postgres when this script runs as root.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  if [ -n "$pg_started" ]; then
    echo "== stopping PostgreSQL" >&2
    as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null 2>&1 ||
      as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$work/bin"
echo "== building octane-import and octane-bench into $work/bin" >&2
go build -o "$work/bin/octane-import" ./cmd/octane-import
go build -o "$work/bin/octane-bench" ./bench/cmd/octane-bench
echo "== $(uptime)" >&2
echo "== disk: $(df -h "$work" | tail -1)" >&2

# PostgreSQL for the steps with the PostgreSQL ledger: a private server in $work/pg, made the way
# the tests make theirs (internal/testkit/postgres.go), so that the figures are of the setup the
# tests exercise: the newest Debian server binaries (/usr/lib/postgresql/N/bin, else initdb and
# pg_ctl on PATH); as the postgres system user when run as root (the server refuses root);
# superuser "ledger" with a random password, scram-sha-256 over TCP (the importer connects as a
# remote one would) and trust only on the Unix socket in $work/pg; UTF8, locale C;
# listen_addresses 127.0.0.1 on a free port; max_connections 300. initdb -N skips syncing
# initdb's own files (the cluster is thrown away), but the server keeps fsync and
# synchronous_commit on, as the tests' does and a real deployment would: bbolt syncs every
# commit, and the comparison is only fair if PostgreSQL does too. Everything else is the
# server's default (shared_buffers 128 MB, ...). pg_ctl stops it at the end (trap above).
start_pg() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -rn); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then pg_bin=$d; break; fi
  done
  if [ -z "$pg_bin" ] && command -v initdb >/dev/null && command -v pg_ctl >/dev/null && command -v postgres >/dev/null; then
    pg_bin=$(dirname "$(command -v initdb)")
  fi
  if [ -z "$pg_bin" ]; then
    echo "== no PostgreSQL server binaries (initdb, pg_ctl, postgres; apt-get install postgresql): the steps with the PostgreSQL ledger are skipped" >&2
    return 1
  fi
  mkdir -p "$work/pg"
  if [ "$(id -u)" = 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
      echo "== running as root and no postgres user to run the server as: the steps with the PostgreSQL ledger are skipped" >&2
      return 1
    fi
    chmod 711 "$work" # the server's user passes through to $work/pg, and reads nothing else
    chown postgres: "$work/pg"
  fi
  chmod 700 "$work/pg"
  local pw port log="$work/pg/log" try
  pw="pw-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  (umask 077; echo "$pw" >"$work/pg/pwfile")
  if [ "$(id -u)" = 0 ]; then chown postgres: "$work/pg/pwfile"; fi
  if ! as_pg "$pg_bin/initdb" -D "$work/pg/data" -U ledger --pwfile "$work/pg/pwfile" -E UTF8 --locale=C \
      --auth-local=trust --auth-host=scram-sha-256 -N --no-instructions >"$work/pg/initdb.log" 2>&1; then
    echo "== initdb failed:" >&2; tail -20 "$work/pg/initdb.log" >&2
    exit 1
  fi
  rm -f "$work/pg/pwfile"
  for try in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + RANDOM % 40000))
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi # taken
    if as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$log" -w -t 60 \
        -o "-p $port -k '$work/pg' -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null 2>&1; then
      pg_started=1
      export OCTANE_BENCH_PG="postgres://ledger:$pw@127.0.0.1:$port/postgres?sslmode=disable" # not on a command line
      echo "== $("$pg_bin/postgres" --version) on 127.0.0.1:$port (data in $work/pg/data, fsync on, defaults otherwise)" >&2
      return 0
    fi
  done
  echo "== PostgreSQL did not start (last tries on port $port):" >&2; tail -20 "$log" >&2
  exit 1
}

args=(run -bin "$work/bin/octane-import" -work "$work/data" -out bench/out -sizes "$sizes")
if [ -n "$rescan" ]; then args+=(-rescan); fi
case "$pg" in
  0|"") ;;
  *) start_pg || true ;; # PG=1, or --full: without the binaries, the run goes on without those steps
esac
"$work/bin/octane-bench" "${args[@]}" ${extra[@]+"${extra[@]}"}
echo "== $(uptime)" >&2
