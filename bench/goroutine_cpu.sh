#!/usr/bin/env bash
# CPU time per request of each goroutine of a benchmark run, for binaries
# side by side: which part of the process (the journal goroutine, its
# syncer, the lake goroutine, the drift monitor, the request, the
# collector) a change moved, where the whole process's cpu-us/op swings
# more than the change (issue 13 point 1). pprof's 100 Hz gives a 100-lead
# request's journal a few dozen samples; perf at FREQ Hz (1999) twenty
# times as many.
#
# Each BIN is a test binary of ./cmd/leadscore (`go test -c -o BIN
# ./cmd/leadscore`). For ROUNDS rounds (3) the binaries run in turn, the
# order rotated each round, BENCH (ServeCost/full/100$) N times (20000)
# under `perf record -g`; it prints every run (us a request per part, the
# benchmark's own cpu-us/op, the load average) and each binary's medians.
# A part's figure is its samples over the whole run (the server's build,
# 200 warm-up requests and its close included) divided by N, so `total`
# exceeds cpu-us/op, which counts from the first timed request.
#
#   go test -c -o /tmp/a.test ./cmd/leadscore    # (before a change)
#   go test -c -o /tmp/b.test ./cmd/leadscore    # (after)
#   ROUNDS=6 bash bench/goroutine_cpu.sh /tmp/a.test /tmp/b.test
# Needs perf (Debian's linux-perf) and permission to profile one's own
# processes (kernel.perf_event_paranoid <= 2, or root), and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
ROUNDS=${ROUNDS:-3}
BENCH=${BENCH:-'ServeCost/full/100$'}
N=${N:-20000}
FREQ=${FREQ:-1999}
PY=${PYTHON:-/usr/bin/python3}
command -v perf >/dev/null || die "perf not found (apt-get install linux-perf)"
[ $# -gt 0 ] || die "usage: bench/goroutine_cpu.sh BIN..."
OUT=$(mktemp -d /tmp/goroutine_cpu.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
bins=("$@")
split=$PWD/bench/goroutine_cpu.py
# The benchmarks read testdata relative to their package.
cd cmd/leadscore
for r in $(seq "$ROUNDS"); do
	for i in $(seq 0 $((${#bins[@]} - 1))); do
		b=${bins[$(((i + r) % ${#bins[@]}))]}
		cpu=$(perf record -q -F "$FREQ" -g -o "$OUT/perf.data" "$b" -test.run '^$' \
			-test.bench "$BENCH" -test.benchtime "${N}x" 2>/dev/null |
			bench_metric cpu-us/op)
		parts=$(perf script -i "$OUT/perf.data" 2>/dev/null | "$PY" "$split" "$FREQ" "$N")
		echo "$(basename "$b") round=$r cpu-us/op=$cpu $parts load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$OUT/all"
	done
done
echo "medians (us a request):"
"$PY" - "$OUT/all" <<'PY'
import collections, statistics, sys
d = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    f = line.split()
    for kv in f[2:]:
        k, v = kv.split("=")
        if k not in ("round", "load") and v:
            d[f[0]][k].append(float(v))
for b, parts in d.items():
    print(b, " ".join(f"{k}={statistics.median(v):.2f}" for k, v in parts.items()))
PY
echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
