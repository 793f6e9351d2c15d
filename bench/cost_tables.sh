#!/usr/bin/env bash
# How cost grows (issue 13 point 8): the tables in docs/engine.md and
# docs/service.md, from one command.
#
#   1. Engine, leads/s against batch size: `leadscore bench` on the demo
#      model, one thread, batches of 1, 10, 100 and 1,000.
#   2. Engine, single-row latency (p50, p99) and explanation cost (TreeSHAP,
#      one lead per call, wall and CPU) against the number of trees (10 to
#      1,000, depth 6) and the depth (3 to 12, 100 trees), on models trained
#      by bench/gen_cost_models.py with the real XGBoost.
#   3. Service, leads per CPU-second against batch size: `leadscore serve`
#      with its defaults (lake, monitor and access log on), driven open-loop
#      by `leadscore loadtest` with 1, 10, 100 and 1,000 leads a request; the
#      server's CPU time from /proc/PID/stat per request and per lead, and the
#      p99 the generator saw, beside the bare net/http control (bench/bare)
#      at the same rates.
# Every figure is the median of REPEATS rounds that alternate the settings;
# the machine's load is printed at the start and the end. Tables are printed
# as Markdown.
#
#   bash bench/cost_tables.sh                 (REPEATS=3, about 10 minutes on a quiet 2-core box)
# Needs: scripts/install-tools.sh --bench (python3-xgboost).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
REPEATS=${REPEATS:-3}
PY=${PYTHON:-/usr/bin/python3}
LEADS=testdata/lead-demo/leads_10k.csv
OUT=${OUT:-$(mktemp -d /tmp/cost_tables.XXXXXX)}
MODELS=${MODELS:-/tmp/leadscore-cost-models}
DURATION=${DURATION:-3s}

build_servers
"$PY" bench/gen_cost_models.py --out "$MODELS"

field() { "$PY" -c 'import json,sys; d=json.load(sys.stdin)
for k in sys.argv[1].split("."): d=d[k]
print(d)' "$1"; }
med() { printf '%s\n' "$@" | median; }
LOAD_START=$(uptime)
log "load: $LOAD_START; results in $OUT"

# 1. Engine: leads/s against batch size.
BATCHES="1 10 100 1000"
declare -A RPS CPS
for ((r = 0; r < REPEATS; r++)); do
	for b in $BATCHES; do
		j=$(bin/leadscore bench --data "$LEADS" --rows 20000 --batch "$b" --threads 1 --repeats 1 --single 1 --json)
		RPS[$b]+="$(field rows_per_s <<<"$j") "
		CPS[$b]+="$(field rows_per_cpu_s <<<"$j") "
	done
done

# 2. Engine: latency and explanation cost against trees and depth.
SHAPES="t10_d6 t100_d6 t300_d6 t1000_d6 t100_d3 t100_d8 t100_d10 t100_d12"
declare -A P50 P99 EXW EXC
for ((r = 0; r < REPEATS; r++)); do
	for m in $SHAPES; do
		n=200
		case $m in t1000_d6 | t100_d10) n=60 ;; t100_d12) n=20 ;; esac
		j=$(bin/leadscore bench --model "$MODELS/$m.json" --data "$LEADS" --rows 1000 --repeats 1 --single 3000 --explain "$n" --json)
		P50[$m]+="$(field single_p50_us <<<"$j") "
		P99[$m]+="$(field single_p99_us <<<"$j") "
		EXW[$m]+="$(field explain_us_per_row <<<"$j") "
		EXC[$m]+="$(field explain_cpu_us_per_row <<<"$j") "
	done
done

# 3. Service: leads per CPU-second against batch size, beside bare.

HZ=$(getconf CLK_TCK)
LPORT=$(free_port)
bin/leadscore serve --listen "127.0.0.1:$LPORT" --lake-dir "$OUT/lake" >"$OUT/serve.log" 2>&1 &
LPID=$!
BPORT=$(free_port)
bin/bare --listen "127.0.0.1:$BPORT" >"$OUT/bare.log" 2>&1 &
BPID=$!
trap 'stop_pids "$LPID" "$BPID"' EXIT
wait_ready leadscore "http://127.0.0.1:$LPORT/readyz" "$LPID" "$OUT/serve.log"
wait_ready bare "http://127.0.0.1:$BPORT/readyz" "$BPID" "$OUT/bare.log"
declare -A RATE=([1]=2000 [10]=1000 [100]=150 [1000]=15)
declare -A SCPU SP99 BCPU BP99
svc() { # pid port batch -> "cpu_us_per_request p99_ms"
	local c0 c1 j
	c0=$(cpu_ticks "$1")
	j=$(bin/leadscore loadtest --url "http://127.0.0.1:$2/score" --rate "${RATE[$3]}" --duration "$DURATION" --batch "$3" --json)
	c1=$(cpu_ticks "$1")
	awk -v a="$c0" -v b="$c1" -v hz="$HZ" -v n="$(field ok <<<"$j")" -v p="$(field latency_ms.p99 <<<"$j")" \
		'BEGIN{printf "%.1f %.2f\n", (b-a)/hz/(n>0?n:1)*1e6, p}'
}
for ((r = 0; r < REPEATS; r++)); do
	for b in $BATCHES; do
		read -r c p < <(svc "$LPID" "$LPORT" "$b")
		SCPU[$b]+="$c " SP99[$b]+="$p "
		read -r c p < <(svc "$BPID" "$BPORT" "$b")
		BCPU[$b]+="$c " BP99[$b]+="$p "
	done
done
LOAD_END=$(uptime)

echo "## Cost tables (bench/cost_tables.sh, median of $REPEATS alternated rounds)"
echo
echo "Load at start: \`$LOAD_START\`; at end: \`$LOAD_END\`."
echo
echo "### Engine: leads/s against batch size (demo model, 300 trees depth 6, one thread)"
echo
echo "| batch | leads/s (wall) | leads per CPU-second | CPU ns per lead | CPU ns per tree-lead |"
echo "|---:|---:|---:|---:|---:|"
for b in $BATCHES; do
	# shellcheck disable=SC2086
	v=$(med ${RPS[$b]}) c=$(med ${CPS[$b]})
	awk -v b="$b" -v v="$v" -v c="$c" 'BEGIN{printf "| %d | %.0f | %.0f | %.0f | %.2f |\n", b, v, c, 1e9/c, 1e9/c/300}'
done
echo
echo "### Engine: single-row latency and explanation cost against trees and depth (one thread)"
echo
echo "| model | trees | depth | single-row p50 us | single-row p99 us | explain us/lead (wall) | explain us/lead (CPU) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for m in $SHAPES; do
	t=${m#t}; t=${t%%_*}; d=${m##*_d}
	# shellcheck disable=SC2086
	printf '| %s | %d | %d | %.2f | %.2f | %.0f | %.0f |\n' "$m" "$t" "$d" "$(med ${P50[$m]})" "$(med ${P99[$m]})" "$(med ${EXW[$m]})" "$(med ${EXC[$m]})"
done
echo
echo "### Service: CPU per request and leads per CPU-second against batch size (defaults: lake, monitor, access log on)"
echo
echo "| leads/request | rate req/s | leadscore CPU us/request | leadscore CPU us/lead | leads per CPU-second | bare CPU us/request | leadscore p99 ms | bare p99 ms |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for b in $BATCHES; do
	# shellcheck disable=SC2086
	c=$(med ${SCPU[$b]}) bc=$(med ${BCPU[$b]}) p=$(med ${SP99[$b]}) bp=$(med ${BP99[$b]})
	awk -v b="$b" -v r="${RATE[$b]}" -v c="$c" -v bc="$bc" -v p="$p" -v bp="$bp" \
		'BEGIN{printf "| %d | %d | %.0f | %.2f | %.0f | %.0f | %.2f | %.2f |\n", b, r, c, c/b, b/c*1e6, bc, p, bp}'
done
