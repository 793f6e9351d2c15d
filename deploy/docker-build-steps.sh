#!/usr/bin/env bash
# Runs deploy/Dockerfile's build steps without a Docker engine, to prove
# that they work: each stage gets a folder under WORK standing for its root
# filesystem; WORKDIR, COPY (also --from=STAGE), ARG, ENV and RUN are
# carried out there with absolute paths mapped into that folder, and the
# final stage's folder ends up holding what the image would
# (/leadscore, /opt/ml/model). Then the result is checked: a static,
# trimmed binary that inspects and serves the baked model.
#
#   bash deploy/docker-build-steps.sh [WORK]      (from anywhere; WORK default: a new temp dir)
#
# What it cannot do: pull the base images (golang, distroless), so RUN
# steps use this machine's Go toolchain and module cache, and USER, EXPOSE,
# ENTRYPOINT and CMD are only printed (deploy/deploy_test.go checks them).
# Supported Dockerfile subset: the instructions above, ENV/ARG as KEY=VALUE,
# shell-form RUN, and ${VAR} in paths.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DOCKERFILE=$ROOT/deploy/Dockerfile
IGNORE=$ROOT/deploy/Dockerfile.dockerignore
WORK=${1:-$(mktemp -d "${TMPDIR:-/tmp}/leadscore-docker.XXXXXX")}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
echo "docker-build-steps: working in $WORK"

# The build context, less the .dockerignore patterns.
CONTEXT=$WORK/context
rm -rf "$CONTEXT" && mkdir -p "$CONTEXT"
excludes=()
while IFS= read -r pat; do
  pat=${pat%%#*}
  pat=${pat//[[:space:]]/}
  [[ -n $pat ]] && excludes+=("--exclude=./$pat")
done <"$IGNORE"
tar -C "$ROOT" --anchored "${excludes[@]}" -cf - . | tar -C "$CONTEXT" -xf -

declare -A ARGS=()     # global ARGs (before the first FROM)
declare -A STAGE_DIR=() # stage name or index -> root folder
stage=-1 stage_root="" workdir=/
declare -A VARS=()     # ARG/ENV of the current stage, container values
user="" entrypoint="" cmd="" expose=""

# expand VALUE: substitute ${VAR} and $VAR from VARS (container values).
expand() {
  local s=$1 name
  while [[ $s =~ \$\{([A-Za-z_][A-Za-z0-9_]*)\} || $s =~ \$([A-Za-z_][A-Za-z0-9_]*) ]]; do
    name=${BASH_REMATCH[1]}
    s=${s/"${BASH_REMATCH[0]}"/${VARS[$name]-}}
  done
  printf '%s' "$s"
}

# host PATH: where a container path of the current stage lives.
host() {
  local p=$1
  [[ $p == /* ]] || p=$workdir/$p
  printf '%s%s' "$stage_root" "$p"
}

# mapped VALUE: a value as RUN sees it (absolute paths mapped).
mapped() {
  if [[ $1 == /* ]]; then host "$1"; else printf '%s' "$1"; fi
}

do_copy() {
  local from="" args=() src dst
  for a in "$@"; do
    case $a in
      --from=*) from=${a#--from=} ;;
      --chown=* | --chmod=* | --link) ;;
      *) args+=("$(expand "$a")") ;;
    esac
  done
  dst=${args[-1]}
  unset 'args[-1]'
  local dsthost
  dsthost=$(host "$dst")
  if [[ $dst == */ ]]; then mkdir -p "$dsthost"; else mkdir -p "$(dirname "$dsthost")"; fi
  for src in "${args[@]}"; do
    local srchost
    if [[ -n $from ]]; then
      [[ -n ${STAGE_DIR[$from]-} ]] || { echo "COPY --from=$from: no such stage" >&2; exit 1; }
      srchost=${STAGE_DIR[$from]}$src
    else
      srchost=$CONTEXT/${src#./}
    fi
    if [[ -d $srchost ]]; then
      mkdir -p "$dsthost"
      cp -a "$srchost"/. "$dsthost"/
    else
      cp -a "$srchost" "$dsthost"
    fi
  done
}

do_run() {
  local script=$1 env=() k
  for k in "${!VARS[@]}"; do env+=("$k=$(mapped "${VARS[$k]}")"); done
  mkdir -p "$(host "$workdir")"
  (cd "$(host "$workdir")" && env "${env[@]}" bash -euo pipefail -c "$script")
}

# Read the Dockerfile into logical lines (joining continuations).
lines=() cur=""
while IFS= read -r line || [[ -n $line ]]; do
  [[ -z $cur && ( $line =~ ^[[:space:]]*# || ! $line =~ [^[:space:]] ) ]] && continue
  if [[ $line == *\\ ]]; then
    cur+="${line%\\} "
    continue
  fi
  lines+=("$cur$line")
  cur=""
done <"$DOCKERFILE"

n=0
for line in "${lines[@]}"; do
  n=$((n + 1))
  instr=${line%%[[:space:]]*}
  rest=${line#"$instr"}
  rest=${rest#"${rest%%[![:space:]]*}"}
  printf 'step %d: %s %s\n' "$n" "${instr^^}" "$rest"
  case ${instr^^} in
  ARG)
    # ARG K=V sets a default; a bare ARG K in a stage imports the global one.
    key=${rest%%=*}
    if [[ $rest == *=* ]]; then val=$(expand "${rest#*=}"); else val=${ARGS[$key]-}; fi
    if ((stage < 0)); then ARGS[$key]=$val; else VARS[$key]=$val; fi
    ;;
  FROM)
    stage=$((stage + 1))
    read -r image _ name <<<"$rest"
    stage_root=$WORK/stage$stage
    rm -rf "$stage_root" && mkdir -p "$stage_root"
    STAGE_DIR[$stage]=$stage_root
    [[ -n ${name-} ]] && STAGE_DIR[$name]=$stage_root
    VARS=() workdir=/
    for k in "${!ARGS[@]}"; do image=${image//\$\{$k\}/${ARGS[$k]}}; done
    echo "        (base image $image is not pulled: $stage_root stands for its root)"
    ;;
  WORKDIR) workdir=$(expand "$rest"); mkdir -p "$(host "$workdir")" ;;
  ENV)
    [[ $rest == *=* && $rest != *" "* ]] || { echo "ENV: only KEY=VALUE is supported" >&2; exit 1; }
    VARS[${rest%%=*}]=$(expand "${rest#*=}")
    ;;
  COPY)
    read -r -a words <<<"$rest"
    do_copy "${words[@]}"
    ;;
  RUN)
    [[ $rest != \[* ]] || { echo "RUN: exec form is not supported" >&2; exit 1; }
    do_run "$rest"
    ;;
  USER) user=$rest ;;
  EXPOSE) expose=$rest ;;
  ENTRYPOINT) entrypoint=$rest ;;
  CMD) cmd=$rest ;;
  LABEL) ;;
  *) echo "unsupported instruction $instr" >&2; exit 1 ;;
  esac
done

final=$stage_root
echo
echo "image root: $final"
echo "  USER $user, EXPOSE $expose, ENTRYPOINT $entrypoint, CMD $cmd"

# Checks: what the image would run.
bin=$final/leadscore
[[ -x $bin ]] || { echo "FAIL: no executable /leadscore" >&2; exit 1; }
[[ -f $final/opt/ml/model/manifest.json ]] || { echo "FAIL: no /opt/ml/model/manifest.json" >&2; exit 1; }
info=$(go version -m "$bin")
grep -q 'build[[:space:]]CGO_ENABLED=0' <<<"$info" || { echo "FAIL: not built with CGO_ENABLED=0" >&2; exit 1; }
grep -q 'build[[:space:]]-trimpath=true' <<<"$info" || { echo "FAIL: not built with -trimpath" >&2; exit 1; }
if command -v file >/dev/null 2>&1; then
  file "$bin" | grep -q 'statically linked' || { echo "FAIL: $(file "$bin")" >&2; exit 1; }
fi
echo "  /leadscore: static (CGO_ENABLED=0), -trimpath, $("$bin" version)"
"$bin" model inspect "$final/opt/ml/model" | sed 's/^/  /'

# Serve the baked model on 127.0.0.1 as `docker run IMAGE serve` would,
# with SageMaker's model directory, and ask /ping and /readyz.
port=$((20000 + RANDOM % 20000))
SM_MODEL_DIR=$final/opt/ml/model LEADSCORE_LAKE_DIR=$WORK/lake "$bin" serve --listen "127.0.0.1:$port" --watch-interval 0 >"$WORK/serve.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
ok=""
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/ping" >/dev/null 2>&1 && curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
    ok=1
    break
  fi
  sleep 0.1
done
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
trap - EXIT
[[ -n $ok ]] || { echo "FAIL: serve did not answer /ping and /readyz; log:" >&2; cat "$WORK/serve.log" >&2; exit 1; }
echo "  serve: /ping and /readyz answered 200 from the baked model"
echo "docker-build-steps: OK"
