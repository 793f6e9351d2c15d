#!/usr/bin/env bash
# What each part of capture and monitoring costs a request, in process,
# beside issue 13 point 1's budget (10% of a lean request) and the floor:
# the price list to decide what the defaults keep.
#
# For ROUNDS rounds, the order turning each round, it runs the serve
# handler as `leadscore serve` builds it (BenchmarkServeCost, no network)
# in five configurations, N requests each, for single-lead and 100-lead
# requests:
#   lean     --lake=false --monitor=false (the control)
#   floor    lean plus the least work any capture must do: each record's
#            bytes written to a file, its values stored in columns, its
#            features copied into a drift window (BenchmarkCaptureFloor)
#   monitor  --lake=false: the drift monitor alone (window, live attribution)
#   lake     --monitor=false: the lake alone (journal, Parquet files)
#   full     the defaults (lake and monitor)
# and, ROUNDS times each, the capture pipeline on the demo leads in
# 100-lead requests with and without its journal (BenchmarkLakeCPU's
# predWriter/batch100 and nojournal/batch100): the journal's price.
# It prints each configuration's median cpu-us a request (the process's
# CPU time over the requests, every goroutine), what it adds to lean, as
# a share of lean (and the median of that share within each round), and
# every round; then the journal's price a 100-lead
# request and the load before and after.
#
#   bash bench/capture_parts.sh                # ROUNDS=7 N=10000 (100 leads), N1=40000 (single)
#
# Needs Go (the tests' toolchain) and Debian's python3.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
ROUNDS=${ROUNDS:-7}
N=${N:-10000}
N1=${N1:-40000}
PY=${PYTHON:-/usr/bin/python3}
OUT=$(mktemp -d /tmp/capture_parts.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
go test -c -o "$OUT/serve.test" ./cmd/leadscore
go test -c -o "$OUT/capture.test" ./capture
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "load: $LOAD_START"
MODES=(lean floor monitor lake full)
for r in $(seq "$ROUNDS"); do
	for leads in 1 100; do
		n=$N
		[ "$leads" = 1 ] && n=$N1
		for i in $(seq 0 $((${#MODES[@]} - 1))); do
			m=${MODES[$(((i + r) % ${#MODES[@]}))]}
			# The benchmarks read testdata relative to their package.
			v=$(cd cmd/leadscore && "$OUT/serve.test" -test.run '^$' -test.bench "ServeCost/$m/$leads\$" \
				-test.benchtime "${n}x" 2>/dev/null | bench_metric cpu-us/op cpu-ns/record)
			echo "$m $leads $v" >>"$OUT/serve"
		done
	done
	for w in predWriter nojournal; do
		v=$(cd capture && "$OUT/capture.test" -test.run '^$' -test.bench "LakeCPU/$w/batch100\$" \
			-test.benchtime 400000x 2>/dev/null | bench_metric cpu-us/op cpu-ns/record)
		echo "$w $v" >>"$OUT/journal"
	done
	log "round $r/$ROUNDS done; load $(cut -d' ' -f1 /proc/loadavg)"
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
"$PY" - "$OUT" "$ROUNDS" <<'PYEOF'
import collections, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
med = statistics.median
serve = collections.defaultdict(list)
for line in open(f"{out}/serve"):
    m, leads, v = line.split()
    serve[m, int(leads)].append(float(v))
what = {
    "lean": "lean: scoring, no capture (control)",
    "floor": "the floor of any capture",
    "monitor": "the drift monitor alone",
    "lake": "the lake alone (journal + Parquet)",
    "full": "the defaults (lake + monitor)",
}
print(f"what capture and monitoring cost a request in process, median of {rounds} turning rounds")
for leads in (1, 100):
    lean = med(serve["lean", leads])
    print(f"\n{leads}-lead requests          cpu-us/req   over lean   share of lean  (paired)   every round")
    for m in ("lean", "floor", "monitor", "lake", "full"):
        v = serve[m, leads]
        c = med(v)
        # paired: the median over rounds of the share within each round,
        # where the two ran seconds apart under the same load from other jobs.
        paired = med(x / y - 1 for x, y in zip(v, serve["lean", leads]))
        extra = "" if m == "lean" else f"{c - lean:+10.1f} {(c - lean) / lean:+14.1%} ({paired:+7.1%})"
        print(f"  {what[m]:<38} {c:8.1f} {extra:<36}  {' '.join(f'{x:.1f}' for x in v)}")
    print(f"  {'issue 13 point 1 budget (10% of lean)':<38} {'':8} {lean * 0.10:+10.1f} {0.10:+14.1%}")
j = collections.defaultdict(list)
for line in open(f"{out}/journal"):
    w, v = line.split()
    j[w].append(float(v))
withj, without = med(j["predWriter"]), med(j["nojournal"])
lean100 = med(serve["lean", 100])
print(f"\nthe journal's price (BenchmarkLakeCPU, demo leads in 100-lead requests, cpu-ns a record):")
print(f"  with the journal {withj:.0f}, without {without:.0f}: {withj - without:.0f} ns a record, "
      f"{(withj - without) / 10:.1f} us a 100-lead request, {(withj - without) / 10 / lean100:.1%} of lean's")
print(f"  every round: with {' '.join(f'{x:.0f}' for x in j['predWriter'])}; without {' '.join(f'{x:.0f}' for x in j['nojournal'])}")
PYEOF
echo "load at start $LOAD_START, at end $LOAD_END"
