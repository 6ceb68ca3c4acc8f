# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""opskit.ops.jsonl_archive: verified archive, concurrent appends, idempotence, ENOSPC, repair, retention."""

import datetime
import errno
import fcntl
import gzip
import hashlib
import json
import os
import threading

import pytest

from ansible_collections.opskit.ops.plugins.module_utils import _jsonl_archive as ja

UTC = datetime.timezone.utc
NOW = datetime.datetime(2024, 3, 1, 12, 0, tzinfo=UTC)      # cutoff: 2024-01-31T00:00:00.000Z


def line(ts, n, tool='json_formatter'):
    return json.dumps({'id': 'audit_%06d' % n, 'timestamp': ts, 'action': 'tool.run', 'toolName': tool,
                       'details': {'executionTimeMs': n % 1000}, 'success': True, 'errorMessage': None},
                      separators=(',', ':'), ensure_ascii=False).encode('utf-8')


def make_log(tmp_path, old=30, new=20):
    path = tmp_path / 'dynamic-tools-audit.jsonl'
    lines = [line('2024-01-%02dT10:00:00.000Z' % (1 + i % 28), i) for i in range(old)]
    lines += [line('2024-02-%02dT10:00:00.000Z' % (1 + i % 28), old + i) for i in range(new)]
    path.write_bytes(b'\n'.join(lines) + b'\n')
    os.chmod(str(path), 0o640)
    return path, lines[:old], lines[old:]


def read_lines(path):
    data = path.read_bytes() if hasattr(path, 'read_bytes') else open(path, 'rb').read()
    return data.split(b'\n')[:-1] if data.endswith(b'\n') else data.split(b'\n')


def entries(tmp_path):
    return sorted(os.listdir(str(tmp_path)))


def test_archive_moves_old_entries_verified(tmp_path):
    path, old, new = make_log(tmp_path)
    result = ja.Archiver(str(path), now=NOW).run()
    assert result['changed'] is True
    assert result['cutoff'] == '2024-01-31T00:00:00.000Z'
    assert (result['lines_before'], result['archived'], result['kept']) == (50, 30, 20)
    assert result['archive_path'] == str(tmp_path / 'dynamic-tools-audit-20240131.jsonl.gz')
    with gzip.open(result['archive_path'], 'rb') as fh:
        archived = fh.read()
    assert archived == b'\n'.join(old) + b'\n'
    assert result['sha256'] == hashlib.sha256(archived).hexdigest()
    assert result['archive_sha256'] == hashlib.sha256(open(result['archive_path'], 'rb').read()).hexdigest()
    assert read_lines(path) == new
    assert oct(os.stat(str(path)).st_mode & 0o777) == oct(0o640)
    assert entries(tmp_path) == ['dynamic-tools-audit-20240131.jsonl.gz', 'dynamic-tools-audit.jsonl']


def test_rerun_is_harmless(tmp_path):
    path, _unused, new = make_log(tmp_path)
    ja.Archiver(str(path), now=NOW).run()
    before = path.read_bytes()
    inode = os.stat(str(path)).st_ino
    again = ja.Archiver(str(path), now=NOW).run()
    assert again['changed'] is False
    assert again['archived'] == 0
    assert again['archive_path'] is None
    assert path.read_bytes() == before
    assert os.stat(str(path)).st_ino == inode          # not even rewritten
    assert len(entries(tmp_path)) == 2


def test_check_mode_reports_and_writes_nothing(tmp_path):
    path, old, _unused = make_log(tmp_path)
    before = path.read_bytes()
    result = ja.Archiver(str(path), now=NOW, check_mode=True).run()
    assert (result['archived'], result['kept']) == (30, 20)
    assert result['sha256'] == hashlib.sha256(b'\n'.join(old) + b'\n').hexdigest()
    assert result['archive_path'] is None
    assert path.read_bytes() == before
    assert entries(tmp_path) == ['dynamic-tools-audit.jsonl']


def _appender(path, stop, written, lock_file=None):
    """The service's way: open O_APPEND, one write() of the whole line, close (optionally under a shared flock)."""
    n = 0
    while not stop.is_set():
        data = line('2024-02-29T23:00:00.000Z', 900000 + n, 'appender') + b'\n'
        lock = None
        if lock_file:
            lock = os.open(lock_file, os.O_RDONLY)
            fcntl.flock(lock, fcntl.LOCK_SH)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
            if lock is not None:
                fcntl.flock(lock, fcntl.LOCK_UN)
                os.close(lock)
        written.append(data[:-1])
        n += 1


@pytest.mark.parametrize('use_lock', [True, False], ids=['lock_file', 'settle_only'])
def test_lines_appended_while_archiving_are_kept(tmp_path, use_lock):
    path, old, new = make_log(tmp_path, old=40000, new=10000)
    lock_file = None
    if use_lock:
        lock_file = str(tmp_path / 'audit.lock')
        open(lock_file, 'w').close()
    count_before = len(read_lines(path))
    stop, written = threading.Event(), []
    thread = threading.Thread(target=_appender, args=(str(path), stop, written, lock_file))
    thread.start()
    try:
        result = ja.Archiver(str(path), now=NOW, lock_file=lock_file, settle_seconds=0.5 if use_lock else 1.0).run()
    finally:
        stop.set()
        thread.join()
    live = read_lines(path)
    with gzip.open(result['archive_path'], 'rb') as fh:
        archived = fh.read().split(b'\n')[:-1]
    assert len(written) > 0
    assert result['tail_bytes'] > 0                     # appends really overlapped the run
    # count before (+ what the appender wrote) = archived + live after; no line lost, none twice
    assert count_before + len(written) == len(archived) + len(live)
    assert archived == old
    assert live[:len(new)] == new
    assert sorted(live[len(new):]) == sorted(written)
    assert len(set(live)) == len(live)


def test_enospc_leaves_live_log_untouched(tmp_path, monkeypatch):
    path, _unused, _unused = make_log(tmp_path, old=3000, new=3000)
    before = path.read_bytes()
    inode = os.stat(str(path)).st_ino
    budget = [20000]
    real = ja._write_all

    def full_disk(fd, data):
        if budget[0] < len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        budget[0] -= len(data)
        real(fd, data)

    monkeypatch.setattr(ja, '_write_all', full_disk)
    with pytest.raises(OSError) as info:
        ja.Archiver(str(path), now=NOW).run()
    assert info.value.errno == errno.ENOSPC
    assert 'no space left' in ja.describe_error(info.value)
    assert path.read_bytes() == before
    assert os.stat(str(path)).st_ino == inode
    assert entries(tmp_path) == ['dynamic-tools-audit.jsonl']     # temp files removed, no archive


def test_enospc_at_fsync_leaves_live_log_untouched(tmp_path, monkeypatch):
    path, _unused, _unused = make_log(tmp_path)
    before = path.read_bytes()
    real = os.fsync

    def fsync(fd):
        if not os.path.isdir('/proc/self/fd/%d' % fd):
            raise OSError(errno.ENOSPC, 'No space left on device')
        return real(fd)

    monkeypatch.setattr(ja.os, 'fsync', fsync)
    with pytest.raises(OSError):
        ja.Archiver(str(path), now=NOW).run()
    monkeypatch.setattr(ja.os, 'fsync', real)
    assert path.read_bytes() == before
    assert entries(tmp_path) == ['dynamic-tools-audit.jsonl']


def test_failed_verification_leaves_live_log_untouched(tmp_path, monkeypatch):
    path, _unused, _unused = make_log(tmp_path)
    before = path.read_bytes()
    monkeypatch.setattr(ja, 'verify_gzip', lambda p: (1, 'bad'))
    with pytest.raises(ja.ArchiveError):
        ja.Archiver(str(path), now=NOW).run()
    assert path.read_bytes() == before
    assert entries(tmp_path) == ['dynamic-tools-audit.jsonl']


def test_failed_live_rename_removes_the_committed_archive(tmp_path, monkeypatch):
    path, _unused, _unused = make_log(tmp_path)
    before = path.read_bytes()
    real = os.rename

    def rename(src, dst):
        if dst == str(path):
            raise OSError(errno.EIO, 'I/O error')
        return real(src, dst)

    monkeypatch.setattr(ja.os, 'rename', rename)
    with pytest.raises(OSError):
        ja.Archiver(str(path), now=NOW).run()
    assert path.read_bytes() == before
    assert entries(tmp_path) == ['dynamic-tools-audit.jsonl']


def test_repair_quarantines_corrupted_lines_with_numbers(tmp_path):
    path = tmp_path / 'dynamic-tools-audit.jsonl'
    good = [line('2024-02-10T10:00:00.000Z', i) for i in range(4)]
    old = line('2024-01-02T10:00:00.000Z', 99)
    undated = b'{"timestamp":"soon","action":"tool.run"}'
    content = [old, good[0], b'{"torn', good[1], b'', undated, b'\xff\xfe', good[2], b'[1]', good[3]]
    path.write_bytes(b'\n'.join(content) + b'\n')
    result = ja.Archiver(str(path), now=NOW, repair=True).run()
    assert result['changed'] is True
    assert (result['lines_before'], result['archived'], result['kept'], result['quarantined'],
            result['blank_removed']) == (10, 1, 5, 3, 1)
    assert result['lines_before'] == (result['archived'] + result['kept'] + result['quarantined'] +
                                      result['blank_removed'])
    assert result['undated'] == 1
    assert read_lines(path) == [good[0], good[1], undated, good[2], good[3]]
    quarantine = open(result['quarantine_path'], 'rb').read()
    assert quarantine == b'3\t{"torn\n7\t\xff\xfe\n9\t[1]\n'
    again = ja.Archiver(str(path), now=NOW, repair=True).run()
    assert again['changed'] is False


def test_repair_only_without_archive(tmp_path):
    path, old, new = make_log(tmp_path)
    with open(str(path), 'ab') as fh:
        fh.write(b'not json\n')
    result = ja.Archiver(str(path), now=NOW, archive=False, repair=True).run()
    assert (result['archived'], result['quarantined'], result['kept']) == (0, 1, 50)
    assert read_lines(path) == old + new


def test_corrupted_lines_stay_without_repair(tmp_path):
    path, old, new = make_log(tmp_path)
    with open(str(path), 'ab') as fh:
        fh.write(b'not json\n')
    result = ja.Archiver(str(path), now=NOW).run()
    assert (result['archived'], result['corrupted'], result['quarantined']) == (30, 1, 0)
    assert read_lines(path) == new + [b'not json']


def test_unterminated_last_line_is_left_alone(tmp_path):
    path, _unused, new = make_log(tmp_path)
    with open(str(path), 'ab') as fh:
        fh.write(b'{"id":"half-writ')
    result = ja.Archiver(str(path), now=NOW, repair=True).run()
    assert result['unterminated_tail'] is True
    assert result['quarantined'] == 0
    assert path.read_bytes().endswith(b'\n{"id":"half-writ')


def test_second_archive_of_the_day_gets_its_own_name(tmp_path):
    path, _unused, _unused = make_log(tmp_path)
    first = ja.Archiver(str(path), now=NOW).run()
    with open(str(path), 'ab') as fh:
        fh.write(line('2024-01-05T00:00:00.000Z', 7) + b'\n')
    second = ja.Archiver(str(path), now=NOW).run()
    assert first['archive_path'].endswith('-20240131.jsonl.gz')
    assert second['archive_path'].endswith('-20240131-2.jsonl.gz')
    assert second['archived'] == 1


def test_retention_keeps_the_newest_archive(tmp_path):
    path, _unused, _unused = make_log(tmp_path, old=0, new=3)
    for day in ('20220101', '20230101'):
        (tmp_path / ('dynamic-tools-audit-%s.jsonl.gz' % day)).write_bytes(gzip.compress(b'{}\n'))
    now = datetime.datetime(2024, 6, 1, tzinfo=UTC)
    result = ja.Archiver(str(path), now=now, days=365).run()
    assert [os.path.basename(p) for p in result['removed_archives']] == ['dynamic-tools-audit-20220101.jsonl.gz']
    assert result['changed'] is True
    (tmp_path / 'dynamic-tools-audit-20240501.jsonl.gz').write_bytes(gzip.compress(b'{}\n'))
    result = ja.Archiver(str(path), now=now, days=365, check_mode=True).run()
    assert [os.path.basename(p) for p in result['removed_archives']] == ['dynamic-tools-audit-20230101.jsonl.gz']
    assert os.path.exists(str(tmp_path / 'dynamic-tools-audit-20230101.jsonl.gz'))


def test_stale_temp_files_of_an_interrupted_run_are_removed(tmp_path):
    path, _unused, _unused = make_log(tmp_path, old=0, new=3)
    stale = tmp_path / '.dynamic-tools-audit.jsonl.20240101T000000Z.1.tmp'
    stale.write_bytes(b'partial')
    result = ja.Archiver(str(path), now=NOW).run()
    assert result['stale_temps_removed'] == [str(stale)]
    assert not stale.exists()


def test_missing_log_is_not_an_error(tmp_path):
    result = ja.Archiver(str(tmp_path / 'none.jsonl'), now=NOW).run()
    assert result['exists'] is False
    assert result['changed'] is False


def test_classify_matches_audit_log_verdict():
    assert ja.classify(b'  \r') == (ja.BLANK, None)
    assert ja.classify(b'{"timestamp":"2024-01-01T00:00:00Z"}\r') == (ja.ENTRY, '2024-01-01T00:00:00.000Z')
    assert ja.classify(b'\xef\xbb\xbf{}', first=True) == (ja.ENTRY, None)
    assert ja.classify(b'\xef\xbb\xbf{}')[0] == ja.CORRUPT
    assert ja.classify(b'"text"')[0] == ja.CORRUPT
    assert ja.classify(b'{"a":1} x')[0] == ja.CORRUPT
