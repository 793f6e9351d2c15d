#!/usr/bin/env bash
# Scoring engine vs XGBoost's own predictor, side by side on this machine.
#
# For each model (the demo model: 300 trees of depth 6; and a 1000-tree
# depth-8 model), both engines score the same rows (the 10,000 held-out demo
# leads, tiled to ROWS) on one thread:
#   - XGBoost 1.7.4: Booster.inplace_predict, nthread=1, a fresh array each
#     call (bench/xgb_predict.py, Debian's python3-xgboost);
#   - leadscore: `leadscore bench --threads 1`.
# Each is run REPEATS times, alternating, and the script prints the median
# of each figure and the ratio leadscore / XGBoost: rows per second of wall
# time, rows per second of process CPU time (the figure to read on a busy
# host) with the CPU nanoseconds per tree and row, and single-row latency.
#
# Usage: bash bench/engine_vs_xgboost.sh        (ROWS=20000 BATCH=1000 REPEATS=5)
# Needs: scripts/install-tools.sh --bench (python3-xgboost).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
ROWS=${ROWS:-20000}
BATCH=${BATCH:-1000}
REPEATS=${REPEATS:-5}
PY=/usr/bin/python3
LEADS=testdata/lead-demo/leads_10k.csv

if ! "$PY" -c 'import xgboost' 2>/dev/null; then
  echo "python3-xgboost is missing: run bash scripts/install-tools.sh --bench" >&2
  exit 1
fi
LEADSCORE=${LEADSCORE:-bin/leadscore}
if [ "$LEADSCORE" = bin/leadscore ]; then
  mkdir -p bin
  CGO_ENABLED=0 go build -trimpath -o bin/leadscore ./cmd/leadscore
fi

field() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

compare() {
  local label=$1 model=$2
  local ours=() theirs=() ours50=() theirs50=() ours99=() theirs99=() oursc=() theirsc=()
  for ((i = 0; i < REPEATS; i++)); do
    x=$("$PY" bench/xgb_predict.py --model "$model" --input "$LEADS" --rows "$ROWS" --batch "$BATCH" --repeats 1)
    g=$("$LEADSCORE" bench --model "$model" --data "$LEADS" --rows "$ROWS" --batch "$BATCH" --threads 1 --repeats 1 --single 5000 --json)
    theirs+=("$(field rows_per_s <<<"$x")"); ours+=("$(field rows_per_s <<<"$g")")
    theirsc+=("$(field rows_per_cpu_s <<<"$x")"); oursc+=("$(field rows_per_cpu_s <<<"$g")")
    theirs50+=("$(field single_p50_us <<<"$x")"); ours50+=("$(field single_p50_us <<<"$g")")
    theirs99+=("$(field single_p99_us <<<"$x")"); ours99+=("$(field single_p99_us <<<"$g")")
  done
  local t o t50 o50 t99 o99 tc oc
  t=$(printf '%s\n' "${theirs[@]}" | median); o=$(printf '%s\n' "${ours[@]}" | median)
  tc=$(printf '%s\n' "${theirsc[@]}" | median); oc=$(printf '%s\n' "${oursc[@]}" | median)
  t50=$(printf '%s\n' "${theirs50[@]}" | median); o50=$(printf '%s\n' "${ours50[@]}" | median)
  t99=$(printf '%s\n' "${theirs99[@]}" | median); o99=$(printf '%s\n' "${ours99[@]}" | median)
  printf '%-28s %14.0f %14.0f %8.2fx\n' "$label rows/s (batch $BATCH)" "$t" "$o" "$(awk -v a="$o" -v b="$t" 'BEGIN{print a/b}')"
  printf '%-28s %14.0f %14.0f %8.2fx\n' "$label rows/CPU-s (batch $BATCH)" "$tc" "$oc" "$(awk -v a="$oc" -v b="$tc" 'BEGIN{print a/b}')"
  printf '%-28s %14.2f %14.2f %9s\n' "$label ns per tree-row (CPU)" "$(awk -v r="$tc" -v n="$3" 'BEGIN{print 1e9/r/n}')" "$(awk -v r="$oc" -v n="$3" 'BEGIN{print 1e9/r/n}')" ""
  printf '%-28s %14.2f %14.2f %8.2fx\n' "$label single p50 us" "$t50" "$o50" "$(awk -v a="$t50" -v b="$o50" 'BEGIN{print a/b}')"
  printf '%-28s %14.2f %14.2f %8.2fx\n' "$label single p99 us" "$t99" "$o99" "$(awk -v a="$t99" -v b="$o99" 'BEGIN{print a/b}')"
}

echo "engine vs XGBoost $("$PY" -c 'import xgboost; print(xgboost.__version__)'), one thread, $ROWS rows, median of $REPEATS"
printf '%-28s %14s %14s %9s\n' "" "xgboost" "leadscore" "speed-up"
echo "load at start: $(uptime)"
compare "demo 300x6" testdata/lead-demo/model.json 300
compare "1000x8" testdata/xgboost/bench_1000x8/model.json 1000
echo "load at end: $(uptime)"
