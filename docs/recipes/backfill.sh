#!/usr/bin/env bash
# Backfill years of history into ALM Octane one month at a time, oldest first,
# so that each run is bounded and a failure names its month. Stop it at any time
# and start it again: the ledger skips what was imported. Needs GNU date.
#
#   backfill.sh CONFIG FIRST-MONTH [LAST-MONTH]
#   backfill.sh /etc/octane-import/octane-import.yaml 2023-01          # up to this month
set -euo pipefail
config=${1:?usage: backfill.sh CONFIG FIRST-MONTH [LAST-MONTH]}
month=${2:?usage: backfill.sh CONFIG FIRST-MONTH [LAST-MONTH]}
last=${3:-$(date -u +%Y-%m)}

octane-import validate --config "$config" >/dev/null
failed=0
while [[ ! "$month" > "$last" ]]; do
    start="$month-01"
    end=$(date -u -d "$start +1 month" +%Y-%m-%d)
    echo "== $month"
    # octane-import:recipe begin
    octane-import scan --config "$config" --since "$start" --until "$end" || failed=$?
    # octane-import:recipe end
    month=${end%-*}
done
exit "$failed"
