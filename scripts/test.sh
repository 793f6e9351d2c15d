#!/usr/bin/env bash
# shellcheck disable=SC2317 # gate_* functions are called indirectly by run_gate
# The project's test command (README): every quality gate CI runs, in order.
# CI calls it through .ci/run; run it locally the same way:
#
#   scripts/test.sh                 # all gates
#   scripts/test.sh lint test       # only some gates (tools are always ensured)
#
# Gates: fmt vet lint test fuzz secrets vuln
#   fmt      gofmt -l must list nothing
#   vet      go vet ./...
#   lint     golangci-lint run ./... (.golangci.yml)
#   test     go test -race -count=1 -timeout 25m -coverprofile=coverage.out ./..., total
#            coverage, and a per-package coverage floor
#   fuzz     every Fuzz* target for a bounded time
#   secrets  gitleaks dir . (.gitleaks.toml)
#   vuln     govulncheck against the offline database built by install-tools.sh
#
# Knobs (environment):
#   SKIP_LINT=1        skip golangci-lint
#   SKIP_FUZZ=1        skip the fuzz smoke
#   FUZZTIME=20s       time per fuzz target (go test -fuzztime)
#   COVER_FLOOR=80     minimum statement coverage, percent, per floor package
#   COVER_FLOOR_PKGS="./forest/ ./xgboost/ ./bundle/ ... (engine and service packages)"
#                      packages held to COVER_FLOOR, each on its own (a
#                      pattern ending in /... holds every package under it);
#                      one whose directory does not exist yet is skipped
#   LEADSCORE_VULNDB_DIR  offline vulnerability database (see install-tools.sh)
#
# A failing gate does not stop the later ones; the script exits non-zero if
# any gate failed. The last lines are a per-gate summary, the verdict, and
# "tests: N passed, N failed, N skipped" for go test.
set -euo pipefail
# Build and test with the Go release that has the standard library's security
# fixes; a machine's own Go (and go.mod's toolchain line under
# GOTOOLCHAIN=local) would otherwise be used. Fetched once per machine.
export GOTOOLCHAIN=go1.27.3

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

COVER_FLOOR=${COVER_FLOOR:-80}
COVER_FLOOR_PKGS=${COVER_FLOOR_PKGS:-"./forest/ ./xgboost/ ./bundle/ ./tabular/ ./httpapi/ ./monitor/... ./registry/ ./awslambda/ ./sagemaker/ ./loadgen/"}
FUZZTIME=${FUZZTIME:-10s}
SKIP_LINT=${SKIP_LINT:-0}
SKIP_FUZZ=${SKIP_FUZZ:-0}
VULNDB_DIR=${LEADSCORE_VULNDB_DIR:-$HOME/.cache/leadscore/vulndb}
export LEADSCORE_VULNDB_DIR="$VULNDB_DIR"
# The Lambda end-to-end test runs under the emulator install-tools.sh installs.
export LEADSCORE_RIE=${LEADSCORE_RIE:-1}
# The lake test reads the Parquet files back with DuckDB (lakecheck/, npm ci by install-tools.sh).
export LEADSCORE_DUCKDB=${LEADSCORE_DUCKDB:-1}
# The console's tests run in headless Chromium (install-tools.sh installs it)
# and save their screenshots and timings under build/artifacts/console/.
export LEADSCORE_REQUIRE_BROWSER=${LEADSCORE_REQUIRE_BROWSER:-1}
export LEADSCORE_ARTIFACTS=${LEADSCORE_ARTIFACTS:-$PWD/build/artifacts}
# The Helm chart tests (helm) and the release reproducibility test
# (cyclonedx-gomod, zip) fail rather than skip without their tools.
export LEADSCORE_HELM=${LEADSCORE_HELM:-1}
export LEADSCORE_RELEASE=${LEADSCORE_RELEASE:-1}

ALL_GATES=(fmt vet lint test fuzz secrets vuln)
if [[ $# -gt 0 ]]; then
  GATES=("$@")
  for g in "${GATES[@]}"; do
    [[ " ${ALL_GATES[*]} " == *" $g "* ]] || {
      echo "test.sh: unknown gate '$g' (gates: ${ALL_GATES[*]})" >&2
      exit 2
    }
  done
else
  GATES=("${ALL_GATES[@]}")
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/leadscore-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

T_START=$(date +%s)
SUMMARY=()   # one "gate: result" line per gate
FAILED=0
TEST_COUNTS="" # "tests: N passed, N failed, N skipped" once go test ran

section() { printf '\n======== %s ========\n' "$*"; }
# note appends detail to the current gate's summary line (gates run in a
# subshell, so details travel through a file).
note() { printf '%s\n' "$*" >>"$WORK/note"; }

# run_gate GATE: runs gate_GATE with errexit in a subshell and records the
# result under the tool's name.
declare -A LABEL=([fmt]=gofmt [vet]="go vet" [lint]=golangci-lint [test]="go test"
  [fuzz]="fuzz smoke" [secrets]=gitleaks [vuln]=govulncheck)
run_gate() {
  local name=${LABEL[$1]} fn=gate_$1 t0 rc detail
  section "$name"
  : >"$WORK/note"
  t0=$(date +%s)
  set +e
  (
    set -e
    "$fn"
  )
  rc=$?
  set -e
  detail=$(awk 'NR > 1 { printf "; " } { printf "%s", $0 }' "$WORK/note")
  if [[ $rc -eq 0 ]]; then
    SUMMARY+=("$name: ok ($(($(date +%s) - t0))s)${detail:+ - $detail}")
  elif [[ $rc -eq 99 ]]; then # the gate chose to skip itself
    SUMMARY+=("$name: skipped (${detail:-no reason given})")
  else
    SUMMARY+=("$name: FAILED ($(($(date +%s) - t0))s)${detail:+ - $detail}")
    FAILED=1
  fi
  if [[ -s $WORK/counts ]]; then TEST_COUNTS=$(cat "$WORK/counts"); fi
}

# ---- tools --------------------------------------------------------------------
section "tools (scripts/install-tools.sh)"
bash scripts/install-tools.sh
PATH="$(go env GOPATH)/bin:$PATH"
export PATH
export CGO_ENABLED=1 # the race detector needs cgo
go version

# ---- gates ----------------------------------------------------------------------

# Go files of this repository (nested modules included), without generated
# artefacts, vendored code and testdata.
go_files() {
  find . \( -path ./.git -o -path ./vendor -o -path ./bin -o -path ./data \
    -o -name testdata -o -name node_modules \) -prune -o -name '*.go' -type f -print
}

gate_fmt() {
  local files=()
  mapfile -t files < <(go_files)
  [[ ${#files[@]} -gt 0 ]] || { note "no Go files"; return 0; }
  local bad
  bad=$(gofmt -l "${files[@]}")
  if [[ -n $bad ]]; then
    echo "gofmt would change these files (run: gofmt -w <file>):"
    printf '%s\n' "$bad" | sed 's/^/  /'
    note "$(wc -l <<<"$bad") file(s) not gofmt'ed"
    return 1
  fi
  echo "gofmt: ${#files[@]} files ok"
}

gate_vet() {
  go vet ./...
  echo "go vet: no findings"
}

gate_lint() {
  if [[ $SKIP_LINT == 1 ]]; then
    note "SKIP_LINT=1"
    return 99
  fi
  golangci-lint version
  golangci-lint run --config .golangci.yml ./...
}

# coverage_of IMPORTPATH: "covered total" statements of exactly that package
# in coverage.out (blocks de-duplicated, a block counts when any run hit it).
coverage_of() {
  awk -v pkg="$1" '
    NR == 1 && /^mode:/ { next }
    {
      key = $1; file = substr(key, 1, index(key, ":") - 1)
      dir = file; sub(/\/[^\/]*$/, "", dir)
      if (dir != pkg) next
      stmts[key] = $2
      if ($3 > 0) hit[key] = 1
    }
    END {
      for (k in stmts) { total += stmts[k]; if (k in hit) covered += stmts[k] }
      printf "%d %d\n", covered, total
    }' coverage.out
}

gate_test() {
  rm -f coverage.out
  local json="$WORK/test.json" rc=0
  # go test -json, rendered live: package results, build errors and anything
  # that is not a test's own output; failing tests' output is printed after.
  go test -race -count=1 -timeout 25m -coverprofile=coverage.out -json ./... 2>&1 |
    tee "$json" |
    jq -R --unbuffered -j '
      . as $line
      | (try fromjson catch null) as $e
      | if ($e | type) != "object" then $line + "\n"
        elif $e.Action == "build-output" then $e.Output
        elif $e.Action == "output" and $e.Test == null and $e.Output != "PASS\n"
          then $e.Output | (if endswith("\n") then . else . + "\n" end)
        elif $e.Action == "fail" and $e.Test != null then "--- FAIL: \($e.Test) (\($e.Package))\n"
        else empty end' || rc=$?

  local counts
  counts=$(jq -R -s -r '
    [split("\n")[] | try fromjson catch empty | select(type == "object")] as $ev
    | [$ev[] | select(.Test != null and (.Action == "pass" or .Action == "fail" or .Action == "skip"))] as $t
    | "\([$t[] | select(.Action == "pass")] | length) passed, \([$t[] | select(.Action == "fail")] | length) failed, \([$t[] | select(.Action == "skip")] | length) skipped"
    ' "$json")
  echo "tests: $counts" >"$WORK/counts"

  # Output of every failing test, grouped.
  jq -R -s -r '
    [split("\n")[] | try fromjson catch empty | select(type == "object")] as $ev
    | [$ev[] | select(.Action == "fail" and .Test != null) | [.Package, .Test]] as $failed
    | $failed[] as [$p, $t]
    | "\n---- output of \($t) (\($p)) ----\n" +
      ([$ev[] | select(.Package == $p and .Test == $t and .Action == "output") | .Output] | join(""))
    ' "$json"

  if [[ $rc -ne 0 ]]; then
    local pkgfail
    pkgfail=$(jq -R -s -r '[split("\n")[] | try fromjson catch empty | select(type == "object")
      | select(.Action == "fail" and .Test == null) | .Package] | unique | join(" ")' "$json")
    note "go test failed ($counts)${pkgfail:+; failing packages: $pkgfail}"
    return 1
  fi
  note "$counts"

  # ---- coverage
  [[ -s coverage.out ]] || { note "no coverage.out"; return 1; }
  local total
  total=$(go tool cover -func=coverage.out | tail -n 1 | awk '{print $NF}')
  echo
  echo "total coverage (all packages): $total"
  note "coverage $total"

  local entry dir pkgs pkg covered stmts pct floor_failed=0
  echo "coverage floor ${COVER_FLOOR}% for: $COVER_FLOOR_PKGS"
  for entry in $COVER_FLOOR_PKGS; do
    dir=${entry%/...}
    if [[ ! -d $dir ]]; then
      echo "  $entry: skipped (directory does not exist yet)"
      continue
    fi
    if ! pkgs=$(go list -f '{{.ImportPath}}' "$entry" 2>/dev/null) || [[ -z $pkgs ]]; then
      echo "  $entry: skipped (no Go package there yet)"
      continue
    fi
    for pkg in $pkgs; do
      read -r covered stmts < <(coverage_of "$pkg")
      if [[ $stmts -eq 0 ]]; then
        echo "  $pkg: skipped (no statements in the profile)"
        continue
      fi
      pct=$(awk -v c="$covered" -v t="$stmts" 'BEGIN { printf "%.1f", 100 * c / t }')
      if awk -v p="$pct" -v f="$COVER_FLOOR" 'BEGIN { exit !(p + 0 < f + 0) }'; then
        echo "  $pkg: $pct% ($covered/$stmts statements) BELOW the ${COVER_FLOOR}% floor"
        note "$pkg coverage $pct% < ${COVER_FLOOR}%"
        floor_failed=1
      else
        echo "  $pkg: $pct% ($covered/$stmts statements) ok"
      fi
    done
  done
  return "$floor_failed"
}

# in_nested_module DIR: true when DIR (relative, ./...) belongs to a go.mod
# below the repository root.
in_nested_module() {
  local d=$1
  while [[ $d != . && $d != / && -n $d ]]; do
    [[ -f $d/go.mod ]] && return 0
    d=$(dirname "$d")
  done
  return 1
}

# fuzz_one DIR NAME: fuzzes one target (output to the terminal) and prints
# pass, fail or flake on stdout.
#
# Go 1.26's fuzz coordinator has a race at the -fuzztime deadline
# (golang/go#75804, fixed in Go 1.27): a target can end with a bare
# "context deadline exceeded" although nothing failed. A real finding always
# prints "Failing input written to testdata/fuzz/..." (or fails a seed corpus
# entry). So: a failure that is only that deadline message is retried once;
# if it happens again it is reported as a flake, not a failure. Any other
# failure fails the gate.
fuzz_one() {
  local dir=$1 name=$2 log="$WORK/fuzz.log" try
  for try in 1 2; do
    # -run '^$': no unit tests (they ran in the test gate). A real failure
    # leaves the crashing input under $dir/testdata/fuzz/$name/: commit it as
    # a regression seed once fixed.
    if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -timeout 10m "$dir" 2>&1 | tee "$log" >&2; then
      echo pass
      return 0
    fi
    if grep -q 'context deadline exceeded' "$log" &&
      ! grep -qE 'Failing input written to|failure while testing seed corpus|panic:|^[[:space:]]+[a-zA-Z0-9_]+\.go:[0-9]+:' "$log"; then
      echo "   (bare 'context deadline exceeded' at the fuzztime limit: Go fuzzing race golang/go#75804; try $try of 2)" >&2
      continue
    fi
    echo fail
    return 0
  done
  echo flake
}

gate_fuzz() {
  if [[ $SKIP_FUZZ == 1 ]]; then
    note "SKIP_FUZZ=1"
    return 99
  fi
  # "dir name" for every fuzz target in the main module's test files.
  local targets=() file name dir failed=0 ran=0 flaked=""
  while IFS= read -r file; do
    dir=$(dirname "$file")
    while IFS= read -r name; do
      targets+=("$dir $name")
    done < <(grep -oE '^func Fuzz[A-Za-z0-9_]*\([A-Za-z0-9_]+ \*testing\.F\)' "$file" |
      sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/')
  done < <(grep -rlE --include='*_test.go' --exclude-dir=.git --exclude-dir=vendor \
    --exclude-dir=testdata '^func Fuzz' . | sort)
  if [[ ${#targets[@]} -eq 0 ]]; then
    note "no fuzz targets found"
    echo "no fuzz targets found"
    return 0
  fi
  echo "${#targets[@]} fuzz target(s), ${FUZZTIME} each"
  local t
  for t in "${targets[@]}"; do
    read -r dir name <<<"$t"
    if in_nested_module "$dir"; then
      echo "-- $name in $dir: skipped (in a nested module, not this one)"
      continue
    fi
    echo "-- $name ($dir)"
    ran=$((ran + 1))
    case $(fuzz_one "$dir" "$name") in
      pass) ;;
      flake)
        flaked=$((${flaked:-0} + 1))
        note "$name ($dir) hit the fuzztime-deadline race twice (golang/go#75804), no failing input: not counted as a failure"
        ;;
      *)
        failed=$((failed + 1))
        note "$name ($dir) failed"
        ;;
    esac
  done
  note "$ran target(s) x $FUZZTIME${flaked:+, $flaked deadline flake(s)}"
  [[ $failed -eq 0 ]]
}

gate_secrets() {
  # --redact: findings are shown without the secret itself.
  gitleaks dir . --config .gitleaks.toml --no-banner --no-color --redact -v --exit-code 1
}

gate_vuln() {
  if [[ -f $VULNDB_DIR.unavailable ]]; then
    note "$(cat "$VULNDB_DIR.unavailable")"
    echo "govulncheck: skipped ($(cat "$VULNDB_DIR.unavailable"))"
    return 99
  fi
  if [[ ! -s $VULNDB_DIR/index/modules.json ]]; then
    note "no offline database at $VULNDB_DIR (run scripts/install-tools.sh)"
    echo "govulncheck: skipped (no offline database at $VULNDB_DIR)"
    return 99
  fi
  echo "database: $VULNDB_DIR (golang.org/x/vulndb $(cat "$VULNDB_DIR/VULNDB_VERSION" 2>/dev/null || echo '?'))"
  local json="$WORK/vuln.json"
  # With -format json govulncheck exits 0 whatever it finds; non-zero means
  # it could not run (e.g. the code does not build).
  govulncheck -db "file://$VULNDB_DIR" -format json ./... >"$json"

  # Policy: every vulnerability whose vulnerable symbol the code can reach
  # FAILS the gate, in third-party modules (fixed by bumping go.mod) and in
  # the Go standard library alike (fixed by a newer Go: GOTOOLCHAIN above).
  # Vulnerabilities in imported code that is never called are counted only,
  # as govulncheck itself does.
  local report
  report=$(jq -s -r '
    ([.[] | select(.osv) | .osv | {key: .id, value: (.summary // .details // "" | split("\n")[0])}] | from_entries) as $sum
    | [.[] | select(.finding) | .finding
       | {id: .osv, module: .trace[0].module, version: (.trace[0].version // ""),
          fixed: (.fixed_version // "none"),
          level: (if .trace[0].function then "called" elif .trace[0].package then "imported" else "required" end)}] as $f
    | ($f | map(select(.level == "called")) | unique_by([.id, .module])) as $called
    | ($called | map(.id)) as $calledIDs
    | ($f | map(select(.level == "imported") | .id) | unique - $calledIDs) as $imported
    | ($f | map(select(.level == "required") | .id) | unique - $calledIDs - $imported) as $required
    | ($called | map(select(.module == "stdlib"))) as $std
    | ($called | map(select(.module != "stdlib"))) as $third
    | "COUNTS \($third | length) \($std | length) \($imported | length) \($required | length)",
      ($third[] | "FAIL  \(.id)  \(.module)@\(.version) (fixed in \(.fixed)): \($sum[.id])"),
      ($std[] | "FAIL  \(.id)  Go standard library \(.version) (fixed in \(.fixed)): \($sum[.id])")
    ' "$json")
  local third std imported required
  read -r third std imported required < <(awk '$1 == "COUNTS" {print $2, $3, $4, $5}' <<<"$report")
  grep -E '^FAIL ' <<<"$report" || true
  echo "called by this code: $third in third-party modules, $std in the Go standard library (each fails the gate)"
  echo "not called: $imported more in imported packages, $required more in required modules (see: govulncheck -db file://$VULNDB_DIR -show verbose ./...)"
  note "$third third-party, $std standard-library called"
  [[ $third -eq 0 && $std -eq 0 ]]
}

for g in "${GATES[@]}"; do
  run_gate "$g"
done

# ---- summary --------------------------------------------------------------------
section "summary"
printf '%s\n' "${SUMMARY[@]}"
if [[ $FAILED -eq 0 ]]; then
  echo "RESULT: PASS - gates: ${GATES[*]} in $(($(date +%s) - T_START))s"
else
  echo "RESULT: FAIL - see FAILED above ($(($(date +%s) - T_START))s)"
fi
if [[ -n $TEST_COUNTS ]]; then echo "$TEST_COUNTS"; fi
exit "$FAILED"
