#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: audit_log
short_description: Analyse the runbook 004 dynamic-tools audit log in one streaming pass
version_added: "0.1.0"
description:
  - Reads a JSON-lines audit log (C(.pi/logs/dynamic-tools-audit.jsonl)) and, when asked, its rotated and
    gzipped archives, once, in binary, in large chunks, and returns every figure of runbook 004's daily and
    weekly procedures for a time window - errors (newest N, by message, hour and tool), critical and
    security entries, verification results and reasons, warnings, usage ranking of C(tool.run), tools with
    zero runs, run success rate, counts by action, creates and deletes, anomalies, execution-time average,
    maximum, distribution and slow tools.
  - Replaces the runbook's grep, jq and awk pipelines, which read the file a dozen times and stop at the first
    corrupted line (jq aborts, so every later figure silently covers only part of the log).
  - A line is valid when C(json.loads) of that line alone gives a JSON object. Blank lines are counted apart.
    Every other line (bad JSON, a value that is not an object, undecodable UTF-8, a truncated last line) is
    counted as corrupted with its line number; the module never fails on log content and never skips a line
    silently. CRLF line ends, non-ASCII text and a UTF-8 BOM are fine.
  - Memory stays flat however large the log is (counters and bounded lists only). On a host with several CPUs
    a large plain log is split at line boundaries and scanned by forked processes (see O(workers)).
  - Lines are parsed with C(orjson) when the host has it (Debian package C(python3-orjson); the
    C(agent_app) role installs it on dynamic-tools hosts), about 1.5 times faster; without it the
    standard library's C(json) parses them. The verdict on a line is the same either way - whatever C(orjson)
    refuses is judged again by C(json) (C(NaN), numbers out of double range, lone surrogate escapes). Only
    integers beyond 64 bits differ in value (C(orjson) reads them as floats), and a line nested 1,000 to 1,023
    levels deep, which C(json) refuses with a recursion error, is valid to C(orjson). RV(parser) tells which one
    ran.
  - Timestamps in the service's form C(YYYY-MM-DDTHH:MM:SS.mmmZ) are compared as strings (fixed width, UTC, so
    string order is time order). Other ISO 8601 forms (offsets, no fraction, naive = UTC) are parsed and
    normalised first. Entries whose timestamp cannot be parsed are reported in RV(undated) and left out of any
    time window. Hours and days are UTC.
  - The textual checks of the runbook are kept textual, applied to the valid entries of the window -
    RV(critical) holds the entries whose line matches C(grep 'verification.fail\|critical\|security'),
    RV(verification) those whose line contains C(verification). Everything else is judged on the parsed entry
    (C(success) is C(false), C(action) is C(tool.run), ...), so an entry written with a space after the colon
    of C(success) is still an error, which the runbook's C(grep '"success":false') would miss.
  - Read-only. Check mode runs the same analysis.
author: opskit maintainers (@opskit)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Read-only; the analysis is the same in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
options:
  path:
    description: The audit log (JSON lines). A missing file is not an error; RV(exists) is then C(false).
    type: path
    required: true
  window:
    description:
      - Time window of the figures. C(all) (no limit), C(last_24h) (runbook daily), C(last_7d) (runbook weekly)
        or C(custom) (O(since) and/or O(until)).
      - Corrupted lines, blank lines and C(usage.last_run_by_tool) always cover the whole file(s).
    type: str
    choices: [all, last_24h, last_7d, custom]
    default: all
  since:
    description: Start of a C(custom) window, inclusive (ISO 8601, for example C(2024-01-01) or C(2024-01-01T00:00:00Z)).
    type: str
  until:
    description: End of a C(custom) window, exclusive (ISO 8601).
    type: str
  now:
    description: The current time for C(last_24h) / C(last_7d) (ISO 8601). Default is the host's clock (UTC).
    type: str
  include_archives:
    description:
      - Also read the rotated and archived files next to O(path), oldest first, gzipped or not -
        C(<stem>-YYYYMMDD[-N].jsonl[.gz]) (runbook 004 and M(opskit.ops.jsonl_archive)),
        C(<name>.N[.gz]) and C(<name>-YYYYMMDD[.gz]) (logrotate). Quarantine and temporary files never.
    type: bool
    default: false
  tools_dir:
    description:
      - Tool definitions directory (C(.pi/tools)). When set, C(usage.tools_without_runs) lists the defined tools
        with no C(tool.run) in the window and RV(tools) counts the definitions.
    type: path
  newest_errors:
    description: How many of the newest failed entries to return (the runbook's C(tail -50)).
    type: int
    default: 50
  newest_critical:
    description: How many of the newest critical/security entries to return (the runbook's C(tail -20)).
    type: int
    default: 20
  newest_verification:
    description: How many of the newest verification entries to return.
    type: int
    default: 50
  newest_warnings:
    description: How many of the newest entries with C(details.warning) to return.
    type: int
    default: 50
  top:
    description: Length of the ranking lists (usage ranking, errors by message and by tool, reasons, warnings).
    type: int
    default: 20
  max_creates_per_day:
    description: Anomaly when more tools than this are created on one day (runbook 004 weekly 2.3).
    type: int
    default: 10
  max_failures_per_tool:
    description: Anomaly when one tool fails more often than this in the window (runbook 004 weekly 2.3).
    type: int
    default: 5
  slow_tool_seconds:
    description: A tool whose average C(tool.run) execution time is above this many seconds is slow.
    type: float
    default: 5
  corrupted_lines_max:
    description: Cap on the listed line numbers of corrupted and undated lines; the counts are always exact.
    type: int
    default: 1000
  max_distinct:
    description:
      - Cap on the distinct keys (tool names, messages, reasons) any counter holds, so that memory stays bounded
        on hostile input. Beyond it the rarest keys are folded into C((other)) and the counter is listed in
        RV(truncated_counters).
    type: int
    default: 10000
  json_parser:
    description:
      - C(auto) parses with C(orjson) when the host has it, else with the standard library's C(json).
      - C(json) always uses the standard library (to compare, or to rule the parser out when debugging).
      - Either way the verdict on every line is the one of C(json.loads).
    type: str
    choices: [auto, json]
    default: auto
  workers:
    description:
      - Processes that scan a large plain log in parallel (each byte is still read once). C(0) picks
        automatically - one below 64 MB, else up to four, bounded by the CPUs available.
    type: int
    default: 0
requirements:
  - python >= 3.8 on the target
  - orjson (optional, faster; Debian C(python3-orjson))
notes:
  - The runbook's pipelines also match corrupted lines with grep; this module reports corrupted lines only in
    RV(corrupted), never as errors or critical entries.
seealso:
  - module: opskit.ops.jsonl_archive
  - module: opskit.ops.tool_registry
'''

EXAMPLES = r'''
- name: Daily error analysis of the last 24 hours (runbook 004 daily 2)
  opskit.ops.audit_log:
    path: /var/lib/dynamic-tools/.pi/logs/dynamic-tools-audit.jsonl
    tools_dir: /var/lib/dynamic-tools/.pi/tools
    window: last_24h
  register: __audit

- name: Weekly review including the archives
  opskit.ops.audit_log:
    path: /var/lib/dynamic-tools/.pi/logs/dynamic-tools-audit.jsonl
    window: last_7d
    include_archives: true
    max_failures_per_tool: 5
    slow_tool_seconds: 5

- name: One month
  opskit.ops.audit_log:
    path: /var/lib/dynamic-tools/.pi/logs/dynamic-tools-audit.jsonl
    window: custom
    since: "2024-01-01"
    until: "2024-02-01"
'''

RETURN = r'''
exists:
  description: Whether O(path) exists.
  returned: always
  type: bool
  sample: true
window:
  description: The window used (canonical UTC timestamps; null = open end).
  returned: always
  type: dict
  sample: {name: last_24h, since: "2024-01-14T10:30:00.000Z", until: null, now: "2024-01-15T10:30:00.000Z"}
files:
  description: The files read, oldest first, with size in bytes and line count.
  returned: always
  type: list
  elements: dict
  sample: [{path: /var/lib/dynamic-tools/.pi/logs/dynamic-tools-audit.jsonl, size: 1048576, compressed: false, lines: 3200}]
size:
  description: Size of O(path) in bytes (0 when missing).
  returned: always
  type: int
  sample: 1048576
lines:
  description: Lines read in all files.
  returned: always
  type: int
  sample: 3200
blank_lines:
  description: Empty or whitespace-only lines.
  returned: always
  type: int
  sample: 0
entries_total:
  description: Valid entries in all files, inside and outside the window.
  returned: always
  type: int
  sample: 3199
entries:
  description: Valid entries inside the window; every figure below counts these.
  returned: always
  type: int
  sample: 812
outside_window:
  description: Valid entries outside the window.
  returned: always
  type: int
  sample: 2387
undated:
  description: Valid entries whose timestamp cannot be parsed (count, line numbers in O(path)).
  returned: always
  type: dict
  sample: {count: 0, lines: []}
corrupted:
  description:
    - Lines that are not one JSON object. C(lines) are line numbers in O(path) (capped by O(corrupted_lines_max),
      C(lines_capped) says so), C(by_file) covers every file with corrupted lines or a read error.
  returned: always
  type: dict
  sample: {count: 1, lines: [117], lines_capped: false, last_line_truncated: false, last_line_unterminated: false, by_file: {}}
actions:
  description: Entries by action (runbook 004 weekly 2.1).
  returned: always
  type: dict
  sample: {tool.run: 790, tool.create: 12, tool.delete: 3, verification.pass: 5, verification.fail: 2}
creates:
  description: C(tool.create) entries.
  returned: always
  type: int
  sample: 12
deletes:
  description: C(tool.delete) entries.
  returned: always
  type: int
  sample: 3
changes:
  description: Tool names successfully created and deleted in the window (the weekly report's "主な変更").
  returned: always
  type: dict
  sample: {created: [csv_parser], deleted: [old_tool]}
entries_by_hour:
  description: Entries by UTC hour of the day (runbook 004 "1時間ごとの実行数").
  returned: always
  type: dict
  sample: {"09": 40, "10": 52}
entries_by_day:
  description: Entries by UTC day.
  returned: always
  type: dict
  sample: {"2024-01-15": 812}
runs:
  description: C(tool.run) entries - total, succeeded (C(success) true), failed (the rest), success rate in per cent
    (null without runs), by hour and by day.
  returned: always
  type: dict
  sample: {total: 790, success: 771, failed: 19, success_rate: 97.59, by_hour: {"10": 50}, by_day: {"2024-01-15": 790}}
usage:
  description:
    - C(ranking) - tools by C(tool.run) count (O(top) long); C(runs_by_tool) all of them; C(entries_by_tool) entries of any
      action by tool (what the runbook's per-tool C(grep -c) counts); C(tools_without_runs) defined tools with no run in
      the window (null without O(tools_dir)); C(last_run_by_tool) newest C(tool.run) timestamp of each tool in the whole
      file(s), whatever the window (input for M(opskit.ops.tool_registry)).
  returned: always
  type: dict
  sample: {ranking: [{tool: json_formatter, runs: 420}], tools_without_runs: [old_tool], last_run_by_tool: {json_formatter: "2024-01-15T10:29:58.120Z"}}
errors:
  description:
    - Entries with C(success) false. C(newest) (O(newest_errors), file order like C(tail)); C(by_message) (errorMessage,
      or the action when it is null); C(by_hour); C(by_day); C(by_tool).
  returned: always
  type: dict
  sample:
    count: 19
    newest:
      - {line: 3101, file: dynamic-tools-audit.jsonl, timestamp: "2024-01-15T10:02:11.412Z", action: tool.run,
         toolName: csv_parser, errorMessage: 実行タイムアウト}
    by_message: [{message: 実行タイムアウト, count: 7}]
    by_hour: {"10": 3}
    by_tool: [{tool: csv_parser, count: 7}]
critical:
  description: Entries matching the runbook's C(verification.fail|critical|security); count and the newest (raw line text).
  returned: always
  type: dict
  sample: {count: 2, newest: [{line: 88, timestamp: "2024-01-15T08:00:01.000Z", action: verification.fail, toolName: x, text: "{...}"}]}
verification:
  description: Entries whose line contains C(verification) - count, failures, by action, by C(details.reason), newest.
  returned: always
  type: dict
  sample: {count: 7, failures: 2, by_action: {verification.pass: 5, verification.fail: 2}, by_reason: [{reason: "security risk: eval", count: 2}]}
high_risk:
  description:
    - Entries with a C(details.warning) (the runbook's "高リスク操作の確認") - count, by warning, newest.
    - Not named C(warnings), which Ansible reserves.
  returned: always
  type: dict
  sample: {count: 1, by_warning: [{warning: network access requested, count: 1}]}
anomalies:
  description: Days with more than O(max_creates_per_day) creates; tools with more than O(max_failures_per_tool) failures.
  returned: always
  type: dict
  sample: {count: 1, creates_per_day: [], failures_per_tool: [{tool: csv_parser, failures: 7}]}
execution_time:
  description:
    - Over entries with C(details.executionTimeMs) (any action, as the runbook) - count, average and maximum in ms, the
      runbook's distribution buckets, runs of 30 s and more, invalid values; C(avg_ms_by_tool) and C(slow_tools) (average
      above O(slow_tool_seconds)) over C(tool.run) entries.
  returned: always
  type: dict
  sample:
    count: 790
    avg_ms: 412.5
    max_ms: 12040
    distribution: {"< 100ms": 200, "100-500ms": 450, "500ms-1s": 80, "1-5s": 55, "5-10s": 4, "> 10s": 1}
    over_30s: 0
    slow_tools: []
tools:
  description: Tool definitions in O(tools_dir) (count, corrupted files) when O(tools_dir) is set.
  returned: when O(tools_dir) is set
  type: dict
  sample: {dir: /var/lib/dynamic-tools/.pi/tools, count: 42, corrupted: []}
disk:
  description: Disk use - the log's filesystem (like C(df)), and C(du)-like bytes of the logs and tools directories.
  returned: always
  type: dict
  sample: {filesystem: {used_percent: 41.2}, logs_dir_bytes: 1052672, tools_dir_bytes: 180224}
truncated_counters:
  description: Counters that hit O(max_distinct) (their rarest keys are folded into C((other))).
  returned: always
  type: list
  elements: str
  sample: []
read_errors:
  description: Files that could not be read to the end (for example a damaged gzip archive), with the error.
  returned: always
  type: dict
  sample: {}
parser:
  description: The JSON parser used, C(orjson <version>) or C(json) (the standard library).
  returned: always
  type: str
  sample: orjson 3.10.7
workers:
  description: Processes used for the scan.
  returned: always
  type: int
  sample: 1
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.opskit.ops.plugins.module_utils._input_guard import bad_path_option
from ansible_collections.opskit.ops.plugins.module_utils import _audit_log
from ansible_collections.opskit.ops.plugins.module_utils import _tool_registry


def run_module(module):
    p = module.params
    path = p['path']
    tool_names = None
    tools = None
    if os.path.isdir(path):
        module.fail_json(msg='path %s is a directory, not the audit log file' % path)
    if p['tools_dir']:
        try:
            defs = _tool_registry.load_definitions(p['tools_dir'])
        except OSError as exc:
            module.fail_json(msg='cannot read tools_dir %s: %s' % (p['tools_dir'], exc.strerror or exc))
        tool_names = [d['name'] for d in defs['valid']]
        tools = {
            'dir': p['tools_dir'],
            'exists': defs['exists'],
            'count': defs['count'],
            'valid': len(defs['valid']),
            'corrupted': [{'file': c['file'], 'error': c['error']} for c in defs['corrupted']],
        }
    try:
        figures = _audit_log.analyze(
            path,
            window=p['window'], since=p['since'], until=p['until'], now=p['now'],
            include_archives=p['include_archives'], tool_names=tool_names, top=p['top'], workers=p['workers'],
            newest_errors=p['newest_errors'], newest_critical=p['newest_critical'],
            newest_verification=p['newest_verification'], newest_warnings=p['newest_warnings'],
            max_creates_per_day=p['max_creates_per_day'], max_failures_per_tool=p['max_failures_per_tool'],
            slow_ms=float(p['slow_tool_seconds']) * 1000.0, corrupted_lines_max=p['corrupted_lines_max'],
            max_distinct=p['max_distinct'], parser=p['json_parser'],
        )
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    except (OSError, RuntimeError) as exc:
        module.fail_json(msg='cannot read %s: %s' % (path, exc))
    read_errors = figures.get('read_errors') or {}
    if read_errors.get(path):
        # the live log itself could not be read (permission denied, I/O error): no figures to trust
        module.fail_json(msg='cannot read %s: %s' % (path, read_errors[path]))
    for archive, error in sorted(read_errors.items()):
        module.warn('archive %s read only in part: %s' % (archive, error))
    log_dir = os.path.dirname(path)
    figures['disk'] = {
        'filesystem': _audit_log.filesystem_usage(log_dir),
        'logs_dir_bytes': _audit_log.tree_usage(log_dir),
        'tools_dir_bytes': _audit_log.tree_usage(p['tools_dir']) if p['tools_dir'] else None,
    }
    if tools is not None:
        figures['tools'] = tools
    return figures


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            window=dict(type='str', default='all', choices=['all', 'last_24h', 'last_7d', 'custom']),
            since=dict(type='str'),
            until=dict(type='str'),
            now=dict(type='str'),
            include_archives=dict(type='bool', default=False),
            tools_dir=dict(type='path'),
            newest_errors=dict(type='int', default=50),
            newest_critical=dict(type='int', default=20),
            newest_verification=dict(type='int', default=50),
            newest_warnings=dict(type='int', default=50),
            top=dict(type='int', default=20),
            max_creates_per_day=dict(type='int', default=10),
            max_failures_per_tool=dict(type='int', default=5),
            slow_tool_seconds=dict(type='float', default=5.0),
            corrupted_lines_max=dict(type='int', default=1000),
            max_distinct=dict(type='int', default=10000),
            json_parser=dict(type='str', default='auto', choices=['auto', 'json']),
            workers=dict(type='int', default=0),
        ),
        required_if=[('window', 'custom', ('since', 'until'), True)],
        supports_check_mode=True,
    )
    for name in ('newest_errors', 'newest_critical', 'newest_verification', 'newest_warnings', 'corrupted_lines_max',
                 'workers'):
        if module.params[name] < 0:
            module.fail_json(msg='%s must not be negative' % name)
    if module.params['top'] < 1 or module.params['max_distinct'] < 2:
        module.fail_json(msg='top must be at least 1 and max_distinct at least 2')
    bad = bad_path_option(module.params, ['path', 'tools_dir'])
    if bad:
        module.fail_json(msg=bad)
    result = run_module(module)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
