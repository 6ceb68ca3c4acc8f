# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every figure of opskit.ops.audit_log on a small, hand-checked audit log.

The log (line numbers matter):

 1 tool.create json_formatter ok               2024-01-15T09:00
 2 tool.run    json_formatter ok     150 ms    09:10
 3 tool.run    json_formatter FAIL 12000 ms    09:20  実行タイムアウト
 4 (blank)
 5 tool.run    csv_parser     ok      50 ms    10:05  CRLF line end
 6 corrupted (torn write)
 7 verification.fail csv_parser FAIL           10:30  reason "security: eval()"
 8 tool.run    csv_parser     FAIL   700 ms    10:40  errorMessage null
 9 tool.delete old_tool       ok               11:00
10 tool.run    slow_tool      ok    6000 ms    11:10  non-ASCII parameters
11 tool.run    slow_tool      ok    5000 ms    11:20
12 tool.create new_tool       ok               2024-01-14T23:59:59.999Z, details.warning
13 [1,2,3]  (valid JSON, not an object: corrupted)
14 tool.run    json_formatter ok      99 ms    2024-01-15T12:00:00+09:00 (= 03:00Z)
15 tool.run    json_formatter ok     300 ms    timestamp "garbage" (undated)
16 "   " (blank)
17 tool.run    (no toolName)  FAIL     0 ms    13:00  ツールが見つかりません
18 truncated last line, no newline
"""

import gzip
import json

import pytest

from ansible_collections.opskit.ops.plugins.module_utils import _audit_log as al


def entry(ts, action, tool, success, ms=None, error=None, **details):
    e = {'id': 'audit_x', 'timestamp': ts, 'action': action, 'toolId': 'dt_1', 'actor': 'system'}
    if tool is not None:
        e['toolName'] = tool
    d = {}
    if ms is not None:
        d['executionTimeMs'] = ms
    d.update(details)
    e['details'] = d
    e['success'] = success
    e['errorMessage'] = error
    return json.dumps(e, separators=(',', ':'), ensure_ascii=False).encode('utf-8')


LINES = [
    entry('2024-01-15T09:00:00.000Z', 'tool.create', 'json_formatter', True, safetyScore=0.9),
    entry('2024-01-15T09:10:00.000Z', 'tool.run', 'json_formatter', True, 150),
    entry('2024-01-15T09:20:00.000Z', 'tool.run', 'json_formatter', False, 12000, '実行タイムアウト'),
    b'',
    entry('2024-01-15T10:05:00.000Z', 'tool.run', 'csv_parser', True, 50) + b'\r',
    b'{"id":"a6","timestamp":"2024-01-15T10:2',
    entry('2024-01-15T10:30:00.000Z', 'verification.fail', 'csv_parser', False, None, 'verification failed',
          reason='security: eval()'),
    entry('2024-01-15T10:40:00.000Z', 'tool.run', 'csv_parser', False, 700),
    entry('2024-01-15T11:00:00.000Z', 'tool.delete', 'old_tool', True),
    entry('2024-01-15T11:10:00.000Z', 'tool.run', 'slow_tool', True, 6000, parameters={'input': '日本語テキスト'}),
    entry('2024-01-15T11:20:00.000Z', 'tool.run', 'slow_tool', True, 5000),
    entry('2024-01-14T23:59:59.999Z', 'tool.create', 'new_tool', True, warning='network access requested'),
    b'[1,2,3]',
    entry('2024-01-15T12:00:00+09:00', 'tool.run', 'json_formatter', True, 99),
    entry('garbage', 'tool.run', 'json_formatter', True, 300),
    b'   ',
    entry('2024-01-15T13:00:00.000Z', 'tool.run', None, False, 0, 'ツールが見つかりません'),
]
TRUNCATED = b'{"id":"a18","timestamp":"2024-01-15T14'


try:
    import orjson
except ImportError:  # pragma: no cover - requirements.txt installs it
    orjson = None


@pytest.fixture(autouse=True, params=['orjson', 'json'])
def parser(request, monkeypatch):
    """Every test runs twice: with orjson (the fast parser) and with the standard library alone."""
    if request.param == 'json':
        monkeypatch.setattr(al, 'orjson', None)
    elif orjson is None:
        pytest.fail('orjson is not installed: pip install -r requirements.txt')
    return request.param


@pytest.fixture
def log(tmp_path):
    path = tmp_path / 'dynamic-tools-audit.jsonl'
    path.write_bytes(b'\n'.join(LINES) + b'\n' + TRUNCATED)
    return str(path)


def test_lines_blank_corrupted_undated(log):
    f = al.analyze(log)
    assert f['exists'] is True
    assert f['lines'] == 18
    assert f['blank_lines'] == 2
    assert f['entries_total'] == 13
    assert f['entries'] == 13
    assert f['corrupted']['count'] == 3
    assert f['corrupted']['lines'] == [6, 13, 18]
    assert f['corrupted']['last_line_truncated'] is True
    assert f['corrupted']['last_line_unterminated'] is True
    assert f['corrupted']['lines_capped'] is False
    assert f['undated'] == {'count': 1, 'lines': [15]}


def test_actions_creates_deletes_changes(log):
    f = al.analyze(log)
    assert f['actions'] == {'tool.create': 2, 'tool.delete': 1, 'tool.run': 9, 'verification.fail': 1}
    assert f['creates'] == 2
    assert f['deletes'] == 1
    assert f['changes'] == {'created': ['json_formatter', 'new_tool'], 'deleted': ['old_tool']}


def test_runs_and_success_rate(log):
    runs = al.analyze(log)['runs']
    assert (runs['total'], runs['success'], runs['failed'], runs['success_rate']) == (9, 6, 3, 66.67)
    assert runs['by_hour'] == {'03': 1, '09': 2, '10': 2, '11': 2, '13': 1, 'unknown': 1}


def test_errors(log):
    errors = al.analyze(log)['errors']
    assert errors['count'] == 4
    assert errors['by_message'] == [
        {'message': 'tool.run', 'count': 1}, {'message': 'verification failed', 'count': 1},
        {'message': 'ツールが見つかりません', 'count': 1}, {'message': '実行タイムアウト', 'count': 1}]
    assert errors['by_hour'] == {'09': 1, '10': 2, '13': 1}
    assert errors['by_day'] == {'2024-01-15': 4}
    assert errors['by_tool'] == [{'tool': 'csv_parser', 'count': 2}, {'tool': 'json_formatter', 'count': 1},
                                 {'tool': 'unknown', 'count': 1}]
    assert [e['line'] for e in errors['newest']] == [3, 7, 8, 17]
    assert errors['newest'][0] == {'line': 3, 'file': 'dynamic-tools-audit.jsonl',
                                   'timestamp': '2024-01-15T09:20:00.000Z', 'action': 'tool.run',
                                   'toolName': 'json_formatter', 'errorMessage': '実行タイムアウト'}
    assert errors['newest'][3]['toolName'] is None


def test_newest_errors_is_bounded(log):
    f = al.analyze(log, newest_errors=2)
    assert [e['line'] for e in f['errors']['newest']] == [8, 17]
    assert f['errors']['count'] == 4


def test_critical_verification_high_risk(log):
    f = al.analyze(log)
    assert f['critical']['count'] == 1
    assert f['critical']['newest'][0]['line'] == 7
    assert f['critical']['newest'][0]['text'] == LINES[6].decode('utf-8')
    assert f['verification']['count'] == 1
    assert f['verification']['failures'] == 1
    assert f['verification']['by_action'] == {'verification.fail': 1}
    assert f['verification']['by_reason'] == [{'reason': 'security: eval()', 'count': 1}]
    assert f['verification']['newest'][0]['reason'] == 'security: eval()'
    assert f['high_risk']['count'] == 1
    assert f['high_risk']['by_warning'] == [{'warning': 'network access requested', 'count': 1}]
    assert f['high_risk']['newest'][0]['line'] == 12


def test_usage(log):
    usage = al.analyze(log, tool_names=['json_formatter', 'csv_parser', 'new_tool', 'unused_tool'])['usage']
    assert usage['ranking'] == [{'tool': 'json_formatter', 'runs': 4}, {'tool': 'csv_parser', 'runs': 2},
                                {'tool': 'slow_tool', 'runs': 2}, {'tool': 'null', 'runs': 1}]
    assert usage['entries_by_tool'] == {'csv_parser': 3, 'json_formatter': 5, 'new_tool': 1, 'null': 1,
                                        'old_tool': 1, 'slow_tool': 2}
    assert usage['tools_without_runs'] == ['new_tool', 'unused_tool']
    # the +09:00 entry (03:00Z) comes after 11:20 in the file: the maximum still wins
    assert usage['last_run_by_tool'] == {'csv_parser': '2024-01-15T10:40:00.000Z',
                                         'json_formatter': '2024-01-15T09:20:00.000Z',
                                         'null': '2024-01-15T13:00:00.000Z',
                                         'slow_tool': '2024-01-15T11:20:00.000Z'}


def test_execution_time(log):
    ex = al.analyze(log)['execution_time']
    assert ex['count'] == 9
    assert ex['avg_ms'] == round(24299 / 9.0, 3)
    assert ex['max_ms'] == 12000
    assert ex['distribution'] == {'< 100ms': 3, '100-500ms': 2, '500ms-1s': 1, '1-5s': 0, '5-10s': 2, '> 10s': 1}
    assert ex['over_30s'] == 0
    assert ex['avg_ms_by_tool'] == {'csv_parser': 375.0, 'json_formatter': 3137.2, 'null': 0.0, 'slow_tool': 5500.0}
    assert ex['slow_tools'] == [{'tool': 'slow_tool', 'avg_ms': 5500.0, 'runs': 2, 'total_ms': 11000}]


def test_hours_days(log):
    f = al.analyze(log)
    assert f['entries_by_hour'] == {'03': 1, '09': 3, '10': 3, '11': 3, '13': 1, '23': 1, 'unknown': 1}
    assert f['entries_by_day'] == {'2024-01-14': 1, '2024-01-15': 11, 'unknown': 1}


def test_anomalies(log):
    assert al.analyze(log)['anomalies']['count'] == 0
    a = al.analyze(log, max_creates_per_day=0, max_failures_per_tool=1)['anomalies']
    assert a['creates_per_day'] == [{'day': '2024-01-14', 'creates': 1}, {'day': '2024-01-15', 'creates': 1}]
    assert a['failures_per_tool'] == [{'tool': 'csv_parser', 'failures': 2}]
    assert a['count'] == 3


def test_custom_window(log):
    f = al.analyze(log, window='custom', since='2024-01-15T10:00:00Z', until='2024-01-15T11:15:00Z')
    assert f['window']['since'] == '2024-01-15T10:00:00.000Z'
    assert f['entries'] == 5
    assert f['outside_window'] == 7
    assert f['undated']['count'] == 1
    assert f['runs']['total'] == 3
    assert f['runs']['success_rate'] == 66.67
    assert f['errors']['count'] == 2
    # last runs always cover the whole log
    assert f['usage']['last_run_by_tool']['json_formatter'] == '2024-01-15T09:20:00.000Z'


def test_last_24h_window(log):
    f = al.analyze(log, window='last_24h', now='2024-01-15T23:00:00Z')
    assert f['window']['since'] == '2024-01-14T23:00:00.000Z'
    assert f['entries'] == 12          # all dated entries; the undated one is left out
    f = al.analyze(log, window='last_7d', now='2024-01-30T00:00:00Z')
    assert f['entries'] == 0
    assert f['runs']['success_rate'] is None


def test_corrupted_lines_cap(log):
    f = al.analyze(log, corrupted_lines_max=2)
    assert f['corrupted']['count'] == 3
    assert f['corrupted']['lines'] == [6, 13]
    assert f['corrupted']['lines_capped'] is True


def test_missing_file(tmp_path):
    f = al.analyze(str(tmp_path / 'nope.jsonl'))
    assert f['exists'] is False
    assert f['lines'] == 0
    assert f['runs']['total'] == 0


def test_same_figures_with_forked_scanners_and_tiny_chunks(log, monkeypatch):
    single = al.analyze(log, workers=1, now='2024-01-16T00:00:00Z')
    monkeypatch.setattr(al, 'CHUNK_SIZE', 64)
    parallel = al.analyze(log, workers=3, now='2024-01-16T00:00:00Z')
    assert parallel['workers'] == 3
    single.pop('workers')
    parallel.pop('workers')
    assert parallel == single


def test_invalid_utf8_bom_and_giant_line(tmp_path, monkeypatch):
    monkeypatch.setattr(al, 'CHUNK_SIZE', 32)
    monkeypatch.setattr(al, 'MAX_LINE', 300)
    path = tmp_path / 'a.jsonl'
    ok = entry('2024-01-15T09:10:00.000Z', 'tool.run', 'x', True, 1)
    path.write_bytes(b'\xef\xbb\xbf' + ok + b'\n' + b'{"bad":"\xff\xfe"}\n' + b'{"x":"' + b'a' * 1000 + b'"}\n' + ok + b'\n')
    f = al.analyze(str(path))
    assert f['lines'] == 4
    assert f['entries'] == 2
    assert f['corrupted']['lines'] == [2, 3]
    assert f['corrupted']['last_line_truncated'] is False


def test_value_spanning_lines_is_two_corrupted_lines(tmp_path):
    path = tmp_path / 'a.jsonl'
    path.write_bytes(b'{"a":\n1}\n')
    f = al.analyze(str(path))
    assert f['corrupted']['lines'] == [1, 2]
    assert f['entries'] == 0


def test_archives_are_read_oldest_first(tmp_path):
    base = tmp_path / 'dynamic-tools-audit.jsonl'
    base.write_bytes(entry('2024-01-15T09:10:00.000Z', 'tool.run', 'x', True, 1) + b'\n')
    with gzip.open(str(tmp_path / 'dynamic-tools-audit-20240101.jsonl.gz'), 'wb') as fh:
        fh.write(entry('2023-12-01T09:10:00.000Z', 'tool.run', 'x', False, 1, 'boom') + b'\nnot json\n')
    (tmp_path / 'dynamic-tools-audit.jsonl.1').write_bytes(
        entry('2024-01-10T09:10:00.000Z', 'tool.run', 'y', True, 1) + b'\n')
    (tmp_path / 'dynamic-tools-audit.quarantine-20240101T000000Z.txt').write_bytes(b'1\tnot json\n')
    f = al.analyze(str(base))
    assert f['runs']['total'] == 1
    f = al.analyze(str(base), include_archives=True)
    assert [x['path'].rsplit('/', 1)[-1] for x in f['files']] == [
        'dynamic-tools-audit-20240101.jsonl.gz', 'dynamic-tools-audit.jsonl.1', 'dynamic-tools-audit.jsonl']
    assert f['runs']['total'] == 3
    assert f['errors']['newest'][0]['file'] == 'dynamic-tools-audit-20240101.jsonl.gz'
    assert f['corrupted']['count'] == 1
    assert f['corrupted']['lines'] == []
    assert list(f['corrupted']['by_file']) == [str(tmp_path / 'dynamic-tools-audit-20240101.jsonl.gz')]
    assert f['usage']['last_run_by_tool'] == {'x': '2024-01-15T09:10:00.000Z', 'y': '2024-01-10T09:10:00.000Z'}


def test_damaged_gzip_archive_is_reported_not_fatal(tmp_path):
    base = tmp_path / 'dynamic-tools-audit.jsonl'
    base.write_bytes(b'')
    data = gzip.compress(b'\n'.join([entry('2024-01-01T00:00:00.000Z', 'tool.run', 'x', True, 1)] * 100) + b'\n')
    (tmp_path / 'dynamic-tools-audit-20240101.jsonl.gz').write_bytes(data[:len(data) // 2])
    f = al.analyze(str(base), include_archives=True)
    assert len(f['read_errors']) == 1


def test_counters_are_bounded(tmp_path):
    path = tmp_path / 'a.jsonl'
    path.write_bytes(b''.join(entry('2024-01-15T09:10:00.000Z', 'tool.run', 't%d' % i, False, 1, 'e%d' % i) + b'\n'
                              for i in range(50)))
    f = al.analyze(str(path), max_distinct=10, top=None)
    assert f['runs']['total'] == 50
    assert f['errors']['count'] == 50
    assert len(f['errors']['by_message']) == 10
    assert sum(r['count'] for r in f['errors']['by_message']) == 50
    assert 'err_msgs' in f['truncated_counters']


def test_parse_ts_forms():
    assert al.parse_ts('2024-01-15T10:30:00.000Z') == '2024-01-15T10:30:00.000Z'
    assert al.parse_ts('2024-01-15T10:30:00Z') == '2024-01-15T10:30:00.000Z'
    assert al.parse_ts('2024-01-15T19:30:00.123456+09:00') == '2024-01-15T10:30:00.123Z'
    assert al.parse_ts('2024-01-15 10:30') == '2024-01-15T10:30:00.000Z'
    assert al.parse_ts('2024-01-15') == '2024-01-15T00:00:00.000Z'
    assert al.parse_ts('yesterday') is None
    assert al.parse_ts(12) is None


def test_resolve_window_errors():
    with pytest.raises(ValueError):
        al.resolve_window('custom')
    with pytest.raises(ValueError):
        al.resolve_window('custom', since='not a date')
    with pytest.raises(ValueError):
        al.resolve_window('last_year')


def test_a_failing_worker_is_reported(log, monkeypatch):
    monkeypatch.setattr(al, 'CHUNK_SIZE', 64)
    real = al._scan_task

    def scan_task(task, opts):
        if task[1] > 0:
            raise OSError('disk gone')
        return real(task, opts)

    monkeypatch.setattr(al, '_scan_task', scan_task)
    with pytest.raises(RuntimeError) as info:
        al.analyze(log, workers=2)
    assert 'disk gone' in str(info.value)


def test_grep_words_anywhere_in_a_line(tmp_path):
    # the runbook's textual checks: the words count wherever they are, at a line's very start too
    base = json.loads(entry('2024-01-15T09:10:00.000Z', 'tool.run', 'x', True, 1))
    rows = [dict(base, note='critical'), dict(base, note='xsecurityx'), dict(base, note='verification-fail'),
            dict(base, note='verificationXfail'), dict(base, note='verification only'), dict(base, note='ri ri crit')]
    data = b'\n'.join(json.dumps(r, separators=(',', ':')).encode() for r in rows) + b'\n'
    path = tmp_path / 'a.jsonl'
    path.write_bytes(b'security\n' + data)          # a corrupted first line holding a word at offset 0
    f = al.analyze(str(path))
    assert [c['line'] for c in f['critical']['newest']] == [2, 3, 4, 5]
    assert [v['line'] for v in f['verification']['newest']] == [4, 5, 6]
    assert f['corrupted']['lines'] == [1]
    assert al._line_hits(b'critical\nsecurity\nverification\n', 0) == {1: 2, 2: 2, 3: 1}


def test_execution_time_histogram_folding_is_exact(log, monkeypatch):
    exact = al.analyze(log, now='2024-01-16T00:00:00Z')['execution_time']
    monkeypatch.setattr(al, 'HIST_CAP', 2)
    monkeypatch.setattr(al, 'CHUNK_SIZE', 64)
    folded = al.analyze(log, now='2024-01-16T00:00:00Z', workers=2)['execution_time']
    assert folded == exact


# Lines where orjson and json.loads disagree, or that sit at a parser's edge.
# The verdict must be json.loads' one whatever the parser.
EDGE_LINES = [
    (b'{"timestamp":"2024-01-15T09:00:00.000Z","action":"tool.run","toolName":"nan","success":true,'
     b'"details":{"executionTimeMs":NaN}}', 'valid'),                    # orjson refuses NaN
    (b'{"timestamp":"2024-01-15T09:00:00.000Z","action":"tool.run","toolName":"inf","success":true,'
     b'"details":{"executionTimeMs":1e400}}', 'valid'),                  # out of double range: json gives inf
    (b'{"timestamp":"2024-01-15T09:00:00.000Z","action":"tool.run","toolName":"\\ud800","success":true,'
     b'"details":{}}', 'valid'),                                          # lone surrogate escape
    (b'  {"timestamp":"2024-01-15T09:00:00.000Z","action":"tool.run","toolName":"lead","success":true,'
     b'"details":{}}', 'valid'),                                          # leading spaces
    (b'\t', 'blank'),
    (b'\r', 'blank'),
    (b'{"a":1} {"b":2}', 'corrupted'),                                  # two values on one line
    (b'{"a":1}\x0c', 'corrupted'),                                      # form feed is not JSON whitespace
    (b'\xef\xbb\xbf{"a":1}', 'corrupted'),                              # a BOM after line 1
    (b'{"a":"\x01"}', 'corrupted'),                                     # raw control character
    (b'{"a":"\xed\xa0\x80"}', 'corrupted'),                             # surrogate encoded in UTF-8
    (b'{"a":[1,2,]}', 'corrupted'),
    (b'42', 'corrupted'),                                               # valid JSON, not an object
]


def test_edge_lines_get_the_standard_library_verdict(tmp_path, parser):
    path = tmp_path / 'edge.jsonl'
    path.write_bytes(b'\n'.join(line for line, dummy in EDGE_LINES) + b'\n')
    f = al.analyze(str(path))
    want_corrupted = [i + 1 for i, (dummy, verdict) in enumerate(EDGE_LINES) if verdict == 'corrupted']
    assert f['corrupted']['lines'] == want_corrupted
    assert f['blank_lines'] == sum(1 for dummy, verdict in EDGE_LINES if verdict == 'blank')
    assert f['entries'] == sum(1 for dummy, verdict in EDGE_LINES if verdict == 'valid')
    assert f['usage']['runs_by_tool'] == {'nan': 1, 'inf': 1, '\ud800': 1, 'lead': 1}
    # json.loads reads NaN and 1e400 (inf) as numbers, but neither is a duration: both are invalid,
    # so no average or maximum turns NaN or infinite (docs/edge-cases.md)
    assert f['execution_time']['count'] == 0
    assert f['execution_time']['invalid'] == 2
    assert f['execution_time']['max_ms'] is None


def test_parser_is_reported(log, parser):
    f = al.analyze(log)
    if parser == 'json':
        assert f['parser'] == 'json'
    else:
        assert f['parser'] == 'orjson ' + orjson.__version__


def test_verification_fail_matches_any_one_character(tmp_path):
    """grep 'verification.fail': "." is one character, also a multi-byte one, never none."""
    def line(ts, reason):
        return entry(ts, 'tool.create', 'x', True, None, None, note=reason)
    path = tmp_path / 'a.jsonl'
    path.write_bytes(b'\n'.join([
        line('2024-01-15T09:00:00.000Z', 'verification_fail'),
        line('2024-01-15T09:01:00.000Z', 'verification\u3042fail'),
        line('2024-01-15T09:02:00.000Z', 'verificationfail'),
        line('2024-01-15T09:03:00.000Z', 'verification  fail'),
    ]) + b'\n')
    f = al.analyze(str(path))
    assert [c['line'] for c in f['critical']['newest']] == [1, 2]
    assert f['verification']['count'] == 4
