# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_sqlite_health on real database files: sound, WAL/non-WAL, corrupt, and read without changes."""

from __future__ import absolute_import, division, print_function

import os
import shutil
import sqlite3

import pytest

from ansible_collections.opskit.ops.plugins.module_utils import _sqlite_health as sh

SCHEMA = """
CREATE TABLE sessions (id TEXT PRIMARY KEY, thread_id TEXT, last_question TEXT);
CREATE TABLE messages (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions(id), body TEXT);
CREATE TABLE slots (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL REFERENCES sessions(id), name TEXT);
"""


def make_db(path, wal=True, schema=SCHEMA, rows=50):
    connection = sqlite3.connect(str(path))
    if wal:
        connection.execute('PRAGMA journal_mode=WAL')
    connection.executescript(schema)
    if 'session_id' in schema:
        connection.execute("INSERT INTO sessions VALUES ('s1', 't1', 'why?')")
        connection.executemany('INSERT INTO messages (session_id, body) VALUES (?, ?)',
                               [('s1', 'message %d ' % i * 20) for i in range(rows)])
    connection.commit()
    connection.close()
    return str(path)


def rows_by_check(rows):
    return dict((row['check'], row) for row in rows)


def statuses(rows):
    return dict((row['check'], row['status']) for row in rows)


def listing(directory):
    return sorted((name, os.stat(os.path.join(str(directory), name)).st_mtime_ns)
                  for name in os.listdir(str(directory)))


def test_sound_wal_database(tmp_path):
    path = make_db(tmp_path / 'el_sessions.db')
    rows, info = sh.inspect(path)
    assert statuses(rows) == {
        'sqlite file': 'ok', 'sqlite quick_check': 'ok', 'sqlite journal_mode': 'ok', 'sqlite tables': 'ok',
        'sqlite foreign keys': 'ok', 'sqlite foreign_key_check': 'ok', 'sqlite size': 'ok', 'sqlite wal size': 'ok'}
    assert info['journal_mode'] == 'wal'
    assert info['tables'] == ['messages', 'sessions', 'slots']
    assert info['foreign_keys'] == ['messages.session_id -> sessions.id', 'slots.session_id -> sessions.id']
    assert info['integrity'] == ['ok']
    assert info['open_mode'] == 'immutable'
    assert all(row['target'] == path for row in rows)
    assert sorted(rows[0]) == ['check', 'message', 'status', 'target', 'threshold', 'value']


def test_reading_a_closed_wal_database_creates_no_file(tmp_path):
    path = make_db(tmp_path / 'db.sqlite')
    before = listing(tmp_path)
    assert [name for name, dummy in before] == ['db.sqlite']
    sh.inspect(path, integrity_mode='full')
    assert listing(tmp_path) == before


def test_reading_a_wal_database_in_use(tmp_path):
    path = make_db(tmp_path / 'db.sqlite')
    writer = sqlite3.connect(path)
    try:
        writer.execute('PRAGMA wal_autocheckpoint=0')
        writer.execute("INSERT INTO sessions VALUES ('s2', 't2', NULL)")
        writer.commit()
        assert os.path.getsize(path + '-wal') > 0
        before = sorted(os.listdir(str(tmp_path)))
        rows, info = sh.inspect(path)
        assert info['open_mode'] == 'ro'
        assert statuses(rows)['sqlite quick_check'] == 'ok'
        assert info['wal_size_bytes'] == os.path.getsize(path + '-wal')
        assert sorted(os.listdir(str(tmp_path))) == before
    finally:
        writer.close()


def test_wal_left_by_a_crash_is_read_from_a_copy(tmp_path):
    live = tmp_path / 'live'
    live.mkdir()
    path = make_db(live / 'db.sqlite')
    writer = sqlite3.connect(path)
    writer.execute('PRAGMA wal_autocheckpoint=0')
    writer.execute("INSERT INTO sessions VALUES ('s2', 't2', NULL)")
    writer.execute("INSERT INTO slots (session_id, name) VALUES ('missing', 'orphan')")  # FK violation
    writer.commit()
    crashed = tmp_path / 'crashed'
    crashed.mkdir()
    shutil.copyfile(path, str(crashed / 'db.sqlite'))
    shutil.copyfile(path + '-wal', str(crashed / 'db.sqlite-wal'))  # no -shm: as after a crash
    writer.close()
    before = listing(crashed)
    rows, info = sh.inspect(str(crashed / 'db.sqlite'))
    assert info['open_mode'] == 'snapshot'
    assert statuses(rows)['sqlite quick_check'] == 'ok'
    # the WAL's content was seen: the orphan row is in the WAL only
    assert info['foreign_key_violations'] == ['slots rowid 1 -> sessions']
    assert listing(crashed) == before


def test_non_wal_database_fails_journal_mode(tmp_path):
    path = make_db(tmp_path / 'db.sqlite', wal=False)
    rows, info = sh.inspect(path)
    row = rows_by_check(rows)['sqlite journal_mode']
    assert (row['value'], row['threshold'], row['status']) == ('delete', '== wal', 'failed')
    assert row['message'] == 'journal mode rollback journal (delete/truncate/persist), expected wal'
    assert info['open_mode'] == 'ro'
    rows = sh.inspect(path, journal_mode='delete')[0]
    assert rows_by_check(rows)['sqlite journal_mode']['status'] == 'ok'
    rows = sh.inspect(path, journal_mode='any')[0]
    assert 'sqlite journal_mode' not in rows_by_check(rows)


def test_missing_table(tmp_path):
    schema = SCHEMA.replace('CREATE TABLE slots (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL '
                            'REFERENCES sessions(id), name TEXT);', '')
    path = make_db(tmp_path / 'db.sqlite', schema=schema)
    rows, info = sh.inspect(path)
    row = rows_by_check(rows)['sqlite tables']
    assert (row['value'], row['status'], row['message']) == (2, 'failed', 'missing tables: slots')
    assert info['missing_tables'] == ['slots']


def test_no_foreign_keys_declared(tmp_path):
    path = make_db(tmp_path / 'db.sqlite', schema='CREATE TABLE sessions (id TEXT); CREATE TABLE messages (x);'
                                                  'CREATE TABLE slots (y);')
    rows = sh.inspect(path)[0]
    row = rows_by_check(rows)['sqlite foreign keys']
    assert (row['value'], row['status'], row['message']) == (0, 'failed', 'the schema declares no foreign key')
    rows = sh.inspect(path, check_foreign_keys=False)[0]
    assert 'sqlite foreign keys' not in rows_by_check(rows)


def test_foreign_key_tables(tmp_path):
    path = make_db(tmp_path / 'db.sqlite')
    rows = sh.inspect(path, foreign_key_tables=['messages', 'slots'])[0]
    assert rows_by_check(rows)['sqlite foreign keys']['status'] == 'ok'
    rows = sh.inspect(path, foreign_key_tables=['messages', 'sessions'])[0]
    row = rows_by_check(rows)['sqlite foreign keys']
    assert (row['status'], row['message']) == ('failed', 'no foreign key declared on sessions')


def test_foreign_key_violations(tmp_path):
    path = make_db(tmp_path / 'db.sqlite')
    connection = sqlite3.connect(path)
    connection.execute("INSERT INTO messages (session_id, body) VALUES ('ghost', 'x')")  # foreign_keys is off
    connection.commit()
    connection.close()
    rows, info = sh.inspect(path)
    row = rows_by_check(rows)['sqlite foreign_key_check']
    assert (row['value'], row['status']) == (1, 'failed')
    assert row['message'] == '1 rows violate a foreign key: messages rowid 51 -> sessions'


def test_size_limits(tmp_path):
    path = make_db(tmp_path / 'db.sqlite')
    size = os.path.getsize(path)
    rows = sh.inspect(path, max_size=size, max_wal_size=0)[0]
    assert statuses(rows)['sqlite size'] == 'ok'
    assert statuses(rows)['sqlite wal size'] == 'ok'
    rows = sh.inspect(path, max_size=size - 1)[0]
    row = rows_by_check(rows)['sqlite size']
    assert (row['value'], row['threshold'], row['status']) == (size, '<= %d bytes' % (size - 1), 'failed')


def test_wal_size_limit(tmp_path):
    path = make_db(tmp_path / 'db.sqlite')
    writer = sqlite3.connect(path)
    try:
        writer.execute('PRAGMA wal_autocheckpoint=0')
        writer.executemany('INSERT INTO messages (session_id, body) VALUES (?, ?)', [('s1', 'x' * 500)] * 100)
        writer.commit()
        rows, info = sh.inspect(path, max_wal_size=1024)
        row = rows_by_check(rows)['sqlite wal size']
        assert row['status'] == 'failed'
        assert row['value'] == info['wal_size_bytes'] > 1024
    finally:
        writer.close()


# ---------------------------------------------------------------------------
# corrupt files: a failed check with a clear message, never a traceback
# ---------------------------------------------------------------------------

def test_missing_file(tmp_path):
    rows, info = sh.inspect(str(tmp_path / 'nope.db'))
    assert [(r['check'], r['status'], r['message']) for r in rows] == [
        ('sqlite file', 'failed', 'database file %s does not exist' % (tmp_path / 'nope.db'))]
    assert info['exists'] is False


def test_garbage_bytes(tmp_path):
    path = tmp_path / 'garbage.db'
    path.write_bytes(os.urandom(8192))
    rows = sh.inspect(str(path))[0]
    assert [(r['check'], r['status'], r['message']) for r in rows] == [
        ('sqlite file', 'failed', 'file is not a database (no SQLite 3 header; 8192 bytes)')]


def test_empty_file(tmp_path):
    path = tmp_path / 'empty.db'
    path.write_bytes(b'')
    rows = sh.inspect(str(path))[0]
    assert rows[0]['message'] == 'file is empty (0 bytes), not a database'
    assert len(rows) == 1


def test_truncated_file(tmp_path):
    path = make_db(tmp_path / 'db.sqlite', rows=2000)
    data = open(path, 'rb').read()
    with open(path, 'wb') as handle:
        handle.write(data[:len(data) // 2])
    rows = sh.inspect(path)[0]
    assert rows[0]['status'] == 'failed'
    assert rows[0]['message'].startswith('file is truncated: %d bytes, the header says ' % (len(data) // 2))


def test_damaged_pages(tmp_path):
    path = make_db(tmp_path / 'db.sqlite', rows=2000)
    data = bytearray(open(path, 'rb').read())
    page = 4096
    data[page * 2 + 8:page * 2 + 3000] = b'\xff' * (3000 - 8)  # overwrite the cells of a b-tree page
    with open(path, 'wb') as handle:
        handle.write(bytes(data))
    rows, info = sh.inspect(path)
    row = rows_by_check(rows)['sqlite quick_check']
    assert row['status'] == 'failed'
    assert row['value'] == 'errors'
    assert row['message'] != 'ok' and len(row['message']) > 0


def test_header_only_file(tmp_path):
    path = tmp_path / 'header.db'
    path.write_bytes(sh.SQLITE_MAGIC + b'\x00' * 84)  # valid magic, nonsense header
    rows = sh.inspect(str(path))[0]
    assert rows[0]['check'] == 'sqlite file'
    assert rows[0]['status'] == 'failed'


@pytest.mark.parametrize('full, name', [(False, 'sqlite quick_check'), (True, 'sqlite integrity_check')])
def test_integrity_mode(tmp_path, full, name):
    path = make_db(tmp_path / 'db.sqlite')
    rows = sh.inspect(path, integrity_mode='full' if full else 'quick')[0]
    assert statuses(rows)[name] == 'ok'
    rows = sh.inspect(path, integrity_mode='none')[0]
    assert name not in statuses(rows)


def test_immutable_read_is_repeated_when_the_file_changes(tmp_path, monkeypatch):
    path = make_db(tmp_path / 'db.sqlite')
    real = sh.read_database
    calls = []

    def read_while_the_service_writes(*args):
        data = real(*args)
        calls.append(data['open_mode'])
        if len(calls) == 1:
            # the service checkpoints during the first read: the file changes
            connection = sqlite3.connect(path)
            connection.execute("INSERT INTO sessions VALUES ('s9', 't9', NULL)")
            connection.commit()
            connection.close()
        return data

    monkeypatch.setattr(sh, 'read_database', read_while_the_service_writes)
    rows, info = sh.inspect(path)
    assert calls == ['immutable', 'immutable']
    assert info['reads'] == 2
    assert statuses(rows)['sqlite quick_check'] == 'ok'
