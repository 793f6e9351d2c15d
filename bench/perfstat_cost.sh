#!/usr/bin/env bash
# CPU time and context switches per request of servers side by side, read
# with `perf stat` (task-clock: nanosecond CPU time of every thread, where
# /proc's ticks are 10 ms), for what wake-ups of background goroutines cost.
#
# Each SPEC is NAME=COMMAND: COMMAND starts a server and gets
# `--listen 127.0.0.1:PORT` appended (and `--lake-dir DIR` unless NAME is
# bare). For ROUNDS rounds, the servers in turn take the same open-loop load
# (`leadscore loadtest`, BATCH leads a request at RATE requests/s for DUR
# seconds) while perf counts their process; it prints the medians and every
# round, and each server's ratio to the first one.
#
#   bash bench/perfstat_cost.sh \
#     bare=bin/bare lean='bin/leadscore serve --lake=false --monitor=false' \
#     full='bin/leadscore serve'                      # ROUNDS=3 BATCH=100 RATE=200 DUR=5
#   BATCH=1 RATE=5000 bash bench/perfstat_cost.sh ...
# Needs perf (Debian's linux-perf) and permission to attach to one's own
# processes (kernel.perf_event_paranoid <= 2, or root).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
ROUNDS=${ROUNDS:-3}
BATCH=${BATCH:-100}
RATE=${RATE:-200}
DUR=${DUR:-5}
OUT=${OUT:-$(mktemp -d /tmp/perfstat_cost.XXXXXX)}
command -v perf >/dev/null || die "perf not found (apt-get install linux-perf)"
[ $# -gt 0 ] || die "usage: bench/perfstat_cost.sh NAME=COMMAND..."
build_servers

names=() pids=() ports=()
trap 'stop_pids "${pids[@]}"' EXIT
for spec in "$@"; do
	name=${spec%%=*} cmd=${spec#*=} port=$(free_port)
	extra=(--lake-dir "$OUT/lake_$name")
	[ "$name" = bare ] && extra=()
	# shellcheck disable=SC2086 # COMMAND is words
	$cmd --listen "127.0.0.1:$port" "${extra[@]}" >"$OUT/$name.log" 2>&1 &
	pids+=($!) names+=("$name") ports+=("$port")
	wait_ready "$name" "http://127.0.0.1:$port/readyz" "$!" "$OUT/$name.log"
done

log "load: $(cut -d' ' -f1-3 /proc/loadavg); results in $OUT"
for ((r = 0; r < ROUNDS; r++)); do
	for ((i = 0; i < ${#names[@]}; i++)); do
		k=$(((i + r) % ${#names[@]})) # the order turns each round
		perf stat -x, -e task-clock,context-switches -p "${pids[$k]}" -o "$OUT/${names[$k]}_$r.perf" -- sleep "$DUR" &
		pp=$!
		bin/leadscore loadtest --url "http://127.0.0.1:${ports[$k]}/score" --rate "$RATE" --duration "${DUR}s" \
			--batch "$BATCH" --connections 64 --json >"$OUT/${names[$k]}_$r.json"
		wait "$pp"
	done
	log "round $((r + 1))/$ROUNDS done; load $(cut -d' ' -f1-3 /proc/loadavg)"
done
echo "perf stat per request, $BATCH leads at $RATE requests/s, ${DUR}s rounds, median of $ROUNDS turning rounds; load now $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$OUT" "$ROUNDS" "${names[@]}" <<'PYEOF'
import json, statistics, sys
out, rounds, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def perf(path):
    v = {}
    for line in open(path):
        f = line.strip().split(",")
        if len(f) > 2 and f[0] and f[0][0].isdigit():
            v[f[2]] = float(f[0])
    return v
rows = {}
for n in names:
    cpu, cs = [], []
    for r in range(rounds):
        ok = max(json.load(open(f"{out}/{n}_{r}.json"))["ok"], 1)
        p = perf(f"{out}/{n}_{r}.perf")
        cpu.append(p["task-clock"] * 1000 / ok)   # msec -> µs per request
        cs.append(p["context-switches"] / ok)
    rows[n] = (statistics.median(cpu), statistics.median(cs), cpu)
first = rows[names[0]][0]
print(f"{'server':<10} {'CPU us/req':>11} {'ctx sw/req':>11} {'/ ' + names[0]:>10}   CPU us/req per round")
for n in names:
    c, s, per = rows[n]
    print(f"{n:<10} {c:11.1f} {s:11.1f} {c / first:10.3f}   {' '.join(f'{x:.1f}' for x in per)}")
PYEOF
