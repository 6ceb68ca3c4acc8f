# -*- coding: utf-8 -*-
# Copyright (c) 2026, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""opskit.ops.sqlite_maintenance on real database files (the reference service's session schema)."""

from __future__ import absolute_import, division, print_function

import datetime
import os
import sqlite3

import pytest

from ansible_collections.opskit.ops.plugins.modules import sqlite_maintenance

from _module_harness import run_main

INDEXES = [
    {'name': 'idx_sessions_org_id', 'table': 'sessions', 'columns': ['org_id']},
    {'name': 'idx_messages_session_id', 'table': 'messages', 'columns': 'session_id'},
]
PURGE = [{'table': 'messages', 'column': 'created_at', 'older_than_days': 30}]


def _ts(days_ago, iso=False):
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days_ago)
    return moment.strftime('%Y-%m-%dT%H:%M:%S.%fZ' if iso else '%Y-%m-%d %H:%M:%S.%f')


@pytest.fixture
def run(monkeypatch):
    def runner(args, check_mode=False):
        return run_main(monkeypatch, sqlite_maintenance.main, args, check_mode=check_mode)
    return runner


@pytest.fixture
def database(tmp_path):
    path = str(tmp_path / 'el_sessions.db')
    connection = sqlite3.connect(path)
    connection.execute('PRAGMA journal_mode=WAL')
    connection.executescript("""
        CREATE TABLE sessions (id INTEGER PRIMARY KEY, thread_id TEXT UNIQUE, org_id TEXT NOT NULL DEFAULT 'default');
        CREATE TABLE messages (id INTEGER PRIMARY KEY, session_id INTEGER REFERENCES sessions(id),
                               content TEXT, created_at TEXT NOT NULL);
        INSERT INTO sessions (thread_id) VALUES ('t1');
    """)
    rows = [(1, 'new', _ts(1)), (1, 'old', _ts(45)), (1, 'old iso', _ts(31, iso=True)),
            (1, 'edge', _ts(29)), (1, 'not a time', 'yesterday')]
    connection.executemany('INSERT INTO messages (session_id, content, created_at) VALUES (?, ?, ?)', rows)
    connection.commit()
    connection.close()
    return path


def _query(path, sql):
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def _index_names(path):
    return sorted(r[0] for r in _query(path, "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx_%'"))


def test_purge_deletes_only_rows_older_than_the_limit_and_then_nothing(run, database):
    first = run({'path': database, 'purge': PURGE})
    assert first.failed is False
    assert first.result['changed'] is True
    assert first.result['purged'] == {'messages': 2}
    assert sorted(r[0] for r in _query(database, 'SELECT content FROM messages')) == ['edge', 'new', 'not a time']
    second = run({'path': database, 'purge': PURGE})
    assert second.result['changed'] is False
    assert second.result['purged'] == {'messages': 0}


def test_check_mode_counts_without_deleting_and_creates_no_file(run, database):
    listing = sorted(os.listdir(os.path.dirname(database)))
    checked = run({'path': database, 'purge': PURGE, 'indexes': INDEXES, 'checkpoint': True}, check_mode=True)
    assert checked.failed is False
    assert checked.result['changed'] is True
    assert checked.result['purged'] == {'messages': 2}
    assert checked.result['indexes'] == {'created': ['idx_sessions_org_id', 'idx_messages_session_id'], 'present': []}
    assert len(_query(database, 'SELECT * FROM messages')) == 5
    assert _index_names(database) == []
    assert sorted(os.listdir(os.path.dirname(database))) == listing


def test_missing_indexes_are_created_once(run, database):
    first = run({'path': database, 'indexes': INDEXES})
    assert first.result['changed'] is True
    assert first.result['indexes'] == {'created': ['idx_sessions_org_id', 'idx_messages_session_id'], 'present': []}
    assert _index_names(database) == ['idx_messages_session_id', 'idx_sessions_org_id']
    assert _query(database, "PRAGMA index_info(idx_messages_session_id)")[0][2] == 'session_id'
    second = run({'path': database, 'indexes': INDEXES})
    assert second.result['changed'] is False
    assert second.result['indexes'] == {'created': [], 'present': ['idx_sessions_org_id', 'idx_messages_session_id']}
    checked = run({'path': database, 'indexes': INDEXES}, check_mode=True)
    assert checked.result['changed'] is False


def test_an_index_of_that_name_on_other_columns_is_an_error(run, database):
    _query(database, 'CREATE INDEX idx_messages_session_id ON messages(created_at)')
    result = run({'path': database, 'indexes': INDEXES})
    assert result.failed is True
    assert result.result['msg'] == ('indexes: idx_messages_session_id exists on messages(created_at), '
                                    'not on messages(session_id); drop or rename it by hand')


def test_analyze_reports_a_change_only_when_the_statistics_change(run, database):
    run({'path': database, 'indexes': INDEXES})
    first = run({'path': database, 'analyze': True})
    assert first.result['changed'] is True
    assert first.result['stat1_changed'] is True
    assert _query(database, "SELECT count(*) FROM sqlite_stat1")[0][0] > 0
    second = run({'path': database, 'analyze': True})
    assert second.result['changed'] is False
    assert second.result['stat1_changed'] is False
    assert run({'path': database, 'analyze': True}, check_mode=True).result['changed'] is True


def test_optimize_change_follows_the_statistics(run, database):
    run({'path': database, 'indexes': INDEXES})
    before = _query(database, "SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
    result = run({'path': database, 'optimize': True})
    assert result.failed is False
    after = _query(database, "SELECT tbl, idx, stat FROM sqlite_stat1") if _query(
        database, "SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'") else []
    # Older SQLite (before 3.46) only looks at tables the connection used: then nothing is due and nothing changes.
    assert result.result['changed'] is (bool(after) and not before)
    assert result.result['changed'] is bool(result.result['optimize'])
    again = run({'path': database, 'optimize': True})
    assert again.result['changed'] is False


def test_vacuum_only_when_pages_are_free(run, database):
    nothing = run({'path': database, 'vacuum': True})
    assert nothing.result['changed'] is False
    assert nothing.result['vacuum']['free_pages'] == 0
    connection = sqlite3.connect(database)
    connection.execute('CREATE TABLE filler (blob TEXT)')
    connection.executemany('INSERT INTO filler VALUES (?)', [('x' * 4000,) for _unused in range(50)])
    connection.commit()
    connection.execute('DROP TABLE filler')
    connection.commit()
    connection.close()
    run({'path': database, 'checkpoint': True})
    checked = run({'path': database, 'vacuum': True}, check_mode=True)
    assert checked.result['changed'] is True
    assert checked.result['vacuum']['free_pages'] > 0
    done = run({'path': database, 'vacuum': True, 'checkpoint': True})
    assert done.result['changed'] is True
    assert _query(database, 'PRAGMA freelist_count')[0][0] == 0
    assert run({'path': database, 'vacuum': True}).result['changed'] is False


def test_checkpoint_truncates_a_wal_that_another_connection_keeps_open(run, database):
    keeper = sqlite3.connect(database)
    keeper.execute("INSERT INTO sessions (thread_id) VALUES ('t2')")
    keeper.commit()
    assert os.path.getsize(database + '-wal') > 0
    checked = run({'path': database, 'checkpoint': True}, check_mode=True)
    assert checked.result['changed'] is True
    assert os.path.getsize(database + '-wal') > 0
    done = run({'path': database, 'checkpoint': True})
    assert done.result['changed'] is True
    assert done.result['checkpoint']['wal_after'] == 0
    assert done.result['checkpoint']['busy'] is False
    assert os.path.getsize(database + '-wal') == 0
    again = run({'path': database, 'checkpoint': True})
    assert again.result['changed'] is False
    keeper.close()


def test_no_step_changes_nothing(run, database):
    result = run({'path': database})
    assert result.result['changed'] is False
    assert result.result['msg'] == 'no step asked for'


@pytest.mark.parametrize('args, message', [
    ({'purge': [{'table': 'messages', 'column': 'created_at', 'older_than_days': 0}]},
     "purge[0].older_than_days: expected a whole number of days >= 1, got 0"),
    ({'purge': [{'table': 'messages; DROP TABLE x', 'column': 'created_at', 'older_than_days': 3}]},
     "purge[0].table: expected an SQL identifier"),
    ({'purge': [{'table': 'nope', 'column': 'created_at', 'older_than_days': 3}]}, "purge: table nope does not exist"),
    ({'purge': [{'table': 'messages', 'column': 'nope', 'older_than_days': 3}]}, "purge: table messages has no column nope"),
    ({'indexes': [{'name': 'i', 'table': 'messages'}]}, "indexes[0].columns: expected one or more column names"),
    ({'indexes': [{'name': 'i', 'table': 'messages', 'columns': ['x'], 'unique': True}]}, "indexes[0]: unknown key(s) unique"),
    ({'indexes': [{'name': 'i', 'table': 'messages', 'columns': ['nope']}]}, "indexes: table messages has no column nope"),
    ({'busy_timeout': -1}, "busy_timeout: expected milliseconds >= 0"),
])
def test_bad_input_is_named(run, database, args, message):
    result = run(dict({'path': database}, **args))
    assert result.failed is True
    assert message in result.result['msg']
    assert len(_query(database, 'SELECT * FROM messages')) == 5


def test_a_missing_file_is_never_created(run, tmp_path):
    path = str(tmp_path / 'missing.db')
    result = run({'path': path, 'checkpoint': True})
    assert result.failed is True
    assert 'does not exist' in result.result['msg']
    assert not os.path.exists(path)


def test_a_file_that_is_not_a_database_fails(run, tmp_path):
    path = tmp_path / 'garbage.db'
    path.write_bytes(b'not a database at all' * 10)
    result = run({'path': str(path), 'optimize': True})
    assert result.failed is True
    assert result.result['msg'] == 'path: %s is not an SQLite 3 database' % path
