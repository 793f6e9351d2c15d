#!/usr/bin/env bash
# Single-row latency (issue 13 point 5: p99 under 10 us), with many samples
# and a control.
#
# `leadscore bench --single N` times N calls scoring one row each on one
# goroutine (after 1,000 untimed warm-up calls) and, interleaved with them,
# N runs of a control: a fixed loop of register arithmetic calibrated to
# last as long as a call's median. A shared host preempts and interrupts
# the control as it does the calls, so the control's p99 is the host's part
# of any tail, and ours minus the control's is the model's. The script runs
# REPEATS alternated rounds over the models and prints the medians beside
# the control, and the load.
#
#   bash bench/single_row_p99.sh          # REPEATS=3 SINGLE=100000
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
REPEATS=${REPEATS:-3}
SINGLE=${SINGLE:-100000}
PY=${PYTHON:-/usr/bin/python3}
LEADS=testdata/lead-demo/leads_10k.csv
MODELS=${MODELS:-"demo_300x6=testdata/lead-demo/model.json 1000x8=testdata/xgboost/bench_1000x8/model.json"}
OUT=${OUT:-$(mktemp -d /tmp/single_row_p99.XXXXXX)}
mkdir -p bin
CGO_ENABLED=0 go build -trimpath -o bin/leadscore ./cmd/leadscore

LOAD_START=$(uptime)
for ((r = 0; r < REPEATS; r++)); do
	for spec in $MODELS; do
		label=${spec%%=*} model=${spec#*=}
		bin/leadscore bench --model "$model" --data "$LEADS" --rows 10000 --repeats 1 --single "$SINGLE" --json \
			>"$OUT/${label}_r$r.json"
	done
	log "round $((r + 1))/$REPEATS done; load $(uptime | sed 's/.*load average: //')"
done
LOAD_END=$(uptime)

echo "single-row latency, one goroutine, $SINGLE calls per run after 1,000 warm-up calls, median of $REPEATS alternated runs"
echo "load at start: $LOAD_START"
echo "load at end:   $LOAD_END"
"$PY" - "$OUT" "$REPEATS" $MODELS <<'PYEOF'
import json, statistics, sys
out, repeats, specs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print(f"{'model':<12} {'p50 us':>8} {'p99 us':>8} {'mean us':>8} {'control p50':>12} {'control p99':>12} {'p99 - control':>14}   p99 per run (control)")
for spec in specs:
    label = spec.split("=", 1)[0]
    runs = [json.load(open(f"{out}/{label}_r{r}.json")) for r in range(repeats)]
    med = lambda k: statistics.median(d[k] for d in runs)
    per = " ".join(f"{d['single_p99_us']:.1f} ({d['single_control_p99_us']:.1f})" for d in runs)
    print(f"{label:<12} {med('single_p50_us'):8.2f} {med('single_p99_us'):8.2f} {med('single_mean_us'):8.2f} "
          f"{med('single_control_p50_us'):12.2f} {med('single_control_p99_us'):12.2f} "
          f"{med('single_p99_us') - med('single_control_p99_us'):14.2f}   {per}")
print("target: demo p99 < 10 us; the control's p99 is what the host adds to any work of that length")
PYEOF
