#!/usr/bin/env bash
# The retraining loop: lake -> training set -> model -> bundle -> evaluation
# gate -> registry -> staging. It stops at the manual approval for prod.
#
#   LAKE=./data/lake REGISTRY=./registry NAME=lead-score examples/retrain.sh
#
# Settings (environment):
#   LEADSCORE       the leadscore binary (default: leadscore on PATH)
#   PYTHON          a Python with xgboost and pandas (default: /usr/bin/python3)
#   LAKE            the capture lake, a directory or s3://bucket/prefix (required)
#   REGISTRY        the model registry, a directory or s3://bucket/prefix (required)
#   NAME            the model name in the registry (required)
#   VERSION         the new version (default: the UTC time, 20250601T120000Z)
#   SINCE           how far back leads were scored (default 30d)
#   LABEL_WINDOW    how long an outcome may take (default 14d)
#   UNTIL           end of the range, RFC 3339 (default: now)
#   MAX_REGRESSION  the AUC drop that stops the loop (default 0.01)
#   WORK            the working directory (default: a new temporary one)
#
# Exit status: 0 when the candidate is in staging, 3 when the evaluation
# gate stopped it (the current prod model stays), else the failing step's.
set -euo pipefail

LEADSCORE=${LEADSCORE:-leadscore}
PYTHON=${PYTHON:-/usr/bin/python3}
: "${LAKE:?set LAKE to the capture lake}" "${REGISTRY:?set REGISTRY to the model registry}" "${NAME:?set NAME to the model name}"
VERSION=${VERSION:-$(date -u +%Y%m%dT%H%M%SZ)}
SINCE=${SINCE:-30d}
LABEL_WINDOW=${LABEL_WINDOW:-14d}
MAX_REGRESSION=${MAX_REGRESSION:-0.01}
WORK=${WORK:-$(mktemp -d)}
HERE=$(cd "$(dirname "$0")" && pwd)
export LEADSCORE_REGISTRY=$REGISTRY

step() { printf '\n== %s\n' "$*"; }

step "1/6 dataset: leads scored in the last $SINCE with their outcomes within $LABEL_WINDOW"
"$LEADSCORE" dataset --lake "$LAKE" --since "$SINCE" --label-window "$LABEL_WINDOW" ${UNTIL:+--until "$UNTIL"} \
  --out "$WORK/dataset.csv"

step "2/6 train"
"$PYTHON" "$HERE/python/train.py" --data "$WORK/dataset.csv" --out "$WORK"

step "3/6 bundle init: cut-offs, TIERS.md and baseline from the held-out leads"
"$LEADSCORE" bundle init --model "$WORK/model.json" --data "$WORK/holdout.csv" --label converted \
  --name "$NAME" --version "$VERSION" --out "$WORK/bundle"

step "4/6 evaluate against prod (the gate)"
against=()
if "$LEADSCORE" model list "$NAME" --json | grep -q '"prod"'; then
  against=(--against "registry:$REGISTRY#$NAME@prod")
fi
status=0
"$LEADSCORE" model evaluate --candidate "$WORK/bundle" "${against[@]}" --data "$WORK/holdout.csv" \
  --max-regression "$MAX_REGRESSION" --html "$WORK/evaluation.html" || status=$?
if [ "$status" -ne 0 ]; then
  echo "retrain: the candidate did not pass the evaluation (exit $status); prod is unchanged. Report: $WORK/evaluation.html" >&2
  exit "$status"
fi

step "5/6 push"
"$LEADSCORE" model push "$WORK/bundle" --note "retrain.sh: $SINCE of $LAKE"

step "6/6 promote to staging"
"$LEADSCORE" model promote "$NAME" "$VERSION" --stage staging --note "passed model evaluate (max regression $MAX_REGRESSION)"

cat <<MSG

$NAME $VERSION is in staging. Servers following registry:$REGISTRY#$NAME@staging load it now.
Manual approval for prod, after checking $WORK/evaluation.html:

  leadscore model promote $NAME $VERSION --stage prod --registry $REGISTRY --note "approved by ..."
MSG
