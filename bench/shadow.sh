#!/usr/bin/env bash
# Shadow variant cost: does a shadow variant leave live single-lead
# throughput alone, and is it shed (and counted) rather than slowing live
# requests when the machine has no spare CPU? (issue 14)
#
# Builds the binaries and runs three servers side by side, the two
# leadscore ones with the data lake on (shadow scores go there):
#   bare     bench/bare: net/http that only decodes the JSON (the control:
#            what the machine, loopback and generator allow)
#   control  --model bundle/demo                        (one model, today's path)
#   shadow   --variant champion=bundle/demo --variant shadow=bundle/demo:shadow
# The shadow is the demo model itself, so it costs as much as the live
# scoring, and its scores are captured too. Two phases, each RUNS rounds of
# DURATION per server, alternated (bare, control, shadow, then shadow,
# control, bare, ...), medians reported, with the median of the per-round
# shadow/control ratios (rounds next to each other in time see the same
# load from other jobs) and the ratio of CPU per request (counted while the
# generator runs, from /proc):
#   spare CPU   the servers on both cores, GOMAXPROCS=2, offered RATE_SPARE
#               single-lead requests/s open loop (`leadscore loadtest`, well
#               below capacity): achieved live rate, p50/p99, CPU per request
#               (from /proc), shadow leads scored and shed;
#   saturated   each server pinned to core 0 with GOMAXPROCS=1, sharing it
#               with HOGS busy loops (the machine has no spare CPU), driven
#               closed loop by wrk on core 1 (CONNECTIONS connections, each
#               sending its next request as soon as the answer arrives): the
#               live rate with and without the shadow, and how many shadow
#               leads were shed for want of CPU.
#
#   bench/shadow.sh
#   RUNS=5 DURATION=10s bench/shadow.sh
#
# Settings (environment): RUNS=3 DURATION=5s RATE_SPARE=1000 CONNECTIONS=32
# HOGS=3. Needs taskset (util-linux), curl, jq, python3 and wrk
# (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}

RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
RATE_SPARE=${RATE_SPARE:-1000}
CONNECTIONS=${CONNECTIONS:-32}
HOGS=${HOGS:-3}
for tool in taskset curl jq python3 wrk; do command -v "$tool" >/dev/null || die "needs $tool"; done

work=$(mktemp -d)
pids=()
cleanup() { stop_pids "${pids[@]}"; rm -rf "$work"; }
trap cleanup EXIT
bin=$work/leadscore
log "building"
CGO_ENABLED=0 go build -trimpath -o "$bin" ./cmd/leadscore
CGO_ENABLED=0 go build -trimpath -o "$work/bare" ./bench/bare

# wrk's request script: single-lead /score bodies from the demo leads, in turn.
python3 - "$work/post.lua" <<'EOF'
import csv, json, sys
rows = []
with open("loadgen/demo_leads.csv") as f:
    r = csv.reader(f)
    head = next(r)
    keep = [i for i, h in enumerate(head) if h != "converted"]
    for row in r:
        rows.append([None if row[i] in ("", "nan", "null") else float(row[i]) for i in keep])
        if len(rows) == 200:
            break
bodies = ",\n".join(json.dumps(json.dumps([row])) for row in rows)  # JSON strings are Lua strings
with open(sys.argv[1], "w") as out:
    out.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
    out.write("local bodies = {\n" + bodies + "\n}\n")
    out.write("""local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
done = function(summary, latency, requests)
  io.write(string.format("WRK %d %d %d %d %d %.3f %.3f\\n", summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration, 0, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
""")
EOF

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# start NAME CPUS GOMAXPROCS [ARGS...]: starts a server (bare, or leadscore
# serve with ARGS), sets URL_<NAME> and PID_<NAME>.
start() {
	local name=$1 cpus=$2 procs=$3
	shift 3
	local logf=$work/$name.log pid addr
	if [ "$name" = bare ]; then
		addr=127.0.0.1:$(free_port)
		GOMAXPROCS=$procs taskset -c "$cpus" "$work/bare" --listen "$addr" >"$logf" 2>&1 &
		pid=$!
	else
		GOMAXPROCS=$procs taskset -c "$cpus" "$bin" serve --listen 127.0.0.1:0 --access-log=false --monitor=false \
			--lake-dir "$work/lake-$name" "$@" >"$logf" 2>&1 &
		pid=$!
		addr=""
		for _ in $(seq 300); do
			addr=$(grep -o '"addr":"[^"]*"' "$logf" 2>/dev/null | head -1 | cut -d'"' -f4 || true)
			[ -n "$addr" ] && break
			kill -0 "$pid" 2>/dev/null || die "$name exited; see $logf"
			sleep 0.1
		done
		[ -n "$addr" ] || die "$name did not start; see $logf"
	fi
	pids+=("$pid")
	wait_ready "$name" "http://$addr/readyz" "$pid" "$logf"
	printf -v "URL_$name" '%s' "http://$addr"
	printf -v "PID_$name" '%s' "$pid"
}

# cpu_ticks PID: user+system clock ticks of a process so far.
# metric URL NAME [FILTER]: the sum of a counter over its series whose
# labels contain FILTER (0 when absent, or for bare).
metric() {
	{ curl -sf "$1/metrics" 2>/dev/null || true; } |
		awk -v m="$2" -v f="${3:-}" '$1 ~ "^"m"({|$)" && index($1, f) {s += $2} END {printf "%d\n", s}'
}
hz=$(getconf CLK_TCK)
secs=$(awk -v d="$DURATION" 'BEGIN {sub(/s$/, "", d); print d}')

# run NAME MODE GENCPUS: one run, open loop (MODE spare) or closed loop
# (MODE saturated); prints
# "ok_rate p50_ms p99_ms cpu_us_per_req shadow_scored shadow_shed shed_no_spare_cpu".
run() {
	local name=$1 mode=$2 gencpus=$3
	local url pid
	url=$(eval echo "\$URL_$name")
	pid=$(eval echo "\$PID_$name")
	local t0 s0 d0 c0 t1 s1 d1 c1 ok rate p50 p99
	s0=$(metric "$url" leadscore_variant_shadow_scored_total)
	d0=$(metric "$url" leadscore_variant_shadow_shed_total)
	c0=$(metric "$url" leadscore_variant_shadow_shed_total no_spare_cpu)
	# CPU is counted while the generator runs only: a scrape of /metrics
	# or a GET /v1/variants computes the live comparison over its whole
	# window (milliseconds), which would be charged to the requests.
	t0=$(cpu_ticks "$pid")
	if [ "$mode" = spare ]; then
		local out
		out=$(taskset -c "$gencpus" "$bin" loadtest --url "$url/score" --rate "$RATE_SPARE" --duration "$DURATION" \
			--connections "$CONNECTIONS" --json)
		ok=$(jq -r .ok <<<"$out")
		rate=$(jq -r .ok_rate <<<"$out")
		p50=$(jq -r .latency_ms.p50 <<<"$out")
		p99=$(jq -r .latency_ms.p99 <<<"$out")
	else
		local line n bad err dur
		line=$(taskset -c "$gencpus" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$work/post.lua" "$url/score" | grep '^WRK ')
		read -r _ n bad err dur _ p50 p99 <<<"$line"
		ok=$((n - bad - err))
		rate=$(awk -v ok="$ok" -v d="$dur" 'BEGIN {printf "%.1f", ok / (d / 1e6)}')
	fi
	t1=$(cpu_ticks "$pid")
	# The shadow counters move until the queue drains: wait for it.
	for _ in $(seq 50); do
		[ "$(curl -sf "$url/v1/variants" 2>/dev/null | jq -r '.shadow_queue.length // 0' 2>/dev/null || echo 0)" = 0 ] && break
		sleep 0.1
	done
	s1=$(metric "$url" leadscore_variant_shadow_scored_total)
	d1=$(metric "$url" leadscore_variant_shadow_shed_total)
	c1=$(metric "$url" leadscore_variant_shadow_shed_total no_spare_cpu)
	printf '%s %s %s %s %s %s %s\n' "$rate" "$p50" "$p99" \
		"$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$ok" 'BEGIN {printf "%.1f", (n > 0 ? 1e6 * t / hz / n : 0)}')" \
		$((s1 - s0)) $((d1 - d0)) $((c1 - c0))
}

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
col() { cut -d' ' -f"$2" "$work/$1.runs" | median; }

# phase TITLE MODE GENCPUS: alternated runs, then medians side by side.
phase() {
	local title=$1 mode=$2 gencpus=$3 name
	for name in bare control shadow; do : >"$work/$name.runs"; done
	local order
	for i in $(seq "$RUNS"); do
		log "$title: round $i/$RUNS"
		# Alternate the order (bare control shadow, then shadow control
		# bare) so that a drift in the machine's load favours neither.
		order="bare control shadow"
		[ $((i % 2)) = 0 ] && order="shadow control bare"
		for name in $order; do run "$name" "$mode" "$gencpus" >>"$work/$name.runs"; done
	done
	printf '\n%s: %s runs of %s per server, alternated (medians)\n' "$title" "$RUNS" "$DURATION"
	printf '  %-8s %11s %9s %9s %11s %14s %12s %14s\n' server "live req/s" "p50 ms" "p99 ms" "CPU us/req" "shadow scored" "shadow shed" "no spare CPU"
	for name in bare control shadow; do
		printf '  %-8s %11.0f %9s %9s %11s %14s %12s %14s\n' "$name" \
			"$(col "$name" 1)" "$(col "$name" 2)" "$(col "$name" 3)" "$(col "$name" 4)" \
			"$(col "$name" 5)" "$(col "$name" 6)" "$(col "$name" 7)"
	done
	printf '  per-round ratios shadow/control:'
	paste -d' ' <(cut -d' ' -f1 "$work/control.runs") <(cut -d' ' -f1 "$work/shadow.runs") |
		awk '{printf " %.3f", $2 / $1}'
	printf '\n  median of the per-round ratios: %s   CPU us/request shadow/control (medians): %s' \
		"$(paste -d' ' <(cut -d' ' -f1 "$work/control.runs") <(cut -d' ' -f1 "$work/shadow.runs") | awk '{printf "%.3f\n", $2 / $1}' | median)" \
		"$(awk -v s="$(col shadow 4)" -v c="$(col control 4)" 'BEGIN {printf "%.3f", s / c}')"
	printf '\n  live throughput with the shadow / without (medians): %s   (control/bare: %s)\n' \
		"$(awk -v s="$(col shadow 1)" -v c="$(col control 1)" 'BEGIN {printf "%.3f", s / c}')" \
		"$(awk -v c="$(col control 1)" -v b="$(col bare 1)" 'BEGIN {printf "%.3f", c / b}')"
	printf '  shadow leads shed: %s of %s (%s for want of CPU)\n' "$(col shadow 6)" \
		"$(awk -v a="$(col shadow 5)" -v b="$(col shadow 6)" 'BEGIN {print a + b}')" "$(col shadow 7)"
}

printf 'bench/shadow.sh: %s, %s CPUs, load average before: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"

log "phase 1: spare CPU (servers on cores 0-1, GOMAXPROCS=2; open loop at $RATE_SPARE req/s)"
start bare 0-1 2
start control 0-1 2 --model bundle/demo
start shadow 0-1 2 --variant champion=bundle/demo --variant shadow=bundle/demo:shadow
phase "spare CPU, $RATE_SPARE single-lead requests/s offered (open loop)" spare 0-1
stop_pids "$PID_bare" "$PID_control" "$PID_shadow"

log "phase 2: no spare CPU (servers on core 0, GOMAXPROCS=1, with $HOGS busy loops; wrk on core 1)"
for _ in $(seq "$HOGS"); do
	taskset -c 0 sh -c 'while :; do :; done' &
	pids+=("$!")
done
start bare 0 1
start control 0 1 --model bundle/demo
start shadow 0 1 --variant champion=bundle/demo --variant shadow=bundle/demo:shadow
phase "no spare CPU, closed loop (wrk, $CONNECTIONS connections)" saturated 1
printf '\nload average after: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
