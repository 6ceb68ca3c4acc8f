#!/usr/bin/env bash
# Create (up) or remove (down) the local container hosts of inventories/local:
# one Debian 13 systemd container per service group on the docker network
# "opskit". Idempotent: running containers are left as they are.
set -euo pipefail

IMAGE="${OPSKIT_HOST_IMAGE:-opskit/host:trixie}"
NETWORK="${OPSKIT_NETWORK:-opskit}"
HOSTS=(opskit-el-bot opskit-multi-agent opskit-runtime opskit-dynamic-tools opskit-agent-framework opskit-observability)

wait_for_systemd() {
  local host="$1" state
  for _ in $(seq 1 60); do
    state="$(docker exec "$host" systemctl is-system-running 2>/dev/null || true)"
    case "$state" in
      running|degraded) return 0 ;;
    esac
    sleep 1
  done
  echo "$host: systemd did not finish booting (state: ${state:-unknown})" >&2
  return 1
}

up() {
  docker network inspect "$NETWORK" >/dev/null 2>&1 || docker network create "$NETWORK" >/dev/null
  for host in "${HOSTS[@]}"; do
    if [[ "$(docker inspect -f '{{.State.Running}}' "$host" 2>/dev/null)" == "true" ]]; then
      continue
    fi
    docker rm -f "$host" >/dev/null 2>&1 || true
    docker run -d --name "$host" --hostname "$host" --network "$NETWORK" \
      --cap-add SYS_ADMIN --stop-signal SIGRTMIN+3 \
      -v /sys/fs/cgroup:/sys/fs/cgroup:ro \
      --tmpfs /run --tmpfs /run/lock --tmpfs /tmp:exec \
      --label opskit.local=1 \
      "$IMAGE" /sbin/init >/dev/null
    echo "created $host"
  done
  for host in "${HOSTS[@]}"; do
    wait_for_systemd "$host"
  done
  echo "local hosts ready: ${HOSTS[*]}"
}

down() {
  for host in "${HOSTS[@]}"; do
    docker rm -f "$host" >/dev/null 2>&1 || true
  done
  docker network rm "$NETWORK" >/dev/null 2>&1 || true
  echo "local hosts removed"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
