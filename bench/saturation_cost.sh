#!/usr/bin/env bash
# What capture and monitoring cost when the server is saturated: issue 13's
# own method (wrk, closed loop, on loopback), where capture_cost.sh measures
# at a moderate open-loop rate. A saturated server is where a slow fsync, a
# full capture queue or a busy collector shows: requests wait, and the
# server's throughput falls further than its CPU per request rises.
#
# Three servers run side by side on random 127.0.0.1 ports:
#   bare     bench/bare: net/http that only decodes the JSON (the floor)
#   lean     leadscore serve --lake=false --monitor=false
#   full     leadscore serve with its defaults (lake in a temporary folder)
# (the access log is off on both leadscore servers, as in the issue's table).
# For REPEATS rounds, the order of the servers turning each round, wrk
# (THREADS threads, CONNECTIONS connections) saturates each for DURATION
# with single-lead requests, then with 100-lead requests (demo leads, the
# same bodies for every server). It reads each server's CPU time
# (utime+stime in /proc/PID/stat) before and after, and prints the medians
# of requests/s and of CPU microseconds per request, the ratios full/lean
# and lean/bare, and the capture metrics of the full server (requests that
# waited for room in the capture queue, journal fsync time).
#
#   bash bench/saturation_cost.sh              # REPEATS=3 DURATION=4s
#   REPEATS=5 DURATION=5s bash bench/saturation_cost.sh
#
# Needs wrk (apt-get install wrk), curl and Debian's python3.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
REPEATS=${REPEATS:-3}
DURATION=${DURATION:-4s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
OUT=${OUT:-$(mktemp -d /tmp/saturation_cost.XXXXXX)}
PY=${PYTHON:-/usr/bin/python3}
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"

build_servers

# The request bodies: demo leads as JSON arrays of numbers, empty CSV cells
# as null (what a client sends for a missing value).
"$PY" - "$OUT" <<'PYEOF'
import csv, sys
out = sys.argv[1]
rows = list(csv.reader(open("loadgen/demo_leads.csv")))[1:]
cell = lambda c: "null" if c == "" else c
lead = lambda r: "[" + ",".join(cell(c) for c in r) + "]"
open(f"{out}/body1.json", "w").write("[" + lead(rows[0]) + "]")
open(f"{out}/body100.json", "w").write("[" + ",".join(lead(r) for r in rows[:100]) + "]")
for b in (1, 100):
    open(f"{out}/post{b}.lua", "w").write(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{out}/body{b}.json"); wrk.body = f:read("*a"); f:close()\n')
PYEOF

HZ=$(getconf CLK_TCK)

declare -A PORT PID
PORT[bare]=$(free_port)
bin/bare --listen "127.0.0.1:${PORT[bare]}" >"$OUT/bare.log" 2>&1 &
PID[bare]=$!
PORT[lean]=$(free_port)
bin/leadscore serve --listen "127.0.0.1:${PORT[lean]}" --access-log=false --lake=false --monitor=false >"$OUT/lean.log" 2>&1 &
PID[lean]=$!
PORT[full]=$(free_port)
bin/leadscore serve --listen "127.0.0.1:${PORT[full]}" --access-log=false --lake-dir "$OUT/lake" >"$OUT/full.log" 2>&1 &
PID[full]=$!
trap 'stop_pids "${PID[bare]}" "${PID[lean]}" "${PID[full]}"' EXIT
for s in bare lean full; do
	wait_ready "$s" "http://127.0.0.1:${PORT[$s]}/readyz" "${PID[$s]}" "$OUT/$s.log"
done

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "load: $LOAD_START; results in $OUT"
run() { # server batch repeat
	local s=$1 b=$2 r=$3 c0 c1 n
	c0=$(cpu_ticks "${PID[$s]}")
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$OUT/post$b.lua" "http://127.0.0.1:${PORT[$s]}/score" >"$OUT/${s}_b${b}_r${r}.wrk"
	c1=$(cpu_ticks "${PID[$s]}")
	n=$(awk '/requests in/ {print $1}' "$OUT/${s}_b${b}_r${r}.wrk")
	awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v n="$n" 'BEGIN{printf "%.2f\n", (b-a)/hz/(n>0?n:1)*1e6}' >"$OUT/${s}_b${b}_r${r}.cpu_us"
}
SERVERS=(bare lean full)
for ((r = 0; r < REPEATS; r++)); do
	order=("${SERVERS[@]:r%3}" "${SERVERS[@]:0:r%3}")
	for s in "${order[@]}"; do run "$s" 1 "$r"; done
	for s in "${order[@]}"; do run "$s" 100 "$r"; done
	log "round $((r + 1))/$REPEATS done; load $(cut -d' ' -f1-3 /proc/loadavg)"
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
curl -sf "http://127.0.0.1:${PORT[full]}/metrics" >"$OUT/full.metrics" || true

echo "saturated (wrk -t$THREADS -c$CONNECTIONS, closed loop), median of $REPEATS turning rounds of $DURATION; load $LOAD_START at start, $LOAD_END at end"
"$PY" - "$OUT" "$REPEATS" <<'PYEOF'
import re, statistics, sys
out, repeats = sys.argv[1], int(sys.argv[2])
med = statistics.median
def rate(path):
    m = re.search(r"Requests/sec:\s+([0-9.]+)", open(path).read())
    return float(m.group(1)) if m else 0.0
def errors(path):
    t = open(path).read()
    n = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", t))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
    return n + (sum(int(x) for x in m.groups()) if m else 0)
fig = {}
print(f"{'server':<7} {'batch':>5} {'req/s':>9} {'leads/s':>10} {'CPU us/req':>11} {'errors':>7}   req/s per round; CPU us/req per round")
for b in (1, 100):
    for s in ("bare", "lean", "full"):
        rates = [rate(f"{out}/{s}_b{b}_r{r}.wrk") for r in range(repeats)]
        cpu = [float(open(f"{out}/{s}_b{b}_r{r}.cpu_us").read()) for r in range(repeats)]
        errs = sum(errors(f"{out}/{s}_b{b}_r{r}.wrk") for r in range(repeats))
        fig[s, b] = dict(rate=med(rates), cpu=med(cpu), rates=rates, cpus=cpu)
        print(f"{s:<7} {b:>5} {med(rates):9.0f} {med(rates) * b:10.0f} {med(cpu):11.1f} {errs:7d}   "
              f"{' '.join(f'{x:.0f}' for x in rates)}; {' '.join(f'{x:.1f}' for x in cpu)}")
paired = lambda k, n, d, b: med(x / y for x, y in zip(fig[n, b][k], fig[d, b][k]))
print()
print("ratios of the medians, and in brackets the median of the ratios within each round (paired)")
for b in (1, 100):
    print(f"{b:>3} lead(s): full/lean CPU per request {fig['full', b]['cpu'] / fig['lean', b]['cpu']:.3f} "
          f"({paired('cpus', 'full', 'lean', b):.3f}), full/lean req/s {fig['full', b]['rate'] / fig['lean', b]['rate']:.3f} "
          f"({paired('rates', 'full', 'lean', b):.3f}), full/bare req/s {fig['full', b]['rate'] / fig['bare', b]['rate']:.3f} "
          f"({paired('rates', 'full', 'bare', b):.3f})")
metrics = open(f"{out}/full.metrics").read()
def metric(name):
    m = re.search(rf"^{name} ([0-9.e+]+)$", metrics, re.M)
    return float(m.group(1)) if m else float("nan")
n = metric("leadscore_capture_journal_sync_seconds_count")
dropped = metric('leadscore_capture_dropped_total{reason="queue_full"}')
print(f"full, whole run: {metric('leadscore_capture_queue_waits_total'):.0f} requests waited for room in the capture queue; "
      f"{n:.0f} journal fsyncs, {1000 * metric('leadscore_capture_journal_sync_seconds_sum') / max(n, 1):.1f} ms each on average; "
      f"records captured {metric('leadscore_capture_records_total'):.0f}, dropped (queue full) "
      f"{dropped:.0f}")
PYEOF
