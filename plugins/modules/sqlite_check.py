#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: sqlite_check
short_description: Check the health of an SQLite database without changing it
version_added: 0.1.0
description:
  - Checks an SQLite database file the way runbook 000 describes its session
    store; the file is an SQLite 3 database and is not truncated, C(PRAGMA quick_check)
    or C(PRAGMA integrity_check) reports V(ok), the journal mode is WAL, the
    required tables exist, the schema declares foreign keys and
    C(PRAGMA foreign_key_check) finds no violation, and the database and its
    C(-wal) file are within optional size limits.
  - A corrupt file (random bytes, a truncated file, a damaged page) gives a
    failed check with SQLite's message, never a traceback.
  - The database is opened read-only and nothing next to it is created. A WAL
    database whose C(-wal)/C(-shm) files are absent is read with C(immutable=1)
    (C(mode=ro) alone would create them, owned by the user running the check,
    and could lock the service out); such a read takes no lock, so it is
    repeated when the service wrote the file meanwhile. A C(-wal) with content
    but no C(-shm) (after a crash) is inspected on a temporary copy.
  - C(foreign_keys=ON) is a setting of each connection, not stored in the file,
    so a new connection cannot see whether the service enables it; the module
    checks what the file does hold, the declared foreign keys and their violations.
  - Every check is returned as a row of RV(checks), the same row shape as
    M(opskit.ops.http_check), M(opskit.ops.metrics_check) and
    M(opskit.ops.capacity_check), so one summary table can be built.
author: opskit maintainers (@opskit)
attributes:
  check_mode:
    description: The checks only read, so check mode runs exactly the same checks.
    support: full
  diff_mode:
    description: Nothing is changed, so there is no diff.
    support: none
options:
  path:
    description:
      - Path of the database file, for example C(/var/lib/el-bot/data/el_sessions.db).
    type: path
    required: true
  integrity:
    description:
      - V(quick) runs C(PRAGMA quick_check), V(full) runs C(PRAGMA integrity_check)
        (also verifies indexes; slower), V(none) skips it.
    type: str
    choices: [quick, full, none]
    default: quick
  journal_mode:
    description:
      - Expected journal mode. Only WAL persists in the file, so V(delete) stands
        for any rollback journal mode (delete, truncate, persist). V(any) skips the check.
    type: str
    choices: [wal, delete, any]
    default: wal
  tables:
    description:
      - Tables that must exist. The default is the session store of runbook 000.
    type: list
    elements: str
    default: [sessions, messages, slots]
  foreign_keys:
    description:
      - Check that the schema declares foreign keys and that C(PRAGMA foreign_key_check)
        finds no row violating them.
    type: bool
    default: true
  foreign_key_tables:
    description:
      - Tables that must each declare a foreign key. When empty, at least one
        foreign key must be declared somewhere in the schema.
    type: list
    elements: str
    default: []
  max_size:
    description:
      - Largest acceptable size of the database file, in bytes or with a unit (V(500M), V(2G)).
    type: str
  max_wal_size:
    description:
      - Largest acceptable size of the C(-wal) file, in bytes or with a unit (V(64M)).
    type: str
  fail_on_error:
    description:
      - Fail the task when a check fails. With V(false) the results are returned
        and the task succeeds.
    type: bool
    default: true
notes:
  - Run it as a user that can read the database (usually root or the service user).
seealso:
  - module: opskit.ops.http_check
  - name: SQLite PRAGMA statements
    description: quick_check, integrity_check, foreign_key_check.
    link: https://www.sqlite.org/pragma.html
"""

EXAMPLES = r"""
- name: Check the EL bot's session store (runbook 000)
  opskit.ops.sqlite_check:
    path: /var/lib/el-bot/data/el_sessions.db
    max_size: 2G
    max_wal_size: 256M

- name: Full integrity check of a restored copy before it is put in place
  opskit.ops.sqlite_check:
    path: /var/backups/el-bot/el_sessions.backup.db
    integrity: full
    journal_mode: any
    foreign_key_tables: [messages, slots]

- name: Collect the results without failing, for a summary table
  opskit.ops.sqlite_check:
    path: /var/lib/el-bot/data/el_sessions.db
    fail_on_error: false
  register: __sqlite
"""

RETURN = r"""
checks:
  description:
    - One row per check, the same row shape in all opskit check modules.
  returned: always
  type: list
  elements: dict
  contains:
    check:
      description: >-
        V(sqlite file), V(sqlite quick_check) or V(sqlite integrity_check),
        V(sqlite journal_mode), V(sqlite tables), V(sqlite foreign keys),
        V(sqlite foreign_key_check), V(sqlite size), V(sqlite wal size).
      type: str
      sample: sqlite quick_check
    target:
      description: The database path.
      type: str
      sample: /var/lib/el-bot/data/el_sessions.db
    value:
      description: What was found (a size, a count, a mode, V(ok) or V(errors)).
      type: raw
      sample: ok
    threshold:
      description: What was expected.
      type: str
      sample: ok
    status:
      description: V(ok) or V(failed).
      type: str
      sample: ok
    message:
      description: Details, or SQLite's error messages.
      type: str
      sample: ok
  sample:
    - check: sqlite file
      target: /var/lib/el-bot/data/el_sessions.db
      value: 4096
      threshold: SQLite 3 database
      status: failed
      message: file is not a database (no SQLite 3 header; 4096 bytes)
summary:
  description: Number of rows by status.
  returned: always
  type: dict
  sample: {total: 8, passed: 8, failed: 0, warning: 0, no_data: 0}
database:
  description: What the inspection found.
  returned: always
  type: dict
  contains:
    path:
      description: The database path.
      type: str
    exists:
      description: Whether the file exists.
      type: bool
    size_bytes:
      description: Size of the database file.
      type: int
    wal_size_bytes:
      description: Size of the C(-wal) file (0 when absent).
      type: int
    journal_mode:
      description: V(wal) or V(delete) (rollback journal), from the file header.
      type: str
    tables:
      description: Tables of the schema.
      type: list
      elements: str
    missing_tables:
      description: Required tables that are absent.
      type: list
      elements: str
    foreign_keys:
      description: Declared foreign keys, C(table.column -> parent.column).
      type: list
      elements: str
    foreign_key_violations:
      description: Rows reported by C(PRAGMA foreign_key_check).
      type: list
      elements: str
    integrity:
      description: Lines reported by the integrity check (V(ok) when sound).
      type: list
      elements: str
    open_mode:
      description: How the file was read, V(ro), V(immutable) or V(snapshot) (a temporary copy).
      type: str
    reads:
      description:
        - Number of reads; an V(immutable) read is repeated (up to 3 times) when the
          service wrote the file meanwhile, since such a read takes no lock.
      type: int
  sample:
    path: /var/lib/el-bot/data/el_sessions.db
    exists: true
    size_bytes: 28672
    wal_size_bytes: 41232
    journal_mode: wal
    tables: [messages, sessions, slots]
    missing_tables: []
    foreign_keys: [messages.session_id -> sessions.id, slots.session_id -> sessions.id]
    foreign_key_violations: []
    integrity: [ok]
    open_mode: ro
    reads: 1
"""

from ansible.module_utils.basic import AnsibleModule

from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.common.text.formatters import human_to_bytes

from ansible_collections.opskit.ops.plugins.module_utils._input_guard import bad_path_option
from ansible_collections.opskit.ops.plugins.module_utils._check_rows import (
    failure_message,
    summarize,
)
from ansible_collections.opskit.ops.plugins.module_utils._sqlite_health import inspect


def argument_spec():
    return dict(
        path=dict(type='path', required=True),
        integrity=dict(type='str', default='quick', choices=['quick', 'full', 'none']),
        journal_mode=dict(type='str', default='wal', choices=['wal', 'delete', 'any']),
        tables=dict(type='list', elements='str', default=['sessions', 'messages', 'slots']),
        foreign_keys=dict(type='bool', default=True),
        foreign_key_tables=dict(type='list', elements='str', default=[], no_log=False),
        max_size=dict(type='str'),
        max_wal_size=dict(type='str'),
        fail_on_error=dict(type='bool', default=True),
    )


def size_option(module, name):
    value = module.params[name]
    if value is None:
        return None
    try:
        return human_to_bytes(value)
    except ValueError as exc:
        module.fail_json(msg='%s: %s' % (name, to_native(exc)))


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    bad = bad_path_option(module.params, ['path'])
    if bad:
        module.fail_json(msg=bad)
    params = module.params
    rows, info = inspect(
        params['path'],
        integrity_mode=params['integrity'],
        journal_mode=params['journal_mode'],
        tables=params['tables'],
        check_foreign_keys=params['foreign_keys'],
        foreign_key_tables=params['foreign_key_tables'],
        max_size=size_option(module, 'max_size'),
        max_wal_size=size_option(module, 'max_wal_size'),
    )
    summary = summarize(rows)
    outcome = dict(changed=False, checks=rows, summary=summary, database=info)
    failed = failure_message(rows, 'checks')
    if failed and params['fail_on_error']:
        module.fail_json(msg=failed, **outcome)
    outcome['msg'] = failed or 'all %d checks passed' % summary['total']
    module.exit_json(**outcome)


if __name__ == '__main__':
    main()
