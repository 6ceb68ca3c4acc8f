#!/usr/bin/env bash
# Build the collection artifact and prove it works without the checkout:
# install it into an empty collections path, check what it ships (and what it
# must not ship), that every dependency galaxy.yml declares resolves, that
# ansible-doc shows every module, and that every playbook passes
# `ansible-playbook opskit.ops.<playbook> --syntax-check` from an empty
# directory.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.venv/bin"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
: >"$WORK/ansible.cfg"
export ANSIBLE_CONFIG="$WORK/ansible.cfg"
unset ANSIBLE_COLLECTIONS_PATH ANSIBLE_ROLES_PATH
"$BIN/ansible-galaxy" collection build --output-path "$WORK" "$ROOT" >/dev/null
artifact="$(ls "$WORK"/opskit-ops-*.tar.gz)"
echo "built $(basename "$artifact") ($(du -h "$artifact" | cut -f1))"
status=0

# Dependencies come bundled with the pinned ansible package (no Galaxy here),
# so the artifact is installed without fetching them, then each is resolved.
ANSIBLE_COLLECTIONS_PATH="$WORK/installed" "$BIN/ansible-galaxy" collection install --no-deps --force -p "$WORK/installed" "$artifact" >/dev/null
INSTALLED="$WORK/installed/ansible_collections/opskit/ops"

tar -tzf "$artifact" >"$WORK/files.txt"
for forbidden in molecule .config/ images/ bench/ vault-password.example .venv/ build/ reports/ .cache/; do
  if grep -q -- "$forbidden" "$WORK/files.txt"; then
    echo "FAIL the artifact ships $forbidden:"; grep -- "$forbidden" "$WORK/files.txt" | head -5; status=1
  else
    echo "ok   the artifact ships no $forbidden"
  fi
done
for required in plugins/modules/http_check.py plugins/plugin_utils/service_model.py playbooks/deploy.yml \
                roles/agent_app/tasks/main.yml meta/runtime.yml; do
  if [[ -f "$INSTALLED/$required" ]]; then echo "ok   installed $required"; else echo "FAIL missing $required"; status=1; fi
done

deps=$("$BIN/python" - "$ROOT/galaxy.yml" <<'PY'
import sys, yaml
print(' '.join(sorted((yaml.safe_load(open(sys.argv[1])) or {}).get('dependencies') or {})))
PY
)
for dep in $deps; do
  if ANSIBLE_COLLECTIONS_PATH="$WORK/installed" "$BIN/ansible-galaxy" collection list "$dep" 2>/dev/null | grep -q "^$dep "; then
    echo "ok   dependency $dep resolves"
  else
    echo "FAIL dependency $dep declared in galaxy.yml is not installed"; status=1
  fi
done

modules=$(cd "$ROOT/plugins/modules" && ls *.py | grep -v '^__' | sed 's/\.py$//')
for module in $modules; do
  if ANSIBLE_COLLECTIONS_PATH="$WORK/installed" \
       "$BIN/ansible-doc" -t module "opskit.ops.$module" 2>&1 | grep -q "MODULE.*opskit.ops.$module"; then
    echo "ok   ansible-doc opskit.ops.$module (installed artifact)"
  else
    echo "FAIL ansible-doc opskit.ops.$module (installed artifact)"; status=1
  fi
  if (cd "$ROOT" && ANSIBLE_CONFIG="$ROOT/ansible.cfg" "$BIN/ansible-doc" -t module "opskit.ops.$module" 2>&1 \
        | grep -q "MODULE.*opskit.ops.$module"); then
    echo "ok   ansible-doc opskit.ops.$module (checkout)"
  else
    echo "FAIL ansible-doc opskit.ops.$module (checkout)"; status=1
  fi
done

# Every playbook of the collection, by its fully qualified name, from a
# directory that holds nothing of the checkout.
mkdir -p "$WORK/empty"
printf 'all:\n  hosts:\n    localhost:\n      ansible_connection: local\n' >"$WORK/empty/hosts.yml"
for playbook in "$INSTALLED"/playbooks/*.yml; do
  name="$(basename "$playbook" .yml)"
  if out=$(cd "$WORK/empty" && ANSIBLE_COLLECTIONS_PATH="$WORK/installed" \
             "$BIN/ansible-playbook" -i hosts.yml "opskit.ops.$name" --syntax-check 2>&1); then
    echo "ok   ansible-playbook opskit.ops.$name --syntax-check (installed artifact)"
  else
    echo "FAIL ansible-playbook opskit.ops.$name --syntax-check (installed artifact):"; echo "$out" | tail -n 5; status=1
  fi
done
exit $status
