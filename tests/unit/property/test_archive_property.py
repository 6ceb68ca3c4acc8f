# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Property tests of the archive/repair invariants and of audit_log's figures.

For any generated log (valid entries at any time and offset, corrupted lines
of every kind, blank lines, a cut last line) and any append that lands while
the archive runs: every line is in exactly one place afterwards (archive,
quarantine or live log), in its order; audit_log's figures equal a reference
computation written here; check mode changes no byte on disk.
"""

import datetime
import gzip
import hashlib
import json
import os
import shutil
import tempfile
from unittest import mock

from hypothesis import given, strategies as st

from ansible_collections.opskit.ops.plugins.module_utils import _audit_log, _jsonl_archive, _tool_registry

UTC = datetime.timezone.utc
NOW = datetime.datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
DAYS = 30
CUTOFF = datetime.datetime(2024, 5, 2, tzinfo=UTC)     # 00:00 UTC, 30 days before NOW

moments = st.datetimes(min_value=datetime.datetime(2024, 1, 1), max_value=datetime.datetime(2024, 6, 30))
offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).map(lambda m: datetime.timezone(datetime.timedelta(minutes=m)))


@st.composite
def entries(draw):
    moment = draw(moments).replace(tzinfo=draw(offsets))
    form = draw(st.sampled_from(['canonical', 'offset', 'missing', 'garbage', 'number']))
    action = draw(st.sampled_from(['tool.run', 'tool.create', 'tool.delete']))
    entry = {'id': 'a%d' % draw(st.integers(0, 10 ** 6)), 'action': action,
             'toolName': draw(st.sampled_from(['a', 'b', 'c'])),
             'success': draw(st.sampled_from([True, False, 'true', None]))}
    if form == 'canonical':
        utc = moment.astimezone(UTC)
        entry['timestamp'] = utc.strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (utc.microsecond // 1000)
    elif form == 'offset':
        entry['timestamp'] = moment.isoformat()
    elif form == 'garbage':
        entry['timestamp'] = 'yesterday'
    elif form == 'number':
        entry['timestamp'] = 1700000000
    raw = json.dumps(entry, separators=(',', ':')).encode()
    if draw(st.booleans()):
        raw += b'\r'
    return raw, (moment.astimezone(UTC) if form in ('canonical', 'offset') else None), entry


CORRUPT = [b'{"timestamp":"2024-01-01T00:00:00.000Z","action":"tool.ru', b'[1,2]', b'"x"', b'null', b'\x00\x00',
           b'\xff\xfe', b'{"a":1}{"b":2}', b'[' * 5000, b'{"n":' + b'9' * 5000 + b'}', b'not json at all']
lines = st.lists(st.one_of(entries(), st.sampled_from(CORRUPT).map(lambda r: (r, None, None)),
                           st.sampled_from([b'', b'   ', b'\r']).map(lambda r: (r, None, 'blank'))),
                 max_size=40)


def destination(raw, moment, entry):
    """Where a line must end up (reference, independent of the module)."""
    if entry == 'blank':
        return 'drop'
    if entry is None:
        return 'quarantine'
    if moment is not None and moment < CUTOFF:
        return 'archive'
    return 'live'


def tree_digest(root):
    out = {}
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files) + sorted(dirs):
            path = os.path.join(dirpath, name)
            st_ = os.lstat(path)
            data = b''
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, 'rb') as fh:
                    data = fh.read()
            out[os.path.relpath(path, root)] = (st_.st_mode, st_.st_size, hashlib.sha256(data).hexdigest())
    return out


@given(log=lines, appended=st.lists(st.sampled_from([b'{"late":1}', b'garbage late', b'']), max_size=3),
       cut=st.booleans())
def test_archive_and_repair_lose_nothing_and_keep_order(log, appended, cut):
    tmp = tempfile.mkdtemp()
    try:
        path = os.path.join(tmp, 'dynamic-tools-audit.jsonl')
        body = b''.join(raw + b'\n' for raw, dummy, dummy2 in log)
        tail = CORRUPT[0] if cut else b''          # a line still being written: never judged
        with open(path, 'wb') as fh:
            fh.write(body + tail)
        late = b''.join(raw + b'\n' for raw in appended)
        real_pread = os.pread
        state = {'appended': False}

        def pread(fd, size, offset):
            # the writer appends (O_APPEND, one write) while the archive reads the snapshot
            if not state['appended']:
                state['appended'] = True
                out = os.open(path, os.O_WRONLY | os.O_APPEND)
                os.write(out, late)
                os.close(out)
            return real_pread(fd, size, offset)
        with mock.patch.object(_jsonl_archive.os, 'pread', pread):
            result = _jsonl_archive.Archiver(path, days=DAYS, now=NOW, repair=True, settle_seconds=0).run()

        if not state['appended']:
            late = b''          # an empty log is never read: no moment for the append to land in
        want = {'archive': [], 'quarantine': [], 'live': [], 'drop': []}
        for raw, moment, entry in log:
            want[destination(raw, moment, entry)].append(raw)
        archived = []
        if result['archive_path']:
            with gzip.open(result['archive_path'], 'rb') as fh:
                archived = fh.read().split(b'\n')[:-1]
        quarantined = []
        if result['quarantine_path']:
            with open(result['quarantine_path'], 'rb') as fh:
                quarantined = [line.split(b'\t', 1)[1] for line in fh.read().split(b'\n')[:-1]]
        with open(path, 'rb') as fh:
            live = fh.read()
        assert archived == want['archive']
        assert quarantined == want['quarantine']
        changed = bool(want['archive'] or want['quarantine'] or want['drop'])
        if changed:
            # the snapshot's live lines, then the cut line and what was appended meanwhile, in order
            # (after a cut line the appended bytes continue it, exactly as in the original file)
            expected_live = b''.join(raw + b'\n' for raw in want['live']) + tail + late
            assert live == expected_live
        else:
            assert live == body + tail + late          # nothing to change: the file is untouched
        assert result['lines_before'] == len(log)
        assert result['archived'] + result['quarantined'] + result['kept'] + result['blank_removed'] == len(log)
        leftovers = [n for n in os.listdir(tmp) if n.endswith('.tmp')]
        assert leftovers == []
    finally:
        shutil.rmtree(tmp)


@given(log=lines, days=st.integers(0, 400))
def test_archive_check_mode_changes_no_byte(log, days):
    tmp = tempfile.mkdtemp()
    try:
        path = os.path.join(tmp, 'dynamic-tools-audit.jsonl')
        with open(path, 'wb') as fh:
            fh.write(b''.join(raw + b'\n' for raw, dummy, dummy2 in log))
        before = tree_digest(tmp)
        dry = _jsonl_archive.Archiver(path, days=days, now=NOW, repair=True, check_mode=True).run()
        assert tree_digest(tmp) == before
        real = _jsonl_archive.Archiver(path, days=days, now=NOW, repair=True, settle_seconds=0).run()
        for key in ('archived', 'quarantined', 'kept', 'blank_removed', 'corrupted', 'changed'):
            assert dry[key] == real[key], key
    finally:
        shutil.rmtree(tmp)


def reference_figures(log):
    """audit_log's figures for window 'all', computed here with json.loads line by line."""
    ref = {'lines': len(log), 'blank': 0, 'corrupted': 0, 'entries': 0, 'undated': 0, 'runs': 0, 'runs_ok': 0,
           'by_tool': {}, 'by_day': {}}
    for number, (raw, dummy, dummy2) in enumerate(log, 1):
        text = raw[3:] if number == 1 and raw.startswith(b'\xef\xbb\xbf') else raw
        if not text.strip(b' \t\r'):
            ref['blank'] += 1
            continue
        try:
            obj = json.loads(text.decode('utf-8'))
        except (ValueError, RecursionError):
            ref['corrupted'] += 1
            continue
        if not isinstance(obj, dict):
            ref['corrupted'] += 1
            continue
        ref['entries'] += 1
        stamp = obj.get('timestamp')
        day = None
        if isinstance(stamp, str):
            try:
                moment = datetime.datetime.fromisoformat(stamp.replace('Z', '+00:00'))
                moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
                day = '%04d-%02d-%02d' % (moment.year, moment.month, moment.day)
            except ValueError:
                day = None
        if day is None:
            ref['undated'] += 1
        if obj.get('action') == 'tool.run':
            ref['runs'] += 1
            ref['runs_ok'] += obj.get('success') is True
            tool = obj.get('toolName')
            ref['by_tool'][tool] = ref['by_tool'].get(tool, 0) + 1
            day = 'unknown' if day is None else day      # undated runs are listed as 'unknown'
            ref['by_day'][day] = ref['by_day'].get(day, 0) + 1
    return ref


@given(log=lines, parser=st.sampled_from(['auto', 'json']))
def test_audit_log_figures_equal_a_reference_computation(log, parser):
    tmp = tempfile.mkdtemp()
    try:
        path = os.path.join(tmp, 'dynamic-tools-audit.jsonl')
        with open(path, 'wb') as fh:
            fh.write(b'\n'.join(raw for raw, dummy, dummy2 in log) + (b'\n' if log else b''))
        f = _audit_log.analyze(path, parser=parser, top=None, max_distinct=100000)
        ref = reference_figures(log)
        assert f['lines'] == ref['lines']
        assert f['blank_lines'] == ref['blank']
        assert f['corrupted']['count'] == ref['corrupted']
        assert f['entries_total'] == ref['entries']
        assert f['undated']['count'] == ref['undated']
        assert f['runs']['total'] == ref['runs']
        assert f['runs']['success'] == ref['runs_ok']
        assert f['runs']['by_day'] == ref['by_day']
        assert f['usage']['runs_by_tool'] == ref['by_tool']
    finally:
        shutil.rmtree(tmp)


definitions = st.one_of(
    st.fixed_dictionaries({'name': st.sampled_from(['a', 'b']), 'id': st.text(max_size=4),
                           'safetyScore': st.one_of(st.floats(0, 1), st.none(), st.text(max_size=2)),
                           'createdAt': st.sampled_from(['2023-01-01T00:00:00Z', '0001-01-01T00:00:00+01:00',
                                                         'garbage', '2024-05-31T00:00:00Z'])}).map(
        lambda d: json.dumps(d).encode()),
    st.sampled_from(CORRUPT), st.binary(max_size=30))


@given(files=st.lists(definitions, max_size=8), action=st.sampled_from(['repair', 'backup', 'delete']))
def test_tool_registry_check_mode_changes_no_byte(files, action):
    tmp = tempfile.mkdtemp()
    try:
        tools = os.path.join(tmp, '.pi', 'tools')
        os.makedirs(os.path.join(tools, 'backup', '20240101'))
        for number, data in enumerate(files):
            with open(os.path.join(tools, 'dt_%d.json' % number), 'wb') as fh:
                fh.write(data)
            with open(os.path.join(tools, 'backup', '20240101', 'dt_%d.json' % number), 'wb') as fh:
                fh.write(b'{"name":"old"}')
        before = tree_digest(tmp)
        registry = _tool_registry.Registry(tools, now=NOW, check_mode=True)
        scan = registry.scan()
        assert scan['count'] == len(files) == scan['valid'] + len(scan['corrupted']) + len(scan['skipped'])
        if action == 'repair':
            out = registry.repair()
            assert sorted(out['quarantined']) == sorted(c['file'] for c in scan['corrupted'])
        elif action == 'backup':
            registry.backup(retention_days=1)
        else:
            registry.delete(scan['candidates'], ['unused', 'superseded', 'low_safety'], confirm=True)
        assert tree_digest(tmp) == before
    finally:
        shutil.rmtree(tmp)
