#!/usr/bin/env bash
# Run ansible-test (sanity by default) on the collection offline.
# ansible-test needs the collection under ansible_collections/<ns>/<name>, so
# the checkout is copied there; and it downloads a pip bootstrap script from
# the internet, so a local stand-in (ensurepip + pip from PyPI) is put in its
# cache first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
WORK="${OPSKIT_ANSIBLE_TEST_DIR:-/tmp/opskit-ansible-test}"
DEST="$WORK/ansible_collections/opskit/ops"
PY="${OPSKIT_ANSIBLE_TEST_PYTHON:-3.11}"

cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
for ver in $(grep -ho "pip='[0-9.]*'" "$VENV"/lib/python*/site-packages/ansible_test/_internal/python_requirements.py | cut -d"'" -f2 | sort -u); do
  stub="$cache/get_pip_${ver//./_}.py"
  [[ -f "$stub" ]] && continue
  cat >"$stub" <<PYEOF
# Offline stand-in for get-pip.py, written by opskit's scripts/ansible_test.sh:
# bootstrap pip with ensurepip, then install what get-pip would have.
import subprocess, sys
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "pip==${ver}"] +
                      [a for a in sys.argv[1:]
                       if not a.startswith("pip==") and a not in ("--no-setuptools", "--no-wheel")])
PYEOF
done

rm -rf "$DEST"
mkdir -p "$DEST"
rsync -a --delete \
  --exclude .venv --exclude .git --exclude collections --exclude .cache --exclude build \
  --exclude reports --exclude 'molecule/*/.molecule' --exclude __pycache__ --exclude .pytest_cache \
  --exclude node_modules --exclude tests/output --exclude '.venv-*' --exclude .hypothesis \
  "$ROOT/" "$DEST/"
# The collections galaxy.yml depends on (bundled with the pinned ansible
# package) beside this one, where ansible-test looks for them: modules built
# on azure.azcollection's module_utils and doc fragment need it.
site="$("$VENV/bin/python" -c 'import ansible_collections, os; print(os.path.dirname([p for p in ansible_collections.__path__ if "site-packages" in p][0]))' 2>/dev/null || true)"
for dep in $("$VENV/bin/python" -c 'import sys, yaml; print(" ".join(sorted((yaml.safe_load(open(sys.argv[1])) or {}).get("dependencies") or {})))' "$ROOT/galaxy.yml"); do
  src="$site/ansible_collections/${dep%%.*}/${dep#*.}"
  dst="$WORK/ansible_collections/${dep%%.*}/${dep#*.}"
  if [[ -d "$src" && ! -e "$dst" ]]; then mkdir -p "$(dirname "$dst")"; ln -s "$src" "$dst"; fi
done
cd "$DEST"
# ansible-test lists files through git when it can; give it a repository.
git init -q . && git add -A >/dev/null 2>&1 && git -c user.email=ci@opskit -c user.name=ci commit -qm snapshot >/dev/null

cmd="${1:-sanity}"
shift || true
case "$cmd" in
  sanity)
    exec "$VENV/bin/ansible-test" sanity --venv --python "$PY" --color no "$@"
    ;;
  units)
    exec "$VENV/bin/ansible-test" units --venv --python "$PY" --color no "$@"
    ;;
  *)
    exec "$VENV/bin/ansible-test" "$cmd" "$@"
    ;;
esac
