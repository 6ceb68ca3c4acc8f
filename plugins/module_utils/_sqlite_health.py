# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read-only health inspection of an SQLite database (``opskit.ops.sqlite_check``).

Reading must change nothing, and that takes care with WAL databases: a
connection opened with ``mode=ro`` to a WAL database whose ``-wal``/``-shm``
files do not exist (the service is stopped and the WAL was checkpointed)
creates them, owned by the user of the check (root), and leaves them behind,
which can lock the service's own user out of its database. So:

* ``-wal`` and ``-shm`` both exist: the service (or its last run) has them
  open; ``mode=ro`` reads through them and creates nothing.
* no ``-wal``, or an empty one without ``-shm``: the database file holds
  everything; it is read with ``immutable=1``, which takes no locks and
  creates no files.
* a non-empty ``-wal`` without ``-shm`` (a crash): the database and its WAL
  are copied to a temporary directory and the copy is inspected there.
* a rollback-journal database is opened with ``mode=ro``, which creates nothing.

The journal mode is read from the file header (bytes 18-19 are 2 for WAL),
which is what persists; ``foreign_keys=ON`` is a per-connection setting that
is not stored in the file, so the schema's declared foreign keys and
``PRAGMA foreign_key_check`` are checked instead.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import sqlite3
import struct
import tempfile
import time

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.opskit.ops.plugins.module_utils._check_rows import (
    STATUS_FAILED,
    STATUS_OK,
    make_row,
)

SQLITE_MAGIC = b'SQLite format 3\x00'
HEADER_SIZE = 100
MAX_MESSAGES = 5
DEFAULT_TABLES = ('sessions', 'messages', 'slots')


class Header(object):
    """The fields of the 100-byte database header that the checks use."""

    def __init__(self, raw):
        self.raw = raw
        self.valid = len(raw) >= HEADER_SIZE and raw[:16] == SQLITE_MAGIC
        if not self.valid:
            return
        page_size = struct.unpack('>H', raw[16:18])[0]
        self.page_size = 65536 if page_size == 1 else page_size
        self.write_version = raw[18]
        self.read_version = raw[19]
        self.change_counter = struct.unpack('>I', raw[24:28])[0]
        self.page_count = struct.unpack('>I', raw[28:32])[0]
        self.version_valid_for = struct.unpack('>I', raw[92:96])[0]

    @property
    def wal(self):
        return self.write_version == 2 and self.read_version == 2

    @property
    def expected_size(self):
        """Size in bytes the header promises, or None when the count is not reliable."""
        if self.page_count and self.version_valid_for == self.change_counter:
            return self.page_count * self.page_size
        return None


def read_header(path):
    with open(path, 'rb') as handle:
        return Header(handle.read(HEADER_SIZE))


def _file_size(path):
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _uri(path, **params):
    quoted = path.replace('%', '%25').replace('?', '%3f').replace('#', '%23')
    query = '&'.join('%s=%s' % item for item in sorted(params.items()))
    return 'file:%s?%s' % (quoted, query)


def _quote_identifier(name):
    return '"%s"' % name.replace('"', '""')


def _short(lines):
    lines = [line for line in lines if line]
    text = '; '.join(lines[:MAX_MESSAGES])
    if len(lines) > MAX_MESSAGES:
        text += '; ... (%d more)' % (len(lines) - MAX_MESSAGES)
    return text


class Inspector(object):
    """Opens a database without changing it; the caller closes it."""

    def __init__(self, path):
        self.path = path
        self.tempdir = None
        self.connection = None
        self.open_mode = None

    def open(self, wal_database=True):
        """Connect; ``wal_database``: the header says the file is in WAL mode."""
        wal = self.path + '-wal'
        shm = self.path + '-shm'
        wal_exists = os.path.exists(wal)
        wal_size = _file_size(wal) or 0
        shm_exists = os.path.exists(shm)
        if not wal_database and not wal_exists:
            # Rollback journal: mode=ro creates no file.
            self.open_mode = 'ro'
            uri = _uri(os.path.abspath(self.path), mode='ro')
        elif wal_exists and shm_exists:
            # The WAL is in use (or was left by the last run): read through it.
            self.open_mode = 'ro'
            uri = _uri(os.path.abspath(self.path), mode='ro')
        elif not wal_size:
            # Nothing in a WAL: the file is complete; read it without locks or new files.
            self.open_mode = 'immutable'
            uri = _uri(os.path.abspath(self.path), mode='ro', immutable=1)
        else:
            # A WAL with content but no -shm (a crash): inspect a copy.
            self.open_mode = 'snapshot'
            self.tempdir = tempfile.mkdtemp(prefix='opskit-sqlite-check-')
            copy = os.path.join(self.tempdir, 'snapshot.db')
            shutil.copyfile(self.path, copy)
            shutil.copyfile(wal, copy + '-wal')
            uri = _uri(copy)
        self.connection = sqlite3.connect(uri, uri=True, timeout=5)
        return self.connection

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None
        if self.tempdir:
            shutil.rmtree(self.tempdir, ignore_errors=True)
            self.tempdir = None


def list_tables(connection):
    rows = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()
    return [row[0] for row in rows]


def foreign_keys(connection, tables):
    """Declared foreign keys: ['messages.session_id -> sessions.id', ...]."""
    declared = []
    for table in tables:
        for row in connection.execute('PRAGMA foreign_key_list(%s)' % _quote_identifier(table)).fetchall():
            # id, seq, table, from, to, on_update, on_delete, match
            parent, child_column, parent_column = row[2], row[3], row[4]
            declared.append('%s.%s -> %s.%s' % (table, child_column, parent, parent_column or '(primary key)'))
    return declared


def foreign_key_violations(connection):
    rows = connection.execute('PRAGMA foreign_key_check').fetchall()
    return ['%s rowid %s -> %s' % (row[0], row[1], row[2]) for row in rows]


def integrity(connection, full):
    pragma = 'integrity_check' if full else 'quick_check'
    rows = connection.execute('PRAGMA %s(%d)' % (pragma, 100)).fetchall()
    lines = []
    for row in rows:
        lines.extend(str(row[0]).splitlines())
    return lines


def read_database(path, wal_database, integrity_mode, check_foreign_keys):
    """Everything the checks need from the database, read in one connection.

    Returns a dict: open_mode, error (the database cannot be read at all),
    tables, integrity (lines), foreign_keys and violations (lists, or the
    error text when that query failed).
    """
    data = dict(open_mode=None, error=None, tables=[], integrity=None, foreign_keys=[], violations=[])
    inspector = Inspector(path)
    try:
        try:
            connection = inspector.open(wal_database)
            data['open_mode'] = inspector.open_mode
            data['tables'] = list_tables(connection)
        except sqlite3.Error as exc:
            data['open_mode'] = inspector.open_mode
            data['error'] = to_native(exc)
            return data
        if integrity_mode != 'none':
            try:
                data['integrity'] = integrity(connection, integrity_mode == 'full')
            except sqlite3.Error as exc:
                data['integrity'] = [to_native(exc)]
        if check_foreign_keys:
            try:
                data['foreign_keys'] = foreign_keys(connection, data['tables'])
            except sqlite3.Error as exc:
                data['foreign_keys'] = to_native(exc)
            try:
                data['violations'] = foreign_key_violations(connection)
            except sqlite3.Error as exc:
                data['violations'] = to_native(exc)
    finally:
        inspector.close()
    return data


def _signature(path):
    """What changes when anyone writes the database: stat of the file and its -wal."""
    result = []
    for name in (path, path + '-wal', path + '-shm'):
        try:
            st = os.stat(name)
            result.append((st.st_ino, st.st_size, st.st_mtime_ns))
        except OSError:
            result.append(None)
    return tuple(result)


def read_consistently(path, wal_database, integrity_mode, check_foreign_keys, attempts=3, pause=0.2):
    """read_database, again when the file changed during an ``immutable`` read.

    ``immutable=1`` takes no lock: if the service opened the database and
    checkpointed while the check was reading, the pages read may not belong
    together and the checks would report corruption that is not there. A
    change of the files' size, mtime or inode during the read is detected and
    the read repeated (by then the -wal/-shm exist and the locked ``ro`` mode
    is used).
    """
    data = None
    for attempt in range(1, attempts + 1):
        before = _signature(path)
        data = read_database(path, wal_database, integrity_mode, check_foreign_keys)
        data['reads'] = attempt
        if data['open_mode'] != 'immutable' or _signature(path) == before:
            break
        time.sleep(pause)
    return data


def inspect(path, integrity_mode='quick', journal_mode='wal', tables=DEFAULT_TABLES,
            check_foreign_keys=True, foreign_key_tables=None, max_size=None, max_wal_size=None):
    """Return (rows, info) for the database at ``path``; never raises for a bad file."""
    rows = []
    info = dict(path=path, exists=False, size_bytes=None, wal_size_bytes=None, journal_mode=None,
                tables=[], missing_tables=[], foreign_keys=[], foreign_key_violations=[],
                integrity=[], open_mode=None, reads=0)

    def add(check, value, threshold, ok, message):
        rows.append(make_row(check, path, value, threshold, STATUS_OK if ok else STATUS_FAILED, message))

    # 1. The file: present, an SQLite 3 database, not truncated.
    size = _file_size(path)
    if size is None or not os.path.isfile(path):
        add('sqlite file', None, 'SQLite 3 database', False, 'database file %s does not exist' % path)
        return rows, info
    info['exists'] = True
    info['size_bytes'] = size
    wal_size = _file_size(path + '-wal') or 0
    info['wal_size_bytes'] = wal_size
    try:
        header = read_header(path)
    except (IOError, OSError) as exc:
        add('sqlite file', size, 'SQLite 3 database', False, 'cannot read %s: %s' % (path, to_native(exc)))
        return rows, info
    if size == 0:
        add('sqlite file', size, 'SQLite 3 database', False, 'file is empty (0 bytes), not a database')
        return rows, info
    if not header.valid:
        add('sqlite file', size, 'SQLite 3 database', False,
            'file is not a database (no SQLite 3 header; %d bytes)' % size)
        return rows, info
    expected = header.expected_size
    if expected is not None and size < expected:
        add('sqlite file', size, 'SQLite 3 database', False,
            'file is truncated: %d bytes, the header says %d pages of %d bytes (%d bytes)'
            % (size, header.page_count, header.page_size, expected))
        return rows, info
    info['journal_mode'] = 'wal' if header.wal else 'delete'

    data = read_consistently(path, header.wal, integrity_mode, check_foreign_keys)
    info['open_mode'] = data['open_mode']
    info['reads'] = data['reads']
    if data['error']:
        add('sqlite file', size, 'SQLite 3 database', False, 'cannot read the database: %s' % data['error'])
        return rows, info
    present = data['tables']
    info['tables'] = present
    add('sqlite file', size, 'SQLite 3 database', True,
        'SQLite 3 database, %d bytes, %d tables' % (size, len(present)))

    # 2. Integrity.
    if integrity_mode != 'none':
        name = 'sqlite integrity_check' if integrity_mode == 'full' else 'sqlite quick_check'
        lines = data['integrity']
        info['integrity'] = lines
        ok = lines == ['ok']
        add(name, 'ok' if ok else 'errors', 'ok', ok, 'ok' if ok else _short(lines))

    # 3. Journal mode (from the header: that is what persists).
    if journal_mode != 'any':
        mode = info['journal_mode']
        ok = (mode == 'wal') == (journal_mode == 'wal')
        shown = mode if mode == 'wal' else 'rollback journal (delete/truncate/persist)'
        add('sqlite journal_mode', mode, '== %s' % journal_mode, ok,
            'journal mode %s, expected %s' % (shown, journal_mode))

    # 4. Required tables.
    if tables:
        missing = [table for table in tables if table not in present]
        info['missing_tables'] = missing
        add('sqlite tables', len(tables) - len(missing), '%s present' % ', '.join(tables), not missing,
            'missing tables: %s' % ', '.join(missing) if missing else 'tables present: %s' % ', '.join(tables))

    # 5. Foreign keys: declared in the schema, and no violations.
    if check_foreign_keys:
        declared = data['foreign_keys']
        if isinstance(declared, list):
            info['foreign_keys'] = declared
            wanted = list(foreign_key_tables or [])
            if wanted:
                lacking = [t for t in wanted if not any(fk.startswith(t + '.') for fk in declared)]
                add('sqlite foreign keys', len(declared), 'declared on %s' % ', '.join(wanted), not lacking,
                    'no foreign key declared on %s' % ', '.join(lacking) if lacking
                    else 'declared: %s' % ', '.join(declared))
            else:
                add('sqlite foreign keys', len(declared), '>= 1 declared', bool(declared),
                    'declared: %s' % ', '.join(declared) if declared else 'the schema declares no foreign key')
        else:
            add('sqlite foreign keys', None, '>= 1 declared', False, 'cannot read the schema: %s' % declared)
        violations = data['violations']
        if isinstance(violations, list):
            info['foreign_key_violations'] = violations
            add('sqlite foreign_key_check', len(violations), '== 0', not violations,
                '%d rows violate a foreign key: %s' % (len(violations), _short(violations)) if violations
                else 'no foreign key violations')
        else:
            add('sqlite foreign_key_check', None, '== 0', False, 'foreign_key_check failed: %s' % violations)

    # 6. Sizes.
    add('sqlite size', size, '<= %d bytes' % max_size if max_size is not None else 'none',
        max_size is None or size <= max_size,
        'database %d bytes%s' % (size, '' if max_size is None else ', limit %d' % max_size))
    add('sqlite wal size', wal_size, '<= %d bytes' % max_wal_size if max_wal_size is not None else 'none',
        max_wal_size is None or wal_size <= max_wal_size,
        'WAL file %d bytes%s' % (wal_size, '' if max_wal_size is None else ', limit %d' % max_wal_size))
    return rows, info
