#!/usr/bin/env bash
# TreeSHAP: leadscore's explanations vs XGBoost's pred_contribs, one thread.
#
# For each model, both explain the same held-out demo leads, REPEATS times,
# alternating:
#   - XGBoost 1.7.4: Booster.predict(pred_contribs=True), nthread=1, all
#     rows in one call (bench/xgb_explain.py);
#   - leadscore: `leadscore bench --explain`, one row per call (as ?explain
#     does), after one untimed call that builds the explanation tables.
# It prints the median wall time and process CPU time per row of each and
# the speed-up (XGBoost / leadscore), and the machine's load. On a busy host
# the CPU figure is the one to read.
#
# Usage: bash bench/explain_vs_xgboost.sh   (ROWS=300 REPEATS=3)
# Needs: scripts/install-tools.sh --bench (python3-xgboost).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-300}
REPEATS=${REPEATS:-3}
PY=/usr/bin/python3
LEADS=testdata/lead-demo/leads_10k.csv
MODELS=${MODELS:-"demo_300x6=testdata/lead-demo/model.json 1000x8=testdata/xgboost/bench_1000x8/model.json"}

if ! "$PY" -c 'import xgboost' 2>/dev/null; then
  echo "python3-xgboost is missing: run bash scripts/install-tools.sh --bench" >&2
  exit 1
fi
LEADSCORE=${LEADSCORE:-bin/leadscore}
if [ "$LEADSCORE" = bin/leadscore ]; then
  mkdir -p bin
  CGO_ENABLED=0 go build -trimpath -o bin/leadscore ./cmd/leadscore
fi

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
field() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

echo "explain (TreeSHAP) vs XGBoost $(cd /tmp && "$PY" -c 'import xgboost; print(xgboost.__version__)') pred_contribs, one thread, $ROWS rows, median of $REPEATS alternated runs"
echo "load at start: $(uptime)"
printf '%-24s %12s %12s %12s %12s %9s %9s\n' "model" "xgb wall us" "ours wall us" "xgb CPU us" "ours CPU us" "wall x" "CPU x"
for spec in $MODELS; do
  label=${spec%%=*} model=${spec#*=}
  xw=() xc=() ow=() oc=()
  for ((i = 0; i < REPEATS; i++)); do
    x=$("$PY" bench/xgb_explain.py --model "$model" --input "$LEADS" --rows "$ROWS")
    g=$("$LEADSCORE" bench --model "$model" --data "$LEADS" --rows 1000 --repeats 1 --single 100 --explain "$ROWS" --json)
    xw+=("$(field explain_us_per_row <<<"$x")"); xc+=("$(field explain_cpu_us_per_row <<<"$x")")
    ow+=("$(field explain_us_per_row <<<"$g")"); oc+=("$(field explain_cpu_us_per_row <<<"$g")")
  done
  mxw=$(printf '%s\n' "${xw[@]}" | median); mxc=$(printf '%s\n' "${xc[@]}" | median)
  mow=$(printf '%s\n' "${ow[@]}" | median); moc=$(printf '%s\n' "${oc[@]}" | median)
  printf '%-24s %12.1f %12.1f %12.1f %12.1f %8.1fx %8.1fx\n' "$label" "$mxw" "$mow" "$mxc" "$moc" \
    "$(awk -v a="$mxw" -v b="$mow" 'BEGIN{print a/b}')" "$(awk -v a="$mxc" -v b="$moc" 'BEGIN{print a/b}')"
  echo "  runs: xgb CPU ${xc[*]}; ours CPU ${oc[*]}"
done
echo "load at end: $(uptime)"
