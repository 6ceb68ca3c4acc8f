#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: tool_registry
short_description: Check, repair, back up and prune runbook 004 dynamic tool definitions
version_added: "0.1.0"
description:
  - Works on the tool definitions of runbook 004 (C(.pi/tools/*.json)). A definition is corrupted when it is not
    a JSON object with a string C(name) (the reference service then leaves the tool out of its list).
  - C(action=scan) (read-only) counts the definitions, lists the corrupted ones with the newest backup each could
    be restored from, the dated backups, and the deletion candidates by the runbook's criteria ("ツールの削除基準") -
    unused for O(unused_days) days (C(unused)), safety score below O(min_safety_score) (C(low_safety)), an older
    definition of a name that has a newer one (C(superseded)).
  - C(action=repair) moves every corrupted definition to O(quarantine_dir) (never deleting it) and restores it from
    the newest backup that parses - C(<backup_dir>/YYYYMMDD/<file>) or C(<tools_dir>/<file>.bak). The restored
    file replaces the broken one atomically, with the broken file's owner and mode. Definitions with no usable
    backup are reported in RV(unrestorable) (and quarantined unless O(quarantine_unrestorable=false)).
  - C(action=backup) copies every valid definition into C(<backup_dir>/YYYYMMDD/) (verified copies; corrupted
    files are skipped so they can never become the "newest backup") and removes dated backups older than
    O(retention_days), always keeping the newest one.
  - C(action=delete) deletes the candidates having one of O(delete_reasons) - only with O(confirm_delete=true),
    and each only after a verified copy in today's backup directory. Without confirmation it reports
    RV(would_delete) and changes nothing.
  - Changes are made under the service's lock (O(lock_file), flock) when that file exists, and are recorded in
    the audit log (actions C(tool.restore), C(tool.quarantine), C(tool.delete), actor
    C(opskit.ops.tool_registry)) when O(audit_log) is set and O(record_audit) is true.
author: opskit maintainers (@opskit)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reports what would be restored, quarantined, copied or deleted without changing anything.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Before/after of each restored or deleted definition, the file list of the backup.
options:
  tools_dir:
    description: The tool definitions directory (C(.pi/tools)).
    type: path
    required: true
  action:
    description: What to do (see the description).
    type: str
    choices: [scan, repair, backup, delete]
    default: scan
  backup_dir:
    description: Where dated backups live (runbook 004 - C(.pi/tools/backup/YYYYMMDD/)). Default C(<tools_dir>/backup).
    type: path
  quarantine_dir:
    description: Where corrupted definitions are moved. Default C(<tools_dir>/../quarantine/tools).
    type: path
  lock_file:
    description:
      - The service's lock file, held (flock, exclusive) while definitions change. Default C(<tools_dir>/../.tools.lock)
        (the reference service's). Used only when it exists, never created. An empty string disables locking.
    type: path
  audit_log:
    description:
      - The audit log. Read (whole file and its archives, one pass) for the last C(tool.run) of each tool when
        O(last_used) is not given; appended to when O(record_audit) is true.
    type: path
  record_audit:
    description: Append an audit entry for every restore, quarantine and delete to O(audit_log).
    type: bool
    default: true
  last_used:
    description:
      - Last C(tool.run) timestamp of each tool name, for example RV(opskit.ops.audit_log#module:usage.last_run_by_tool)
        of a previous task. The newer of this and the definition's own C(lastUsedAt) counts; a tool never run counts
        from its C(createdAt).
    type: dict
  unused_days:
    description: A tool unused for this many days is a candidate (C(unused)).
    type: int
    default: 30
  min_safety_score:
    description: A tool with a safety score below this is a candidate (C(low_safety)).
    type: float
    default: 0.3
  score_key:
    description: Key of the safety score in a definition (dotted for nested keys).
    type: str
    default: safetyScore
  delete_reasons:
    description:
      - Which candidates C(action=delete) removes. The runbook recommends deleting C(unused) and C(superseded)
        tools and only considering C(low_safety) ones, hence the default.
    type: list
    elements: str
    choices: [unused, low_safety, superseded]
    default: [unused, superseded]
  confirm_delete:
    description: Required to delete anything with C(action=delete).
    type: bool
    default: false
  retention_days:
    description: Dated backups older than this are removed by C(action=backup) (the newest always stays).
    type: int
    default: 90
  quarantine_unrestorable:
    description: With C(action=repair), also move corrupted definitions that have no usable backup out of the way.
    type: bool
    default: true
  pattern:
    description: Regular expression for definition file names in O(tools_dir) (hidden files never count).
    type: str
    default: '.*\.json'
  now:
    description: The current time (ISO 8601), for tests. Default is the host's clock.
    type: str
seealso:
  - module: opskit.ops.audit_log
'''

EXAMPLES = r'''
- name: Find corrupted definitions and deletion candidates
  opskit.ops.tool_registry:
    tools_dir: /var/lib/dynamic-tools/.pi/tools
    audit_log: /var/lib/dynamic-tools/.pi/logs/dynamic-tools-audit.jsonl
  register: __tools

- name: Restore corrupted definitions from the newest backup (runbook 004 recovery scenario 1)
  opskit.ops.tool_registry:
    tools_dir: /var/lib/dynamic-tools/.pi/tools
    action: repair

- name: Daily backup of the definitions, 90 days kept
  opskit.ops.tool_registry:
    tools_dir: /var/lib/dynamic-tools/.pi/tools
    action: backup

- name: Delete tools unused for 30 days, using the last runs the audit_log task found
  opskit.ops.tool_registry:
    tools_dir: /var/lib/dynamic-tools/.pi/tools
    action: delete
    last_used: "{{ __audit.usage.last_run_by_tool }}"
    confirm_delete: true
'''

RETURN = r'''
exists:
  description: Whether O(tools_dir) exists. A missing directory is reported, not an error (nothing is changed then).
  returned: always
  type: bool
  sample: true
count:
  description: Definition files (valid and corrupted) before any change (the runbook's C(ls .pi/tools/*.json | wc -l)).
  returned: always
  type: int
  sample: 42
valid:
  description: Definitions that parse.
  returned: always
  type: int
  sample: 41
bytes:
  description: Total size of the definition files.
  returned: always
  type: int
  sample: 120400
tools:
  description: The valid definitions (file, name, id, safety_score, created_at, last_used_at).
  returned: always
  type: list
  elements: dict
  sample: [{file: dt_abc123def456.json, name: json_formatter, id: dt_abc123def456, safety_score: 0.9}]
corrupted:
  description: Corrupted definitions found by the scan, with the backup each can be restored from.
  returned: always
  type: list
  elements: dict
  sample:
    - file: dt_abc123.json
      error: "invalid JSON: Expecting value: line 1 column 1 (char 0)"
      restore_from: /var/lib/dynamic-tools/.pi/tools/backup/20240115/dt_abc123.json
      restorable: true
skipped:
  description:
    - Names that match O(pattern) but are not readable definition files, with the reason (a directory, a dangling
      symbolic link, permission denied, vanished while read). Reported and never changed (also as a warning).
    - RV(count) = RV(valid) + corrupted + skipped.
  returned: always
  type: list
  elements: dict
  sample: [{file: dt_old.json, reason: "symbolic link to a missing file or a non-file: /srv/tools/dt_old.json"}]
symlinks:
  description: Definitions that are symbolic links (followed, as the service does), with the file each points to.
  returned: always
  type: list
  elements: dict
  sample: [{file: dt_abc.json, target: /srv/shared-tools/dt_abc.json}]
candidates:
  description: Deletion candidates with their reasons (C(unused), C(low_safety), C(superseded)) and last use.
  returned: always
  type: list
  elements: dict
  sample: [{file: dt_old.json, name: old_tool, reasons: [unused], last_used: "2023-11-02T08:00:00.000Z", unused_days: 74}]
backups:
  description: Dated backup directories, newest first, with their number of definitions.
  returned: always
  type: list
  elements: dict
  sample: [{dir: /var/lib/dynamic-tools/.pi/tools/backup/20240115, date: "2024-01-15", files: 41}]
restored:
  description: Definitions restored (or, in check mode, that would be) and where from.
  returned: when action is repair
  type: list
  elements: dict
  sample:
    - file: dt_abc123.json
      restore_from: /var/lib/dynamic-tools/.pi/tools/backup/20240115/dt_abc123.json
      quarantined_to: /var/lib/dynamic-tools/.pi/quarantine/tools/dt_abc123.json.20240116T020000Z.corrupt
unrestorable:
  description: Corrupted definitions with no backup that parses (re-create them; the runbook's scenario 1 step 3).
  returned: when action is repair
  type: list
  elements: dict
  sample: []
quarantined:
  description: Files moved to the quarantine directory.
  returned: when action is repair
  type: list
  elements: str
  sample: [dt_abc123.json]
backup_path:
  description: Today's backup directory.
  returned: when action is backup or delete
  type: str
  sample: /var/lib/dynamic-tools/.pi/tools/backup/20240116
copied:
  description: Definitions copied into today's backup.
  returned: when action is backup
  type: list
  elements: str
  sample: [dt_abc123def456.json]
removed_backups:
  description: Dated backup directories removed by the retention.
  returned: when action is backup
  type: list
  elements: str
  sample: []
would_delete:
  description: Candidates C(action=delete) selects by O(delete_reasons).
  returned: when action is delete
  type: list
  elements: str
  sample: [dt_old.json]
deleted:
  description: Definitions deleted, with their backup copy.
  returned: when action is delete
  type: list
  elements: dict
  sample: [{file: dt_old.json, name: old_tool, reasons: [unused], backup: /var/lib/dynamic-tools/.pi/tools/backup/20240116/dt_old.json}]
last_used_source:
  description: Where the last runs came from - C(parameter), C(audit_log) or C(definitions) (lastUsedAt only).
  returned: always
  type: str
  sample: audit_log
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.opskit.ops.plugins.module_utils._input_guard import bad_path_option
from ansible_collections.opskit.ops.plugins.module_utils import _audit_log
from ansible_collections.opskit.ops.plugins.module_utils import _tool_registry


def main():
    module = AnsibleModule(
        argument_spec=dict(
            tools_dir=dict(type='path', required=True),
            action=dict(type='str', default='scan', choices=['scan', 'repair', 'backup', 'delete']),
            backup_dir=dict(type='path'),
            quarantine_dir=dict(type='path'),
            lock_file=dict(type='path'),
            audit_log=dict(type='path'),
            record_audit=dict(type='bool', default=True),
            last_used=dict(type='dict'),
            unused_days=dict(type='int', default=30),
            min_safety_score=dict(type='float', default=0.3),
            score_key=dict(type='str', default='safetyScore', no_log=False),
            delete_reasons=dict(type='list', elements='str', default=['unused', 'superseded'],
                                choices=['unused', 'low_safety', 'superseded']),
            confirm_delete=dict(type='bool', default=False),
            retention_days=dict(type='int', default=90),
            quarantine_unrestorable=dict(type='bool', default=True),
            pattern=dict(type='str', default=r'.*\.json'),
            now=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    bad = bad_path_option(module.params, ['tools_dir', 'backup_dir', 'quarantine_dir', 'lock_file', 'audit_log'])
    if bad:
        module.fail_json(msg=bad)
    p = module.params
    now = None
    if p['now']:
        now = _tool_registry.parse_time(p['now'])
        if now is None:
            module.fail_json(msg='now: not an ISO 8601 timestamp (years 1-9999 in UTC): %r' % p['now'])
    for name in ('unused_days', 'retention_days'):
        if p[name] < 0:
            module.fail_json(msg='%s must not be negative, got %d' % (name, p[name]))
    try:
        _tool_registry.compile_pattern(p['pattern'])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if os.path.lexists(p['tools_dir']) and not os.path.isdir(p['tools_dir']):
        module.fail_json(msg='tools_dir %s is not a directory' % p['tools_dir'])
    if not os.path.isdir(p['tools_dir']):
        # reported, not failed: the daily check turns it into a warning; nothing to repair, back up or delete
        if p['action'] != 'scan':
            module.warn('tools_dir %s does not exist: nothing to %s' % (p['tools_dir'], p['action']))
        module.exit_json(changed=False, exists=False, count=0, valid=0, bytes=0, tools=[], corrupted=[],
                         skipped=[], symlinks=[], candidates=[], backups=[], last_used_source='none')
    registry = _tool_registry.Registry(
        p['tools_dir'], backup_dir=p['backup_dir'], quarantine_dir=p['quarantine_dir'],
        lock_file=p['lock_file'], audit_log=p['audit_log'] if p['record_audit'] else None,
        pattern=p['pattern'], score_key=p['score_key'], now=now, check_mode=module.check_mode)

    last_used = p['last_used']
    source = 'parameter'
    if last_used is None:
        last_used = {}
        source = 'definitions'
        if p['audit_log'] and os.path.isfile(p['audit_log']):
            try:
                figures = _audit_log.analyze(p['audit_log'], include_archives=True, newest_errors=0,
                                             newest_critical=0, newest_verification=0, newest_warnings=0)
            except (OSError, RuntimeError, ValueError) as exc:
                module.fail_json(msg='cannot read audit_log %s: %s' % (p['audit_log'], exc))
            if figures.get('read_errors', {}).get(p['audit_log']):
                module.fail_json(msg='cannot read audit_log %s: %s' % (p['audit_log'],
                                                                       figures['read_errors'][p['audit_log']]))
            last_used = figures['usage']['last_run_by_tool']
            source = 'audit_log'
    elif not all(isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in last_used.items()):
        module.fail_json(msg='last_used: expected a mapping of tool name to ISO 8601 timestamp')
    try:
        result = registry.scan(last_used, p['unused_days'], p['min_safety_score'])
    except OSError as exc:
        module.fail_json(msg='cannot read tools_dir %s: %s' % (p['tools_dir'], exc.strerror or exc))
    if result['skipped']:
        module.warn('not definitions (left untouched): %s'
                    % ', '.join('%s (%s)' % (s['file'], s['reason']) for s in result['skipped']))
    result['last_used_source'] = source
    warnings = []
    try:
        if p['action'] == 'repair':
            result.update(registry.repair(p['quarantine_unrestorable']))
            if result['unrestorable']:
                warnings.append('no usable backup for: %s' % ', '.join(r['file'] for r in result['unrestorable']))
        elif p['action'] == 'backup':
            result.update(registry.backup(p['retention_days']))
            if result['skipped_corrupted']:
                warnings.append('corrupted definitions were not backed up: %s'
                                % ', '.join(r['file'] for r in result['skipped_corrupted']))
        elif p['action'] == 'delete':
            result.update(registry.delete(result['candidates'], p['delete_reasons'], p['confirm_delete']))
            if result['would_delete'] and not p['confirm_delete']:
                warnings.append('%d tool(s) would be deleted; set confirm_delete=true to delete them'
                                % len(result['would_delete']))
            if source == 'definitions' and 'unused' in p['delete_reasons']:
                warnings.append('no audit log and no last_used given: "unused" relies on the definitions\' '
                                'lastUsedAt/createdAt only')
    except (OSError, IOError) as exc:
        module.fail_json(msg='%s failed: %s' % (p['action'], exc), changed=registry.changed, **result)
    for warning in warnings:
        module.warn(warning)
    if module._diff and registry.diff:
        result['diff'] = registry.diff
    module.exit_json(changed=registry.changed, **result)


if __name__ == '__main__':
    main()
