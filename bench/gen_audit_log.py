# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generate a realistic runbook 004 tree: ``.pi/tools/*.json`` and a large
``.pi/logs/dynamic-tools-audit.jsonl``.

The audit log follows the entry shape of runbook 004 ("監査ログの構造"), written
compactly as the service writes it (``JSON.stringify`` / ``json.dumps(...,
separators=(',', ':'), ensure_ascii=False)``), one entry a line, in time order:
mostly ``tool.run`` with an execution time, some failures (Japanese and English
error messages, so the log holds non-ASCII text), ``tool.create`` /
``tool.delete``, ``verification.pass`` / ``verification.fail`` with reasons,
warnings in ``details.warning``, and a burst of creates on one day and one tool
that keeps failing so the runbook's anomaly rules fire.

Deterministic: the same ``--seed`` and ``--lines`` always give the same bytes.
About 300 bytes a line, so the default 1,000,000 lines is about 300 MB.

    .venv/bin/python bench/gen_audit_log.py --out /tmp/audit-bench --lines 1000000
    .venv/bin/python bench/gen_audit_log.py --out /tmp/audit-bad --lines 10000 --corrupt 25
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import string
import sys

TOOL_WORDS = [
    'json', 'csv', 'yaml', 'xml', 'markdown', 'html', 'regex', 'date', 'time', 'url',
    'base64', 'hash', 'uuid', 'text', 'table', 'image', 'pdf', 'log', 'diff', 'sql',
]
TOOL_VERBS = ['formatter', 'parser', 'validator', 'converter', 'summarizer', 'extractor', 'linter']

ERRORS = [
    ('実行タイムアウト', 30),
    ('必須パラメータが不足しています: input', 20),
    ('ツールが見つかりません', 8),
    ('TypeError: Cannot read properties of undefined (reading \'length\')', 15),
    ('SyntaxError: Unexpected token } in JSON at position 42', 10),
    ('RangeError: Maximum call stack size exceeded', 5),
    ('安全性チェック失敗: 禁止されたモジュール fs', 4),
    ('Network request failed: ECONNREFUSED 127.0.0.1:9', 8),
]
VERIFY_FAIL_REASONS = [
    'security: forbidden pattern eval()',
    'security: child_process is not allowed',
    'critical: unbounded loop detected',
    '禁止パターン: require("fs")',
    'syntax error in generated code',
]
WARNINGS = [
    'network access requested',
    'high memory usage pattern',
    'ファイルシステムへのアクセス',
    'dynamic code evaluation',
]
ACTORS = ['system'] * 8 + ['user:alice', 'user:bob', 'agent:planner']


def _weighted(rng, pairs):
    total = sum(w for _unused, w in pairs)
    x = rng.uniform(0, total)
    for item, w in pairs:
        x -= w
        if x <= 0:
            return item
    return pairs[-1][0]


def make_tools(rng, count):
    names = []
    seen = set()
    while len(names) < count:
        name = '%s_%s' % (rng.choice(TOOL_WORDS), rng.choice(TOOL_VERBS))
        if name in seen:
            name = '%s_%d' % (name, len(names))
        seen.add(name)
        names.append(name)
    tools = []
    for name in names:
        tool_id = 'dt_' + ''.join(rng.choice('0123456789abcdef') for _unused in range(12))
        tools.append({'id': tool_id, 'name': name,
                      'safetyScore': round(rng.choice([rng.uniform(0.1, 0.3), rng.uniform(0.5, 1.0),
                                                       rng.uniform(0.6, 1.0), rng.uniform(0.7, 1.0)]), 2)})
    return tools


def write_tools(tools_dir, tools, created_at):
    os.makedirs(tools_dir, exist_ok=True)
    for tool in tools:
        definition = {
            'id': tool['id'],
            'name': tool['name'],
            'description': '%s (生成されたツール)' % tool['name'].replace('_', ' '),
            'code': 'async function execute(params) {\n  return { ok: true, input: params.input };\n}\n',
            'parameters': {'input': {'type': 'string', 'description': 'input text', 'required': True}},
            'safetyScore': tool['safetyScore'],
            'createdAt': created_at,
            'createdBy': 'system',
        }
        with open(os.path.join(tools_dir, tool['id'] + '.json'), 'w', encoding='utf-8') as fh:
            json.dump(definition, fh, ensure_ascii=False, indent=2)
            fh.write('\n')


def iso_ms(epoch_ms):
    sec, ms = divmod(epoch_ms, 1000)
    return datetime.datetime.fromtimestamp(sec, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S') + '.%03dZ' % ms


def generate(out, lines, seed, end, days, tool_count, unused_tools, corrupt):
    rng = random.Random(seed)
    pi = os.path.join(out, '.pi')
    logs = os.path.join(pi, 'logs')
    os.makedirs(logs, exist_ok=True)
    tools = make_tools(rng, tool_count)
    # The last `unused_tools` are defined but never run (the runbook's deletion candidates).
    used = tools[:max(1, tool_count - unused_tools)]
    end_dt = datetime.datetime.strptime(end, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
    end_ms = int(end_dt.timestamp() * 1000)
    start_ms = end_ms - days * 86400 * 1000
    write_tools(os.path.join(pi, 'tools'), tools, iso_ms(start_ms))
    step = (end_ms - start_ms) / float(lines)
    # Popularity follows a Zipf-like law; one tool fails constantly.
    weights = [1.0 / (i + 1) ** 0.9 for i in range(len(used))]
    cum = []
    acc = 0.0
    for w in weights:
        acc += w
        cum.append(acc)
    flaky = used[min(7, len(used) - 1)]['name']
    burst_day = iso_ms(start_ms + (days // 2) * 86400 * 1000)[:10]
    corrupt_at = set(rng.sample(range(lines), corrupt)) if corrupt else set()
    alphabet = string.ascii_letters + string.digits + '     ,.-_'
    dumps = json.JSONEncoder(separators=(',', ':'), ensure_ascii=False).encode
    import bisect
    path = os.path.join(logs, 'dynamic-tools-audit.jsonl')
    written = 0
    with open(path, 'w', encoding='utf-8', newline='\n', buffering=1 << 20) as fh:
        for i in range(lines):
            ts_ms = start_ms + int(i * step) + rng.randint(0, max(0, int(step) - 1))
            ts = iso_ms(ts_ms)
            r = rng.random()
            if ts[:10] == burst_day and r < 0.02:
                action = 'tool.create'
            elif r < 0.9:
                action = 'tool.run'
            elif r < 0.93:
                action = 'tool.create'
            elif r < 0.95:
                action = 'tool.delete'
            elif r < 0.985:
                action = 'verification.pass'
            else:
                action = 'verification.fail'
            tool = used[bisect.bisect_left(cum, rng.uniform(0, acc))]
            if action == 'tool.run' and rng.random() < 0.01:
                tool = next(t for t in used if t['name'] == flaky)
            details = {}
            success = True
            error = None
            if action == 'tool.run':
                base = 40 if tool['name'] != flaky else 4000
                ms = int(rng.lognormvariate(4.6, 1.1)) + base
                if rng.random() < 0.003:
                    ms = rng.randint(10000, 45000)
                details['executionTimeMs'] = ms
                details['parameters'] = {'input': ''.join(rng.choice(alphabet) for _unused in range(rng.randint(30, 100)))}
                fail_p = 0.45 if tool['name'] == flaky else 0.04
                if rng.random() < fail_p:
                    success = False
                    error = _weighted(rng, ERRORS)
            elif action == 'tool.create':
                details['description'] = '%s を作成' % tool['name']
                details['safetyScore'] = tool['safetyScore']
                if rng.random() < 0.15:
                    details['warning'] = rng.choice(WARNINGS)
                if rng.random() < 0.05:
                    success = False
                    error = '名前の重複: %s' % tool['name']
            elif action == 'tool.delete':
                details['confirm'] = True
            elif action == 'verification.pass':
                details['safetyScore'] = tool['safetyScore']
                details['checks'] = ['syntax', 'patterns', 'sandbox']
            else:
                details['reason'] = rng.choice(VERIFY_FAIL_REASONS)
                success = False
                error = 'verification failed'
                if rng.random() < 0.3:
                    details['warning'] = rng.choice(WARNINGS)
            entry = {
                'id': 'audit_%012x' % rng.getrandbits(48),
                'timestamp': ts,
                'action': action,
                'toolId': tool['id'],
                'toolName': tool['name'],
                'actor': rng.choice(ACTORS),
                'details': details,
                'success': success,
                'errorMessage': error,
            }
            line = dumps(entry)
            if i in corrupt_at:
                kind = rng.randint(0, 2)
                if kind == 0:
                    line = line[:rng.randint(5, len(line) - 5)]          # torn write
                elif kind == 1:
                    line = line.replace('"', '', 1)                       # broken quote
                else:
                    line = '\x00' * 16 + line[:20]                        # crash garbage
            fh.write(line)
            fh.write('\n')
            written += 1
    return path, written, tools, used


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', required=True, help='directory that receives .pi/')
    ap.add_argument('--lines', type=int, default=1000000)
    ap.add_argument('--seed', type=int, default=4004)
    ap.add_argument('--end', default='2025-03-01T00:00:00Z', help='timestamp of the newest entry (UTC)')
    ap.add_argument('--days', type=int, default=60, help='days the log spans')
    ap.add_argument('--tools', type=int, default=90, help='tool definitions')
    ap.add_argument('--unused-tools', type=int, default=6, help='defined tools that never run')
    ap.add_argument('--corrupt', type=int, default=0, help='corrupted lines to inject')
    args = ap.parse_args(argv)
    path, written, tools, _unused = generate(args.out, args.lines, args.seed, args.end, args.days,
                                             args.tools, args.unused_tools, args.corrupt)
    print('%s: %d lines, %.1f MB, %d tool definitions' % (path, written, os.path.getsize(path) / 1e6, len(tools)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
