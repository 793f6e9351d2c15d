#!/usr/bin/env bash
# Shadow variant cost: does a shadow variant leave live single-lead
# throughput alone, and is it shed (and counted) rather than slowing live
# requests when the machine has no spare CPU? (issue 14)
#
# Builds the binary and runs two servers side by side, both with the data
# lake on (shadow scores go there):
#   control  --model bundle/demo                        (one model, today's path)
#   shadow   --variant champion=bundle/demo --variant shadow=bundle/demo:shadow
# The shadow is the demo model itself, so it costs as much as the live
# scoring. Two phases, each RUNS alternated runs of DURATION per server
# (control, shadow, control, ...), medians reported:
#   spare CPU   the server on both cores at RATE_SPARE single-lead requests/s
#               (well below capacity): achieved live rate, p50/p99, CPU
#               seconds per request (from /proc), shadow leads scored and shed;
#   saturated   the server pinned to core 0 with GOMAXPROCS=1, sharing it
#               with HOGS busy loops, the generator on core 1, offered
#               RATE_SAT requests/s (above capacity): live rate sustained with and without the shadow,
#               and how many shadow leads were shed (--shadow-queue QUEUE).
#
#   bench/shadow.sh
#   RUNS=5 DURATION=10s bench/shadow.sh
#
# Settings (environment): RUNS=3 DURATION=5s RATE_SPARE=1000 RATE_SAT=20000
# CONNECTIONS=32 QUEUE=256 HOGS=3. Needs taskset (util-linux), curl and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}

RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
RATE_SPARE=${RATE_SPARE:-1000}
RATE_SAT=${RATE_SAT:-20000}
CONNECTIONS=${CONNECTIONS:-32}
QUEUE=${QUEUE:-256}
HOGS=${HOGS:-3}
for tool in taskset curl jq; do command -v "$tool" >/dev/null || die "needs $tool"; done

work=$(mktemp -d)
pids=()
cleanup() { stop_pids "${pids[@]}"; rm -rf "$work"; }
trap cleanup EXIT
bin=$work/leadscore
log "building"
go build -o "$bin" ./cmd/leadscore

# start NAME CPUS GOMAXPROCS ARGS...: starts a server, sets URL_<NAME> and PID_<NAME>.
start() {
	local name=$1 cpus=$2 procs=$3
	shift 3
	local logf=$work/$name.log
	GOMAXPROCS=$procs taskset -c "$cpus" "$bin" serve --listen 127.0.0.1:0 --access-log=false --monitor=false \
		--lake-dir "$work/lake-$name" "$@" >"$logf" 2>&1 &
	local pid=$!
	pids+=("$pid")
	local addr=""
	for _ in $(seq 300); do
		addr=$(grep -o '"addr":"[^"]*"' "$logf" 2>/dev/null | head -1 | cut -d'"' -f4 || true)
		[ -n "$addr" ] && break
		kill -0 "$pid" 2>/dev/null || die "$name exited; see $logf"
		sleep 0.1
	done
	[ -n "$addr" ] || die "$name did not start; see $logf"
	wait_ready "$name" "http://$addr/readyz" "$pid" "$logf"
	printf -v "URL_$name" '%s' "http://$addr"
	printf -v "PID_$name" '%s' "$pid"
}

# cpu_ticks PID: user+system clock ticks of a process so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# metric URL NAME: the sum of a counter over its series (0 when absent).
metric() { curl -sf "$1/metrics" | awk -v m="$2" '$1 ~ "^"m"({|$)" {s += $2} END {printf "%d\n", s}'; }
hz=$(getconf CLK_TCK)

# run NAME RATE GENCPUS: one loadtest run; prints "ok_rate p50 p99 cpu_s_per_req shadow_scored shadow_shed".
run() {
	local name=$1 rate=$2 gencpus=$3
	local url pid
	url=$(eval echo "\$URL_$name")
	pid=$(eval echo "\$PID_$name")
	local t0 s0 d0 t1 s1 d1 out
	t0=$(cpu_ticks "$pid"); s0=$(metric "$url" leadscore_variant_shadow_scored_total); d0=$(metric "$url" leadscore_variant_shadow_shed_total)
	out=$(taskset -c "$gencpus" "$bin" loadtest --url "$url/score" --rate "$rate" --duration "$DURATION" \
		--connections "$CONNECTIONS" --json)
	sleep 0.3 # let the shadow queue drain before reading the counters
	t1=$(cpu_ticks "$pid"); s1=$(metric "$url" leadscore_variant_shadow_scored_total); d1=$(metric "$url" leadscore_variant_shadow_shed_total)
	local ok
	ok=$(jq -r .ok <<<"$out")
	printf '%s %s %s %s %s %s\n' "$(jq -r .ok_rate <<<"$out")" "$(jq -r .latency_ms.p50 <<<"$out")" "$(jq -r .latency_ms.p99 <<<"$out")" \
		"$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$ok" 'BEGIN {printf "%.1f", (n > 0 ? 1e6 * t / hz / n : 0)}')" \
		$((s1 - s0)) $((d1 - d0))
}

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# phase TITLE RATE GENCPUS: alternated runs, then medians side by side.
phase() {
	local title=$1 rate=$2 gencpus=$3
	: >"$work/control.runs"
	: >"$work/shadow.runs"
	for i in $(seq "$RUNS"); do
		log "$title: run $i/$RUNS"
		run control "$rate" "$gencpus" >>"$work/control.runs"
		run shadow "$rate" "$gencpus" >>"$work/shadow.runs"
	done
	printf '\n%s, %d requests/s offered, %s runs of %s (medians)\n' "$title" "$rate" "$RUNS" "$DURATION"
	printf '  %-8s %12s %9s %9s %12s %14s %12s\n' server "live req/s" "p50 ms" "p99 ms" "CPU us/req" "shadow scored" "shadow shed"
	local name
	for name in control shadow; do
		local f=$work/$name.runs
		printf '  %-8s %12.0f %9s %9s %12s %14s %12s\n' "$name" \
			"$(cut -d' ' -f1 "$f" | median)" "$(cut -d' ' -f2 "$f" | median)" "$(cut -d' ' -f3 "$f" | median)" \
			"$(cut -d' ' -f4 "$f" | median)" "$(cut -d' ' -f5 "$f" | median)" "$(cut -d' ' -f6 "$f" | median)"
	done
	local c s
	c=$(cut -d' ' -f1 "$work/control.runs" | median)
	s=$(cut -d' ' -f1 "$work/shadow.runs" | median)
	printf '  live throughput with the shadow / without: %s\n' "$(awk -v s="$s" -v c="$c" 'BEGIN {printf "%.3f", s / c}')"
}

log "phase 1: spare CPU (server on cores 0-1)"
start control 0-1 2 --model bundle/demo
start shadow 0-1 2 --variant champion=bundle/demo --variant shadow=bundle/demo:shadow --shadow-queue "$QUEUE"
phase "spare CPU" "$RATE_SPARE" 0-1
stop_pids "$PID_control" "$PID_shadow"

log "phase 2: no spare CPU (server on core 0, GOMAXPROCS=1, sharing it with $HOGS busy loops; generator on core 1)"
# The generator cannot saturate a whole core of single-lead scoring
# (bench/RESULTS.md), so busy loops take most of the server's core.
for _ in $(seq "$HOGS"); do
	taskset -c 0 sh -c 'while :; do :; done' &
	pids+=("$!")
done
start control 0 1 --model bundle/demo
start shadow 0 1 --variant champion=bundle/demo --variant shadow=bundle/demo:shadow --shadow-queue "$QUEUE"
phase "no spare CPU" "$RATE_SAT" 1
