#!/usr/bin/env bash
# Soak: `leadscore serve` at half its capacity for SOAK_DURATION (10 minutes),
# with resident memory and goroutine count sampled from /metrics
# (process_resident_memory_bytes, go_goroutines) every SAMPLE into a CSV.
# At the end it prints the first, last and largest samples and a verdict.
# FLAT when both hold, otherwise GROWING:
#   - memory: among the samples taken under load after WARMUP, the mean RSS
#     of the last third is at most RSS_TOLERANCE_MIB above that of the
#     first third;
#   - goroutines: two seconds after the load stops (the "after" sample),
#     when the generator's connections are closed, there are at most
#     GOROUTINE_TOLERANCE more than before it began. Under load the count
#     swings with the requests in flight (net/http runs a connection
#     goroutine and, per request, a background reader), so it is reported,
#     not judged. Exit status 1 when GROWING or
# when any request failed (missed requests, which the generator could not
# send in time, are reported but do not fail it).
#
#   bench/soak.sh                              # 10 minutes
#   SOAK_DURATION=90s SAMPLE=5s bench/soak.sh  # a short one
#   CAPACITY=4000 bench/soak.sh                # skip the search
#
# Settings (environment):
#   SOAK_DURATION=10m  SAMPLE=10s  WARMUP=60s (samples before it are not
#                      judged: pools, caches and the lake's buffers fill up)
#   BATCH=1            leads per request (single leads: the most requests,
#                      so the most chances to leak per request)
#   CONNECTIONS=64     generator connections
#   MAX_IN_FLIGHT=1024 the server's --max-in-flight (its default)
#   STEP=2s MAX_P99=100ms START_RATE=1000  capacity search (the p99 limit is
#                      loose on purpose, as in bench/overload.sh)
#   CAPACITY           requests/s to use as capacity instead of searching
#   RSS_TOLERANCE_MIB=8 GOROUTINE_TOLERANCE=10
#   LAKE=on            prediction capture (the serve default) into $OUT/lake;
#                      LAKE=off measures the HTTP service alone
#   PORT               listen port on 127.0.0.1 (default: a free ephemeral port)
#   OUT                folder for the CSV, logs and JSON (default: a new
#                      temporary folder, kept)
#
# The server writes its access log (on, as by default) to /dev/null: it
# still formats every line, but 10 minutes of them would fill the disk.
# Needs Go, curl and jq.
set -euo pipefail

cd "$(dirname "$0")/.."

SOAK_DURATION=${SOAK_DURATION:-10m}
SAMPLE=${SAMPLE:-10s}
WARMUP=${WARMUP:-60s}
BATCH=${BATCH:-1}
CONNECTIONS=${CONNECTIONS:-64}
MAX_IN_FLIGHT=${MAX_IN_FLIGHT:-1024}
STEP=${STEP:-2s}
MAX_P99=${MAX_P99:-100ms}
START_RATE=${START_RATE:-1000}
CAPACITY=${CAPACITY:-}
RSS_TOLERANCE_MIB=${RSS_TOLERANCE_MIB:-8}
GOROUTINE_TOLERANCE=${GOROUTINE_TOLERANCE:-10}
LAKE=${LAKE:-on}
OUT=${OUT:-$(mktemp -d /tmp/soak.XXXXXX)}
mkdir -p "$OUT"

# shellcheck source=bench/lib.sh
. bench/lib.sh
PORT=${PORT:-$(free_port)}
for tool in go curl jq; do
	command -v "$tool" >/dev/null || die "$tool is needed"
done

seconds() { # a Go duration like 10m, 90s or 1h, in whole seconds
	case $1 in
	*h) echo $((${1%h} * 3600)) ;;
	*m) echo $((${1%m} * 60)) ;;
	*s) echo "${1%s}" ;;
	*) die "duration $1: write it as Ns, Nm or Nh" ;;
	esac
}
SOAK_S=$(seconds "$SOAK_DURATION")
SAMPLE_S=$(seconds "$SAMPLE")
WARMUP_S=$(seconds "$WARMUP")

log "building $OUT/leadscore"
CGO_ENABLED=0 go build -o "$OUT/leadscore" ./cmd/leadscore
LS=$OUT/leadscore
URL=http://127.0.0.1:$PORT

SERVER_PID=''
LOAD_PID=''
trap 'stop_pids "$LOAD_PID" "$SERVER_PID"' EXIT
trap 'exit 130' INT TERM

# Settings through the environment (LEADSCORE_<FLAG>): a build without a
# lake ignores them. The lake never lands in the working tree.
export LEADSCORE_LAKE_DIR="$OUT/lake"
if [ "$LAKE" = off ]; then
	export LEADSCORE_LAKE=false
fi

port_free "$PORT" "set PORT"
log "starting leadscore on 127.0.0.1:$PORT (--max-in-flight $MAX_IN_FLIGHT, lake $LAKE)"
"$LS" serve --listen "127.0.0.1:$PORT" --max-in-flight "$MAX_IN_FLIGHT" >/dev/null 2>"$OUT/server.err" &
SERVER_PID=$!
wait_ready leadscore "$URL/readyz" "$SERVER_PID" "$OUT/server.err"

if [ -z "$CAPACITY" ]; then
	log "searching for capacity: $BATCH-lead requests, steps of $STEP, p99 within $MAX_P99"
	"$LS" loadtest --url "$URL/score" --search --rate "$START_RATE" --duration "$STEP" --max-p99 "$MAX_P99" \
		--batch "$BATCH" --connections "$CONNECTIONS" --json >"$OUT/search.json" ||
		die "no rate was sustained; see $OUT/search.json"
	CAPACITY=$(jq -r '.max_rate' "$OUT/search.json")
fi
RATE=$(awk -v c="$CAPACITY" 'BEGIN {printf "%.1f", c / 2}')
log "capacity $CAPACITY req/s; soaking at $RATE req/s for $SOAK_DURATION, sampling every $SAMPLE"

metric() { # name: its value in the server's /metrics
	# awk reads to the end: quitting early would fail curl (and pipefail).
	curl -sf --max-time 5 "$URL/metrics" | awk -v m="$1" '$1 == m && !found {print $2; found = 1}' || true
}
sample() { # seconds since the start, phase
	local rss g heap
	rss=$(metric process_resident_memory_bytes)
	g=$(metric go_goroutines)
	heap=$(metric go_memstats_heap_inuse_bytes)
	printf '%s,%s,%.0f,%s,%.0f\n' "$1" "$2" "${rss:-0}" "${g:-0}" "${heap:-0}"
}

# The server's own latency histogram for /score (cumulative counts per
# bucket, "le count" lines), to tell its delays from the generator's.
histogram() {
	curl -sf --max-time 5 "$URL/metrics" |
		sed -n 's/^leadscore_http_request_duration_seconds_bucket{route="\/score",le="\([^"]*\)"} \(.*\)$/\1 \2/p' || true
}
histogram >"$OUT/hist_before.txt"

CSV=$OUT/soak.csv
echo "t_s,phase,rss_bytes,goroutines,heap_inuse_bytes" >"$CSV"
sample 0 before >>"$CSV"
"$LS" loadtest --url "$URL/score" --rate "$RATE" --duration "$SOAK_DURATION" --batch "$BATCH" \
	--connections "$CONNECTIONS" --json >"$OUT/soak.json" &
LOAD_PID=$!
start=$(date +%s)
while kill -0 "$LOAD_PID" 2>/dev/null; do
	sleep "$SAMPLE_S"
	now=$(($(date +%s) - start))
	[ "$now" -le $((SOAK_S + SAMPLE_S)) ] || break
	kill -0 "$SERVER_PID" 2>/dev/null || die "the server died during the soak"
	sample "$now" load >>"$CSV"
	tail -n 1 "$CSV" | awk -F, '{printf "  t=%ss rss=%.1f MiB goroutines=%s\n", $1, $3 / 1048576, $4}' >&2
done
wait "$LOAD_PID" || true
LOAD_PID=''
histogram >"$OUT/hist_after.txt"
# p50, p99 and p99.9 as bucket bounds, and the share over 100 ms and 1 s.
server_latency=$(awk '
	NR == FNR { before[$1] = $2; next }
	{ le[++n] = $1; c[n] = $2 - before[$1] }
	END {
		total = c[n]
		if (total <= 0) { print "no requests"; exit }
		for (i = 1; i <= n; i++) {
			if (!p50 && c[i] >= 0.5 * total) p50 = le[i]
			if (!p99 && c[i] >= 0.99 * total) p99 = le[i]
			if (!p999 && c[i] >= 0.999 * total) p999 = le[i]
			if (le[i] == "0.1") over100 = total - c[i]
			if (le[i] == "1") over1s = total - c[i]
		}
		printf "p50 <= %s s, p99 <= %s s, p99.9 <= %s s (histogram buckets); %.3f%% over 100 ms, %.4f%% over 1 s, of %d requests\n", p50, p99, p999, 100 * over100 / total, 100 * over1s / total, total
	}' "$OUT/hist_before.txt" "$OUT/hist_after.txt")
sleep 2 # let connections close and the heap settle
sample "$(($(date +%s) - start))" after >>"$CSV"

# Verdict over the samples under load after the warm-up: the last third
# against the first third.
verdict=$(awk -F, -v warm="$WARMUP_S" -v tol_rss="$((RSS_TOLERANCE_MIB * 1048576))" -v tol_g="$GOROUTINE_TOLERANCE" '
	NR == 1 { next }
	$2 == "before" { r0 = $3; g0 = $4; next }
	$2 == "after" { ra_ = $3; ga_ = $4; next }
	{ t[++n] = $1; r[n] = $3; g[n] = $4; if ($3 > rmax) rmax = $3; if ($4 > gmax) gmax = $4 }
	END {
		if (n == 0) { print "verdict: NO SAMPLES"; exit }
		first = 1; while (first < n && t[first] < warm) first++
		m = n - first + 1; k = int(m / 3); if (k < 1) k = 1
		for (i = first; i < first + k; i++) ra += r[i]
		for (i = n - k + 1; i <= n; i++) rb += r[i]
		ra /= k; rb /= k
		for (i = 1; i <= n; i++) gsum += g[i]
		rss_ok = rb - ra <= tol_rss
		g_ok = ga_ - g0 <= tol_g
		printf "rss MiB: %.1f before the load; under load first %.1f, last %.1f, max %.1f; %.1f after it\n", r0 / 1048576, r[1] / 1048576, r[n] / 1048576, rmax / 1048576, ra_ / 1048576
		printf "rss trend: %d samples under load from t=%ss; mean of the first third %.1f MiB, of the last third %.1f MiB (%+.1f, tolerance %.0f): %s\n", m, t[first], ra / 1048576, rb / 1048576, (rb - ra) / 1048576, tol_rss / 1048576, (rss_ok ? "flat" : "growing")
		printf "goroutines: %d before the load; under load first %d, last %d, mean %.0f, max %d; %d after it (%+d, tolerance %d): %s\n", g0, g[1], g[n], gsum / n, gmax, ga_, ga_ - g0, tol_g, (g_ok ? "flat" : "growing")
		printf "verdict: %s\n", (rss_ok && g_ok ? "FLAT" : "GROWING")
	}' "$CSV")

s=$OUT/soak.json
{
	echo "soak: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	if [ -f "$OUT/search.json" ]; then
		echo "capacity (search, p99 <= $MAX_P99, $BATCH-lead requests): $CAPACITY req/s"
	else
		echo "capacity (given): $CAPACITY req/s"
	fi
	echo "server: --max-in-flight $MAX_IN_FLIGHT, access log on (to /dev/null), lake $LAKE; $BATCH-lead requests, $CONNECTIONS connections"
	echo "load: $RATE req/s for $SOAK_DURATION; $(jq -r '.sent' "$s") sent, $(jq -r '.ok' "$s") ok, errors $(jq -c '.errors' "$s"), achieved $(jq -r '.achieved_rate | floor' "$s") req/s"
	echo "latency in the server: $server_latency"
	echo "latency (from due time, as the generator saw it): p50 $(jq -r '.latency_ms.p50' "$s") ms, p99 $(jq -r '.latency_ms.p99' "$s") ms, p99.9 $(jq -r '.latency_ms.p99_9' "$s") ms, max $(jq -r '.latency_ms.max' "$s") ms"
	echo "$verdict"
	echo "samples: $CSV"
} | tee "$OUT/summary.txt"

failed=$(jq -r '.failed' "$s")
[ "$failed" = 0 ] || die "$failed requests failed"
case $verdict in
*"verdict: FLAT"*) ;;
*) exit 1 ;;
esac
