#!/usr/bin/env bash
# TreeSHAP: leadscore's explanations vs XGBoost's pred_contribs, one thread.
#
# For each model, both explain the same held-out demo leads, REPEATS times,
# alternating:
#   - XGBoost 1.7.4: Booster.predict(pred_contribs=True), nthread=1, all
#     rows in one call (bench/xgb_explain.py);
#   - leadscore, one row per call (`leadscore bench --explain`, as ?explain
#     on a one-lead request does), after one untimed call that builds the
#     explanation tables;
#   - leadscore, batch: the same rows in one ContributionsBatch call
#     (`--explain-batch $ROWS`, the same batch as XGBoost's call; as
#     ?explain on a multi-lead request or the attribution monitor does).
# It prints the median wall time and process CPU time per row of each and
# the speed-ups (XGBoost / leadscore) of both modes, every run's CPU
# figures, and the machine's load (/proc/loadavg). On a busy host the CPU
# figure is the one to read.
#
# Usage: bash bench/explain_vs_xgboost.sh   (ROWS=300 REPEATS=3)
# Needs: scripts/install-tools.sh --bench (python3-xgboost).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
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

field() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

echo "explain (TreeSHAP) vs XGBoost $(cd /tmp && "$PY" -c 'import xgboost; print(xgboost.__version__)') pred_contribs, one thread, $ROWS rows, median of $REPEATS alternated runs"
echo "load at start: $(cat /proc/loadavg)"
printf '%-12s %-6s %11s %11s %11s %11s %8s %8s\n' "model" "mode" "xgb wall us" "ours wall" "xgb CPU us" "ours CPU" "wall x" "CPU x"
for spec in $MODELS; do
  label=${spec%%=*} model=${spec#*=}
  xw=() xc=() ow=() oc=() bw=() bc=()
  for ((i = 0; i < REPEATS; i++)); do
    x=$("$PY" bench/xgb_explain.py --model "$model" --input "$LEADS" --rows "$ROWS")
    g=$("$LEADSCORE" bench --model "$model" --data "$LEADS" --rows 1000 --repeats 1 --single 100 \
      --explain "$ROWS" --explain-batch "$ROWS" --json)
    xw+=("$(field explain_us_per_row <<<"$x")"); xc+=("$(field explain_cpu_us_per_row <<<"$x")")
    ow+=("$(field explain_us_per_row <<<"$g")"); oc+=("$(field explain_cpu_us_per_row <<<"$g")")
    bw+=("$(field explain_batch_us_per_row <<<"$g")"); bc+=("$(field explain_batch_cpu_us_per_row <<<"$g")")
  done
  mxw=$(printf '%s\n' "${xw[@]}" | median); mxc=$(printf '%s\n' "${xc[@]}" | median)
  mow=$(printf '%s\n' "${ow[@]}" | median); moc=$(printf '%s\n' "${oc[@]}" | median)
  mbw=$(printf '%s\n' "${bw[@]}" | median); mbc=$(printf '%s\n' "${bc[@]}" | median)
  for mode in row batch; do
    if [ $mode = row ]; then w=$mow c=$moc; else w=$mbw c=$mbc; fi
    printf '%-12s %-6s %11.1f %11.1f %11.1f %11.1f %7.1fx %7.1fx\n' "$label" "$mode" "$mxw" "$w" "$mxc" "$c" \
      "$(awk -v a="$mxw" -v b="$w" 'BEGIN{print a/b}')" "$(awk -v a="$mxc" -v b="$c" 'BEGIN{print a/b}')"
  done
  echo "  runs, CPU us/row: xgb ${xc[*]}; ours one row per call ${oc[*]}; ours batch ${bc[*]}"
done
echo "load at end: $(cat /proc/loadavg)"
echo "row: leadscore one row per call; batch: leadscore all $ROWS rows in one call, as XGBoost"
