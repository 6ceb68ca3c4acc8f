# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runbook 004 thresholds, summary lines, the weekly Markdown report and its PNG charts."""

import json
import os

import pytest

from ansible_collections.opskit.ops.plugins.module_utils import _audit_log as al
from ansible_collections.opskit.ops.plugins.module_utils import _tools_report as rep
from ansible_collections.opskit.ops.plugins.filter.tools_health import tools_health

MB = 1024 * 1024


def audit(**over):
    base = {
        'exists': True, 'path': '/var/lib/x/.pi/logs/dynamic-tools-audit.jsonl', 'size': 2 * MB,
        'window': {'name': 'last_7d', 'since': '2024-01-08T00:00:00.000Z', 'until': None,
                   'now': '2024-01-15T00:00:00.000Z'},
        'entries': 100, 'lines': 100, 'creates': 3, 'deletes': 1,
        'corrupted': {'count': 0, 'lines': []},
        'errors': {'count': 4, 'by_message': [{'message': 'boom', 'count': 4}], 'newest': []},
        'critical': {'count': 0, 'newest': []},
        'anomalies': {'count': 0, 'creates_per_day': [], 'failures_per_tool': []},
        'runs': {'total': 100, 'success': 97, 'failed': 3, 'success_rate': 97.0, 'by_hour': {'10': 100}},
        'execution_time': {'count': 100, 'avg_ms': 120.0, 'max_ms': 900,
                           'distribution': dict((b, 0) for b in rep.BUCKET_LABELS),
                           'avg_ms_by_tool': {'a': 120.0}, 'slow_tools': [], 'slow_threshold_ms': 5000.0},
        'usage': {'ranking': [{'tool': 'a', 'runs': 100}], 'tools_without_runs': []},
        'changes': {'created': ['a'], 'deleted': ['zz']},
        'disk': {'filesystem': {'path': '/var/lib/x/.pi/logs', 'used_percent': 40.0}},
        'entries_by_day': {'2024-01-14': 100},
    }
    for key, value in over.items():
        base[key] = value
    return base


def by_check(rows):
    return dict((r['check'], r) for r in rows)


@pytest.mark.parametrize('count,status', [(80, 'ok'), (81, 'warning'), (99, 'warning'), (100, 'failed')])
def test_tool_count_thresholds(count, status):
    rows = rep.evaluate(audit(), {'count': count, 'corrupted': []})
    assert by_check(rows)['tool_count']['status'] == status


@pytest.mark.parametrize('mb,status', [(10, 'ok'), (10.5, 'warning'), (50, 'warning'), (50.5, 'failed')])
def test_log_size_thresholds(mb, status):
    rows = rep.evaluate(audit(size=int(mb * MB)), {'count': 1, 'corrupted': []})
    assert by_check(rows)['audit_log_size']['status'] == status


@pytest.mark.parametrize('rate,status', [(95.0, 'ok'), (94.99, 'warning'), (90.0, 'warning'), (89.99, 'failed'),
                                         (None, 'no_data')])
def test_success_rate_thresholds(rate, status):
    runs = {'total': 10 if rate is not None else 0, 'success': 0, 'failed': 0, 'success_rate': rate}
    rows = rep.evaluate(audit(runs=runs), {'count': 1, 'corrupted': []})
    assert by_check(rows)['success_rate']['status'] == status


@pytest.mark.parametrize('avg,status', [(10000, 'ok'), (10001, 'warning'), (30001, 'failed')])
def test_execution_time_thresholds(avg, status):
    ex = dict(audit()['execution_time'], avg_ms_by_tool={'slow': float(avg), 'fast': 1.0})
    rows = rep.evaluate(audit(execution_time=ex), {'count': 1, 'corrupted': []})
    assert by_check(rows)['execution_time']['status'] == status
    assert 'slow' in by_check(rows)['execution_time']['message']


def test_missing_log_corrupted_lines_anomalies_are_warnings():
    a = audit(exists=False, corrupted={'count': 2, 'lines': [3, 9]}, critical={'count': 1, 'newest': []},
              verification={'failures': 1},
              anomalies={'count': 1, 'creates_per_day': [{'day': '2024-01-10', 'creates': 14}],
                         'failures_per_tool': []})
    rows = by_check(rep.evaluate(a, {'count': 1, 'corrupted': [{'file': 'dt_x.json', 'restorable': True}]}))
    assert rows['audit_log']['status'] == 'warning'
    assert rows['audit_log_lines']['status'] == 'warning'
    assert '3, 9' in rows['audit_log_lines']['message']
    assert rows['security']['status'] == 'warning'
    assert rows['security']['message'].startswith('1 verification failure(s); 1 entries match')
    assert rows['anomalies']['message'] == '2024-01-10: 14 creates'
    assert rows['tool_definitions']['status'] == 'warning'


def test_threshold_overrides_and_unknown_keys():
    rows = rep.evaluate(audit(size=20 * MB), {'count': 1, 'corrupted': []}, {'log_size_warn_mb': 30})
    assert by_check(rows)['audit_log_size']['status'] == 'ok'
    with pytest.raises(ValueError):
        rep.evaluate(audit(), None, {'bogus': 1})


def test_health_filter_status_and_lines():
    h = tools_health(audit(runs={'total': 10, 'success': 8, 'failed': 2, 'success_rate': 80.0}),
                     {'count': 100, 'corrupted': [], 'candidates': [{'name': 'old', 'reasons': ['unused']}]},
                     None, 'dynamic-tools')
    assert h['status'] == 'failed'
    assert sorted(r['check'] for r in h['critical']) == ['success_rate', 'tool_count']
    assert h['failure_message'].startswith('2 of ')
    assert any(line.startswith('[CRIT] success_rate') for line in h['lines'])
    assert h['lines'][-1] == 'deletion candidates: old (unused)'
    assert h['rows'][0]['target'] == 'dynamic-tools'


def test_markdown_follows_the_runbook_template():
    text = rep.render_markdown(audit(), {'count': 42, 'corrupted': [], 'candidates': []}, service='dt', host='h1',
                               charts=[('top tools', '/r/dt-top-tools.png')])
    for heading in ('# 動的ツール生成システム 週次レポート', '## 対象期間', '## サマリー', '## 主な変更',
                    '## インシデント', '## 次週の課題'):
        assert heading + '\n' in text
    assert '2024-01-08 〜 2024-01-15' in text
    assert '- 登録ツール数: 42件\n- 新規作成: 3件\n- 削除: 1件\n- 総実行回数: 100回\n- 成功率: 97.00%\n' in text
    assert '- a: 追加\n- zz: 削除\n' in text
    assert '## インシデント\n- なし\n' in text
    assert '![top tools](dt-top-tools.png)' in text


def test_markdown_incidents_and_tasks():
    a = audit(anomalies={'count': 1, 'creates_per_day': [], 'failures_per_tool': [{'tool': 'bad', 'failures': 9}]},
              corrupted={'count': 1, 'lines': [5]})
    text = rep.render_markdown(a, {'count': 1, 'corrupted': [], 'candidates': [
        {'name': 'old', 'reasons': ['unused']}]})
    assert '- [期間中] [ツール bad が 9 回失敗] [失敗の詳細を確認し、修正または再作成]' in text
    assert '- [期間中] [監査ログの破損行 1 行]' in text
    assert '削除候補 1 件の確認: old (unused)' in text


def test_charts_and_report_files(tmp_path):
    out = rep.write_weekly(audit(), {'count': 1, 'corrupted': []}, str(tmp_path), service='dt', host='h')
    assert out['report'] == str(tmp_path / 'dt-weekly-2024-01-15.md')
    assert sorted(os.path.basename(p) for p in out['charts']) == [
        'dt-weekly-2024-01-15-execution-time.png', 'dt-weekly-2024-01-15-runs-per-hour.png',
        'dt-weekly-2024-01-15-top-tools.png']
    for path in out['charts']:
        with open(path, 'rb') as fh:
            assert fh.read(8) == b'\x89PNG\r\n\x1a\n'
    assert '![tool.run per hour](dt-weekly-2024-01-15-runs-per-hour.png)' in open(out['report'], encoding='utf-8').read()


def test_report_from_a_real_analysis(tmp_path):
    log = tmp_path / 'dynamic-tools-audit.jsonl'
    entry = {'id': 'a', 'timestamp': '2024-01-15T10:00:00.000Z', 'action': 'tool.run', 'toolName': 't',
             'details': {'executionTimeMs': 100}, 'success': True, 'errorMessage': None}
    log.write_text(json.dumps(entry) + '\n')
    figures = al.analyze(str(log), window='last_7d', now='2024-01-16T00:00:00Z')
    text = rep.render_markdown(figures, None)
    assert '- 総実行回数: 1回' in text
    assert '- 成功率: 100.00%' in text


def test_missing_tools_directory_is_a_warning():
    rows = by_check(rep.evaluate(audit(), {'exists': False, 'count': 0, 'corrupted': []}))
    assert rows['tool_count']['status'] == 'warning'
    assert 'does not exist' in rows['tool_count']['message']
