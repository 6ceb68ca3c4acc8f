#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: jsonl_archive
short_description: Archive old entries of a live JSON-lines log into verified gzip files, and repair it
version_added: "0.1.0"
description:
  - Moves the entries of a live JSON-lines log (such as runbook 004's C(dynamic-tools-audit.jsonl)) whose C(timestamp)
    is before the cutoff - 00:00 UTC of the day O(days) days ago - into
    C(<archive_dir>/<stem>-YYYYMMDD.jsonl.gz) (the runbook's name; YYYYMMDD is the cutoff day, a C(-N) suffix is
    added rather than overwriting an archive), and removes them from the live log, safely.
  - The archive is written to a temporary file in the archive directory, fsynced, read back through gzip, and its
    line count and SHA-256 compared with what was written, before anything else happens. Only then is the live log
    rewritten - a temporary copy without the archived lines, fsynced, with the log's owner and mode, renamed over
    the log (atomic).
  - Lines the service appends while this runs are kept - the run works on a snapshot (the log up to its size at the
    start), copies everything appended after it into the new file before the rename, and for O(settle_seconds)
    after the rename appends whatever reached the old file too. See the notes for what the writer must do.
  - With O(repair=true), corrupted lines (anything that is not one JSON object) move to a quarantine file
    C(<quarantine_dir>/<stem>.quarantine-<UTC time>.txt), one per line as C(<line number>TAB<original bytes>), and
    blank lines are dropped; valid lines stay in order. Nothing is ever dropped - a corrupted line stays in the live
    log unless O(repair=true). Entries without a parseable timestamp are never archived.
  - Idempotent - when nothing is older than the cutoff (and, with O(repair=true), nothing is corrupted) nothing is
    written and C(changed) is false.
  - Archives (of this module's naming) older than O(retention_days) are removed, but only when a newer archive
    exists.
  - Any error while writing - a full disk (ENOSPC) included - fails the task cleanly - the temporary files are
    removed and the live log is left byte for byte as it was.
author: opskit maintainers (@opskit)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reads the log and reports what would be archived, kept and quarantined; writes nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
options:
  path:
    description: The live JSON-lines log (a missing file is not an error, nothing is done).
    type: path
    required: true
  days:
    description: Entries with a timestamp before 00:00 UTC of the day this many days ago are archived.
    type: int
    default: 30
  archive:
    description: Archive old entries. Set to C(false) together with O(repair=true) to only repair.
    type: bool
    default: true
  repair:
    description: Move corrupted lines to a quarantine file (with their line numbers) and drop blank lines.
    type: bool
    default: false
  archive_dir:
    description: Directory of the gzip archives. Default - the log's directory.
    type: path
  quarantine_dir:
    description: Directory of the quarantine files. Default - the log's directory.
    type: path
  retention_days:
    description: Archives older than this many days are removed when a newer archive exists (runbook 004 - one year).
    type: int
    default: 365
  lock_file:
    description:
      - A lock file the writer holds (flock, shared) around each open and write. When given, the final copy of
        appended lines and the rename happen under an exclusive lock on it, which makes the no-loss guarantee
        strict. Used only when it exists.
    type: path
  settle_seconds:
    description: How long the replaced file is watched for late appends after the rename.
    type: float
    default: 0.3
  now:
    description: The current time (ISO 8601), for tests. Default is the host's clock.
    type: str
notes:
  - The writer must open the log for every entry (C(O_APPEND)), write the whole line with one C(write()) and close
    it - as the reference service (C(examples/agent_app), C(appendlog.append_line)) does. A process that keeps the
    log open would go on writing into the replaced file after the rename; it must reopen when the inode changes.
  - Corrupted lines are judged exactly as by M(opskit.ops.audit_log). A last line without a newline is treated as
    being written and is left alone (reported in RV(unterminated_tail)).
seealso:
  - module: opskit.ops.audit_log
'''

EXAMPLES = r'''
- name: Archive audit entries older than 30 days (runbook 004 "ログのアーカイブ")
  opskit.ops.jsonl_archive:
    path: /var/lib/dynamic-tools/.pi/logs/dynamic-tools-audit.jsonl
    days: 30

- name: Archive and move corrupted lines to a quarantine file (runbook 004 recovery scenario 2)
  opskit.ops.jsonl_archive:
    path: /var/lib/dynamic-tools/.pi/logs/dynamic-tools-audit.jsonl
    repair: true

- name: Only repair
  opskit.ops.jsonl_archive:
    path: /var/lib/dynamic-tools/.pi/logs/dynamic-tools-audit.jsonl
    archive: false
    repair: true
'''

RETURN = r'''
cutoff:
  description: Entries with a timestamp before this are archived.
  returned: always
  type: str
  sample: "2023-12-16T00:00:00.000Z"
lines_before:
  description: Lines of the log at the start of the run (the snapshot), before any change.
  returned: always
  type: int
  sample: 120000
archived:
  description: Entries moved to the archive (or that would be, in check mode).
  returned: always
  type: int
  sample: 80000
kept:
  description: Lines of the snapshot kept in the live log. C(lines_before = archived + kept + quarantined + blank_removed).
  returned: always
  type: int
  sample: 40000
quarantined:
  description: Corrupted lines moved to the quarantine file.
  returned: always
  type: int
  sample: 0
blank_removed:
  description: Blank lines dropped by O(repair).
  returned: always
  type: int
  sample: 0
corrupted:
  description: Corrupted lines found in the snapshot (kept in place unless O(repair)).
  returned: always
  type: int
  sample: 0
undated:
  description: Entries kept because their timestamp cannot be parsed.
  returned: always
  type: int
  sample: 0
archive_path:
  description: The archive written (null when nothing was archived).
  returned: always
  type: str
  sample: /var/lib/dynamic-tools/.pi/logs/dynamic-tools-audit-20231216.jsonl.gz
sha256:
  description: SHA-256 of the archived lines (the uncompressed content of the archive), verified after writing.
  returned: always
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
archive_sha256:
  description: SHA-256 of the archive file itself.
  returned: always
  type: str
  sample: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
archive_bytes:
  description: Size of the archive file.
  returned: always
  type: int
  sample: 5242880
quarantine_path:
  description: The quarantine file written (null when none).
  returned: always
  type: str
  sample: /var/lib/dynamic-tools/.pi/logs/dynamic-tools-audit.quarantine-20240115T020000Z.txt
tail_bytes:
  description: Bytes appended by the writer during the run and carried into the new live log.
  returned: always
  type: int
  sample: 1840
late_bytes:
  description: Of those, bytes that reached the old file after the rename (picked up during O(settle_seconds)).
  returned: always
  type: int
  sample: 0
unterminated_tail:
  description: The snapshot ended inside a line (a write in progress, or a truncated last line); left untouched.
  returned: always
  type: bool
  sample: false
removed_archives:
  description: Archives removed by the retention.
  returned: always
  type: list
  elements: str
  sample: []
stale_temps_removed:
  description: Temporary files of an interrupted earlier run, removed.
  returned: always
  type: list
  elements: str
  sample: []
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.opskit.ops.plugins.module_utils._input_guard import bad_path_option
from ansible_collections.opskit.ops.plugins.module_utils import _jsonl_archive
from ansible_collections.opskit.ops.plugins.module_utils._tool_registry import parse_time


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            days=dict(type='int', default=30),
            archive=dict(type='bool', default=True),
            repair=dict(type='bool', default=False),
            archive_dir=dict(type='path'),
            quarantine_dir=dict(type='path'),
            retention_days=dict(type='int', default=365),
            lock_file=dict(type='path'),
            settle_seconds=dict(type='float', default=0.3),
            now=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    bad = bad_path_option(module.params, ['path', 'archive_dir', 'quarantine_dir', 'lock_file'])
    if bad:
        module.fail_json(msg=bad)
    p = module.params
    if p['days'] < 0 or p['retention_days'] < 1 or p['settle_seconds'] < 0:
        module.fail_json(msg='days must be >= 0, retention_days >= 1 and settle_seconds >= 0')
    now = None
    if p['now']:
        now = parse_time(p['now'])
        if now is None:
            module.fail_json(msg='now: not an ISO 8601 timestamp (years 1-9999 in UTC): %r' % p['now'])
    if os.path.isdir(p['path']):
        module.fail_json(msg='path %s is a directory, not a JSON-lines log' % p['path'])
    for name in ('archive_dir', 'quarantine_dir'):
        if p[name] and not os.path.isdir(p[name]):
            module.fail_json(msg='%s %s is not an existing directory' % (name, p[name]))
    archiver = _jsonl_archive.Archiver(
        p['path'], days=p['days'], now=now, archive_dir=p['archive_dir'], quarantine_dir=p['quarantine_dir'],
        archive=p['archive'], repair=p['repair'], retention_days=p['retention_days'], lock_file=p['lock_file'],
        settle_seconds=p['settle_seconds'], check_mode=module.check_mode)
    try:
        result = archiver.run()
    except (OSError, _jsonl_archive.ArchiveError) as exc:
        module.fail_json(msg='archive of %s failed: %s' % (p['path'], _jsonl_archive.describe_error(exc)),
                         changed=False)
    if result['corrupted'] and not p['repair']:
        module.warn('%d corrupted line(s) left in %s; run with repair=true to quarantine them'
                    % (result['corrupted'], p['path']))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
