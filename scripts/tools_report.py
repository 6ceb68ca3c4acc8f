# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Render runbook 004's weekly report (Markdown + PNG charts) on the controller.

Input: JSON files holding the registered results of ``opskit.ops.audit_log``
and ``opskit.ops.tool_registry`` (action scan) for one service. Output, in
``--out``: ``<service>-weekly-<end date>.md`` and three PNG charts next to it
(runs per hour, execution-time distribution, top tools). Prints the written
paths as JSON. The logic lives in
``plugins/module_utils/_tools_report.py`` (unit tested); matplotlib draws with
the Agg backend, so no display is needed.

    .venv/bin/python scripts/tools_report.py --audit audit.json --registry registry.json \\
        --out reports/opskit-dynamic-tools --service dynamic-tools --host opskit-dynamic-tools
"""

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'collections'))

from ansible_collections.opskit.ops.plugins.module_utils import _tools_report  # noqa: E402


def _load(path):
    if not path:
        return None
    with open(path, encoding='utf-8') as fh:
        return json.load(fh)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--audit', required=True, help='JSON result of opskit.ops.audit_log')
    ap.add_argument('--registry', help='JSON result of opskit.ops.tool_registry (action scan)')
    ap.add_argument('--thresholds', help='JSON object of threshold overrides')
    ap.add_argument('--out', required=True, help='reports directory')
    ap.add_argument('--service', default='')
    ap.add_argument('--host', default='')
    ap.add_argument('--no-charts', action='store_true')
    args = ap.parse_args(argv)
    thresholds = json.loads(args.thresholds) if args.thresholds else None
    written = _tools_report.write_weekly(_load(args.audit), _load(args.registry), args.out, service=args.service,
                                         host=args.host, thresholds=thresholds, charts=not args.no_charts)
    print(json.dumps(written))
    return 0


if __name__ == '__main__':
    sys.exit(main())
