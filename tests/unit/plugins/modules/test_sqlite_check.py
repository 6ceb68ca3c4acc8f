# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""opskit.ops.sqlite_check on real database files."""

from __future__ import absolute_import, division, print_function

import os
import sqlite3

import pytest


from ansible_collections.opskit.ops.plugins.modules import sqlite_check

from _module_harness import run_main


@pytest.fixture
def run(monkeypatch):
    def runner(args, check_mode=False):
        return run_main(monkeypatch, sqlite_check.main, args, check_mode=check_mode)
    return runner


@pytest.fixture
def database(tmp_path):
    path = str(tmp_path / 'el_sessions.db')
    connection = sqlite3.connect(path)
    connection.execute('PRAGMA journal_mode=WAL')
    connection.executescript("""
        CREATE TABLE sessions (id TEXT PRIMARY KEY, thread_id TEXT);
        CREATE TABLE messages (id INTEGER PRIMARY KEY, session_id TEXT REFERENCES sessions(id), body TEXT);
        CREATE TABLE slots (id INTEGER PRIMARY KEY, session_id TEXT REFERENCES sessions(id), name TEXT);
        INSERT INTO sessions VALUES ('s1', 't1');
        INSERT INTO messages (session_id, body) VALUES ('s1', 'hello');
    """)
    connection.commit()
    connection.close()
    return path


def test_sound_database_is_unchanged(run, database):
    before = os.listdir(os.path.dirname(database))
    result = run({'path': database, 'max_size': '1M', 'max_wal_size': '64M'})
    assert result.failed is False
    assert result.result['changed'] is False
    assert result.result['summary'] == {'total': 8, 'passed': 8, 'failed': 0, 'warning': 0, 'no_data': 0}
    assert result.result['database']['journal_mode'] == 'wal'
    assert result.result['msg'] == 'all 8 checks passed'
    rows = dict((row['check'], row) for row in result.result['checks'])
    assert rows['sqlite size']['threshold'] == '<= 1048576 bytes'
    assert os.listdir(os.path.dirname(database)) == before


def test_check_mode_runs_the_same_checks(run, database):
    normal = run({'path': database})
    checked = run({'path': database}, check_mode=True)
    assert checked.result['checks'] == normal.result['checks']
    assert checked.result['changed'] is False


def test_corrupt_file_fails_with_a_clear_message(run, tmp_path):
    path = tmp_path / 'el_sessions.db'
    path.write_bytes(b'this is not a database, it is a log line\n' * 100)
    result = run({'path': str(path)})
    assert result.failed is True
    assert result.result['msg'] == ('1 of 1 checks failed: sqlite file (%s): file is not a database '
                                    '(no SQLite 3 header; 4100 bytes)' % path)
    assert 'exception' not in result.result


def test_missing_table_and_non_wal(run, tmp_path):
    path = str(tmp_path / 'plain.db')
    connection = sqlite3.connect(path)
    connection.executescript('CREATE TABLE sessions (id TEXT PRIMARY KEY);'
                             'CREATE TABLE messages (id INTEGER, session_id TEXT REFERENCES sessions(id));')
    connection.close()
    result = run({'path': path, 'fail_on_error': False})
    assert result.failed is False
    failed = [row['check'] for row in result.result['checks'] if row['status'] == 'failed']
    assert failed == ['sqlite journal_mode', 'sqlite tables']
    assert result.result['database']['missing_tables'] == ['slots']
    assert result.result['msg'].startswith('2 of 8 checks failed: sqlite journal_mode (%s): ' % path)


def test_custom_tables_and_journal_mode(run, tmp_path):
    path = str(tmp_path / 'other.db')
    connection = sqlite3.connect(path)
    connection.executescript('CREATE TABLE jobs (id INTEGER PRIMARY KEY);')
    connection.close()
    result = run({'path': path, 'tables': ['jobs'], 'journal_mode': 'delete', 'foreign_keys': False,
                  'integrity': 'full'})
    assert result.failed is False
    assert [row['check'] for row in result.result['checks']] == [
        'sqlite file', 'sqlite integrity_check', 'sqlite journal_mode', 'sqlite tables', 'sqlite size',
        'sqlite wal size']


def test_bad_size_option(run, database):
    result = run({'path': database, 'max_size': 'lots'})
    assert result.failed is True
    assert result.result['msg'].startswith('max_size: ')
