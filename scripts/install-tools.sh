#!/usr/bin/env bash
# Installs every tool the quality gates (scripts/test.sh) need, so that a brand
# new machine can run them. Idempotent: each step is skipped when the tool is
# already installed at the pinned version (and, for Go tools, built by the Go
# toolchain in use), so a second run takes a few seconds and needs no network.
#
# Usage:
#   scripts/install-tools.sh           # test/lint/security tools
#   scripts/install-tools.sh --bench   # also the Debian packages for fixture
#                                      # regeneration and benchmarks (Python
#                                      # XGBoost, wrk, locust, FastAPI, ...)
#   LEADSCORE_INSTALL_BENCH=1 scripts/install-tools.sh   # same as --bench
#
# Go tools go to "$(go env GOPATH)/bin". The offline vulnerability database for
# govulncheck goes to $LEADSCORE_VULNDB_DIR (default
# $HOME/.cache/leadscore/vulndb); the default vulnerability database server is
# not reachable from these machines, so govulncheck runs with -db file://...
#
# Only the Go module proxy and Debian's archive are used.
set -euo pipefail
# Build and test with the Go release that has the standard library's security
# fixes; a machine's own Go (and go.mod's toolchain line under
# GOTOOLCHAIN=local) would otherwise be used. Fetched once per machine.
export GOTOOLCHAIN=go1.27.3

# ---- pinned versions (bump here) -------------------------------------------
GOLANGCI_LINT_VERSION=v2.15.0
GITLEAKS_VERSION=v8.30.1
GOVULNCHECK_VERSION=v1.9.0
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
# helm: the chart tests (deploy/helm_test.go) run `helm lint` and `helm template`.
HELM_VERSION=v3.21.4
# cyclonedx-gomod: the SBOM of `make release` (and its reproducibility test).
CYCLONEDX_GOMOD_VERSION=v1.10.0
# golang.org/x/vulndb has no tags; this pseudo-version is both the indexdb
# command and the OSV data (data/osv) the database is built from. To refresh
# the advisories: VULNDB_VERSION=latest scripts/install-tools.sh, then pin the
# pseudo-version it prints here.
VULNDB_VERSION=${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}

# Debian packages. promtool (package prometheus) is used by service tests
# (`promtool check metrics`); jq by scripts/test.sh to read govulncheck's and
# go test's JSON; gcc because `go test -race` needs cgo.
# chromium: the console's browser tests (cmd/leadscore TestConsoleBrowser,
# driven with chromedp), with a font for its screenshots. python3-xgboost and
# python3-pandas: examples/python/train.py, which the retraining loop test
# (and python3-requests: the quickstart clients, TestQuickstart)
# (cmd/leadscore TestRetrainLoop) runs.
APT_DEFAULT=(prometheus jq gcc libc6-dev chromium fonts-dejavu-core zip python3-xgboost python3-pandas python3-requests)
APT_BENCH=(python3-xgboost python3-pandas python3-sklearn wrk python3-fastapi
  python3-uvicorn python3-uvloop python3-httptools python3-locust prometheus)

VULNDB_DIR=${LEADSCORE_VULNDB_DIR:-$HOME/.cache/leadscore/vulndb}
# Written when the database could not be built; scripts/test.sh reads it and
# reports "govulncheck: skipped (reason)".
VULNDB_FAILED="$VULNDB_DIR.unavailable"

BENCH=${LEADSCORE_INSTALL_BENCH:-0}
for arg in "$@"; do
  case "$arg" in
    --bench) BENCH=1 ;;
    -h | --help)
      sed -n '2,20p' "$0"
      exit 0
      ;;
    *)
      echo "install-tools: unknown argument: $arg" >&2
      exit 2
      ;;
  esac
done

log() { printf 'install-tools: %s\n' "$*"; }
warn() { printf 'install-tools: WARNING: %s\n' "$*" >&2; }
now() { date +%s; }

command -v go >/dev/null || {
  echo "install-tools: go is not on PATH" >&2
  exit 1
}
GOBIN_DIR="$(go env GOPATH)/bin"
export GOBIN="$GOBIN_DIR"
export PATH="$GOBIN_DIR:$PATH"
GO_VERSION="$(go env GOVERSION)"
# Tools are installed outside this module: don't let a go.work or a vendor
# directory of the caller interfere.
export GOWORK=off

# ---- Debian packages ---------------------------------------------------------
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO=(sudo); fi
fi

apt_missing() { # prints the packages of "$@" that are not installed
  local p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      printf '%s\n' "$p"
    fi
  done
}

apt_ensure() { # apt_ensure PKG...: install the missing ones (update first)
  if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
    warn "no apt-get here: install these yourself if needed: $*"
    return 0
  fi
  local missing
  mapfile -t missing < <(apt_missing "$@" | sort -u)
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "apt: already installed: $*"
    return 0
  fi
  local t0
  t0=$(now)
  log "apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  log "apt: done in $(($(now) - t0))s"
}

# ---- Go tools ----------------------------------------------------------------
# go_tool_ok BIN MODULE VERSION: true when BIN exists, was built from MODULE at
# VERSION, and by the Go toolchain in use (golangci-lint in particular must be
# built by a Go at least as new as the code it analyses).
go_tool_ok() {
  local bin="$GOBIN_DIR/$1" info
  [[ -x $bin ]] || return 1
  info=$(go version -m "$bin" 2>/dev/null) || return 1
  [[ $(head -n1 <<<"$info" | awk '{print $2}') == "$GO_VERSION" ]] || return 1
  awk -v m="$2" -v v="$3" '$1 == "mod" && $2 == m && $3 == v { found = 1 } END { exit !found }' <<<"$info"
}

go_install() { # go_install BIN MODULE PACKAGE VERSION
  local bin=$1 mod=$2 pkg=$3 ver=$4 t0
  if go_tool_ok "$bin" "$mod" "$ver"; then
    log "$bin $ver: already installed"
    return 0
  fi
  t0=$(now)
  log "$bin $ver: go install $pkg@$ver"
  # Run outside the repository so its go.mod is not involved.
  (cd / && go install "$pkg@$ver") || return 1
  log "$bin $ver: installed in $(($(now) - t0))s"
}

# ---- offline vulnerability database -------------------------------------------
# Builds a govulncheck database (the v1 layout: index/db.json, index/modules.json,
# index/vulns.json, ID/GO-*.json) from the OSV files shipped inside the
# golang.org/x/vulndb module, with that module's own cmd/indexdb.
# On failure sets VULNDB_REASON and returns non-zero; never exits the script.
VULNDB_REASON=""
fail_vulndb() { VULNDB_REASON=$*; return 1; }
build_vulndb() {
  local ver=$VULNDB_VERSION stamp="$VULNDB_DIR/VULNDB_VERSION" tmp src t0
  t0=$(now)
  if [[ $ver == latest ]]; then
    ver=$(cd / && go list -m -f '{{.Version}}' golang.org/x/vulndb@latest) ||
      { fail_vulndb "could not resolve golang.org/x/vulndb@latest from the module proxy"; return 1; }
    log "vulndb: latest is $ver (pin it as VULNDB_VERSION)"
  fi
  if [[ -s $VULNDB_DIR/index/modules.json && -f $stamp && $(cat "$stamp") == "$ver" ]]; then
    log "vulndb $ver: already built in $VULNDB_DIR"
    rm -f "$VULNDB_FAILED"
    return 0
  fi
  go_install indexdb golang.org/x/vulndb golang.org/x/vulndb/cmd/indexdb "$ver" ||
    { fail_vulndb "go install golang.org/x/vulndb/cmd/indexdb@$ver failed"; return 1; }
  # The module zip (about 25 MB) holds the advisories in data/osv/*.json.
  src=$(cd / && go mod download -json "golang.org/x/vulndb@$ver" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p') || src=""
  if [[ -z $src || ! -d $src/data/osv ]]; then
    fail_vulndb "golang.org/x/vulndb@$ver has no data/osv directory (module download failed or layout changed)"
    return 1
  fi
  # shellcheck disable=SC2015 # either failing is the same failure
  mkdir -p "$(dirname "$VULNDB_DIR")" && tmp=$(mktemp -d "$VULNDB_DIR.tmp.XXXXXX") ||
    { fail_vulndb "cannot create a directory next to $VULNDB_DIR"; return 1; }
  if ! "$GOBIN_DIR/indexdb" -vulns "$src/data/osv" -out "$tmp/db" >"$tmp/log" 2>&1; then
    fail_vulndb "indexdb failed: $(tail -n 3 "$tmp/log" | tr '\n' ' ')"
    rm -rf "$tmp"
    return 1
  fi
  if [[ ! -s $tmp/db/index/modules.json || ! -d $tmp/db/ID ]]; then
    fail_vulndb "indexdb produced no index/modules.json or ID/"
    rm -rf "$tmp"
    return 1
  fi
  echo "$ver" >"$tmp/db/VULNDB_VERSION"
  # Swap in the new database only once it is complete.
  rm -rf "$VULNDB_DIR.old"
  if [[ -e $VULNDB_DIR ]]; then mv "$VULNDB_DIR" "$VULNDB_DIR.old"; fi
  mv "$tmp/db" "$VULNDB_DIR" || { fail_vulndb "cannot move the database into $VULNDB_DIR"; return 1; }
  rm -rf "$tmp" "$VULNDB_DIR.old" "$VULNDB_FAILED"
  log "vulndb $ver: built $(find "$VULNDB_DIR/ID" -name '*.json' | wc -l) advisories into $VULNDB_DIR in $(($(now) - t0))s"
}

# ---- main ----------------------------------------------------------------------
T_START=$(now)
log "Go $GO_VERSION; tools into $GOBIN_DIR"

apt_ensure "${APT_DEFAULT[@]}"
if [[ $BENCH == 1 ]]; then
  log "--bench: fixture-regeneration and benchmark packages"
  apt_ensure "${APT_BENCH[@]}"
  log "note: Debian's Python packages are under /usr/bin/python3, which may not be the first python3 on PATH"
fi

go_install golangci-lint github.com/golangci/golangci-lint/v2 \
  github.com/golangci/golangci-lint/v2/cmd/golangci-lint "$GOLANGCI_LINT_VERSION"
go_install gitleaks github.com/zricethezav/gitleaks/v8 \
  github.com/zricethezav/gitleaks/v8 "$GITLEAKS_VERSION"
go_install govulncheck golang.org/x/vuln \
  golang.org/x/vuln/cmd/govulncheck "$GOVULNCHECK_VERSION"
go_install helm helm.sh/helm/v3 helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
go_install cyclonedx-gomod github.com/CycloneDX/cyclonedx-gomod \
  github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod "$CYCLONEDX_GOMOD_VERSION"
# The AWS Lambda Runtime Interface Emulator, for the Lambda end-to-end test.
go_install aws-lambda-rie github.com/aws/aws-lambda-runtime-interface-emulator \
  github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie "$RIE_VERSION"

# The DuckDB reader the lake test checks the Parquet files with (Node.js).
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if command -v npm >/dev/null; then
  if [[ ! -d $REPO_ROOT/lakecheck/node_modules/@duckdb ]]; then
    t0=$(now)
    log "lakecheck: npm ci"
    (cd "$REPO_ROOT" && npm ci --prefix lakecheck --no-audit --no-fund --loglevel=error >/dev/null)
    log "lakecheck: done in $(($(now) - t0))s"
  else
    log "lakecheck: already installed"
  fi
else
  warn "npm is missing: the DuckDB lake check cannot run (install Node.js 18+)"
fi

# A vulndb failure does not abort the install: the other gates still run, and
# scripts/test.sh reports govulncheck as skipped with this reason.
if ! build_vulndb; then
  warn "offline vulnerability database NOT available: $VULNDB_REASON"
  warn "govulncheck will be reported as skipped by scripts/test.sh"
  mkdir -p "$(dirname "$VULNDB_FAILED")"
  printf '%s\n' "$VULNDB_REASON" >"$VULNDB_FAILED"
fi

log "done in $(($(now) - T_START))s"
