# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Runbook 004 daily/weekly evaluation and the weekly report (Markdown + PNG charts).

Input: the result of ``opskit.ops.audit_log`` (``audit``) and of
``opskit.ops.tool_registry`` action scan (``registry``) for one service.

* ``evaluate`` turns them into check rows (the shape of ``_check_rows``: check,
  target, value, threshold, status, message) with the runbook's thresholds
  ("監視項目": tool count 80/100, log size 10/50 MB, success rate 95/90 %,
  execution time 10/30 s) plus disk use, corrupted lines and definitions,
  critical entries and anomalies;
* ``summary_lines`` gives the few lines an operator reads in the play output;
* ``render_markdown`` fills the runbook's weekly report template;
* ``render_charts`` draws runs per hour, the execution-time distribution and the
  top tools with matplotlib (Agg backend, imported only there).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.opskit.ops.plugins.module_utils._check_rows import (
    make_row, summarize, failure_message, STATUS_OK, STATUS_WARNING, STATUS_FAILED, STATUS_NO_DATA)

MB = 1024 * 1024

DEFAULT_THRESHOLDS = {
    'tool_count_warn': 80,          # > 80 tools: warning
    'tool_count_max': 100,          # = 100 tools (the service's limit): critical
    'log_size_warn_mb': 10,
    'log_size_crit_mb': 50,
    'success_rate_warn': 95.0,      # < 95 %: warning
    'success_rate_crit': 90.0,      # < 90 %: critical
    'exec_warn_s': 10.0,            # slowest tool's average > 10 s: warning
    'exec_crit_s': 30.0,            # > 30 s: critical
    'disk_warn_pct': 80.0,          # not in the runbook (it only says df -h): opskit's defaults
    'disk_crit_pct': 90.0,
}

BUCKET_LABELS = ('< 100ms', '100-500ms', '500ms-1s', '1-5s', '5-10s', '> 10s')


def thresholds_with(overrides=None):
    out = dict(DEFAULT_THRESHOLDS)
    for key, value in (overrides or {}).items():
        if key not in DEFAULT_THRESHOLDS:
            raise ValueError('unknown threshold %r (known: %s)' % (key, ', '.join(sorted(DEFAULT_THRESHOLDS))))
        if value is not None and value != '':
            out[key] = float(value)
    return out


def _num(value):
    return '%g' % value if isinstance(value, float) else str(value)


def evaluate(audit, registry, thresholds=None, service=''):
    """Check rows for one service: tool count, log, disk, errors, anomalies, success rate, execution time."""
    t = thresholds_with(thresholds)
    rows = []
    target = service

    # tool count (runbook: > 80 warning, = 100 critical)
    count = registry.get('count') if registry else None
    if count is None and audit.get('tools'):
        count = audit['tools'].get('count')
    if registry and registry.get('exists') is False:
        rows.append(make_row('tool_count', target, None, t['tool_count_max'], STATUS_WARNING,
                             'the tools directory does not exist (runbook: ls .pi/tools/; is the service running?)'))
    elif count is None:
        rows.append(make_row('tool_count', target, None, t['tool_count_max'], STATUS_NO_DATA, 'tools directory not scanned'))
    else:
        status = STATUS_OK
        if count >= t['tool_count_max']:
            status = STATUS_FAILED
        elif count > t['tool_count_warn']:
            status = STATUS_WARNING
        rows.append(make_row('tool_count', target, count, '%s/%s' % (_num(t['tool_count_warn']), _num(t['tool_count_max'])),
                             status, '%d tool definitions (warn > %s, max %s)' % (
                                 count, _num(t['tool_count_warn']), _num(t['tool_count_max']))))

    corrupted_defs = (registry or {}).get('corrupted') or (audit.get('tools') or {}).get('corrupted') or []
    if corrupted_defs:
        files = ', '.join(c['file'] for c in corrupted_defs)
        restorable = [c for c in corrupted_defs if c.get('restorable')]
        rows.append(make_row('tool_definitions', target, len(corrupted_defs), 0, STATUS_WARNING,
                             '%d corrupted definition(s): %s (%d restorable from backup; run tool_registry action=repair)'
                             % (len(corrupted_defs), files, len(restorable))))
    else:
        rows.append(make_row('tool_definitions', target, 0, 0, STATUS_OK, 'all definitions parse'))

    # audit log presence and size (10 / 50 MB)
    if not audit.get('exists'):
        rows.append(make_row('audit_log', target, None, 'present', STATUS_WARNING,
                             'audit log %s is missing (runbook: check disk space and permissions of .pi/logs)'
                             % audit.get('path')))
    else:
        size = audit.get('size') or 0
        mb = size / float(MB)
        status = STATUS_OK
        if mb > t['log_size_crit_mb']:
            status = STATUS_FAILED
        elif mb > t['log_size_warn_mb']:
            status = STATUS_WARNING
        rows.append(make_row('audit_log_size', target, round(mb, 2), '%s/%s MB' % (
            _num(t['log_size_warn_mb']), _num(t['log_size_crit_mb'])), status,
            '%.1f MB%s' % (mb, ' - archive it (playbooks/logs.yml)' if status != STATUS_OK else '')))

    fs = (audit.get('disk') or {}).get('filesystem')
    if fs and fs.get('used_percent') is not None:
        pct = fs['used_percent']
        status = STATUS_OK
        if pct > t['disk_crit_pct']:
            status = STATUS_FAILED
        elif pct > t['disk_warn_pct']:
            status = STATUS_WARNING
        rows.append(make_row('disk_used', target, pct, '%s/%s %%' % (_num(t['disk_warn_pct']), _num(t['disk_crit_pct'])),
                             status, '%.1f %% used on the filesystem of %s' % (pct, fs.get('path'))))

    corrupted = audit.get('corrupted') or {}
    if corrupted.get('count'):
        rows.append(make_row('audit_log_lines', target, corrupted['count'], 0, STATUS_WARNING,
                             '%d corrupted line(s) (first: %s) - repair with playbooks/logs.yml'
                             % (corrupted['count'], ', '.join(str(n) for n in corrupted.get('lines', [])[:5]) or 'in archives')))
    else:
        rows.append(make_row('audit_log_lines', target, 0, 0, STATUS_OK, 'no corrupted line'))

    errors = audit.get('errors') or {}
    top = errors.get('by_message') or []
    rows.append(make_row('errors', target, errors.get('count', 0), None, STATUS_OK,
                         '%d failed entries%s' % (errors.get('count', 0),
                                                  ('; most frequent: %s (%d)' % (top[0]['message'], top[0]['count']))
                                                  if top else '')))

    # The runbook's critical check is a grep for 'verification.fail|critical|security' anywhere in a
    # line, which also matches harmless text (the reference service writes "no critical pattern found"
    # into every verification.pass). The warning is raised on verification failures; the grep count
    # and the high-risk warnings are reported with it.
    critical = (audit.get('critical') or {}).get('count', 0)
    failures = (audit.get('verification') or {}).get('failures', 0)
    high_risk = (audit.get('high_risk') or {}).get('count', 0)
    rows.append(make_row('security', target, failures, 0, STATUS_WARNING if failures else STATUS_OK,
                         '%d verification failure(s); %d entries match the runbook grep '
                         '(verification.fail|critical|security); %d high-risk warning(s)'
                         % (failures, critical, high_risk)))

    anomalies = audit.get('anomalies') or {}
    parts = ['%s: %d creates' % (a['day'], a['creates']) for a in anomalies.get('creates_per_day', [])]
    parts += ['%s failed %d times' % (a['tool'], a['failures']) for a in anomalies.get('failures_per_tool', [])]
    rows.append(make_row('anomalies', target, anomalies.get('count', 0), 0,
                         STATUS_WARNING if anomalies.get('count') else STATUS_OK,
                         '; '.join(parts[:10]) + (' ...' if len(parts) > 10 else '') if parts else 'none'))

    runs = audit.get('runs') or {}
    rate = runs.get('success_rate')
    if rate is None:
        rows.append(make_row('success_rate', target, None, '%s/%s %%' % (_num(t['success_rate_warn']), _num(t['success_rate_crit'])),
                             STATUS_NO_DATA, 'no tool.run in the window'))
    else:
        status = STATUS_OK
        if rate < t['success_rate_crit']:
            status = STATUS_FAILED
        elif rate < t['success_rate_warn']:
            status = STATUS_WARNING
        rows.append(make_row('success_rate', target, rate, '%s/%s %%' % (_num(t['success_rate_warn']), _num(t['success_rate_crit'])),
                             status, '%.2f %% of %d runs succeeded' % (rate, runs.get('total', 0))))

    exe = audit.get('execution_time') or {}
    by_tool = exe.get('avg_ms_by_tool') or {}
    if by_tool:
        tool, avg = max(by_tool.items(), key=lambda kv: kv[1])
        secs = avg / 1000.0
        status = STATUS_OK
        if secs > t['exec_crit_s']:
            status = STATUS_FAILED
        elif secs > t['exec_warn_s']:
            status = STATUS_WARNING
        slow = exe.get('slow_tools') or []
        rows.append(make_row('execution_time', target, round(secs, 2), '%s/%s s' % (_num(t['exec_warn_s']), _num(t['exec_crit_s'])),
                             status, 'slowest tool %s averages %.2f s; %d slow tool(s) (avg > %g s); max run %.1f s'
                             % (tool, secs, len(slow), exe.get('slow_threshold_ms', 5000) / 1000.0,
                                (exe.get('max_ms') or 0) / 1000.0)))
    else:
        rows.append(make_row('execution_time', target, None, '%s/%s s' % (_num(t['exec_warn_s']), _num(t['exec_crit_s'])),
                             STATUS_NO_DATA, 'no execution time in the window'))
    return rows


def status_of(rows):
    """Overall status: failed > warning > ok."""
    statuses = set(r['status'] for r in rows)
    if STATUS_FAILED in statuses:
        return STATUS_FAILED
    if STATUS_WARNING in statuses:
        return STATUS_WARNING
    return STATUS_OK


def summary_lines(rows, audit, registry=None, service=''):
    """Short lines for the play output: one per check, then the key figures."""
    marks = {STATUS_OK: 'OK  ', STATUS_WARNING: 'WARN', STATUS_FAILED: 'CRIT', STATUS_NO_DATA: 'N/A '}
    lines = []
    window = audit.get('window') or {}
    lines.append('%s: %s window %s .. %s, %d entries (%d lines read)' % (
        service or audit.get('path'), window.get('name', 'all'), window.get('since') or 'start',
        window.get('until') or window.get('now') or 'now', audit.get('entries', 0), audit.get('lines', 0)))
    for row in rows:
        lines.append('[%s] %-18s %s' % (marks[row['status']], row['check'], row['message']))
    ranking = (audit.get('usage') or {}).get('ranking') or []
    if ranking:
        lines.append('top tools: ' + ', '.join('%s (%d)' % (r['tool'], r['runs']) for r in ranking[:5]))
    unused = (audit.get('usage') or {}).get('tools_without_runs')
    if unused:
        lines.append('no runs in the window: ' + ', '.join(unused[:10]) + (' ...' if len(unused) > 10 else ''))
    if registry and registry.get('candidates'):
        lines.append('deletion candidates: ' + ', '.join(
            '%s (%s)' % (c['name'], '/'.join(c['reasons'])) for c in registry['candidates'][:10]))
    return lines


def health(audit, registry=None, thresholds=None, service=''):
    """Everything the playbooks print and act on, for one service."""
    rows = evaluate(audit, registry, thresholds, service)
    return {
        'service': service,
        'rows': rows,
        'status': status_of(rows),
        'summary': summarize(rows),
        'lines': summary_lines(rows, audit, registry, service),
        'critical': [r for r in rows if r['status'] == STATUS_FAILED],
        'warnings': [r for r in rows if r['status'] == STATUS_WARNING],
        'failure_message': failure_message(rows, 'runbook 004 checks'),
    }


# ---------------------------------------------------------------------------
# the weekly report


def _day(ts):
    return ts[:10] if ts else '-'


def period_of(audit):
    window = audit.get('window') or {}
    start = window.get('since')
    end = window.get('until') or window.get('now')
    if not start:
        days = sorted((audit.get('entries_by_day') or {}).keys())
        start = days[0] if days else None
    return _day(start), _day(end)


def incidents(audit, registry=None, limit=15):
    """(when, what, response) rows for the report's インシデント section."""
    out = []
    for a in (audit.get('anomalies') or {}).get('creates_per_day', []):
        out.append((a['day'], 'ツール作成の急増: %d 件' % a['creates'], '作成元 (actor) を監査ログで確認'))
    for a in (audit.get('anomalies') or {}).get('failures_per_tool', []):
        out.append(('期間中', 'ツール %s が %d 回失敗' % (a['tool'], a['failures']), '失敗の詳細を確認し、修正または再作成'))
    for c in reversed((audit.get('critical') or {}).get('newest', [])[-5:]):
        out.append((c.get('timestamp') or '-', '%s %s (セキュリティ/検証失敗)' % (c.get('action'), c.get('toolName') or '-'),
                    'SAFETY.md の危険パターンを確認'))
    corrupted = (audit.get('corrupted') or {}).get('count', 0)
    if corrupted:
        out.append(('期間中', '監査ログの破損行 %d 行' % corrupted, 'playbooks/logs.yml (repair) で隔離'))
    for c in (registry or {}).get('corrupted', []):
        out.append(('期間中', 'ツール定義の破損: %s' % c['file'],
                    'バックアップから復元 (%s)' % c['restore_from'] if c.get('restore_from') else '再作成が必要 (バックアップなし)'))
    return out[:limit]


def next_tasks(rows, audit, registry=None):
    """The report's 次週の課題, from the checks and candidates."""
    out = []
    for row in rows:
        if row['status'] in (STATUS_WARNING, STATUS_FAILED):
            out.append('%s: %s' % (row['check'], row['message']))
    slow = (audit.get('execution_time') or {}).get('slow_tools') or []
    for s in slow[:5]:
        out.append('遅いツール %s (平均 %.0f ms, %d 回) の最適化' % (s['tool'], s['avg_ms'], s['runs']))
    cands = (registry or {}).get('candidates') or []
    if cands:
        out.append('削除候補 %d 件の確認: %s' % (len(cands), ', '.join(
            '%s (%s)' % (c['name'], '/'.join(c['reasons'])) for c in cands[:10])))
    if not out:
        out.append('なし')
    return out


def _md_escape(text):
    return str(text).replace('|', '\\|').replace('\n', ' ')


def render_markdown(audit, registry=None, thresholds=None, service='', host='', charts=None):
    """The weekly report, following runbook 004's template, then the figures behind it."""
    rows = evaluate(audit, registry, thresholds, service)
    start, end = period_of(audit)
    runs = audit.get('runs') or {}
    count = (registry or {}).get('count')
    if count is None:
        count = (audit.get('tools') or {}).get('count', '-')
    rate = runs.get('success_rate')
    changes = audit.get('changes') or {}
    out = []
    w = out.append
    w('# 動的ツール生成システム 週次レポート')
    w('')
    if host or service:
        w('ホスト: %s / サービス: %s' % (host or '-', service or '-'))
        w('')
    w('## 対象期間')
    w('%s 〜 %s' % (start, end))
    w('')
    w('## サマリー')
    w('- 登録ツール数: %s件' % count)
    w('- 新規作成: %d件' % audit.get('creates', 0))
    w('- 削除: %d件' % audit.get('deletes', 0))
    w('- 総実行回数: %d回' % runs.get('total', 0))
    w('- 成功率: %s' % ('%.2f%%' % rate if rate is not None else '-'))
    w('')
    w('## 主な変更')
    lines = ['- %s: 追加' % n for n in changes.get('created', [])] + \
            ['- %s: 削除' % n for n in changes.get('deleted', [])]
    if len(lines) > 30:
        lines = lines[:30] + ['- ... (%d 件省略)' % (len(lines) - 30)]
    out.extend(lines or ['- なし'])
    w('')
    w('## インシデント')
    inc = incidents(audit, registry)
    out.extend(['- [%s] [%s] [%s]' % row for row in inc] or ['- なし'])
    w('')
    w('## 次週の課題')
    out.extend('- %s' % t for t in next_tasks(rows, audit, registry))
    w('')
    w('---')
    w('')
    w('## 付録: チェック結果')
    w('')
    w('| チェック | 値 | 閾値 | 状態 | 内容 |')
    w('|---|---|---|---|---|')
    for r in rows:
        value = '-' if r['value'] is None else r['value']
        threshold = '-' if r['threshold'] is None else r['threshold']
        cells = (r['check'], _md_escape(value), _md_escape(threshold), r['status'], _md_escape(r['message']))
        w('| %s | %s | %s | %s | %s |' % cells)
    w('')
    ranking = (audit.get('usage') or {}).get('ranking') or []
    if ranking:
        w('### ツール使用回数ランキング')
        w('')
        w('| ツール | 実行回数 |')
        w('|---|---|')
        for r in ranking:
            w('| %s | %d |' % (_md_escape(r['tool']), r['runs']))
        w('')
    errors = audit.get('errors') or {}
    if errors.get('by_message'):
        w('### エラーの種類別集計')
        w('')
        w('| 件数 | エラー |')
        w('|---|---|')
        for r in errors['by_message']:
            w('| %d | %s |' % (r['count'], _md_escape(r['message'])))
        w('')
    exe = audit.get('execution_time') or {}
    if exe.get('count'):
        w('### 実行時間')
        w('')
        w('- 平均: %.1f ms / 最大: %s ms / 件数: %d' % (exe.get('avg_ms') or 0, exe.get('max_ms'), exe['count']))
        dist = exe.get('distribution') or {}
        w('- 分布: ' + ', '.join('%s: %d' % (k, dist.get(k, 0)) for k in BUCKET_LABELS))
        if exe.get('slow_tools'):
            w('- 遅いツール (平均 > %g 秒): %s' % (exe.get('slow_threshold_ms', 5000) / 1000.0, ', '.join(
                '%s (%.0f ms, %d 回)' % (s['tool'], s['avg_ms'], s['runs']) for s in exe['slow_tools'])))
        w('')
    if charts:
        w('### グラフ')
        w('')
        for title, path in charts:
            w('![%s](%s)' % (title, os.path.basename(path)))
            w('')
    return '\n'.join(out).rstrip('\n') + '\n'


def render_charts(audit, outdir, prefix=''):
    """PNG charts on the controller: runs per hour, execution-time distribution, top tools.

    Returns [(title, path)]. Labels are ASCII (the default matplotlib font has
    no Japanese glyphs).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    os.makedirs(outdir, exist_ok=True)
    made = []

    def save(fig, name, title):
        path = os.path.join(outdir, prefix + name)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        made.append((title, path))

    by_hour = (audit.get('runs') or {}).get('by_hour') or {}
    hours = ['%02d' % h for h in range(24)]
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.bar(hours, [by_hour.get(h, 0) for h in hours], color='#4c72b0')
    ax.set_title('tool.run per hour of day (UTC)')
    ax.set_xlabel('hour')
    ax.set_ylabel('runs')
    save(fig, 'runs-per-hour.png', 'tool.run per hour')

    dist = (audit.get('execution_time') or {}).get('distribution') or {}
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.bar(list(BUCKET_LABELS), [dist.get(k, 0) for k in BUCKET_LABELS], color='#dd8452')
    ax.set_title('execution time distribution')
    ax.set_ylabel('entries')
    save(fig, 'execution-time.png', 'execution time distribution')

    ranking = list(reversed((audit.get('usage') or {}).get('ranking') or []))[-15:]
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.35 * len(ranking) + 1)))
    if ranking:
        ax.barh([r['tool'] for r in ranking], [r['runs'] for r in ranking], color='#55a868')
    else:
        ax.text(0.5, 0.5, 'no tool.run in the window', ha='center', va='center', transform=ax.transAxes)
    ax.set_title('top tools by tool.run')
    ax.set_xlabel('runs')
    save(fig, 'top-tools.png', 'top tools')
    return made


def write_weekly(audit, registry, outdir, service='', host='', thresholds=None, charts=True):
    """Render charts and the Markdown report into ``outdir``; returns the paths written."""
    os.makedirs(outdir, exist_ok=True)
    end = period_of(audit)[1]
    prefix = '%s-weekly-%s-' % (service or 'tools', end)
    made = render_charts(audit, outdir, prefix) if charts else []
    report = os.path.join(outdir, '%s-weekly-%s.md' % (service or 'tools', end))
    text = render_markdown(audit, registry, thresholds, service, host, made)
    with open(report, 'w', encoding='utf-8') as fh:
        fh.write(text)
    return {'report': report, 'charts': [path for dummy, path in made]}
