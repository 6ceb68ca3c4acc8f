#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: sqlite_maintenance
short_description: Scheduled maintenance of an SQLite store (purge, indexes, ANALYZE, optimize, VACUUM, WAL checkpoint)
version_added: 0.2.0
description:
  - Runs the maintenance steps the runbooks schedule on a live SQLite session store, through Python's
    sqlite3 (no C(sqlite3) command line tool needed), with a busy timeout so that the service keeps
    working meanwhile.
  - "The steps run in this order, each only when asked for: O(purge) (runbook 003: delete messages older
    than 30 days), O(indexes) (runbook 003: create the missing indexes), O(analyze), O(optimize)
    (C(PRAGMA optimize) over every table), O(vacuum) (only when the file has free pages) and
    O(checkpoint) (C(PRAGMA wal_checkpoint(TRUNCATE)), last, so the WAL the other steps wrote is
    folded back and truncated; runbook 002's weekly optimization)."
  - Each step reports whether it changed anything, so a second run reports no change - rows deleted,
    indexes created, C(sqlite_stat1) rewritten, pages freed, WAL bytes truncated. The only exception is
    O(analyze) in check mode, which is always reported as a change.
  - The database must exist; it is opened with C(mode=rw), so a wrong path fails instead of creating an
    empty database. Run as root, SQLite gives the WAL files it creates the owner of the database file.
author: opskit maintainers (@opskit)
attributes:
  check_mode:
    description:
      - The database is opened read-only, the way M(opskit.ops.sqlite_check) opens it (no file is created
        next to it), and every step reports what it would do - rows it would delete, indexes it would
        create, the statements C(PRAGMA optimize) would run, free pages, WAL bytes.
    support: full
  diff_mode:
    description: Nothing is shown as a diff; RV(steps) lists what changed.
    support: none
options:
  path:
    description: Path of the database file, for example the service model's C(paths.database).
    type: path
    required: true
  purge:
    description:
      - Rows to delete. Each item has C(table), C(column) (a time, compared with C(julianday()), so that
        C(2026-01-01 10:00:00.000000) and C(2026-01-01T10:00:00Z) both work; a value SQLite cannot read as
        a time is never deleted) and C(older_than_days) (>= 1).
    type: list
    elements: dict
    default: []
  indexes:
    description:
      - Indexes that must exist. Each item has C(name), C(table) and C(columns) (a list, or a
        comma-separated string). A missing one is created; one of that name on other columns is an error.
    type: list
    elements: dict
    default: []
  analyze:
    description: Run C(ANALYZE).
    type: bool
    default: false
  optimize:
    description: Run C(PRAGMA optimize) over every table (mask C(0x10002)), SQLite's recommended periodic statistics refresh.
    type: bool
    default: false
  vacuum:
    description: Run C(VACUUM) when the file has free pages (it rewrites the file and holds an exclusive lock meanwhile).
    type: bool
    default: false
  checkpoint:
    description: Run C(PRAGMA wal_checkpoint(TRUNCATE)) at the end. A checkpoint kept busy by the service is reported, not failed.
    type: bool
    default: false
  busy_timeout:
    description: Milliseconds a step waits for the service's locks.
    type: int
    default: 5000
notes:
  - Run it as root or as the service user (the owner of the database file).
seealso:
  - module: opskit.ops.sqlite_check
  - module: opskit.ops.sqlite_backup
  - name: SQLite PRAGMA optimize and wal_checkpoint
    description: The statements this module runs.
    link: https://www.sqlite.org/pragma.html
"""

EXAMPLES = r"""
- name: Weekly - optimize the SQLite store and truncate its WAL (runbook 002)
  opskit.ops.sqlite_maintenance:
    path: /var/lib/el-bot/data/el_sessions.db
    optimize: true
    checkpoint: true

- name: Monthly - the indexes of runbook 003 and the 30-day message purge
  opskit.ops.sqlite_maintenance:
    path: "{{ opskit_model.by_name['semibot-runtime'].paths.database }}"
    indexes:
      - {name: idx_sessions_org_id, table: sessions, columns: [org_id]}
      - {name: idx_messages_session_id, table: messages, columns: [session_id]}
    purge:
      - {table: messages, column: created_at, older_than_days: 30}
    checkpoint: true
"""

RETURN = r"""
steps:
  description: One row per step that ran.
  returned: always
  type: list
  elements: dict
  contains:
    step:
      description: V(purge), V(index), V(analyze), V(optimize), V(vacuum) or V(checkpoint).
      type: str
    target:
      description: The table, index or database the step worked on.
      type: str
    changed:
      description: Whether the step changed (or in check mode would change) the database.
      type: bool
    detail:
      description: What it did.
      type: str
  sample:
    - {step: index, target: idx_messages_session_id, changed: true, detail: created idx_messages_session_id on messages(session_id)}
    - {step: checkpoint, target: /var/lib/el-bot/data/el_sessions.db, changed: true, detail: "WAL checkpointed, 41232 -> 0 bytes"}
purged:
  description: Rows deleted (in check mode, that would be deleted) per table.
  returned: always
  type: dict
  sample: {messages: 120}
indexes:
  description: Indexes created (or that would be) and those already present.
  returned: always
  type: dict
  sample: {created: [idx_messages_session_id], present: [idx_sessions_org_id]}
optimize:
  description: The statements C(PRAGMA optimize) runs (or would run); empty when O(optimize=false) or nothing is due.
  returned: always
  type: list
  elements: str
  sample: [ANALYZE "main"."messages"]
stat1_changed:
  description: Whether ANALYZE or optimize changed the planner statistics; null when neither ran.
  returned: always
  type: bool
vacuum:
  description: Free pages and file sizes around VACUUM; null when O(vacuum=false).
  returned: always
  type: dict
  sample: {free_pages: 12, size_before: 69632, size_after: 20480}
checkpoint:
  description: WAL size before and after, whether the checkpoint was kept busy, WAL frames; null when O(checkpoint=false).
  returned: always
  type: dict
  sample: {wal_before: 41232, wal_after: 0, busy: false, frames: 10}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.opskit.ops.plugins.module_utils._sqlite_maintenance import (
    MaintenanceError,
    maintain,
)


def argument_spec():
    return dict(
        path=dict(type='path', required=True),
        purge=dict(type='list', elements='dict', default=[]),
        indexes=dict(type='list', elements='dict', default=[]),
        analyze=dict(type='bool', default=False),
        optimize=dict(type='bool', default=False),
        vacuum=dict(type='bool', default=False),
        checkpoint=dict(type='bool', default=False),
        busy_timeout=dict(type='int', default=5000),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    if params['busy_timeout'] < 0:
        module.fail_json(msg='busy_timeout: expected milliseconds >= 0, got %d' % params['busy_timeout'])
    try:
        result = maintain(
            params['path'],
            purge=params['purge'],
            indexes=params['indexes'],
            analyze=params['analyze'],
            optimize=params['optimize'],
            vacuum=params['vacuum'],
            checkpoint=params['checkpoint'],
            busy_timeout_ms=params['busy_timeout'],
            check_mode=module.check_mode,
        )
    except MaintenanceError as exc:
        module.fail_json(msg=to_native(exc))
    result['msg'] = '; '.join(s['detail'] for s in result['steps']) or 'no step asked for'
    module.exit_json(**result)


if __name__ == '__main__':
    main()
