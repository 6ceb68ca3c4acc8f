#!/usr/bin/env bash
# The whole opskit test suite, as `make test` and CI run it. Every stage runs
# even when an earlier one failed, so one run shows every problem; the summary
# at the end lists each stage with its result and duration, and the exit code
# is non-zero when any stage failed.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$ROOT/ansible.cfg"
export OPSKIT_WORK_DIR="$ROOT"
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 ANSIBLE_NOCOLOR=1 NO_COLOR=1
REPORT_DIR="$ROOT/reports/test"
mkdir -p "$REPORT_DIR"

STAGES="${OPSKIT_TEST_STAGES:-lint sanity unit rules infra molecule integration}"
MOLECULE_SCENARIOS="${MOLECULE_SCENARIOS:-$(ls -d molecule/*/molecule.yml 2>/dev/null | xargs -n1 dirname | xargs -n1 basename | tr '\n' ' ')}"

declare -a SUMMARY=()
FAILED=0

stage() {
  local name="$1"; shift
  local start end status log="$REPORT_DIR/$name.log"
  printf '\n========== %s ==========\n' "$name"
  start=$(date +%s)
  if "$@" 2>&1 | tee "$log"; then status=PASS; else status=FAIL; FAILED=1; fi
  end=$(date +%s)
  SUMMARY+=("$(printf '%-28s %-5s %5ss' "$name" "$status" "$((end - start))")")
}

has_stage() { [[ " $STAGES " == *" $1 "* ]]; }

if has_stage lint; then
  stage yamllint yamllint -s .
  stage ansible-lint ansible-lint --offline
fi
if has_stage sanity; then
  stage collection-build bash scripts/collection_check.sh
  stage ansible-test-sanity bash scripts/ansible_test.sh sanity
fi
if has_stage unit; then
  # The reference service's PostgreSQL/Redis store tests get real servers.
  eval "$(bash scripts/test_services.sh up)"
  stage pytest-unit pytest -q -p no:cacheprovider --junitxml="$REPORT_DIR/unit.xml" tests/unit examples/agent_app/tests
  bash scripts/test_services.sh down
fi
if has_stage rules && [[ -x scripts/test_rules.sh ]]; then
  stage promtool-rules bash scripts/test_rules.sh
fi
if has_stage infra; then
  # infra/bicep: Bicep vs ARM JSON agreement, ARM structure, checkov (docs/azure-infra.md)
  stage infra-bicep bash scripts/test_infra.sh
fi
if has_stage molecule; then
  for scenario in $MOLECULE_SCENARIOS; do
    stage "molecule-$scenario" molecule test -s "$scenario"
  done
fi
if has_stage integration; then
  stage local-hosts make -s hosts
  stage demo-deploy make -s deploy
  stage integration bash -c 'set -a; source .cache/secrets.env; set +a; pytest -q -p no:cacheprovider -m integration --junitxml=reports/test/integration.xml tests/integration'
fi

printf '\n========== opskit test summary ==========\n'
printf '%s\n' "${SUMMARY[@]}"
if ((FAILED)); then
  echo "RESULT: FAIL (logs in reports/test/)"
  exit 1
fi
echo "RESULT: PASS"
