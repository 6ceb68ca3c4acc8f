#!/usr/bin/env bash
# Prepare a fresh Debian 12 machine (as root) to run opskit and its tests:
# host packages, a Docker engine started by hand (no systemd as PID 1 on the
# VM), the Compose v2 plugin taken from Debian 13, and the Python virtualenv.
# Safe to run again: every step checks before it acts.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${OPSKIT_PYTHON:-python3.11}"
VENV="${ROOT}/.venv"
COMPOSE_PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
MIRROR="${OPSKIT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

log() { printf '\n==> %s\n' "$*"; }

install_host_packages() {
  local wanted=(docker.io debootstrap make rsync jq sqlite3 gzip curl xz-utils
                prometheus prometheus-alertmanager logrotate iproute2)
  local missing=()
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "Installing host packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Debian's prometheus packages start their daemons through systemd where it
    # exists; on this VM there is none, so nothing is left running.
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "Host packages already present"
  fi
}

start_docker() {
  if docker info >/dev/null 2>&1; then
    log "Docker engine already running"
    return
  fi
  log "Starting the Docker engine (dockerd in the background)"
  mkdir -p /var/log
  nohup /usr/sbin/dockerd >/var/log/opskit-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return
    sleep 1
  done
  echo "dockerd did not come up within 60 s; see /var/log/opskit-dockerd.log" >&2
  tail -n 30 /var/log/opskit-dockerd.log >&2 || true
  exit 1
}

install_compose_v2() {
  if docker compose version >/dev/null 2>&1; then
    log "Compose v2 already installed: $(docker compose version --short)"
    return
  fi
  log "Installing Compose v2 from Debian 13 (bookworm ships only v1)"
  local work
  work="$(mktemp -d)"
  mkdir -p "$work/lists/partial" "$work/archives/partial"
  echo "deb ${MIRROR} trixie main" >"$work/trixie.list"
  local apt_opts=(-o "Dir::Etc::SourceList=$work/trixie.list" -o "Dir::Etc::SourceParts=/dev/null"
                  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives"
                  -o "APT::Get::List-Cleanup=0")
  apt-get "${apt_opts[@]}" update -qq
  (cd "$work" && apt-get "${apt_opts[@]}" download docker-compose >/dev/null)
  dpkg-deb -x "$work"/docker-compose_*.deb "$work/root"
  mkdir -p "$COMPOSE_PLUGIN_DIR" /usr/libexec/docker/cli-plugins
  install -m 0755 "$work/root/usr/libexec/docker/cli-plugins/docker-compose" "$COMPOSE_PLUGIN_DIR/docker-compose"
  ln -sf "$COMPOSE_PLUGIN_DIR/docker-compose" /usr/libexec/docker/cli-plugins/docker-compose
  rm -rf "$work"
  docker compose version
}

create_venv() {
  if [[ -x "$VENV/bin/ansible-playbook" && "$VENV/.requirements.sha" -nt "$ROOT/requirements.txt" ]] \
     && [[ "$(cat "$VENV/.requirements.sha")" == "$(sha256sum "$ROOT/requirements.txt" | cut -d' ' -f1)" ]]; then
    log "Python virtualenv up to date ($VENV)"
    return
  fi
  log "Creating the Python virtualenv ($VENV) from requirements.txt"
  [[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -r "$ROOT/requirements.txt"
  sha256sum "$ROOT/requirements.txt" | cut -d' ' -f1 >"$VENV/.requirements.sha"
}

install_azurite() {
  # Azurite, the Azure Storage emulator, stands in for Blob Storage in the
  # backup tests (Azure itself cannot be reached from here).
  if [[ -x "$ROOT/.cache/azurite/node_modules/.bin/azurite-blob" ]]; then
    log "Azurite already installed"
    return
  fi
  if ! command -v npm >/dev/null 2>&1; then
    log "Installing npm from Debian for Azurite"
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  log "Installing Azurite from the npm registry into .cache/azurite"
  mkdir -p "$ROOT/.cache/azurite"
  npm install --silent --no-audit --no-fund --prefix "$ROOT/.cache/azurite" azurite@3 >/dev/null
}

install_checkov() {
  # checkov (scan of infra/bicep) pins pycep-parser and packaging versions that
  # clash with the main virtualenv, so it gets its own under .cache (ignored by
  # git, the linters and the collection build). Its pin is the "# venv-checkov:"
  # line of requirements.txt.
  local venv="$ROOT/.cache/venv-checkov" pin
  pin="$(sed -n 's/^# venv-checkov: *//p' "$ROOT/requirements.txt")"
  if [[ -x "$venv/bin/checkov" && "$("$venv/bin/pip" freeze 2>/dev/null | grep -i '^checkov==')" == "$pin" ]]; then
    log "checkov virtualenv up to date ($pin)"
    return
  fi
  log "Creating the checkov virtualenv ($venv, $pin)"
  [[ -x "$venv/bin/python" ]] || "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q "$pin"
}

create_azure_venv() {
  # The interpreter of the Azure modules (azure.azcollection's SDK pins clash
  # with requirements.txt, so they get their own venv; playbooks/azure_*.yml use it).
  local venv="$ROOT/.cache/venv-azure" req="$ROOT/requirements-azure.txt"
  if [[ -x "$venv/bin/python" && "$(cat "$venv/.requirements.sha" 2>/dev/null)" == "$(sha256sum "$req" | cut -d' ' -f1)" ]]; then
    log "Azure SDK virtualenv up to date ($venv)"
    return
  fi
  log "Creating the Azure SDK virtualenv ($venv) from requirements-azure.txt"
  [[ -x "$venv/bin/python" ]] || "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -r "$req"
  sha256sum "$req" | cut -d' ' -f1 >"$venv/.requirements.sha"
}

install_host_packages
install_azurite
start_docker
install_compose_v2
create_venv
install_checkov
create_azure_venv
log "Host ready"
