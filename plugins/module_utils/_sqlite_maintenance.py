# -*- coding: utf-8 -*-
# Copyright (c) 2026, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Scheduled maintenance of an SQLite store (``opskit.ops.sqlite_maintenance``).

Steps, in this order (each only when asked for):

1. ``purge``: delete rows older than N days (runbook 003: messages older than
   30 days), compared with ``julianday()`` so that ``2026-01-01 10:00:00.0``,
   ``2026-01-01T10:00:00Z`` and the like all compare as times; a value SQLite
   cannot read as a time is never deleted.
2. ``indexes``: create the indexes that are missing (runbook 003); an index of
   that name on other columns is an error, never silently replaced.
3. ``analyze``: ``ANALYZE``.
4. ``optimize``: ``PRAGMA optimize`` over every table (mask 0x10002).
5. ``vacuum``: ``VACUUM``, only when the file has free pages.
6. ``checkpoint``: ``PRAGMA wal_checkpoint(TRUNCATE)``, last, so that the
   WAL the other steps wrote is folded back and truncated.

Every step says what it changed: a purge the rows it deleted, an index that it
was created, ANALYZE and optimize whether ``sqlite_stat1`` changed, VACUUM
the pages it freed, the checkpoint the WAL bytes it truncated. In check mode
the database is opened read-only (the same way ``opskit.ops.sqlite_check``
opens it, creating no file next to it) and each step reports what it would do.

The file must already be an SQLite database: it is opened with ``mode=rw``,
so a wrong path is an error instead of a new empty database.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import sqlite3

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.opskit.ops.plugins.module_utils._sqlite_health import (
    Inspector,
    read_header,
)

IDENTIFIER = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
# PRAGMA optimize: 0x00002 run ANALYZE where it helps, 0x10000 look at every
# table (not only those this connection used); 0x00001 only lists the work.
OPTIMIZE_MASK = 0x10002
OPTIMIZE_DEBUG = 0x00001


class MaintenanceError(ValueError):
    """Bad input or a database the steps cannot work on; the message names it."""


def _quote(name):
    return '"%s"' % name.replace('"', '""')


def _identifier(where, value):
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise MaintenanceError('%s: expected an SQL identifier (letters, digits, _), got %r' % (where, value))
    return value


def normalize_indexes(indexes):
    """[{name, table, columns}] with columns a list (a comma-separated string is accepted)."""
    result = []
    for position, index in enumerate(indexes or []):
        where = 'indexes[%d]' % position
        if not isinstance(index, dict):
            raise MaintenanceError('%s: expected a dict with name, table and columns, got %r' % (where, index))
        unknown = sorted(set(index) - set(['name', 'table', 'columns']))
        if unknown:
            raise MaintenanceError('%s: unknown key(s) %s (known: columns, name, table)' % (where, ', '.join(unknown)))
        columns = index.get('columns')
        if isinstance(columns, str):
            columns = [c.strip() for c in columns.split(',')]
        if not columns:
            raise MaintenanceError('%s.columns: expected one or more column names' % where)
        result.append({
            'name': _identifier(where + '.name', index.get('name')),
            'table': _identifier(where + '.table', index.get('table')),
            'columns': [_identifier(where + '.columns', c) for c in columns],
        })
    return result


def normalize_purge(purge):
    """[{table, column, older_than_days}] checked."""
    result = []
    for position, rule in enumerate(purge or []):
        where = 'purge[%d]' % position
        if not isinstance(rule, dict):
            raise MaintenanceError('%s: expected a dict with table, column and older_than_days, got %r' % (where, rule))
        unknown = sorted(set(rule) - set(['table', 'column', 'older_than_days']))
        if unknown:
            raise MaintenanceError('%s: unknown key(s) %s (known: column, older_than_days, table)'
                                   % (where, ', '.join(unknown)))
        days = rule.get('older_than_days')
        try:
            days = int(days)
        except (TypeError, ValueError):
            days = 0
        if days < 1:
            raise MaintenanceError('%s.older_than_days: expected a whole number of days >= 1, got %r'
                                   % (where, rule.get('older_than_days')))
        result.append({
            'table': _identifier(where + '.table', rule.get('table')),
            'column': _identifier(where + '.column', rule.get('column')),
            'older_than_days': days,
        })
    return result


def _tables(connection):
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return set(row[0] for row in rows)


def _columns(connection, table):
    return [row[1] for row in connection.execute('PRAGMA table_info(%s)' % _quote(table)).fetchall()]


def _existing_index(connection, name):
    """(table, [columns]) of the index called ``name``, or None."""
    row = connection.execute("SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND name = ?",
                             (name,)).fetchone()
    if row is None:
        return None
    columns = [r[2] for r in connection.execute('PRAGMA index_info(%s)' % _quote(name)).fetchall()]
    return row[0], columns


def _stat1(connection):
    if 'sqlite_stat1' not in _tables(connection):
        return None
    return sorted(tuple(str(v) for v in row)
                  for row in connection.execute('SELECT tbl, idx, stat FROM sqlite_stat1').fetchall())


def _size(path):
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _open(path, check_mode, busy_timeout_ms):
    if not os.path.isfile(path):
        raise MaintenanceError('path: %s does not exist (or is not a file); the store is never created here' % path)
    header = read_header(path)
    if not header.valid:
        raise MaintenanceError('path: %s is not an SQLite 3 database' % path)
    inspector = None
    if check_mode:
        inspector = Inspector(path)
        connection = inspector.open(header.wal)
    else:
        uri = 'file:%s?mode=rw' % os.path.abspath(path).replace('%', '%25').replace('?', '%3f').replace('#', '%23')
        connection = sqlite3.connect(uri, uri=True, timeout=busy_timeout_ms / 1000.0, isolation_level=None)
    connection.execute('PRAGMA busy_timeout = %d' % int(busy_timeout_ms))
    return connection, inspector, header


def maintain(path, purge=None, indexes=None, analyze=False, optimize=False, vacuum=False, checkpoint=False,
             busy_timeout_ms=5000, check_mode=False):
    """Run the asked-for steps on the database at ``path``.

    Returns a dict: changed, steps (one row per step: step, target, changed,
    detail), purged ({table: rows}), indexes ({created, present}), stat1_changed,
    vacuum ({free_pages, size_before, size_after}), checkpoint ({wal_before,
    wal_after, busy, frames}). Raises MaintenanceError on bad input or a file
    that is not an SQLite database.
    """
    purge = normalize_purge(purge)
    indexes = normalize_indexes(indexes)
    result = {'changed': False, 'steps': [], 'purged': {}, 'indexes': {'created': [], 'present': []},
              'stat1_changed': None, 'vacuum': None, 'checkpoint': None, 'optimize': []}

    def step(name, target, changed, detail):
        result['steps'].append({'step': name, 'target': target, 'changed': bool(changed), 'detail': detail})
        result['changed'] = result['changed'] or bool(changed)

    verb = 'would delete' if check_mode else 'deleted'
    try:
        connection, inspector, header = _open(path, check_mode, busy_timeout_ms)
    except sqlite3.Error as exc:
        raise MaintenanceError('path: cannot open %s: %s' % (path, to_native(exc)))
    try:
        tables = _tables(connection)

        # 1. Purge old rows.
        for rule in purge:
            if rule['table'] not in tables:
                raise MaintenanceError('purge: table %s does not exist in %s (tables: %s)'
                                       % (rule['table'], path, ', '.join(sorted(tables))))
            if rule['column'] not in _columns(connection, rule['table']):
                raise MaintenanceError('purge: table %s has no column %s' % (rule['table'], rule['column']))
            where = "julianday(%s) < julianday('now', '-%d days')" % (_quote(rule['column']), rule['older_than_days'])
            table = _quote(rule['table'])
            if check_mode:
                count = connection.execute('SELECT count(*) FROM %s WHERE %s' % (table, where)).fetchone()[0]
            else:
                count = connection.execute('DELETE FROM %s WHERE %s' % (table, where)).rowcount
            result['purged'][rule['table']] = result['purged'].get(rule['table'], 0) + count
            step('purge', rule['table'], count > 0, '%s %d row(s) of %s with %s older than %d days'
                 % (verb, count, rule['table'], rule['column'], rule['older_than_days']))

        # 2. Missing indexes.
        for index in indexes:
            if index['table'] not in tables:
                raise MaintenanceError('indexes: table %s of index %s does not exist in %s'
                                       % (index['table'], index['name'], path))
            missing = [c for c in index['columns'] if c not in _columns(connection, index['table'])]
            if missing:
                raise MaintenanceError('indexes: table %s has no column %s (index %s)'
                                       % (index['table'], ', '.join(missing), index['name']))
            existing = _existing_index(connection, index['name'])
            if existing is not None:
                if existing != (index['table'], index['columns']):
                    raise MaintenanceError(
                        'indexes: %s exists on %s(%s), not on %s(%s); drop or rename it by hand'
                        % (index['name'], existing[0], ', '.join(existing[1]), index['table'], ', '.join(index['columns'])))
                result['indexes']['present'].append(index['name'])
                step('index', index['name'], False, '%s on %s(%s) present' % (index['name'], index['table'],
                                                                              ', '.join(index['columns'])))
                continue
            if not check_mode:
                connection.execute('CREATE INDEX IF NOT EXISTS %s ON %s (%s)' % (
                    _quote(index['name']), _quote(index['table']), ', '.join(_quote(c) for c in index['columns'])))
            result['indexes']['created'].append(index['name'])
            step('index', index['name'], True, '%s %s on %s(%s)' % (
                'would create' if check_mode else 'created', index['name'], index['table'], ', '.join(index['columns'])))

        # 3./4. Planner statistics.
        before = _stat1(connection)
        if analyze:
            if not check_mode:
                connection.execute('ANALYZE')
            after = _stat1(connection)
            # ANALYZE rewrites the statistics; in check mode it counts as a change.
            changed = True if check_mode else after != before
            step('analyze', path, changed, ('would run ANALYZE' if check_mode else
                                            'ANALYZE: statistics %s' % ('changed' if changed else 'unchanged')))
            before = after
        if optimize:
            planned = [str(row[0]) for row in
                       connection.execute('PRAGMA optimize(%d)' % (OPTIMIZE_MASK | OPTIMIZE_DEBUG)).fetchall()]
            result['optimize'] = planned
            if check_mode:
                step('optimize', path, bool(planned), 'would run: %s' % ('; '.join(planned) or 'nothing'))
            else:
                connection.execute('PRAGMA optimize(%d)' % OPTIMIZE_MASK).fetchall()
                after = _stat1(connection)
                step('optimize', path, after != before, 'PRAGMA optimize: %s' % ('; '.join(planned) or 'nothing to do'))
        if analyze or optimize:
            result['stat1_changed'] = any(s['changed'] for s in result['steps'] if s['step'] in ('analyze', 'optimize'))

        # 5. VACUUM when there are free pages.
        if vacuum:
            free = connection.execute('PRAGMA freelist_count').fetchone()[0]
            size_before = _size(path)
            if free and not check_mode:
                connection.execute('VACUUM')
            size_after = size_before if check_mode else _size(path)
            result['vacuum'] = {'free_pages': free, 'size_before': size_before, 'size_after': size_after}
            step('vacuum', path, free > 0, '%s (%d free pages)' % (
                ('would run VACUUM' if check_mode else 'VACUUM: %d -> %d bytes' % (size_before, size_after))
                if free else 'no free pages, VACUUM not needed', free))

        # 6. Fold the WAL back and truncate it.
        if checkpoint:
            wal = path + '-wal'
            wal_before = _size(wal)
            busy, frames = 0, 0
            if not header.wal:
                step('checkpoint', path, False, 'not a WAL database, nothing to checkpoint')
            elif check_mode:
                step('checkpoint', path, wal_before > 0, 'would checkpoint and truncate %d WAL bytes' % wal_before
                     if wal_before else 'WAL empty')
            else:
                busy, frames, _done = connection.execute('PRAGMA wal_checkpoint(TRUNCATE)').fetchone()
                wal_after = _size(wal)
                if busy:
                    step('checkpoint', path, False, 'WAL checkpoint incomplete: a reader or writer kept it busy '
                         '(%d frames); it is retried at the next run' % frames)
                else:
                    step('checkpoint', path, wal_after < wal_before,
                         'WAL checkpointed, %d -> %d bytes' % (wal_before, wal_after))
            result['checkpoint'] = {'wal_before': wal_before, 'wal_after': _size(wal), 'busy': bool(busy),
                                    'frames': frames}
    except sqlite3.Error as exc:
        raise MaintenanceError('%s: %s' % (path, to_native(exc)))
    finally:
        connection.close()
        if inspector is not None:
            inspector.connection = None
            inspector.close()
    return result
