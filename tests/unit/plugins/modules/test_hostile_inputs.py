# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile input for every file- and text-parsing module (docs/edge-cases.md).

Each case ends in exit_json or fail_json - never another exception - and a
failure names the input (path or option) and what is wrong with it.
"""

import gzip
import json
import os
import sqlite3

import pytest

from ansible_collections.opskit.ops.plugins.modules import (audit_log, backup_manifest, backup_retention,
                                                            capacity_check, jsonl_archive, metrics_check,
                                                            pg_dump_inspect, sqlite_backup, sqlite_check,
                                                            tool_registry)

from _module_harness import run_module

DEEP = b'[' * 200000 + b']' * 200000
EDGE_TIMES = ['0001-01-01T00:00:00+01:00', '9999-12-31T23:59:59-01:00', '0001-01-01T00:00:00Z',
              '9999-12-31T23:59:59.999Z', '0000-01-01T00:00:00Z', '10000-01-01T00:00:00Z', '2024-13-01T00:00:00Z']


def run(monkeypatch, main, args, **kw):
    """(result, failed); any exception but the harness's exit is the crash this file hunts."""
    return run_module(monkeypatch, main, args, **kw)


# ---------------------------------------------------------------------------
# tool_registry


@pytest.fixture
def tools(tmp_path):
    d = tmp_path / 'tools'
    d.mkdir()
    defs = {
        'dt_ok.json': json.dumps({'id': 'dt_ok', 'name': 'ok', 'safetyScore': 0.9,
                                  'createdAt': '2024-01-01T00:00:00Z'}).encode(),
        'dt_deep.json': DEEP,
        'dt_deepobj.json': b'{"a":' * 100000 + b'1' + b'}' * 100000,
        'dt_bom.json': b'\xef\xbb\xbf{"name":"bom"}',
        'dt_crlf.json': b'{"name":"crlf"}\r\n',
        'dt_utf8.json': b'{"name":"\xff"}',
        'dt_nul.json': b'{"name":"nul"}\x00',
        'dt_list.json': b'[1, 2]',
        'dt_bigint.json': b'{"name":"big","safetyScore":' + b'9' * 5000 + b'}',
        'dt_inf.json': b'{"name":"inf","safetyScore":1e400}',
        'dt_nan.json': b'{"name":"nan","safetyScore":NaN}',
        'dt_dup.json': b'{"name":"first","name":"second"}',
        'dt_noname.json': b'{"id":"x"}',
        'dt_edge1.json': json.dumps({'name': 'edge1', 'createdAt': '0001-01-01T00:00:00+01:00',
                                     'lastUsedAt': '9999-12-31T23:59:59-01:00'}).encode(),
        'dt_edge2.json': json.dumps({'name': 'edge2', 'createdAt': '9999-12-31T23:59:59Z',
                                     'lastUsedAt': '0001-01-01T00:00:00Z'}).encode(),
        'dt_empty.json': b'',
    }
    for name, data in defs.items():
        (d / name).write_bytes(data)
    os.symlink(str(d / 'dt_ok.json'), str(d / 'dt_link.json'))
    os.symlink(str(tmp_path / 'missing.json'), str(d / 'dt_dangling.json'))
    (d / 'dt_dir.json').mkdir()
    return d


def test_tool_registry_scan_survives_every_hostile_definition(monkeypatch, tools):
    result, failed = run(monkeypatch, tool_registry.main, {'tools_dir': str(tools), 'now': '2024-06-01T00:00:00Z'})
    assert failed is False
    errors = dict((c['file'], c['error']) for c in result['corrupted'])
    assert errors['dt_deep.json'] == 'invalid JSON: nested too deeply to parse'
    assert errors['dt_deepobj.json'] == 'invalid JSON: nested too deeply to parse'
    assert errors['dt_utf8.json'] == 'not UTF-8 text (byte 9)'
    assert errors['dt_list.json'] == 'not a JSON object'
    assert errors['dt_noname.json'] == 'no tool name'
    assert errors['dt_bom.json'].startswith('invalid JSON: Unexpected UTF-8 BOM')   # the service refuses it too
    assert errors['dt_bigint.json'].startswith('invalid JSON: Exceeds the limit')
    assert errors['dt_nul.json'].startswith('invalid JSON: Extra data')
    assert errors['dt_empty.json'].startswith('invalid JSON: Expecting value')
    names = dict((t['file'], t) for t in result['tools'])
    assert names['dt_crlf.json']['name'] == 'crlf'
    assert names['dt_dup.json']['name'] == 'second'          # the last duplicate wins, as in json.loads
    assert names['dt_inf.json']['safety_score'] is None      # 1e400 is no score
    assert names['dt_nan.json']['safety_score'] is None
    assert names['dt_link.json']['name'] == 'ok'             # followed like the service does
    assert result['symlinks'] == [{'file': 'dt_link.json', 'target': str(tools / 'dt_ok.json')}]
    skipped = dict((s['file'], s['reason']) for s in result['skipped'])
    assert sorted(skipped) == ['dt_dangling.json', 'dt_dir.json']
    assert skipped['dt_dir.json'] == 'a directory, not a file'
    assert skipped['dt_dangling.json'].startswith('symbolic link to a missing file')
    assert result['count'] == result['valid'] + len(result['corrupted']) + len(result['skipped'])
    assert result['count'] == 19


@pytest.mark.parametrize('now', ['0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '0001-01-01T00:00:00+00:00'])
@pytest.mark.parametrize('action', ['scan', 'backup', 'delete'])
def test_tool_registry_at_the_edges_of_the_calendar(monkeypatch, tools, now, action):
    result, failed = run(monkeypatch, tool_registry.main,
                         {'tools_dir': str(tools), 'now': now, 'action': action, 'unused_days': 10 ** 9,
                          'retention_days': 10 ** 9}, check_mode=True)
    assert failed is False


@pytest.mark.parametrize('now', EDGE_TIMES[:2] + EDGE_TIMES[4:])
def test_tool_registry_now_outside_the_calendar_is_an_option_error(monkeypatch, tools, now):
    result, failed = run(monkeypatch, tool_registry.main, {'tools_dir': str(tools), 'now': now})
    assert failed is True
    assert result['msg'].startswith('now: not an ISO 8601 timestamp')


@pytest.mark.parametrize('pattern', ['(', '[a-', '*.json', '(?P<x>a)(?P<x>b)', 'a{99999999999}'])
def test_tool_registry_invalid_pattern(monkeypatch, tools, pattern):
    result, failed = run(monkeypatch, tool_registry.main, {'tools_dir': str(tools), 'pattern': pattern})
    assert failed is True
    assert result['msg'].startswith('pattern: not a valid regular expression %r' % pattern)


def test_tool_registry_tools_dir_is_a_file(monkeypatch, tools):
    result, failed = run(monkeypatch, tool_registry.main, {'tools_dir': str(tools / 'dt_ok.json')})
    assert (failed, result['msg']) == (True, 'tools_dir %s is not a directory' % (tools / 'dt_ok.json'))


def test_tool_registry_repair_never_touches_skipped_names(monkeypatch, tools):
    result, failed = run(monkeypatch, tool_registry.main, {'tools_dir': str(tools), 'action': 'repair',
                                                           'now': '2024-06-01T00:00:00Z'})
    assert failed is False
    assert os.path.islink(str(tools / 'dt_dangling.json'))
    assert os.path.isdir(str(tools / 'dt_dir.json'))
    quarantined = sorted(os.listdir(str(tools.parent / 'quarantine' / 'tools')))
    assert len(quarantined) == len(result['corrupted'])
    assert sorted(result['quarantined']) == sorted(c['file'] for c in result['corrupted'])


def test_tool_registry_last_used_of_the_wrong_shape(monkeypatch, tools):
    result, failed = run(monkeypatch, tool_registry.main, {'tools_dir': str(tools), 'last_used': {'ok': [1]}})
    assert (failed, result['msg']) == (True, 'last_used: expected a mapping of tool name to ISO 8601 timestamp')


# ---------------------------------------------------------------------------
# audit_log and jsonl_archive


HOSTILE_LINES = [
    b'{"timestamp":"2024-01-01T10:00:00.000Z","action":"tool.run","toolName":"t","success":true}',
    b'\xef\xbb\xbf{"timestamp":"2024-01-01T10:00:00.000Z","action":"tool.run","toolName":"t","success":true}',
    b'{"timestamp":"2024-01-01T10:00:00.000Z","action":"tool.run","toolName":"t","success":true}\r',
    b'{"timestamp":"0001-01-01T00:00:00+01:00","action":"tool.run","toolName":"t","success":true}',
    b'{"timestamp":"9999-12-31T23:59:59-01:00","action":"tool.run","toolName":"t","success":true}',
    b'{"timestamp":"10000-01-01T00:00:00Z","action":"tool.run","toolName":"t","success":true}',
    b'{"timestamp":99999999999999999999,"action":"tool.run","toolName":"t","success":true}',
    b'{"timestamp":"2024-01-01T10:00:00+09:00","action":"tool.run","toolName":"t","success":"false"}',
    b'{"timestamp":"2024-01-01T10:00:00Z","action":"tool.run","toolName":"t","success":true,'
    b'"details":{"executionTimeMs":1e400}}',
    b'{"timestamp":"2024-01-01T10:00:00Z","action":"tool.run","toolName":"t","success":true,'
    b'"details":{"executionTimeMs":' + b'9' * 5000 + b'}}',
    b'{"timestamp":"2024-01-01T10:00:00Z","action":"tool.run","action":"tool.create","toolName":"t"}',
    b'{"action":"tool.run"}',
    DEEP,
    b'[1,2,3]', b'"text"', b'null', b'42',
    b'\x00\x00\x00', b'\xff\xfe{"a":1}', b'{"a":1}{"b":2}',
    b'{"timestamp":"2024-01-01T10:00:00Z","action":"verification.fail critical","toolName":["x"],'
    b'"success":false,"details":[1],"errorMessage":{"deep":[1]}}',
    b'   ', b'',
    b'{"timestamp":"2024-01-01T10:00:00.000Z","action":"tool.run","toolName":"' + b'x' * (3 << 20) + b'"}',
    b'{"timestamp":"2024-01-01T10:00:00.000Z","action":"tool.run","toolName":"cut","succ',   # no newline
]


@pytest.fixture
def hostile_log(tmp_path):
    path = tmp_path / 'dynamic-tools-audit.jsonl'
    path.write_bytes(b'\n'.join(HOSTILE_LINES))
    return path


@pytest.mark.parametrize('parser', ['auto', 'json'])
@pytest.mark.parametrize('window', ['all', 'last_24h', 'last_7d'])
def test_audit_log_judges_every_hostile_line(monkeypatch, hostile_log, parser, window):
    result, failed = run(monkeypatch, audit_log.main, {'path': str(hostile_log), 'json_parser': parser,
                                                       'window': window, 'now': '2024-01-02T00:00:00Z'})
    assert failed is False
    lines = len(HOSTILE_LINES)
    # every line is accounted for: blank, corrupted, or an entry (dated or not)
    assert result['lines'] == lines
    # a BOM after line 1, 5000 digits, too deep, 4 non-objects, NUL, bad UTF-8, two values, the cut line
    assert result['corrupted']['lines'] == [2, 10, 13, 14, 15, 16, 17, 18, 19, 20, 25]
    assert result['corrupted']['last_line_truncated'] is True
    assert result['blank_lines'] == 2
    # outside years 1-9999 in UTC, year 10000, an epoch number, no timestamp
    assert result['undated']['lines'] == [4, 5, 6, 7, 12]
    assert result['entries_total'] == lines - 11 - 2 == 12
    undated_out = 0 if window == 'all' else 5     # an undated entry is in no time window
    assert result['entries'] + result['outside_window'] + undated_out == result['entries_total']
    # 1e400 and 5000 digits are no duration: nothing infinite reaches the figures
    assert result['execution_time']['invalid'] == 1
    assert result['execution_time']['max_ms'] is None


@pytest.mark.parametrize('now', ['0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z'])
@pytest.mark.parametrize('window', ['last_24h', 'last_7d'])
def test_audit_log_now_at_the_calendar_edge(monkeypatch, hostile_log, now, window):
    result, failed = run(monkeypatch, audit_log.main, {'path': str(hostile_log), 'window': window, 'now': now})
    assert failed is False


@pytest.mark.parametrize('value', EDGE_TIMES[:2] + EDGE_TIMES[4:])
@pytest.mark.parametrize('option', ['now', 'since', 'until'])
def test_audit_log_bad_timestamps_name_the_option(monkeypatch, hostile_log, option, value):
    args = {'path': str(hostile_log), 'window': 'custom', 'since': '2024-01-01T00:00:00Z', option: value}
    result, failed = run(monkeypatch, audit_log.main, args)
    assert failed is True
    assert result['msg'].startswith('%s: not ' % option)


def test_audit_log_path_is_a_directory(monkeypatch, tmp_path):
    result, failed = run(monkeypatch, audit_log.main, {'path': str(tmp_path)})
    assert (failed, result['msg']) == (True, 'path %s is a directory, not the audit log file' % tmp_path)


def test_audit_log_damaged_archive_is_a_warning(monkeypatch, hostile_log):
    data = gzip.compress(HOSTILE_LINES[0] + b'\n')
    (hostile_log.parent / 'dynamic-tools-audit-20240101.jsonl.gz').write_bytes(data[:len(data) // 2])
    result, failed = run(monkeypatch, audit_log.main, {'path': str(hostile_log), 'include_archives': True})
    assert failed is False
    assert len(result['read_errors']) == 1


def test_jsonl_archive_quarantines_hostile_lines_and_loses_none(monkeypatch, hostile_log, tmp_path):
    before = hostile_log.read_bytes()
    result, failed = run(monkeypatch, jsonl_archive.main, {'path': str(hostile_log), 'days': 1, 'repair': True,
                                                           'now': '2024-06-01T00:00:00Z', 'settle_seconds': 0})
    assert failed is False
    assert result['unterminated_tail'] is True           # the cut last line is never judged nor moved
    with gzip.open(result['archive_path'], 'rb') as fh:
        archived = fh.read().split(b'\n')[:-1]
    with open(result['quarantine_path'], 'rb') as fh:
        quarantined = [line.split(b'\t', 1)[1] for line in fh.read().split(b'\n')[:-1]]
    live = hostile_log.read_bytes()
    assert live.endswith(HOSTILE_LINES[-1])
    kept = live.split(b'\n')
    original = before.split(b'\n')
    non_blank = [line for line in original if line.strip(b' \t\r')]
    assert sorted(archived + quarantined + [k for k in kept if k]) == sorted(non_blank)
    assert result['archived'] + result['quarantined'] + result['kept'] == result['lines_before'] - result[
        'blank_removed']


@pytest.mark.parametrize('days, now', [(10 ** 8, None), (30, '0001-01-02T00:00:00Z'), (0, '9999-12-31T23:59:59Z')])
def test_jsonl_archive_at_the_edges_of_the_calendar(monkeypatch, hostile_log, days, now):
    args = {'path': str(hostile_log), 'days': days, 'retention_days': 10 ** 9}
    if now:
        args['now'] = now
    result, failed = run(monkeypatch, jsonl_archive.main, args, check_mode=True)
    assert failed is False


def test_jsonl_archive_path_is_a_directory(monkeypatch, tmp_path):
    result, failed = run(monkeypatch, jsonl_archive.main, {'path': str(tmp_path)})
    assert (failed, result['msg']) == (True, 'path %s is a directory, not a JSON-lines log' % tmp_path)


def test_jsonl_archive_follows_a_symlinked_log(monkeypatch, hostile_log, tmp_path):
    link = tmp_path / 'link.jsonl'
    os.symlink(str(hostile_log), str(link))
    result, failed = run(monkeypatch, jsonl_archive.main, {'path': str(link), 'days': 1, 'repair': True,
                                                           'now': '2024-06-01T00:00:00Z', 'settle_seconds': 0})
    assert failed is False
    assert result['path'] == str(hostile_log)             # the file the link points to is archived
    assert os.path.islink(str(link))


def test_jsonl_archive_refuses_a_log_replaced_meanwhile(monkeypatch, hostile_log, tmp_path):
    from ansible_collections.opskit.ops.plugins.module_utils import _jsonl_archive
    real_pread = os.pread
    state = {'done': False}

    def pread(fd, size, offset):
        data = real_pread(fd, size, offset)
        if not state['done'] and offset == 0:
            state['done'] = True
            os.rename(str(hostile_log), str(tmp_path / 'rotated.jsonl'))
            hostile_log.write_bytes(b'{"new":1}\n')
        return data
    monkeypatch.setattr(_jsonl_archive.os, 'pread', pread)
    result, failed = run(monkeypatch, jsonl_archive.main, {'path': str(hostile_log), 'days': 1, 'repair': True,
                                                           'now': '2024-06-01T00:00:00Z'})
    assert failed is True
    assert 'was replaced while it was archived' in result['msg']
    assert hostile_log.read_bytes() == b'{"new":1}\n'
    assert [n for n in os.listdir(str(tmp_path)) if n.endswith('.tmp') or n.endswith('.gz')] == []


def test_jsonl_archive_refuses_a_log_truncated_meanwhile(monkeypatch, hostile_log, tmp_path):
    from ansible_collections.opskit.ops.plugins.module_utils import _jsonl_archive
    real_fsync = _jsonl_archive.fsync_dir
    real_verify = _jsonl_archive.verify_gzip

    def verify(path):
        os.truncate(str(hostile_log), 10)
        return real_verify(path)
    monkeypatch.setattr(_jsonl_archive, 'verify_gzip', verify)
    assert real_fsync
    result, failed = run(monkeypatch, jsonl_archive.main, {'path': str(hostile_log), 'days': 1, 'repair': True,
                                                           'now': '2024-06-01T00:00:00Z'})
    assert failed is True
    assert 'was truncated while it was archived' in result['msg']
    assert os.path.getsize(str(hostile_log)) == 10


# ---------------------------------------------------------------------------
# metrics_check, sqlite_check, sqlite_backup, pg_dump_inspect, backup_manifest, capacity_check


METRICS_TEXTS = [
    '', '\x00\x00', 'x{', 'x 1e400\n', 'x ' + '9' * 5000 + '\n', 'x{a="\xff"} 1\n',
    # not here: '# TYPE x histogram\nx_bucket{le="abc"} 1' with a quantile rule still raises ValueError in
    # _metrics_eval.parse_le (that file is being reworked elsewhere; reported, see docs/edge-cases.md)
    '# TYPE x counter\nx_total NaN\n', 'x{a="b",a="c"} 1\n', 'x 1\r\nx 2\r\n', '\ufeffx 1\n', 'x 1 99999999999999999999\n',
]


@pytest.mark.parametrize('text', METRICS_TEXTS)
def test_metrics_check_on_hostile_exposition(monkeypatch, text):
    rules = [{'name': 'g', 'type': 'gauge', 'metric': 'x', 'op': '<', 'threshold': 1},
             {'name': 'q', 'type': 'quantile', 'metric': 'x_bucket', 'quantile': 0.99, 'op': '<', 'threshold': 1}]
    result, failed = run(monkeypatch, metrics_check.main, {'text': text, 'rules': rules, 'fail_on_error': False})
    assert failed is False or result['msg']


@pytest.mark.parametrize('content', [b'', b'garbage' * 100, b'SQLite format 3\x00' + b'\xff' * 4000, None])
def test_sqlite_check_on_hostile_files(monkeypatch, tmp_path, content):
    path = tmp_path / 'db'
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    result, failed = run(monkeypatch, sqlite_check.main, {'path': str(path)})
    assert failed is True
    assert result['msg']


def test_sqlite_check_follows_a_symlink(monkeypatch, tmp_path):
    db = tmp_path / 'real.db'
    con = sqlite3.connect(str(db))
    con.execute('PRAGMA journal_mode=WAL')
    for table in ('sessions', 'messages', 'slots'):
        con.execute('CREATE TABLE %s (id INTEGER PRIMARY KEY)' % table)
    con.commit()
    con.close()
    os.symlink(str(db), str(tmp_path / 'link.db'))
    result, failed = run(monkeypatch, sqlite_check.main, {'path': str(tmp_path / 'link.db'), 'foreign_keys': False})
    assert failed is False
    assert result['summary']['failed'] == 0


@pytest.mark.parametrize('content', [b'garbage' * 100, None])
def test_sqlite_backup_of_a_non_database(monkeypatch, tmp_path, content):
    src = tmp_path / 'src.db'
    if content is None:
        src.mkdir()
    else:
        src.write_bytes(content)
    result, failed = run(monkeypatch, sqlite_backup.main, {'src': str(src), 'dest': str(tmp_path / 'out.db')})
    assert failed is True
    assert str(src) in result['msg']


@pytest.mark.parametrize('content', [b'', b'PGDMP' + b'\xff' * 100, None])
def test_pg_dump_inspect_on_hostile_files(monkeypatch, tmp_path, content):
    if not os.path.exists('/usr/bin/pg_restore'):
        pytest.skip('pg_restore is not installed on this machine')
    path = tmp_path / 'dump'
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    result, failed = run(monkeypatch, pg_dump_inspect.main, {'path': str(path)})
    assert failed is True
    assert str(path) in result['msg']


MANIFESTS = [b'', b'[]', b'"x"', DEEP, b'{"items": 5}', b'{"items": [1, "x", null]}', b'\xff',
             b'{"items": [{"file": "../../etc/passwd", "sha256": "x", "size": 1}], "complete": true}']


@pytest.mark.parametrize('manifest', MANIFESTS, ids=['empty', 'list', 'string', 'deep', 'items-int', 'items-odd',
                                                     'bad-utf8', 'escape'])
def test_backup_manifest_and_retention_on_hostile_manifests(monkeypatch, tmp_path, manifest):
    root = tmp_path / 'root'
    set_dir = root / 'h' / '20250101T000000Z'
    set_dir.mkdir(parents=True)
    (set_dir / 'manifest.json').write_bytes(manifest)
    for args in ({'action': 'verify', 'path': str(set_dir)}, {'action': 'find', 'root': str(root), 'host': 'h'},
                 {'action': 'list', 'root': str(root), 'host': 'h'}):
        result, failed = run(monkeypatch, backup_manifest.main, args)
        assert failed is False or result['msg']
    result, failed = run(monkeypatch, backup_retention.main, {'root': str(root), 'host': 'h'}, check_mode=True)
    assert failed is False or result['msg']


@pytest.mark.parametrize('spec', [{'pattern': '('}, {'pattern': 'x', 'max_memory': '1.5Q'}, {'unit': '../../x'}])
def test_capacity_check_bad_process_specs(monkeypatch, spec):
    result, failed = run(monkeypatch, capacity_check.main, {'processes': [spec], 'host': False})
    assert failed is True
    assert result['msg']


@pytest.mark.parametrize('parser', ['auto', 'json'])
def test_audit_log_service_form_without_a_real_moment_is_undated(monkeypatch, tmp_path, parser):
    def line(ts):
        return ('{"timestamp":"%s","action":"tool.run","toolName":"t","success":true}' % ts).encode('utf-8')
    path = tmp_path / 'a.jsonl'
    path.write_bytes(b'\n'.join([line('2024-01-01T10:00:00.000Z'), line('2024-13-45T99:99:99.000Z'),
                                 line('abcd-ef-ghTij:kl:mn.opqZ'), line('0000-01-01T00:00:00.000Z'),
                                 line('\u0662\u0660\u0662\u0664-01-01T10:00:00.000Z'),
                                 line('2024-01-01T11:00:00.000Z')]) + b'\n')
    result, failed = run(monkeypatch, audit_log.main, {'path': str(path), 'json_parser': parser})
    assert failed is False
    assert result['undated']['lines'] == [2, 3, 4, 5]
    assert result['runs']['by_hour'] == {'10': 1, '11': 1, 'unknown': 4}


def test_tool_registry_skips_an_oversized_definition(monkeypatch, tmp_path):
    from ansible_collections.opskit.ops.plugins.module_utils import _tool_registry
    tools = tmp_path / 'tools'
    tools.mkdir()
    (tools / 'dt_huge.json').write_bytes(b'{"name":"huge","pad":"' + b'x' * (_tool_registry.MAX_DEFINITION) + b'"}')
    result, failed = run(monkeypatch, tool_registry.main, {'tools_dir': str(tools), 'action': 'repair'})
    assert failed is False
    assert result['skipped'] == [{'file': 'dt_huge.json', 'reason': 'too large to be a definition (over 16 MiB), '
                                                                    'not read'}]
    assert result['quarantined'] == []
    assert (tools / 'dt_huge.json').exists()


NUL_PATH = '/tmp/opskit\x00nul'
LONG_PATH = '/tmp/' + 'x' * 300 + '/' + 'y' * 5000


@pytest.mark.parametrize('bad', [NUL_PATH, LONG_PATH], ids=['nul', 'too-long'])
@pytest.mark.parametrize('main, args', [
    (audit_log.main, {'path': 'BAD'}),
    (audit_log.main, {'path': '/nonexistent.jsonl', 'tools_dir': 'BAD'}),
    (jsonl_archive.main, {'path': 'BAD'}),
    (tool_registry.main, {'tools_dir': 'BAD'}),
    (tool_registry.main, {'tools_dir': '/nonexistent', 'audit_log': 'BAD'}),
    (sqlite_check.main, {'path': 'BAD'}),
    (sqlite_backup.main, {'src': 'BAD', 'dest': '/tmp/x.db'}),
    (pg_dump_inspect.main, {'path': 'BAD'}),
    (backup_manifest.main, {'action': 'verify', 'path': 'BAD'}),
    (backup_retention.main, {'root': 'BAD', 'host': 'h'}),
    (capacity_check.main, {'host': False, 'paths': ['BAD']}),
], ids=['audit_log', 'audit_log-tools', 'jsonl_archive', 'tool_registry', 'tool_registry-audit', 'sqlite_check',
        'sqlite_backup', 'pg_dump_inspect', 'backup_manifest', 'backup_retention', 'capacity_check'])
def test_paths_no_file_system_accepts(monkeypatch, main, args, bad):
    """A NUL byte or a name longer than the system allows: a result or a failure, never ValueError."""
    filled = dict((k, [bad] if v == ['BAD'] else (bad if v == 'BAD' else v)) for k, v in args.items())
    result, failed = run(monkeypatch, main, filled, check_mode=True)
    if failed:
        assert result['msg']


@pytest.mark.parametrize('policies, extra, message', [
    ({'sqlite': 5}, {}, 'a retention policy must be a mapping of keep_last, daily, weekly, monthly, max_age_days, got 5'),
    ({'sqlite': {'daily': 'x'}}, {}, "retention daily must be a number, got 'x'"),
    ({'sqlite': {'max_age_days': 10 ** 12}}, {'incomplete_max_age_hours': 10 ** 12}, None),
])
def test_backup_retention_odd_policies(monkeypatch, tmp_path, policies, extra, message):
    (tmp_path / 'h' / '20250101T000000Z').mkdir(parents=True)
    (tmp_path / 'h' / '20250101T000000Z' / 'manifest.json').write_text(json.dumps(
        {'complete': True, 'name': '20250101T000000Z',
         'items': [{'file': 'a', 'store': 'sqlite', 'sha256': 'x', 'size': 1}]}))
    args = dict({'root': str(tmp_path), 'host': 'h', 'policies': policies}, **extra)
    result, failed = run(monkeypatch, backup_retention.main, args, check_mode=True)
    if message is None:
        assert failed is False
        assert result['deleted'] == []
    else:
        assert (failed, result['msg']) == (True, message)


def test_jsonl_archive_refuses_a_log_truncated_and_written_again(monkeypatch, hostile_log):
    """copytruncate, then the writer appends more than there was: same size or larger, other bytes."""
    from ansible_collections.opskit.ops.plugins.module_utils import _jsonl_archive
    real_verify = _jsonl_archive.verify_gzip
    size = os.path.getsize(str(hostile_log))

    def verify(path):
        with open(str(hostile_log), 'r+b') as fh:
            fh.truncate(0)
            fh.write(b'{"after":"truncate"}\n' * (size // 10))
        return real_verify(path)
    monkeypatch.setattr(_jsonl_archive, 'verify_gzip', verify)
    result, failed = run(monkeypatch, jsonl_archive.main, {'path': str(hostile_log), 'days': 1, 'repair': True,
                                                           'now': '2024-06-01T00:00:00Z'})
    assert failed is True
    assert 'was truncated while it was archived' in result['msg']
    assert hostile_log.read_bytes() == b'{"after":"truncate"}\n' * (size // 10)


def test_file_times_beyond_the_calendar_are_clamped():
    from ansible_collections.opskit.ops.plugins.module_utils import _tool_registry
    assert _tool_registry.from_mtime(1e20).year == 9999
    assert _tool_registry.from_mtime(-1e20).year == 1
    assert _tool_registry.from_mtime(float('nan')).year == 9999


def test_tool_registry_repairs_a_symlinked_corrupted_definition(monkeypatch, tmp_path):
    """The link is replaced by the restored file; the file it pointed to stays, a second name of it is quarantined."""
    tools = tmp_path / '.pi' / 'tools'
    (tools / 'backup' / '20240101').mkdir(parents=True)
    shared = tmp_path / 'shared.json'
    shared.write_bytes(b'{broken')
    os.symlink(str(shared), str(tools / 'dt_x.json'))
    (tools / 'backup' / '20240101' / 'dt_x.json').write_bytes(b'{"name":"x"}')
    result, failed = run(monkeypatch, tool_registry.main, {'tools_dir': str(tools), 'action': 'repair',
                                                           'now': '2024-06-01T00:00:00Z'})
    assert failed is False
    assert result['symlinks'] == [{'file': 'dt_x.json', 'target': str(shared)}]
    assert [r['file'] for r in result['restored']] == ['dt_x.json']
    assert not os.path.islink(str(tools / 'dt_x.json'))
    assert (tools / 'dt_x.json').read_bytes() == b'{"name":"x"}'
    assert shared.read_bytes() == b'{broken'
    with open(result['restored'][0]['quarantined_to'], 'rb') as fh:
        assert fh.read() == b'{broken'
