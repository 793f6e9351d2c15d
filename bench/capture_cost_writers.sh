#!/usr/bin/env bash
# bench/capture_cost.sh for the lake's two Parquet writers, side by side
# (issue 13 point 1): the committed tree (HEAD) as it is, with the lake's own
# writer (capture/parquetfile.go), and the same tree with the writer it
# replaced put back (parquet-go's GenericWriter with zstd, kept as
# capture/librarywriter_test.go for the benchmarks), nothing else changed.
# The two alternate, ROUNDS times; each run is a whole capture_cost.sh
# (bare, lean and full servers, CPU per request from /proc), and the end
# prints every run's capture+monitor cost (full over lean CPU per request).
#
#   bash bench/capture_cost_writers.sh                                  # ROUNDS=1, capture_cost.sh's defaults
#   ROUNDS=2 REPEATS=5 DURATION=6s bash bench/capture_cost_writers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-1}
OUT=$(mktemp -d /tmp/capture_cost_writers.XXXXXX)
OLD="$OUT/tree"

git worktree add --detach "$OLD" HEAD >/dev/null 2>&1
trap 'git worktree remove --force "$OLD" >/dev/null 2>&1 || true' EXIT
(
	cd "$OLD"
	git mv capture/librarywriter_test.go capture/librarywriter.go
	sed -i 's|pf.w = newPredWriter(&pf.cw, g.gen.schema, lk.w.cfg.RowGroupRows, 0)|pf.w = newLibraryWriter(\&pf.cw, g.gen.schema, lk.w.cfg.RowGroupRows)|' capture/lake.go
	grep -q 'pf.w = newLibraryWriter' capture/lake.go || { echo "capture_cost_writers: cannot put the old writer back in capture/lake.go" >&2; exit 1; }
)

for ((r = 0; r < ROUNDS; r++)); do
	for w in parquet-go predWriter; do
		dir=.
		[[ $w == parquet-go ]] && dir=$OLD
		echo "== round $((r + 1))/$ROUNDS, $w writer"
		(cd "$dir" && bash bench/capture_cost.sh) | tee "$OUT/$w.$r.txt"
	done
done

echo
echo "capture+monitor cost (full/lean CPU per request, target <= 1.10), $ROUNDS round(s):"
printf '%-12s %-6s %-12s %-12s %s\n' writer round "single lead" "100 leads" "load at start"
for ((r = 0; r < ROUNDS; r++)); do
	for w in parquet-go predWriter; do
		f="$OUT/$w.$r.txt"
		single=$(sed -n 's/.*single lead: *full\/lean CPU per request = \([0-9.]*\).*/\1/p' "$f")
		batch=$(sed -n 's/.*100 leads: *full\/lean CPU per request = \([0-9.]*\).*/\1/p' "$f")
		load=$(sed -n 's/^load at start:.*load average: //p' "$f")
		printf '%-12s %-6s %-12s %-12s %s\n' "$w" "$((r + 1))" "$single" "$batch" "$load"
	done
done
