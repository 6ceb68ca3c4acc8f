#!/usr/bin/env bash
# infra/bicep (runbook 001 on Azure): the agreement of every .bicep with the
# ARM JSON beside it, offline structural checks of the ARM JSON, the runbook's
# values, and a checkov scan of both (Bicep and ARM). Nothing here reaches
# Azure: what only Azure can validate is listed in docs/azure-infra.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
REPORT_DIR="$ROOT/reports/test"
CHECKOV="${OPSKIT_CHECKOV:-$ROOT/.cache/venv-checkov/bin/checkov}"
mkdir -p "$REPORT_DIR"

if command -v bicep >/dev/null 2>&1; then
  echo "==> bicep CLI found ($(bicep --version)): its build of main.bicep is compared with the committed main.json"
else
  echo "==> no bicep CLI on PATH: the committed ARM JSON is checked against the Bicep files"
fi

echo "==> agreement, structure and runbook-value tests (tests/infra)"
"$ROOT/.venv/bin/pytest" -q -p no:cacheprovider --junitxml="$REPORT_DIR/infra.xml" tests/infra

if [[ ! -x "$CHECKOV" ]]; then
  echo "checkov not found at $CHECKOV: run scripts/setup_host.sh (it creates .cache/venv-checkov)" >&2
  exit 1
fi
echo "==> checkov $("$CHECKOV" --version) on infra/bicep (Bicep and ARM)"
# --skip-download: no Prisma Cloud calls (no internet here); LOG_LEVEL keeps
# the parameter-resolution warnings of the modules out of the log.
LOG_LEVEL=ERROR "$CHECKOV" -d infra/bicep --framework bicep arm --compact --skip-download
