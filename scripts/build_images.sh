#!/usr/bin/env bash
# Build, once per machine, the container images that stand in for target
# hosts. No registry is reachable here, so the base image is made with
# debootstrap and the host image adds, once, every package the roles and the
# Molecule scenarios need (PostgreSQL 17 + pgvector, Redis, Prometheus...), so
# no scenario spends minutes installing them again.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MIRROR="${OPSKIT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE="${OPSKIT_SUITE:-trixie}"
BASE_IMAGE="opskit/base:${SUITE}"
HOST_IMAGE="opskit/host:${SUITE}"
CACHE="${OPSKIT_CACHE:-/var/cache/opskit}"
FORCE="${OPSKIT_REBUILD:-0}"

log() { printf '\n==> %s\n' "$*"; }

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

build_base() {
  if image_exists "$BASE_IMAGE" && [[ "$FORCE" != 1 ]]; then
    log "$BASE_IMAGE already built"
    return
  fi
  log "Building $BASE_IMAGE with debootstrap (about a minute)"
  local rootfs="$CACHE/rootfs-$SUITE"
  rm -rf "$rootfs"
  mkdir -p "$rootfs"
  debootstrap --variant=minbase \
    --include=python3,python3-apt,systemd,systemd-sysv,dbus,iproute2,procps,sudo,acl,ca-certificates,locales-all \
    "$SUITE" "$rootfs" "$MIRROR" >"$CACHE/debootstrap-$SUITE.log" 2>&1 || {
      tail -n 40 "$CACHE/debootstrap-$SUITE.log" >&2; exit 1; }
  # Units that cannot work in a container only make systemd report "degraded".
  for unit in getty.target console-getty.service systemd-firstboot.service; do
    ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
  done
  rm -f "$rootfs/etc/machine-id"; : >"$rootfs/etc/machine-id"
  tar -C "$rootfs" -c . | docker import \
    -c 'CMD ["/sbin/init"]' -c 'ENV container=docker' \
    - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
}

build_host() {
  local stamp
  stamp="$(sha256sum "$ROOT/images/host/Dockerfile" | cut -c1-12)"
  if image_exists "$HOST_IMAGE" && [[ "$FORCE" != 1 ]] \
     && [[ "$(docker image inspect -f '{{ index .Config.Labels "opskit.dockerfile" }}' "$HOST_IMAGE")" == "$stamp" ]]; then
    log "$HOST_IMAGE already built"
    return
  fi
  log "Building $HOST_IMAGE (packages preinstalled once for every scenario)"
  DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE=$BASE_IMAGE" --label "opskit.dockerfile=$stamp" \
    -t "$HOST_IMAGE" "$ROOT/images/host" >/dev/null
}

# Observability stack images (compose mode of roles/observability): Prometheus
# and Alertmanager from Debian packages, and a systemd host that runs Docker
# itself for the compose Molecule scenario. Grafana, Loki and Promtail are in
# no reachable registry or package archive, so they are not built here.
build_local_image() {
  local image="$1" dir="$2" stamp
  stamp="$(sha256sum "$dir/Dockerfile" | cut -c1-12)"
  if image_exists "$image" && [[ "$FORCE" != 1 ]] \
     && [[ "$(docker image inspect -f '{{ index .Config.Labels "opskit.dockerfile" }}' "$image")" == "$stamp" ]]; then
    log "$image already built"
    return
  fi
  log "Building $image"
  DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE=$BASE_IMAGE" --label "opskit.dockerfile=$stamp" \
    -t "$image" "$dir" >/dev/null
}

build_observability() {
  build_local_image "opskit/prometheus:2.53.3" "$ROOT/images/prometheus"
  build_local_image "opskit/alertmanager:0.28.1" "$ROOT/images/alertmanager"
  build_local_image "opskit/dockerhost:${SUITE}" "$ROOT/images/dockerhost"
}

mkdir -p "$CACHE"
build_base
build_host
build_observability
log "Images ready: $BASE_IMAGE $HOST_IMAGE opskit/prometheus opskit/alertmanager opskit/dockerhost"
