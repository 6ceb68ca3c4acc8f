#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: sqlite_backup
short_description: Online backup of a live SQLite database, and verified restore
version_added: 0.1.0
description:
  - V(backup) copies a live SQLite database (WAL or rollback journal) with
    SQLite's online backup API, O(pages) pages per step with O(sleep) seconds
    between steps, never a file copy. The source connection pins one read
    snapshot for the whole copy, so in WAL mode the service keeps writing
    while the backup runs, and the backup is never restarted by its commits.
  - The copy's write-back is started as it grows, so that one large flush at
    the end does not stall the service's commits; after the copy the WAL that
    grew meanwhile is checkpointed (C(PASSIVE), never blocking the writer).
  - The copy goes to a temporary file next to O(dest), is checked with
    C(PRAGMA integrity_check), counted (rows per table), hashed (SHA-256) and
    only then renamed to O(dest); a copy that fails its check is removed and
    the task fails. Runbook 000's way (stop the bot, C(cp) the file) is not
    needed.
  - V(restore) puts a backup in place of a database whose service is stopped.
    The backup is verified first (O(sha256), integrity check, O(tables)); only
    then is it copied beside O(dest), set to O(journal_mode), checked again,
    the current database and its C(-wal)/C(-shm) files moved to O(aside_dir),
    and the copy renamed to O(dest) with the old file's owner and mode.
author: opskit maintainers (@opskit)
attributes:
  check_mode:
    description: >-
      Reports what would be copied (source size and page count) and writes
      nothing; a restore in check mode verifies the backup file only.
    support: full
  diff_mode:
    description: Files are binary; there is no diff.
    support: none
options:
  direction:
    description: V(backup) the live O(src) to O(dest), or V(restore) the backup O(src) to O(dest).
    type: str
    choices: [backup, restore]
    default: backup
  src:
    description: The live database (backup) or the backup file (restore).
    type: path
    required: true
  dest:
    description: The backup file to create (backup) or the database to replace (restore).
    type: path
    required: true
  pages:
    description:
      - Pages copied per step of the backup API. V(0) or a negative number copies
        everything in one step.
    type: int
    default: 1024
  sleep:
    description: Seconds to pause between steps, so the source's writer keeps its share of the disk.
    type: float
    default: 0.005
  busy_timeout:
    description: Seconds to wait for a lock on the source before giving up.
    type: float
    default: 30
  force:
    description:
      - Replace an existing O(dest) when backing up. Without it an existing
        O(dest) leaves the task unchanged (backup sets are never overwritten).
    type: bool
    default: false
  sha256:
    description: Expected SHA-256 of the backup file (restore); a mismatch refuses the restore.
    type: str
  tables:
    description: Expected row counts per table (restore), for example from the backup manifest.
    type: dict
  journal_mode:
    description: Journal mode to give the restored database (restore).
    type: str
    default: wal
    choices: [wal, delete, truncate, persist]
  aside_dir:
    description:
      - Directory that receives the current database and its C(-wal)/C(-shm)
        files before the backup is put in place (restore), so that they can
        be put back. Without it they are replaced.
    type: path
notes:
  - Run the module on the host of the database as a user that may read it; a
    backup run as root gives any C(-wal)/C(-shm) file it creates back to the
    database file's owner.
seealso:
  - module: opskit.ops.backup_manifest
"""

EXAMPLES = r"""
- name: Back up the session store online while the bot keeps serving
  opskit.ops.sqlite_backup:
    src: /var/lib/el-bot/data/el_sessions.db
    dest: /var/backups/opskit/el-bot/20250115T103000Z/el-bot/el_sessions.db
  register: __backup_sqlite

- name: Restore it (the service is stopped), keeping the current database aside
  opskit.ops.sqlite_backup:
    direction: restore
    src: /var/backups/opskit/el-bot/20250115T103000Z/el-bot/el_sessions.db
    dest: /var/lib/el-bot/data/el_sessions.db
    sha256: "{{ item.sha256 }}"
    tables: "{{ item.counts }}"
    aside_dir: /var/lib/el-bot/data/.aside-20250116T080000Z
"""

RETURN = r"""
path:
  description: The backup file (backup) or the restored database (restore).
  returned: success
  type: str
  sample: /var/backups/opskit/el-bot/20250115T103000Z/el-bot/el_sessions.db
size:
  description: Size of the backup in bytes.
  returned: success and not check mode
  type: int
  sample: 1048576
sha256:
  description: SHA-256 of the backup file.
  returned: success and not check mode
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
tables:
  description: Row count of each table of the copy.
  returned: success and not check mode
  type: dict
  sample: {"messages": 1200, "sessions": 40, "slots": 310}
integrity:
  description: Result of C(PRAGMA integrity_check) on the copy (V(ok) when sound).
  returned: success and not check mode
  type: str
  sample: ok
foreign_key_violations:
  description: Rows reported by C(PRAGMA foreign_key_check) on the copy.
  returned: success and not check mode
  type: int
  sample: 0
duration:
  description: Seconds from the first step to the renamed, verified copy.
  returned: backup, success and not check mode
  type: float
  sample: 2.41
throughput_mb_s:
  description: Megabytes (10^6 bytes) copied per second by the backup API.
  returned: backup, success and not check mode
  type: float
  sample: 412.5
steps:
  description: Backup API steps taken.
  returned: backup, success and not check mode
  type: int
  sample: 257
restarts:
  description: Times the copy restarted because the source changed under it (0 with the pinned snapshot).
  returned: backup, success and not check mode
  type: int
  sample: 0
journal_mode:
  description: Journal mode of the source database.
  returned: backup, success and not check mode
  type: str
  sample: wal
sqlite_version:
  description: Version of the SQLite library that made the copy.
  returned: success
  type: str
  sample: 3.46.1
aside:
  description: Files moved aside by a restore, as C(from)/C(to) pairs.
  returned: restore
  type: list
  elements: dict
  sample: [{"from": /var/lib/el-bot/data/el_sessions.db, "to": /var/lib/el-bot/data/.aside/el_sessions.db}]
would:
  description: What the task would do (check mode).
  returned: check mode
  type: str
  sample: copy /var/lib/el-bot/data/el_sessions.db (40.0 MiB, 10240 pages) to /var/backups/...
"""

import os
import sqlite3

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.opskit.ops.plugins.module_utils._input_guard import bad_path_option
from ansible_collections.opskit.ops.plugins.module_utils._backup_common import human_size
from ansible_collections.opskit.ops.plugins.module_utils._backup_sqlite import (
    SqliteBackupError,
    online_backup,
    restore_file,
    verify_backup_file,
)


def _describe_source(path):
    size = os.path.getsize(path)
    conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    except sqlite3.Error:
        pages = None
    finally:
        conn.close()
    return size, pages


def run_backup(module):
    p = module.params
    src, dest = p["src"], p["dest"]
    if not os.path.isfile(src):
        module.fail_json(msg="source database %s does not exist" % src)
    if os.path.exists(dest) and not p["force"]:
        module.exit_json(changed=False, path=dest, msg="%s exists; a backup is never overwritten without force" % dest)
    if not os.access(src, os.R_OK):
        module.fail_json(msg="source database %s is not readable (permission denied)" % src)
    dest_dir = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(dest_dir) or not os.access(dest_dir, os.W_OK | os.X_OK):
        module.fail_json(msg="backup directory %s does not exist or is not writable" % dest_dir)
    if module.check_mode:
        try:
            size, pages = _describe_source(src)
        except (sqlite3.Error, OSError) as exc:
            module.fail_json(msg="cannot read source database %s: %s" % (src, exc))
        module.exit_json(changed=True, path=dest, sqlite_version=sqlite3.sqlite_version,
                         would="copy %s (%s, %s pages) to %s with the online backup API, %d pages a step"
                         % (src, human_size(size), pages, dest, p["pages"]))
    try:
        facts = online_backup(src, dest, pages=p["pages"], sleep=p["sleep"], busy_timeout=p["busy_timeout"])
    except SqliteBackupError as exc:
        module.fail_json(msg=str(exc))
    except (sqlite3.Error, OSError) as exc:
        module.fail_json(msg="backup of %s to %s failed: %s" % (src, dest, exc))
    module.exit_json(changed=True, **facts)


def run_restore(module):
    p = module.params
    if module.check_mode:
        try:
            facts = verify_backup_file(p["src"], p["sha256"], p["tables"])
        except SqliteBackupError as exc:
            module.fail_json(msg=str(exc))
        facts.update(path=p["dest"], aside=[], sqlite_version=sqlite3.sqlite_version,
                     would="replace %s with the verified backup %s" % (p["dest"], p["src"]))
        module.exit_json(changed=True, **facts)
    try:
        facts = restore_file(p["src"], p["dest"], expected_sha256=p["sha256"], expected_tables=p["tables"],
                             journal_mode=p["journal_mode"], aside_dir=p["aside_dir"])
    except SqliteBackupError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=True, sqlite_version=sqlite3.sqlite_version, **facts)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            direction=dict(type="str", choices=["backup", "restore"], default="backup"),
            src=dict(type="path", required=True),
            dest=dict(type="path", required=True),
            pages=dict(type="int", default=1024),
            sleep=dict(type="float", default=0.005),
            busy_timeout=dict(type="float", default=30),
            force=dict(type="bool", default=False),
            sha256=dict(type="str"),
            tables=dict(type="dict"),
            journal_mode=dict(type="str", default="wal", choices=["wal", "delete", "truncate", "persist"]),
            aside_dir=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    bad = bad_path_option(module.params, ['src', 'dest', 'aside_dir'])
    if bad:
        module.fail_json(msg=bad)
    if module.params["direction"] == "backup":
        run_backup(module)
    else:
        run_restore(module)


if __name__ == "__main__":
    main()
