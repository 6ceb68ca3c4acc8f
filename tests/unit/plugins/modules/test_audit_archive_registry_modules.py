# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The three runbook 004 modules run in-process: audit_log, jsonl_archive, tool_registry."""

import errno
import json
import os

import pytest

from ansible_collections.opskit.ops.plugins.modules import audit_log, jsonl_archive, tool_registry
from ansible_collections.opskit.ops.plugins.module_utils import _jsonl_archive

from _module_harness import run_module


run = run_module


def entry(ts, action='tool.run', tool='t', success=True, ms=100):
    return json.dumps({'id': 'a', 'timestamp': ts, 'action': action, 'toolName': tool,
                       'details': {'executionTimeMs': ms}, 'success': success, 'errorMessage': None},
                      separators=(',', ':'))


@pytest.fixture
def pi(tmp_path):
    (tmp_path / 'tools').mkdir()
    (tmp_path / 'logs').mkdir()
    (tmp_path / 'tools' / 'dt_1.json').write_text(json.dumps({'id': 'dt_1', 'name': 't', 'safetyScore': 0.9,
                                                              'createdAt': '2024-01-01T00:00:00Z'}))
    (tmp_path / 'tools' / 'dt_2.json').write_text(json.dumps({'id': 'dt_2', 'name': 'idle', 'safetyScore': 0.9,
                                                              'createdAt': '2024-01-01T00:00:00Z'}))
    (tmp_path / 'tools' / 'dt_3.json').write_text('{oops')
    os.makedirs(str(tmp_path / 'tools' / 'backup' / '20240201'))
    (tmp_path / 'tools' / 'backup' / '20240201' / 'dt_3.json').write_text(json.dumps({'id': 'dt_3', 'name': 'three'}))
    lines = [entry('2024-01-%02dT10:00:00.000Z' % d) for d in range(1, 29)]
    lines += [entry('2024-02-28T10:00:00.000Z', success=False), 'garbage']
    (tmp_path / 'logs' / 'dynamic-tools-audit.jsonl').write_text('\n'.join(lines) + '\n')
    return tmp_path


def test_audit_log_module(monkeypatch, pi):
    result, failed = run(monkeypatch, audit_log.main, {
        'path': str(pi / 'logs' / 'dynamic-tools-audit.jsonl'), 'tools_dir': str(pi / 'tools'),
        'window': 'last_7d', 'now': '2024-03-01T00:00:00Z'})
    assert failed is False
    assert result['changed'] is False
    assert result['entries'] == 1
    assert result['runs'] == {'total': 1, 'success': 0, 'failed': 1, 'success_rate': 0.0, 'by_hour': {'10': 1},
                              'by_day': {'2024-02-28': 1}}
    assert result['corrupted']['lines'] == [30]
    assert result['usage']['tools_without_runs'] == ['idle']
    assert result['tools'] == {'dir': str(pi / 'tools'), 'exists': True, 'count': 3, 'valid': 2,
                               'corrupted': [{'file': 'dt_3.json', 'error': result['tools']['corrupted'][0]['error']}]}
    assert result['disk']['filesystem']['used_percent'] is not None
    assert 'warnings' not in result


def test_audit_log_module_json_parser_gives_the_same_figures(monkeypatch, pi):
    args = {'path': str(pi / 'logs' / 'dynamic-tools-audit.jsonl'), 'now': '2024-03-01T00:00:00Z'}
    fast, failed = run(monkeypatch, audit_log.main, args)
    assert failed is False
    assert fast['parser'].startswith('orjson ')
    plain, failed = run(monkeypatch, audit_log.main, dict(args, json_parser='json'))
    assert failed is False
    assert plain['parser'] == 'json'
    for result in (fast, plain):
        for key in ('parser', 'invocation', 'disk'):
            result.pop(key, None)
    assert plain == fast
    result, failed = run(monkeypatch, audit_log.main, dict(args, json_parser='simdjson'))
    assert failed is True
    assert 'json_parser' in result['msg']


def test_audit_log_module_check_mode_and_bad_window(monkeypatch, pi):
    path = str(pi / 'logs' / 'dynamic-tools-audit.jsonl')
    result, failed = run(monkeypatch, audit_log.main, {'path': path}, check_mode=True)
    assert failed is False
    assert result['entries'] == 29
    result, failed = run(monkeypatch, audit_log.main, {'path': path, 'window': 'custom'})
    assert failed is True
    result, failed = run(monkeypatch, audit_log.main, {'path': path, 'window': 'custom', 'since': 'soon'})
    assert failed is True
    assert 'since' in result['msg']


def test_jsonl_archive_module_changed_then_unchanged(monkeypatch, pi):
    path = str(pi / 'logs' / 'dynamic-tools-audit.jsonl')
    args = {'path': path, 'now': '2024-03-01T00:00:00Z', 'repair': True}
    result, failed = run(monkeypatch, jsonl_archive.main, args, check_mode=True)
    assert (failed, result['changed'], result['archived'], result['quarantined']) == (False, True, 28, 1)
    assert len(os.listdir(str(pi / 'logs'))) == 1
    result, failed = run(monkeypatch, jsonl_archive.main, args)
    assert (failed, result['changed'], result['archived'], result['kept']) == (False, True, 28, 1)
    assert result['archive_path'].endswith('dynamic-tools-audit-20240131.jsonl.gz')
    result, failed = run(monkeypatch, jsonl_archive.main, args)
    assert (failed, result['changed']) == (False, False)


def test_jsonl_archive_module_disk_full(monkeypatch, pi):
    path = str(pi / 'logs' / 'dynamic-tools-audit.jsonl')
    before = open(path, 'rb').read()

    def full(fd, data):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(_jsonl_archive, '_write_all', full)
    result, failed = run(monkeypatch, jsonl_archive.main, {'path': path, 'now': '2024-03-01T00:00:00Z'})
    assert failed is True
    assert 'no space left on device' in result['msg']
    assert result['changed'] is False
    assert open(path, 'rb').read() == before
    assert os.listdir(str(pi / 'logs')) == ['dynamic-tools-audit.jsonl']


def test_tool_registry_module_repair_with_diff_and_check_mode(monkeypatch, pi):
    args = {'tools_dir': str(pi / 'tools'), 'action': 'repair', 'now': '2024-03-01T00:00:00Z'}
    result, failed = run(monkeypatch, tool_registry.main, args, check_mode=True, diff=True)
    assert (failed, result['changed']) == (False, True)
    assert result['diff'][0]['before'] == '{oops\n'
    assert open(str(pi / 'tools' / 'dt_3.json')).read() == '{oops'
    result, failed = run(monkeypatch, tool_registry.main, args)
    assert (failed, result['changed']) == (False, True)
    assert json.load(open(str(pi / 'tools' / 'dt_3.json')))['name'] == 'three'
    result, failed = run(monkeypatch, tool_registry.main, args)
    assert (failed, result['changed'], result['restored']) == (False, False, [])


def test_tool_registry_module_delete_uses_audit_log(monkeypatch, pi):
    args = {'tools_dir': str(pi / 'tools'), 'action': 'delete', 'now': '2024-03-01T00:00:00Z',
            'audit_log': str(pi / 'logs' / 'dynamic-tools-audit.jsonl')}
    result, failed = run(monkeypatch, tool_registry.main, args)
    assert result['last_used_source'] == 'audit_log'
    assert result['would_delete'] == ['dt_2.json']          # "t" ran on 2024-02-28, "idle" never
    assert result['changed'] is False
    result, failed = run(monkeypatch, tool_registry.main, dict(args, confirm_delete=True))
    assert result['changed'] is True
    assert [d['file'] for d in result['deleted']] == ['dt_2.json']
    assert not os.path.exists(str(pi / 'tools' / 'dt_2.json'))
    with open(str(pi / 'logs' / 'dynamic-tools-audit.jsonl')) as fh:
        last = json.loads(fh.read().splitlines()[-1])
    assert (last['action'], last['toolName'], last['actor']) == ('tool.delete', 'idle', 'opskit.ops.tool_registry')


def test_tool_registry_module_backup(monkeypatch, pi):
    args = {'tools_dir': str(pi / 'tools'), 'action': 'backup', 'now': '2024-03-01T00:00:00Z'}
    result, failed = run(monkeypatch, tool_registry.main, args)
    assert (failed, result['changed'], sorted(result['copied'])) == (False, True, ['dt_1.json', 'dt_2.json'])
    result, failed = run(monkeypatch, tool_registry.main, args)
    assert (failed, result['changed']) == (False, False)


def test_tool_registry_module_scan_of_a_missing_directory(monkeypatch, tmp_path):
    result, failed = run(monkeypatch, tool_registry.main, {'tools_dir': str(tmp_path / 'nope')})
    assert (failed, result['changed'], result['exists'], result['count']) == (False, False, False, 0)
    result, failed = run(monkeypatch, tool_registry.main, {'tools_dir': str(tmp_path / 'nope'), 'action': 'backup'})
    assert (failed, result['changed'], result['exists']) == (False, False, False)
    assert not (tmp_path / 'nope').exists()
