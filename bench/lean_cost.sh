#!/usr/bin/env bash
# Where the lean server's single-lead cost goes, beside the bare net/http
# control (issue 13 point 2): CPU per request of
#   bare        bench/bare: net/http that only decodes the JSON (the control)
#   lean        leadscore serve --lake=false --monitor=false (access log on,
#               to a file, and the read/write/idle timeouts: the defaults)
#   noaccess    lean with --access-log=false
#   notimeouts  lean with --read-timeout=0 --write-timeout=0 --idle-timeout=0
#               (ReadHeaderTimeout stays, as in bare)
# all running side by side on ephemeral 127.0.0.1 ports. For ROUNDS rounds
# `leadscore loadtest` sends single-lead requests open loop at RATE/s for
# DURATION to each server in turn, the order turning by one each round, and
# the script reads each server's user and system CPU time from
# /proc/PID/stat around its run. It prints per server the medians of CPU
# us/request (user, system), bare/server as a ratio of medians and as the
# median of the ratios within each round (paired: the two ran seconds
# apart, under the same load from other jobs), every round's figure, and
# the machine's load. Many short rounds pair better than a few long ones
# on a shared host whose load swings a round's figure by +-15%.
#
#   bash bench/lean_cost.sh        # ROUNDS=12 DURATION=2s RATE=5000 CONNECTIONS=64
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
ROUNDS=${ROUNDS:-12}
DURATION=${DURATION:-2s}
RATE=${RATE:-5000}
CONNECTIONS=${CONNECTIONS:-64}
PY=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-$(mktemp -d /tmp/lean_cost.XXXXXX)}

build_servers

SERVERS=(bare lean noaccess notimeouts)
declare -A PORT PID ARGS
ARGS[lean]=""
ARGS[noaccess]="--access-log=false"
ARGS[notimeouts]="--read-timeout=0 --write-timeout=0 --idle-timeout=0"
for s in "${SERVERS[@]}"; do
	PORT[$s]=$(free_port)
	if [ "$s" = bare ]; then
		bin/bare --listen "127.0.0.1:${PORT[$s]}" >"$OUT/$s.log" 2>&1 &
	else
		# shellcheck disable=SC2086 # ARGS holds several flags
		bin/leadscore serve --listen "127.0.0.1:${PORT[$s]}" --lake=false --monitor=false ${ARGS[$s]} >"$OUT/$s.log" 2>&1 &
	fi
	PID[$s]=$!
done
trap 'stop_pids "${PID[@]}"' EXIT
for s in "${SERVERS[@]}"; do wait_ready "$s" "http://127.0.0.1:${PORT[$s]}/readyz" "${PID[$s]}" "$OUT/$s.log"; done

LOAD_START=$(uptime)
log "load: $LOAD_START; results in $OUT"
n=${#SERVERS[@]}
for ((r = 0; r < ROUNDS; r++)); do
	for ((i = 0; i < n; i++)); do
		s=${SERVERS[$(((i + r) % n))]}
		awk '{print $14, $15}' "/proc/${PID[$s]}/stat" >"$OUT/${s}_$r.cpu0"
		bin/leadscore loadtest --url "http://127.0.0.1:${PORT[$s]}/score" --rate "$RATE" --duration "$DURATION" \
			--batch 1 --connections "$CONNECTIONS" --json >"$OUT/${s}_$r.json"
		awk '{print $14, $15}' "/proc/${PID[$s]}/stat" >"$OUT/${s}_$r.cpu1"
	done
done
LOAD_END=$(uptime)

echo "lean single-lead cost beside bare: $ROUNDS rounds of $DURATION at $RATE req/s, $CONNECTIONS connections, order turning"
echo "load at start: $LOAD_START"
echo "load at end:   $LOAD_END"
"$PY" - "$OUT" "$ROUNDS" "$(getconf CLK_TCK)" "${SERVERS[@]}" <<'PYEOF'
import json, statistics, sys
out, rounds, hz, servers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
med = statistics.median
fig = {}
for s in servers:
    fig[s] = []
    for r in range(rounds):
        u0, s0 = map(int, open(f"{out}/{s}_{r}.cpu0").read().split())
        u1, s1 = map(int, open(f"{out}/{s}_{r}.cpu1").read().split())
        ok = max(json.load(open(f"{out}/{s}_{r}.json"))["ok"], 1)
        fig[s].append(((u1 - u0) / hz / ok * 1e6, (s1 - s0) / hz / ok * 1e6))
tot = {s: [u + k for u, k in fig[s]] for s in servers}
print(f"{'server':<11} {'CPU us/req':>10} {'user':>7} {'system':>7} {'bare/this':>10} {'(paired)':>9}   CPU us/req per round")
for s in servers:
    t = tot[s]
    paired = med(b / x for b, x in zip(tot["bare"], t))
    print(f"{s:<11} {med(t):10.2f} {med(u for u, _ in fig[s]):7.2f} {med(k for _, k in fig[s]):7.2f} "
          f"{med(tot['bare']) / med(t):10.3f} {paired:9.3f}   {' '.join(f'{x:.0f}' for x in t)}")
PYEOF
