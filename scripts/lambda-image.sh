#!/usr/bin/env bash
# Make sure a Docker engine is running and that the Lambda base image
# public.ecr.aws/lambda/python:3.11-x86_64 exists locally, so that
#   sam local invoke    --skip-pull-image ...
#   sam local start-api --skip-pull-image ...
# work on a machine without access to an image registry.
#
# Usage:
#   scripts/lambda-image.sh [ensure]   start dockerd if needed, make sure the image exists (default)
#   scripts/lambda-image.sh status     show daemon / image state, change nothing
#   scripts/lambda-image.sh stop       stop dockerd, but only if this script started it (pidfile)
#   scripts/lambda-image.sh rebuild    remove the image (not the cached rootfs) and ensure it again
#
# Environment knobs (all optional):
#   LAMBDA_IMAGE_PULL_TIMEOUT   seconds for the `docker pull` attempt (default 60, 0 = don't try)
#   LAMBDA_IMAGE_MIRROR         Debian mirror for debootstrap (default http://deb.debian.org/debian)
#   DOCKERD_START_TIMEOUT       seconds to wait for `docker info` after starting dockerd (default 60)
#   LAMBDA_RIE_BIN              path to an aws-lambda-rie binary to bake into the image as
#                               /usr/local/bin/aws-lambda-rie (auto-detected from SAM CLI if found);
#                               only needed for plain `docker run` use; SAM brings its own RIE.
#
# State lives under <repo>/.local/ (git-ignored):
#   .local/docker/dockerd.log   .local/docker/dockerd.pid   .local/lambda-image.lock
#   .local/lambda-image/rootfs  (debootstrap rootfs, reused)  .local/lambda-image/rootfs.done
set -euo pipefail

IMAGE="public.ecr.aws/lambda/python:3.11-x86_64"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
LOCAL_DIR="$REPO/.local"
DOCKER_STATE="$LOCAL_DIR/docker"
PIDFILE="$DOCKER_STATE/dockerd.pid"
DOCKERD_LOG="$DOCKER_STATE/dockerd.log"
LOCKFILE="$LOCAL_DIR/lambda-image.lock"
BUILD_DIR="$LOCAL_DIR/lambda-image"
ROOTFS="$BUILD_DIR/rootfs"
ROOTFS_DONE="$BUILD_DIR/rootfs.done"
PULL_TIMEOUT="${LAMBDA_IMAGE_PULL_TIMEOUT:-60}"
MIRROR="${LAMBDA_IMAGE_MIRROR:-http://deb.debian.org/debian}"
START_TIMEOUT="${DOCKERD_START_TIMEOUT:-60}"
APT_UPDATED=0

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    die "need root for: $*"; fi
}

take_lock() {
  mkdir -p "$DOCKER_STATE" "$BUILD_DIR"
  exec 9>"$LOCKFILE"
  if ! flock -n 9; then
    log "another lambda-image.sh run holds $LOCKFILE, waiting (max 30 min)"
    flock -w 1800 9 || die "timed out waiting for $LOCKFILE"
  fi
}

docker_ok() { docker info >/dev/null 2>&1; }

# pid from our pidfile if it still is a running dockerd, else nothing
our_dockerd_pid() {
  [ -s "$PIDFILE" ] || return 1
  local pid; pid="$(cat "$PIDFILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = dockerd ] || return 1
  printf '%s\n' "$pid"
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    as_root apt-get update -q >&2
    APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  as_root apt-get install -y -q --no-install-recommends "$@" >&2
}

wait_for_docker() { # $1 = pid to watch (may be empty)
  local pid="${1:-}" waited=0
  while ! docker_ok; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$DOCKERD_LOG" >&2 2>/dev/null || true
      die "dockerd (pid $pid) exited during startup; see $DOCKERD_LOG"
    fi
    if [ "$waited" -ge "$START_TIMEOUT" ]; then
      tail -n 20 "$DOCKERD_LOG" >&2 2>/dev/null || true
      die "docker daemon did not answer 'docker info' within ${START_TIMEOUT}s; see $DOCKERD_LOG"
    fi
    sleep 1; waited=$((waited + 1))
  done
}

ensure_docker() {
  if docker_ok; then
    log "docker engine is up ($(docker info --format '{{.ServerVersion}}' 2>/dev/null || echo '?'))"
    return 0
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    apt_install docker.io
  fi
  command -v docker >/dev/null 2>&1 || die "docker CLI missing even after installing docker.io"
  local pid
  if pid="$(our_dockerd_pid)"; then
    log "dockerd started earlier by this script (pid $pid) is not answering yet, waiting"
    wait_for_docker "$pid"; return 0
  fi
  if pgrep -x dockerd >/dev/null 2>&1; then
    log "a dockerd not started by this script is running (pid $(pgrep -x dockerd | tr '\n' ' ')), waiting for it"
    wait_for_docker ""; return 0
  fi
  log "starting dockerd --iptables=false --ip-forward=false (log: $DOCKERD_LOG)"
  printf '\n===== %s lambda-image.sh starting dockerd =====\n' "$(date -Is)" >>"$DOCKERD_LOG"
  # setsid: own session, survives this shell; 9>&- : must not inherit the flock fd.
  if [ "$(id -u)" -eq 0 ]; then
    setsid dockerd --iptables=false --ip-forward=false </dev/null >>"$DOCKERD_LOG" 2>&1 9>&- &
  else
    # shellcheck disable=SC2024  # the log file is ours; only dockerd needs root
    sudo setsid dockerd --iptables=false --ip-forward=false </dev/null >>"$DOCKERD_LOG" 2>&1 9>&- &
  fi
  pid=$!
  sleep 0.5
  if [ ! -r "/proc/$pid/comm" ] || [ "$(cat "/proc/$pid/comm")" != dockerd ]; then
    # sudo/setsid may have forked: fall back to dockerd's own pidfile
    for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s /var/run/docker.pid ] && break; sleep 0.5; done
    [ -s /var/run/docker.pid ] && pid="$(cat /var/run/docker.pid)"
  fi
  echo "$pid" >"$PIDFILE"
  wait_for_docker "$pid"
  log "dockerd is up (pid $pid, pidfile $PIDFILE)"
}

stop_docker() {
  local pid
  if ! pid="$(our_dockerd_pid)"; then
    if [ -e "$PIDFILE" ]; then
      log "stale pidfile $PIDFILE (no such dockerd), removing it"; rm -f "$PIDFILE"
    else
      log "dockerd was not started by this script (no $PIDFILE); leaving it alone"
    fi
    return 0
  fi
  log "stopping dockerd pid $pid (started by this script)"
  as_root kill -TERM "$pid"
  local waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge 60 ]; then die "dockerd pid $pid still running after 30s"; fi
    sleep 0.5; waited=$((waited + 1))
  done
  rm -f "$PIDFILE"
  log "dockerd stopped"
}

image_exists() { docker image inspect "$IMAGE" >/dev/null 2>&1; }

find_rie() {
  if [ -n "${LAMBDA_RIE_BIN:-}" ]; then [ -x "$LAMBDA_RIE_BIN" ] && printf '%s\n' "$LAMBDA_RIE_BIN"; return 0; fi
  local sam py d
  sam="$(command -v sam 2>/dev/null)" || return 0
  py="$(head -n1 "$sam" | sed -n 's/^#!\s*//p' | awk '{print $1}')"
  [ -x "$py" ] || return 0
  d="$("$py" -c 'import os, samcli; print(os.path.join(os.path.dirname(samcli.__file__), "local", "rapid"))' 2>/dev/null)" || return 0
  [ -x "$d/aws-lambda-rie-x86_64" ] && printf '%s\n' "$d/aws-lambda-rie-x86_64"
  return 0
}

make_rootfs() {
  if [ -f "$ROOTFS_DONE" ] && [ -x "$ROOTFS/usr/bin/python3.11" ]; then
    log "reusing debootstrapped rootfs $ROOTFS"
    return 0
  fi
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  if [ -e "$ROOTFS" ]; then
    log "removing unfinished rootfs $ROOTFS"
    # a failed debootstrap may leave proc/sys mounted inside
    awk -v r="$ROOTFS/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r |
      while IFS= read -r m; do as_root umount -l "$m" || true; done
    as_root rm -rf --one-file-system "$ROOTFS"
  fi
  log "debootstrap --variant=minbase bookworm $ROOTFS (mirror $MIRROR; a few minutes)"
  local t0=$SECONDS
  as_root debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
    bookworm "$ROOTFS" "$MIRROR" >"$BUILD_DIR/debootstrap.log" 2>&1 || {
      tail -n 20 "$BUILD_DIR/debootstrap.log" >&2; die "debootstrap failed; see $BUILD_DIR/debootstrap.log"; }
  as_root rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* || true
  touch "$ROOTFS_DONE"
  log "debootstrap done in $((SECONDS - t0))s"
}

customize_rootfs() {
  local R="$ROOTFS"
  log "copying resolv.conf, CA bundle and pip configuration into the rootfs"
  as_root cp -L /etc/resolv.conf "$R/etc/resolv.conf"
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    as_root mkdir -p "$R/etc/ssl/certs"
    as_root cp -L /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/ca-certificates.crt"
  fi
  [ -f /etc/pip.conf ] && as_root cp -L /etc/pip.conf "$R/etc/pip.conf"
  if [ -d /etc/xdg/pip ]; then as_root mkdir -p "$R/etc/xdg"; as_root rm -rf "$R/etc/xdg/pip"; as_root cp -rL /etc/xdg/pip "$R/etc/xdg/pip"; fi
  # host PIP_* settings (cert, index, timeouts) go along; paths that don't exist in the chroot only warn
  local -a penv=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
                 PIP_ROOT_USER_ACTION=ignore PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1)
  local v
  while IFS= read -r v; do penv+=("$v"); done < <(env | grep -E '^(PIP_[A-Z_]+|https?_proxy|HTTPS?_PROXY|no_proxy|NO_PROXY)=' || true)
  log "pip install awslambdaric boto3 (chroot)"
  as_root chroot "$R" /usr/bin/env -i "${penv[@]}" \
    python3.11 -m pip install --break-system-packages --upgrade awslambdaric boto3 >"$BUILD_DIR/pip.log" 2>&1 || {
      tail -n 20 "$BUILD_DIR/pip.log" >&2; die "pip install in chroot failed; see $BUILD_DIR/pip.log"; }
  # host pip config points to host-only paths; don't ship it in the image
  as_root rm -rf "$R/etc/pip.conf" "$R/etc/xdg/pip" "$R/root/.cache"

  log "laying out /var/lang, /var/runtime, /var/task, /opt, entrypoint"
  as_root mkdir -p "$R/var/lang/bin" "$R/var/runtime" "$R/var/task" "$R/var/rapid" "$R/opt" "$R/tmp"
  as_root chmod 1777 "$R/tmp"
  as_root ln -sfn /usr/bin/python3.11 "$R/var/lang/bin/python3.11"
  as_root ln -sfn python3.11 "$R/var/lang/bin/python3"
  as_root ln -sfn python3.11 "$R/var/lang/bin/python"
  as_root ln -sfn /usr/bin/pip3 "$R/var/lang/bin/pip"
  as_root ln -sfn /usr/bin/pip3 "$R/var/lang/bin/pip3"
  as_root tee "$R/var/runtime/bootstrap" >/dev/null <<'EOF'
#!/bin/sh
# Lambda python3.11 runtime bootstrap (started by aws-lambda-rie / the Lambda service).
export PYTHONPATH=/var/task:/opt/python/lib/python3.11/site-packages:/opt/python
export LAMBDA_TASK_ROOT="${LAMBDA_TASK_ROOT:-/var/task}"
export LAMBDA_RUNTIME_DIR="${LAMBDA_RUNTIME_DIR:-/var/runtime}"
# RIE sets _HANDLER from the invoke's handler (SAM passes AWS_LAMBDA_FUNCTION_HANDLER)
_HANDLER="${_HANDLER:-${AWS_LAMBDA_FUNCTION_HANDLER:-${1:-}}}"
export _HANDLER
if [ -z "$_HANDLER" ]; then echo "bootstrap: no handler (_HANDLER / AWS_LAMBDA_FUNCTION_HANDLER unset)" >&2; exit 1; fi
exec /var/lang/bin/python3.11 -m awslambdaric "$_HANDLER"
EOF
  as_root chmod 0755 "$R/var/runtime/bootstrap"
  # same contract as the AWS image's /lambda-entrypoint.sh: handler is the only argument
  as_root tee "$R/lambda-entrypoint.sh" >/dev/null <<'EOF'
#!/bin/sh
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"
RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
  if [ ! -x /usr/local/bin/aws-lambda-rie ]; then
    echo "no /usr/local/bin/aws-lambda-rie in this image (SAM CLI injects its own as /var/rapid/aws-lambda-rie)" >&2
    exit 1
  fi
  exec /usr/local/bin/aws-lambda-rie "$RUNTIME_ENTRYPOINT"
else
  exec "$RUNTIME_ENTRYPOINT"
fi
EOF
  as_root chmod 0755 "$R/lambda-entrypoint.sh"
  local rie; rie="$(find_rie)"
  if [ -n "$rie" ]; then
    log "baking RIE from $rie into /usr/local/bin/aws-lambda-rie"
    as_root install -m 0755 "$rie" "$R/usr/local/bin/aws-lambda-rie"
  fi
  log "checking interpreter in chroot"
  as_root chroot "$R" /usr/bin/env -i PATH=/var/lang/bin:/usr/bin:/bin \
    /var/lang/bin/python3.11 -c 'import sys, awslambdaric, boto3; assert sys.version_info[:2] == (3, 11), sys.version' \
    || die "python3.11 / awslambdaric / boto3 check failed in $R"
}

build_image() {
  local t0=$SECONDS
  make_rootfs
  customize_rootfs
  log "docker import -> $IMAGE"
  as_root tar -C "$ROOTFS" --numeric-owner --one-file-system \
      --exclude=./proc/* --exclude=./sys/* --exclude=./dev/* --exclude=./run/* \
      --exclude=./var/cache/apt/archives/*.deb --exclude=./var/lib/apt/lists/* -c . |
    docker import \
      --change 'WORKDIR /var/task' \
      --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
      --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
      --change 'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin' \
      --change 'ENV LANG=C.UTF-8' \
      --change 'ENV TZ=:/etc/localtime' \
      --change 'ENV LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib' \
      --change 'ENTRYPOINT ["/lambda-entrypoint.sh"]' \
      --message 'local stand-in for public.ecr.aws/lambda/python:3.11-x86_64 (debootstrap bookworm, scripts/lambda-image.sh)' \
      - "$IMAGE" >/dev/null
  log "smoke test: docker run python3.11 -c 'import awslambdaric, boto3'"
  docker run --rm --entrypoint /var/lang/bin/python3.11 "$IMAGE" \
    -c 'import awslambdaric, boto3, sys; print(sys.version.split()[0])' >&2 \
    || { docker rmi "$IMAGE" >/dev/null 2>&1 || true; die "smoke test of $IMAGE failed (image removed)"; }
  log "built $IMAGE in $((SECONDS - t0))s"
}

ensure_image() {
  if image_exists; then
    log "image $IMAGE present locally ($(docker image inspect -f '{{.Id}}' "$IMAGE" | cut -c1-19)), nothing to do"
    return 0
  fi
  if [ "$PULL_TIMEOUT" != 0 ]; then
    log "trying docker pull $IMAGE (timeout ${PULL_TIMEOUT}s)"
    if timeout "$PULL_TIMEOUT" docker pull -q "$IMAGE" >&2 2>"$BUILD_DIR/pull.log" && image_exists; then
      log "pulled $IMAGE"; return 0
    fi
    log "pull failed ($(tail -n1 "$BUILD_DIR/pull.log" 2>/dev/null | cut -c1-160)); building an equivalent image"
  fi
  build_image
}

status() {
  if docker_ok; then echo "docker: up ($(docker info --format '{{.ServerVersion}}'))"; else echo "docker: not answering"; fi
  local pid
  if pid="$(our_dockerd_pid)"; then echo "dockerd started by this script: pid $pid ($PIDFILE)"; else echo "dockerd started by this script: no"; fi
  if docker_ok && image_exists; then echo "image: $IMAGE present"; else echo "image: $IMAGE absent (or docker down)"; fi
  if [ -f "$ROOTFS_DONE" ]; then echo "rootfs cache: $ROOTFS"; else echo "rootfs cache: none"; fi
}

cmd="${1:-ensure}"
case "$cmd" in
  ensure|"") take_lock; ensure_docker; ensure_image; log "ready: sam local invoke/start-api --skip-pull-image" ;;
  stop)      take_lock; stop_docker ;;
  status)    status ;;
  rebuild)   take_lock; ensure_docker
             if image_exists; then log "removing $IMAGE"; docker rmi "$IMAGE" >/dev/null; fi
             # SAM's derived images (3.11-rapid-x86_64 for layer-less functions, samcli/lambda-python:3.11-*
             # with layers) are only rebuilt by `--skip-pull-image` runs when missing: drop them too.
             for t in $(docker images --format '{{.Repository}}:{{.Tag}}' |
                        grep -E '^(public\.ecr\.aws/lambda/python:3\.11-rapid-|samcli/lambda-python:3\.11-)' || true); do
               log "removing SAM-derived image $t"; docker rmi "$t" >/dev/null || true
             done
             PULL_TIMEOUT=0; ensure_image; log "ready: sam local invoke/start-api --skip-pull-image" ;;
  -h|--help|help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$cmd' (use: ensure | status | stop | rebuild)" ;;
esac
