#!/usr/bin/env bash
# Throwaway PostgreSQL 17 (with pgvector) and Redis for the reference
# service's store tests, in one container of the host image (no systemd needed).
#   scripts/test_services.sh up    -> prints export lines for the test URLs
#   scripts/test_services.sh down
set -euo pipefail
NAME=opskit-unit-stores
IMAGE="${OPSKIT_HOST_IMAGE:-opskit/host:trixie}"
PASSWORD=opskit-unit-test

up() {
  docker rm -f "$NAME" >/dev/null 2>&1 || true
  docker run -d --name "$NAME" --entrypoint /bin/bash "$IMAGE" -c "
    set -e
    echo \"host all all 0.0.0.0/0 scram-sha-256\" >> /etc/postgresql/17/main/pg_hba.conf
    su postgres -c \"/usr/lib/postgresql/17/bin/postgres -D /var/lib/postgresql/17/main \
      -c config_file=/etc/postgresql/17/main/postgresql.conf -c listen_addresses='*'\" &
    redis-server --bind 0.0.0.0 --protected-mode no --save '' --appendonly no &
    wait" >/dev/null
  for _ in $(seq 1 60); do
    if docker exec "$NAME" su postgres -c "psql -XAtqc 'SELECT 1'" >/dev/null 2>&1; then break; fi
    sleep 1
  done
  docker exec "$NAME" su postgres -c "psql -Xqc \"CREATE ROLE opskit LOGIN CREATEDB PASSWORD '$PASSWORD'\"" >/dev/null
  docker exec "$NAME" su postgres -c "psql -Xqc 'CREATE DATABASE opskit_test OWNER opskit'" >/dev/null
  docker exec "$NAME" su postgres -c "psql -Xq -d opskit_test -c 'CREATE EXTENSION vector'" >/dev/null
  docker exec "$NAME" redis-cli ping >/dev/null
  ip="$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$NAME")"
  echo "export OPSKIT_TEST_POSTGRESQL_URL=postgresql://opskit:$PASSWORD@$ip:5432/opskit_test"
  echo "export OPSKIT_TEST_REDIS_URL=redis://$ip:6379/0"
}

down() { docker rm -f "$NAME" >/dev/null 2>&1 || true; }

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
