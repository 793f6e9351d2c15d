#!/usr/bin/env bash
# Builds a release into DIST (default dist/): what `make release` and the
# GitHub release job run, and what the reproducibility test runs twice.
#
#   scripts/release.sh [DIST]
#   VERSION=v1.4.0 scripts/release.sh        (default: git describe, or v0.0.0-<commit>)
#
# DIST receives:
#   leadscore_<version>_linux_amd64, leadscore_<version>_linux_arm64
#       static binaries (CGO_ENABLED=0, -trimpath, no build id)
#   leadscore_<version>_lambda_x86_64.zip, leadscore_<version>_lambda_arm64.zip
#       the `bootstrap` for the provided.al2023 runtime (-tags lambda.norpc)
#   leadscore_<version>.cdx.json
#       a CycloneDX SBOM of the binary's modules (cyclonedx-gomod)
#   SHA256SUMS
#       sha256sum of every file above
#
# Reproducible: the same commit gives byte-identical files wherever and
# whenever it is built with the same Go (GOTOOLCHAIN below). Nothing depends
# on the build's time or path: -trimpath drops paths, -buildid= the build id,
# the version and the build date come from the commit (SOURCE_DATE_EPOCH is
# the commit's time), zip entries carry that time and no extra attributes,
# and the SBOM has no serial number and the commit's time as its timestamp.
set -euo pipefail
export GOTOOLCHAIN=go1.27.3

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DIST=${1:-dist}
mkdir -p "$DIST"
DIST=$(cd "$DIST" && pwd)

if [[ -z ${VERSION:-} ]]; then
  VERSION=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null) ||
    VERSION="v0.0.0-$(git rev-parse --short=12 HEAD)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)"
fi
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct HEAD)
export SOURCE_DATE_EPOCH TZ=UTC CGO_ENABLED=0 GOFLAGS=-buildvcs=true
LDFLAGS="-s -w -buildid= -X main.version=$VERSION"

log() { printf 'release: %s\n' "$*" >&2; }
log "version $VERSION, commit $(git rev-parse HEAD), $(go env GOVERSION), into $DIST"
rm -f "$DIST"/leadscore_* "$DIST/SHA256SUMS"

for goarch in amd64 arm64; do
  out="$DIST/leadscore_${VERSION}_linux_${goarch}"
  GOOS=linux GOARCH=$goarch go build -trimpath -ldflags "$LDFLAGS" -o "$out" ./cmd/leadscore
  log "$(basename "$out")"
done

# Lambda: the binary must be called bootstrap inside the zip.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/leadscore-release.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for arch in x86_64 arm64; do
  case $arch in x86_64) goarch=amd64 ;; arm64) goarch=arm64 ;; esac
  mkdir -p "$tmp/$arch"
  GOOS=linux GOARCH=$goarch go build -tags lambda.norpc -trimpath -ldflags "$LDFLAGS" -o "$tmp/$arch/bootstrap" ./cmd/leadscore
  chmod 0755 "$tmp/$arch/bootstrap"
  touch -d "@$SOURCE_DATE_EPOCH" "$tmp/$arch/bootstrap"
  zipfile="$DIST/leadscore_${VERSION}_lambda_${arch}.zip"
  # -X: no uid/gid or extended timestamps; -D: no directory entries.
  (cd "$tmp/$arch" && zip -q -X -D "$zipfile" bootstrap)
  log "$(basename "$zipfile")"
done

# SBOM of the server binary's modules (what `go version -m` lists), with
# licences read from the module cache.
sbom="$DIST/leadscore_${VERSION}.cdx.json"
PATH="$(go env GOPATH)/bin:$PATH"
command -v cyclonedx-gomod >/dev/null || {
  echo "release: cyclonedx-gomod is missing: run scripts/install-tools.sh" >&2
  exit 1
}
GOOS=linux GOARCH=amd64 cyclonedx-gomod app -json -licenses -std -noserial \
  -main cmd/leadscore -output "$sbom" . 2>"$tmp/sbom.log" || {
  cat "$tmp/sbom.log" >&2
  exit 1
}
# cyclonedx-gomod stamps the time of the run: use the commit's instead.
ts=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
jq --arg ts "$ts" --arg v "$VERSION" '.metadata.timestamp = $ts | .metadata.component.version = $v' "$sbom" >"$tmp/sbom.json"
mv "$tmp/sbom.json" "$sbom"
log "$(basename "$sbom")"

(cd "$DIST" && sha256sum leadscore_* >SHA256SUMS)
log "SHA256SUMS:"
sed 's/^/  /' "$DIST/SHA256SUMS" >&2
