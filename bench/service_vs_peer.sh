#!/usr/bin/env bash
# Benchmark leadscore against its Python peer on this machine: the same model,
# the same requests and the same open-loop load generator (`leadscore
# loadtest`), for single-lead and 100-lead requests.
#
# For each server and batch size it searches for the highest rate sustained
# (no errors, nothing missed, p99 within MAX_P99), REPEATS times, alternating
# the servers, and prints the medians and leadscore/peer ratios; then it runs
# both at P99_RATE single-lead requests/s and reports p99, and reads each
# server's peak resident memory (VmHWM; for the peer, its supervisor and
# workers added up). About 5 minutes with the defaults.
#
# A third server runs beside them as a control: bench/bare, a bare net/http
# handler that only decodes the JSON and answers a fixed document. Its
# single-lead rate and its p99 at P99_RATE are what this machine, its
# loopback and the load generator allow any Go server; leadscore's figures
# are printed as a share of it. For the p99 check, leadscore's own request
# histogram (/metrics) also gives the share of requests served in the server
# within 1 ms.
#
#   bench/service_vs_peer.sh
#   REPEATS=5 STEP=3s bench/service_vs_peer.sh
#   RATE_1=8000 RATE_100=300 bench/service_vs_peer.sh     # fixed rates, no search
#
# Settings (environment):
#   REPEATS=3            searches (or fixed runs) per server and batch size
#   STEP=2s              length of each search step
#   MAX_P99=25ms         p99 limit for a sustained rate
#   RATE_1, RATE_100     fixed rates in requests/s instead of searching; each
#                        repeat is then one run of FIXED_DURATION (default 5s)
#   P99_RATE=10000       single-lead rate for the p99 check (0 skips it)
#   P99_DURATION=5s
#   CONNECTIONS=64       load generator connections
#   LEADSCORE_PORT PEER_PORT BARE_PORT   listen ports on 127.0.0.1 (default: free
#                        ephemeral ports the kernel picks)
#   PEER_MODEL           model for the peer (default
#                        ../shared/models/lead-demo/model.json, the model
#                        leadscore embeds as its demo)
#   PEER_WORKERS=2       uvicorn workers
#   PYTHON=/usr/bin/python3   Debian's python, which has the peer's packages
#   OUT                  folder for logs and JSON results (default: a new
#                        temporary folder, kept)
#
# Needs Go, curl and Debian's python3-fastapi python3-uvicorn python3-uvloop
# python3-httptools python3-xgboost. Both servers and the load generator share
# the machine's cores, as they would on one host; access logs are off on both.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd)

REPEATS=${REPEATS:-3}
STEP=${STEP:-2s}
MAX_P99=${MAX_P99:-25ms}
RATE_1=${RATE_1:-}
RATE_100=${RATE_100:-}
FIXED_DURATION=${FIXED_DURATION:-5s}
P99_RATE=${P99_RATE:-10000}
P99_DURATION=${P99_DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-64}
PEER_MODEL=${PEER_MODEL:-$REPO/../shared/models/lead-demo/model.json}
PEER_WORKERS=${PEER_WORKERS:-2}
PYTHON=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-$(mktemp -d /tmp/service_vs_peer.XXXXXX)}
mkdir -p "$OUT"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the work tree

# shellcheck source=bench/lib.sh
. bench/lib.sh
LEADSCORE_PORT=${LEADSCORE_PORT:-$(free_port)}
PEER_PORT=${PEER_PORT:-$(free_port)}
BARE_PORT=${BARE_PORT:-$(free_port)}

command -v curl >/dev/null || die "curl is needed"
[ -f "$PEER_MODEL" ] || die "peer model $PEER_MODEL not found (set PEER_MODEL)"
"$PYTHON" -c 'import fastapi, uvicorn, uvloop, httptools, xgboost, numpy' 2>/dev/null ||
	die "$PYTHON lacks the peer's packages: apt-get install -y python3-fastapi python3-uvicorn python3-uvloop python3-httptools python3-xgboost"

log "building bin/leadscore"
CGO_ENABLED=0 go build -o bin/leadscore ./cmd/leadscore
LS=$REPO/bin/leadscore
CGO_ENABLED=0 go build -o bin/bare ./bench/bare

LS_PID=''
PEER_PID=''
BARE_PID=''
# The peer's workers go with it (stop_pids stops children too).
trap 'stop_pids "$LS_PID" "$PEER_PID" "$BARE_PID"' EXIT
trap 'exit 130' INT TERM

serve_args=(--listen "127.0.0.1:$LEADSCORE_PORT" --access-log=false)

for port in "$LEADSCORE_PORT" "$PEER_PORT" "$BARE_PORT"; do
	port_free "$port" "set LEADSCORE_PORT / PEER_PORT / BARE_PORT"
done

log "starting leadscore on 127.0.0.1:$LEADSCORE_PORT"
"$LS" serve "${serve_args[@]}" >"$OUT/leadscore.log" 2>&1 &
LS_PID=$!
log "starting the peer on 127.0.0.1:$PEER_PORT ($PEER_WORKERS workers, model $PEER_MODEL)"
"$PYTHON" bench/peer/peer.py --port "$PEER_PORT" --workers "$PEER_WORKERS" --model "$PEER_MODEL" \
	>"$OUT/peer.log" 2>&1 &
PEER_PID=$!
log "starting the bare net/http control on 127.0.0.1:$BARE_PORT"
bin/bare --listen "127.0.0.1:$BARE_PORT" >"$OUT/bare.log" 2>&1 &
BARE_PID=$!

wait_ready leadscore "http://127.0.0.1:$LEADSCORE_PORT/readyz" "$LS_PID" "$OUT/leadscore.log"
wait_ready peer "http://127.0.0.1:$PEER_PORT/readyz" "$PEER_PID" "$OUT/peer.log"
wait_ready bare "http://127.0.0.1:$BARE_PORT/readyz" "$BARE_PID" "$OUT/bare.log"

url_of() { # server
	case $1 in
	leadscore) echo "http://127.0.0.1:$LEADSCORE_PORT/score" ;;
	peer) echo "http://127.0.0.1:$PEER_PORT/score" ;;
	bare) echo "http://127.0.0.1:$BARE_PORT/score" ;;
	esac
}

# Parity: both servers give the same scores for the same leads.
body=$("$PYTHON" - "$REPO/loadgen/demo_leads.csv" <<'EOF'
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1])))[1:21]
print(json.dumps([[float(v) if v else None for v in r] for r in rows]))
EOF
)
for s in leadscore peer; do
	curl -sf -H 'Content-Type: application/json' --data "$body" "$(url_of $s)" >"$OUT/parity_$s.json" ||
		die "$s did not score 20 demo leads"
done
"$PYTHON" - "$OUT/parity_leadscore.json" "$OUT/parity_peer.json" <<'EOF' || die "the servers disagree on the demo leads"
import json, sys
a, b = (json.load(open(p))["results"] for p in sys.argv[1:])
diff = max(abs(x["probability"] - y["probability"]) for x, y in zip(a, b))
tiers = sum(x["score"] != y["score"] for x, y in zip(a, b))
print(f"parity on 20 demo leads: max probability difference {diff:.2e}, {tiers} tier differences", file=sys.stderr)
sys.exit(0 if len(a) == len(b) == 20 and diff < 1e-5 and tiers == 0 else 1)
EOF

log "warming up"
for s in leadscore peer; do
	for b in 1 100; do
		"$LS" loadtest --url "$(url_of $s)" --rate 100 --duration 1s --batch "$b" --json >/dev/null ||
			die "warm-up of $s with batches of $b failed"
	done
done

# One measurement: a search, or a fixed-rate run when RATE_<batch> is set.
# Writes $OUT/<server>_b<batch>_r<repeat>.json.
declare -A start=([leadscore_1]=2000 [peer_1]=2000 [bare_1]=2000 [leadscore_100]=100 [peer_100]=100)
measure() { # server batch repeat
	local s=$1 b=$2 r=$3 fixed out
	out="$OUT/${s}_b${b}_r${r}.json"
	fixed=RATE_$b
	if [ -n "${!fixed}" ]; then
		log "$s, $b-lead requests, repeat $r: ${!fixed} req/s for $FIXED_DURATION"
		"$LS" loadtest --url "$(url_of "$s")" --batch "$b" --rate "${!fixed}" --duration "$FIXED_DURATION" \
			--connections "$CONNECTIONS" --json >"$out" || true
	else
		log "$s, $b-lead requests, repeat $r: searching from ${start[${s}_$b]} req/s"
		"$LS" loadtest --url "$(url_of "$s")" --batch "$b" --search --rate "${start[${s}_$b]}" \
			--duration "$STEP" --max-p99 "$MAX_P99" --connections "$CONNECTIONS" --json >"$out" || true
		# Later repeats start just below this one's result.
		local found
		found=$("$PYTHON" -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["max_rate"] * 0.8))' "$out" 2>/dev/null || echo 0)
		[ "$found" -gt 0 ] && start[${s}_$b]=$found
	fi
}

for r in $(seq "$REPEATS"); do
	for b in 1 100; do
		for s in leadscore peer; do
			measure "$s" "$b" "$r"
		done
		[ "$b" = 1 ] && measure bare 1 "$r"
	done
done

# score_hist writes leadscore's /score latency histogram: "le count" lines.
score_hist() {
	curl -sf "http://127.0.0.1:$LEADSCORE_PORT/metrics" |
		sed -n 's/^leadscore_http_request_duration_seconds_bucket{.*le="\([^"]*\)",route="\/score"} \(.*\)$/\1 \2/p; s/^leadscore_http_request_duration_seconds_bucket{route="\/score",le="\([^"]*\)"} \(.*\)$/\1 \2/p'
}

if [ "$P99_RATE" != 0 ]; then
	for s in leadscore peer bare; do
		log "$s: p99 check at $P99_RATE single-lead req/s for $P99_DURATION"
		[ "$s" = leadscore ] && score_hist >"$OUT/leadscore_p99_hist_before.txt"
		"$LS" loadtest --url "$(url_of "$s")" --rate "$P99_RATE" --duration "$P99_DURATION" \
			--connections "$CONNECTIONS" --json >"$OUT/${s}_p99.json" || true
		[ "$s" = leadscore ] && score_hist >"$OUT/leadscore_p99_hist_after.txt"
	done
fi

# Peak resident memory in kB: the process, plus its children for the peer.
peak_rss() { # pid
	local total=0 pid kb
	for pid in "$1" $(pgrep -P "$1" || true); do
		kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
		total=$((total + ${kb:-0}))
	done
	echo "$total"
}
ls_rss=$(peak_rss "$LS_PID")
peer_rss=$(peak_rss "$PEER_PID")

"$PYTHON" - "$OUT" "$REPEATS" "$ls_rss" "$peer_rss" "$P99_RATE" "$MAX_P99" <<'EOF'
import json, os, statistics, sys

out, repeats, ls_rss, peer_rss, p99_rate, max_p99 = sys.argv[1:]
repeats = int(repeats)


def load(name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def run_of(doc):
    """The measured run of a search (its best step) or a fixed-rate run."""
    if doc is None:
        return None
    if "steps" in doc:
        return doc["best"]
    return doc


def stats(server, batch):
    reqs, leads, p99s = [], [], []
    for r in range(1, repeats + 1):
        run = run_of(load(f"{server}_b{batch}_r{r}.json"))
        if run is None:
            reqs.append(0.0); leads.append(0.0); p99s.append(float("nan"))
            continue
        ok = run["failed"] == 0 and run["missed"] == 0
        reqs.append(run["ok_rate"] if ok else 0.0)
        leads.append(run["leads_rate"] if ok else 0.0)
        p99s.append(run["latency_ms"]["p99"])
    return statistics.median(reqs), statistics.median(leads), statistics.median(p99s), reqs


def ratio(a, b):
    return f"{a / b:.2f}x" if b > 0 else "n/a"


print()
print(f"leadscore vs peer (FastAPI + uvicorn, 2 workers, XGBoost Booster): median of {repeats} repeats,")
print(f"highest rate sustained with no errors and p99 <= {max_p99}; results in {out}")
print()
print(f"{'':24}{'leadscore':>14}{'peer':>14}{'ratio':>10}{'bare net/http':>16}")
summary = {}
for batch in (1, 100):
    ls, peer = stats("leadscore", batch), stats("peer", batch)
    summary[batch] = (ls, peer)
    label = "1 lead" if batch == 1 else f"{batch} leads"
    bare_cell = ""
    if batch == 1:
        bare = stats("bare", 1)
        share = f" ({ls[0] / bare[0] * 100:.0f}%)" if bare[0] > 0 else ""
        bare_cell = f"{bare[0]:10.0f}{share}"
    print(f"{label + ' requests/s':24}{ls[0]:14.0f}{peer[0]:14.0f}{ratio(ls[0], peer[0]):>10}  {bare_cell}")
    print(f"{label + ' leads/s':24}{ls[1]:14.0f}{peer[1]:14.0f}{ratio(ls[1], peer[1]):>10}")
    print(f"{label + ' p99 ms':24}{ls[2]:14.3f}{peer[2]:14.3f}")
    print(f"{'  requests/s by repeat':24}{' '.join(f'{x:.0f}' for x in ls[3]):>14}  {' '.join(f'{x:.0f}' for x in peer[3])}")

p99 = {}
in_server = None
if p99_rate != "0":
    for s in ("leadscore", "peer", "bare"):
        doc = load(f"{s}_p99.json")
        p99[s] = doc

    def hist(name):
        h = {}
        try:
            with open(os.path.join(out, name)) as f:
                for line in f:
                    le, n = line.split()
                    h[le] = float(n)
        except (OSError, ValueError):
            return None
        return h
    before, after = hist("leadscore_p99_hist_before.txt"), hist("leadscore_p99_hist_after.txt")
    if before and after and "+Inf" in after and "0.001" in after:
        total = after["+Inf"] - before.get("+Inf", 0)
        if total > 0:
            in_server = (after["0.001"] - before.get("0.001", 0)) / total
    def cell(doc):
        if doc is None:
            return "n/a"
        note = "" if doc["failed"] == 0 and doc["missed"] == 0 else "*"
        return f"{doc['latency_ms']['p99']:.3f}{note}"
    print(f"{'p99 ms at ' + p99_rate + ' req/s':24}{cell(p99.get('leadscore')):>14}{cell(p99.get('peer')):>14}{'':10}  {cell(p99.get('bare')):>10}")
    if in_server is not None:
        print(f"  in the server (leadscore's /metrics): {in_server * 100:.2f}% of those requests within 1 ms")
    for s, doc in p99.items():
        if doc and (doc["failed"] or doc["missed"]):
            print(f"  * {s}: {doc['ok_rate']:.0f} ok/s achieved, {doc['failed']} failed, {doc['missed']} missed")
print(f"{'peak RSS MB':24}{int(ls_rss) / 1024:14.1f}{int(peer_rss) / 1024:14.1f}")

print()
print("targets (issue 3, then issue 13's points 2 and 7):")
single, batch = summary[1], summary[100]
bare1 = stats("bare", 1)[0]
checks = [
    ("single-lead requests/s >= 4x peer", single[1][0] > 0 and single[0][0] >= 4 * single[1][0]),
    ("100-lead leads/s >= 3x peer", batch[1][1] > 0 and batch[0][1] >= 3 * batch[1][1]),
    ("single-lead requests/s >= 85% of the bare control", bare1 > 0 and single[0][0] >= 0.85 * bare1),
    ("100-lead leads/s >= 5x peer", batch[1][1] > 0 and batch[0][1] >= 5 * batch[1][1]),
    ("peak RSS <= 100 MB", 0 < int(ls_rss) <= 100 * 1024),
]
notes = []
doc = p99.get("leadscore")
if doc is not None:
    checks.insert(2, (f"p99 <= 1 ms at {p99_rate} req/s (as the load generator saw it)",
                      doc["failed"] == 0 and doc["missed"] == 0 and doc["latency_ms"]["p99"] <= 1.0))
    bare = p99.get("bare")
    if bare is not None and bare["latency_ms"]["p99"] > 1.0:
        notes.append(f"note: the bare net/http control had a p99 of {bare['latency_ms']['p99']:.3f} ms at the same rate,")
        notes.append("      so as the load generator sees it, no Go server meets 1 ms on this machine")
if in_server is not None:
    checks.insert(3, (f"p99 <= 1 ms at {p99_rate} req/s in the server", in_server >= 0.99))
for name, ok in checks:
    print(f"  {'PASS' if ok else 'FAIL'}  {name}")
for n in notes:
    print(f"  {n}")
EOF
