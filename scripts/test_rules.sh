#!/usr/bin/env bash
# promtool unit tests of every alert rule, on the rules the observability role renders.
set -euo pipefail
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/observability/run_rule_tests.sh" "$@"
