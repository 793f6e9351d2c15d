#!/usr/bin/env bash
# Open-loop tail latency at a fixed rate (issue 13 point 3: p99 at most 2 ms
# at 5,000 single-lead requests/s with the defaults, beside the bare
# net/http control at the same rate).
#
# Two servers run side by side on ephemeral 127.0.0.1 ports:
#   bare     bench/bare: net/http that only decodes the JSON (the control)
#   full     leadscore serve with its defaults (lake in a temporary folder,
#            drift monitor and access log on; the log to a file)
# For REPEATS rounds, alternating the two, `leadscore loadtest` sends
# single-lead requests at RATE requests/s for DURATION, open loop (latency
# from each request's due time, so no coordinated omission), over
# CONNECTIONS connections. The script prints the medians of p50, p99 and
# p99.9 as the generator saw them, requests late or missed, and each
# server's CPU time per request (utime+stime from /proc/PID/stat), with the
# control beside every figure and the machine's load. On a shared host the
# generator, both servers and other jobs compete for the same cores: the
# control's p99 is what the host alone adds, and full minus bare is ours.
#
#   bash bench/openloop_p99.sh          # REPEATS=3 RATE=5000 DURATION=10s CONNECTIONS=64
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
REPEATS=${REPEATS:-3}
RATE=${RATE:-5000}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
PY=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-$(mktemp -d /tmp/openloop_p99.XXXXXX)}

build_servers

declare -A PORT PID
PORT[bare]=$(free_port)
bin/bare --listen "127.0.0.1:${PORT[bare]}" >"$OUT/bare.log" 2>&1 &
PID[bare]=$!
PORT[full]=$(free_port)
bin/leadscore serve --listen "127.0.0.1:${PORT[full]}" --lake-dir "$OUT/lake" >"$OUT/full.log" 2>&1 &
PID[full]=$!
trap 'stop_pids "${PID[bare]}" "${PID[full]}"' EXIT
wait_ready bare "http://127.0.0.1:${PORT[bare]}/readyz" "${PID[bare]}" "$OUT/bare.log"
wait_ready full "http://127.0.0.1:${PORT[full]}/readyz" "${PID[full]}" "$OUT/full.log"
# One untimed second each: connections, caches and the lake's first file.
for s in bare full; do
	bin/leadscore loadtest --url "http://127.0.0.1:${PORT[$s]}/score" --rate "$RATE" --duration 1s \
		--connections "$CONNECTIONS" --json >/dev/null
done

LOAD_START=$(uptime)
log "load: $LOAD_START; results in $OUT"
for ((r = 0; r < REPEATS; r++)); do
	for s in bare full; do
		c0=$(cpu_ticks "${PID[$s]}")
		bin/leadscore loadtest --url "http://127.0.0.1:${PORT[$s]}/score" --rate "$RATE" --duration "$DURATION" \
			--batch 1 --connections "$CONNECTIONS" --json >"$OUT/${s}_r$r.json"
		c1=$(cpu_ticks "${PID[$s]}")
		echo "$((c1 - c0))" >"$OUT/${s}_r$r.ticks"
	done
	log "round $((r + 1))/$REPEATS done; load $(uptime | sed 's/.*load average: //')"
done
LOAD_END=$(uptime)

echo "open loop, $RATE single-lead requests/s for $DURATION, $CONNECTIONS connections, median of $REPEATS alternated rounds"
echo "load at start: $LOAD_START"
echo "load at end:   $LOAD_END"
"$PY" - "$OUT" "$REPEATS" "$(getconf CLK_TCK)" <<'PYEOF'
import json, statistics, sys
out, repeats, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
med = statistics.median
rows = {}
for s in ("bare", "full"):
    runs = [json.load(open(f"{out}/{s}_r{r}.json")) for r in range(repeats)]
    ticks = [int(open(f"{out}/{s}_r{r}.ticks").read()) for r in range(repeats)]
    cpu = [t / hz / max(d["ok"], 1) * 1e6 for t, d in zip(ticks, runs)]
    rows[s] = dict(
        rate=med(d["ok_rate"] for d in runs), p50=med(d["latency_ms"]["p50"] for d in runs),
        p99=med(d["latency_ms"]["p99"] for d in runs), p999=med(d["latency_ms"]["p99_9"] for d in runs),
        late=med(d["late"] for d in runs), missed=med(d["missed"] for d in runs), failed=med(d["failed"] for d in runs),
        cpu=med(cpu), p99s=[d["latency_ms"]["p99"] for d in runs])
print(f"{'server':<8} {'req/s ok':>9} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'late':>7} {'missed':>7} {'failed':>7} {'CPU us/req':>11}   p99 per round")
for s, r in rows.items():
    print(f"{s:<8} {r['rate']:9.0f} {r['p50']:8.3f} {r['p99']:8.3f} {r['p999']:9.3f} {r['late']:7.0f} {r['missed']:7.0f} "
          f"{r['failed']:7.0f} {r['cpu']:11.1f}   {' '.join(f'{x:.3f}' for x in r['p99s'])}")
f, b = rows["full"], rows["bare"]
print(f"\np99 with defaults {f['p99']:.3f} ms (target <= 2 ms), bare control {b['p99']:.3f} ms at the same rate; "
      f"difference {f['p99'] - b['p99']:+.3f} ms")
PYEOF
