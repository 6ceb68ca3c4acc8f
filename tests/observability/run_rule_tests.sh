#!/usr/bin/env bash
# Run every promtool unit test of the observability role's alert rules.
#
# The rules are not kept twice: they are rendered from the role's templates
# with the role's default variables (tests/observability/render_rules.yml,
# each file checked by `promtool check rules`), then the tests in
# tests/observability/rules/*.test.yml run against them.
#   tests/observability/run_rule_tests.sh              # all tests
#   tests/observability/run_rule_tests.sh 003-runtime  # the tests of one file
# RULES_EXTRA_VARS (JSON or key=value) overrides role variables when rendering,
# e.g. to check that the tests catch a changed threshold (they must fail).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PROMTOOL="${PROMTOOL:-promtool}"
ANSIBLE_PLAYBOOK="${ANSIBLE_PLAYBOOK:-$ROOT/.venv/bin/ansible-playbook}"
command -v "$PROMTOOL" >/dev/null || { echo "promtool not found (apt-get install prometheus)" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$ROOT"
ANSIBLE_STDOUT_CALLBACK=ansible.builtin.minimal \
  "$ANSIBLE_PLAYBOOK" -i localhost, tests/observability/render_rules.yml \
  -e "rules_out=$work/rules" -e "promtool=$PROMTOOL" ${RULES_EXTRA_VARS:+-e "$RULES_EXTRA_VARS"} \
  >"$work/render.log" 2>&1 || {
    cat "$work/render.log" >&2; echo "rendering the rules failed" >&2; exit 1; }

tests=()
if (($#)); then
  for name in "$@"; do tests+=("tests/observability/rules/${name%.test.yml}.test.yml"); done
else
  tests=(tests/observability/rules/*.test.yml)
fi
cp "${tests[@]}" "$work/"
cd "$work"
"$PROMTOOL" --version 2>&1 | head -n 1
"$PROMTOOL" test rules "${tests[@]##*/}"
