#!/usr/bin/env bash
# Build the collection artifact, install it into an empty collections path and
# check that ansible-doc shows every module from the installed copy (and from
# the checkout).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.venv/bin"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
: >"$WORK/ansible.cfg"
"$BIN/ansible-galaxy" collection build --output-path "$WORK" "$ROOT" >/dev/null
artifact="$(ls "$WORK"/opskit-ops-*.tar.gz)"
echo "built $(basename "$artifact") ($(du -h "$artifact" | cut -f1))"
ANSIBLE_CONFIG="$WORK/ansible.cfg" "$BIN/ansible-galaxy" collection install --force -p "$WORK/installed" "$artifact" >/dev/null
modules=$(cd "$ROOT/plugins/modules" && ls *.py | grep -v '^__' | sed 's/\.py$//')
status=0
for module in $modules; do
  if ANSIBLE_CONFIG="$WORK/ansible.cfg" ANSIBLE_COLLECTIONS_PATH="$WORK/installed" \
       "$BIN/ansible-doc" -t module "opskit.ops.$module" 2>&1 | grep -q "MODULE.*opskit.ops.$module"; then
    echo "ok   ansible-doc opskit.ops.$module (installed artifact)"
  else
    echo "FAIL ansible-doc opskit.ops.$module (installed artifact)"; status=1
  fi
  if (cd "$ROOT" && "$BIN/ansible-doc" -t module "opskit.ops.$module" 2>&1 | grep -q "MODULE.*opskit.ops.$module"); then
    echo "ok   ansible-doc opskit.ops.$module (checkout)"
  else
    echo "FAIL ansible-doc opskit.ops.$module (checkout)"; status=1
  fi
done
exit $status
