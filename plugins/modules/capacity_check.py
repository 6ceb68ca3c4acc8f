#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: capacity_check
short_description: Check process memory, host CPU and memory, and disk use against thresholds
version_added: 0.1.0
description:
  - Sums the resident memory (C(VmRSS) of C(/proc/<pid>/status)) of the processes
    of each entry of O(processes), found by systemd unit or by a command-line
    pattern, and compares it with a maximum (runbook 002, under 1.5 GB).
  - A unit's processes are those whose C(/proc/<pid>/cgroup) path contains the
    unit; this works with cgroup v2, cgroup v1 and hybrid hierarchies, and in
    containers, without C(systemctl). The cgroup's own memory counter is
    reported too when C(/sys/fs/cgroup) shows it.
  - Measures host CPU use from two samples of C(/proc/stat) O(cpu_interval)
    seconds apart and memory use from C(/proc/meminfo) (C(MemTotal - MemAvailable)),
    against runbook 003's capacity thresholds (CPU over 70 %, memory over 80 %).
  - Measures the use of the file systems of O(paths) (as C(df) shows it).
  - Linux only; reads C(/proc) and needs no Python library beyond the standard one.
  - Every check is returned as a row of RV(checks), the same row shape as
    M(opskit.ops.http_check), M(opskit.ops.metrics_check) and
    M(opskit.ops.sqlite_check), so one summary table can be built.
author: opskit maintainers (@opskit)
attributes:
  check_mode:
    description: The checks only read, so check mode runs exactly the same checks.
    support: full
  diff_mode:
    description: Nothing is changed, so there is no diff.
    support: none
options:
  processes:
    description:
      - Process groups whose memory is checked. A group without any running
        process is a failed check (the service is down).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name in the results; default the unit or the pattern.
        type: str
      unit:
        description: systemd unit, V(el-bot) or V(el-bot.service).
        type: str
      pattern:
        description:
          - Python regular expression searched in the command line
            (arguments joined by spaces), as C(pgrep -f) does. The check's own
            process and its parents are never counted.
        type: str
      max_memory:
        description: Largest acceptable RSS sum, in bytes or with a unit; default O(max_process_memory).
        type: str
  max_process_memory:
    description:
      - Largest acceptable RSS sum of a process group, in bytes or with a unit
        (V(1536M) = V(1.5G), runbook 002's "memory under 1.5 GB in normal operation").
    type: str
    default: 1536M
  host:
    description: Check the host's CPU and memory use.
    type: bool
    default: true
  cpu_max_percent:
    description: Largest acceptable CPU use in percent (runbook 003 scales out above 70 %).
    type: float
    default: 70
  memory_max_percent:
    description: Largest acceptable memory use in percent (runbook 003 scales out above 80 %).
    type: float
    default: 80
  cpu_interval:
    description:
      - Seconds between the two samples of C(/proc/stat). Runbook 003 speaks of
        CPU over 70 % for 5 minutes; a short sample is a snapshot.
    type: float
    default: 1
  host_severity:
    description:
      - Status of a host CPU or memory check over its limit. Runbook 003 names
        these as reasons to scale out, so the default V(warning) reports without
        failing the task; V(critical) fails it.
    type: str
    choices: [critical, warning]
    default: warning
  paths:
    description: Paths whose file system use is checked (data and log directories).
    type: list
    elements: path
    default: []
  disk_max_percent:
    description: Largest acceptable file system use of O(paths), in percent.
    type: float
    default: 90
  fail_on_error:
    description:
      - Fail the task when a check has status V(failed). With V(false) the
        results are returned and the task succeeds.
    type: bool
    default: true
notes:
  - In a container without LXCFS, C(/proc/stat) and C(/proc/meminfo) show the
    whole machine, so the host checks judge the machine, not the container's limits.
  - RSS counts memory shared between processes (for example uvicorn workers
    forked from one parent) once per process, as C(ps) and C(top) do.
seealso:
  - module: opskit.ops.http_check
"""

EXAMPLES = r"""
- name: Memory of the multi-agent service and host capacity (runbooks 002 and 003)
  opskit.ops.capacity_check:
    processes:
      - unit: multi-agent
    paths:
      - /var/lib/multi-agent
      - /var/log/multi-agent

- name: A process started by hand, by its command line
  opskit.ops.capacity_check:
    processes:
      - name: discord agent
        pattern: 'python3? main\.py'
        max_memory: 1.5G
    host: false

- name: Fail on host CPU or memory over runbook 003's thresholds, sampled over 5 seconds
  opskit.ops.capacity_check:
    cpu_interval: 5
    host_severity: critical
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
      description: V(memory <name>), V(host cpu), V(host memory) or V(disk <path>).
      type: str
      sample: memory multi-agent
    target:
      description: The unit, the pattern, the host or the path.
      type: str
      sample: multi-agent.service
    value:
      description: MiB for process memory, percent for CPU, memory and disks.
      type: float
      sample: 245.3
    threshold:
      description: What must hold.
      type: str
      sample: <= 1536 MiB
    status:
      description: V(ok), V(warning) or V(failed).
      type: str
      sample: ok
    message:
      description: Details.
      type: str
      sample: 3 processes, RSS 245.3 MiB (pids 412, 415, 416)
summary:
  description: Number of rows by status.
  returned: always
  type: dict
  sample: {total: 5, passed: 5, failed: 0, warning: 0, no_data: 0}
processes:
  description:
    - Per process group, the processes found, their memory and the limit.
    - C(cgroup_memory_bytes) is the cgroup's own counter (page cache included), null when not visible.
  returned: always
  type: list
  elements: dict
  sample:
    - name: multi-agent
      unit: multi-agent.service
      pattern: null
      pids: [412, 415, 416]
      rss_bytes: 257216512
      cgroup: /system.slice/multi-agent.service
      cgroup_memory_bytes: 301989888
      max_bytes: 1610612736
host:
  description: Host CPU and memory use; empty when O(host=false).
  returned: always
  type: dict
  sample: {cpu_percent: 12.5, memory_percent: 41.2, memory_total_bytes: 4110942208, memory_available_bytes: 2417303552}
disks:
  description: Per path, the file system use.
  returned: always
  type: list
  elements: dict
  sample:
    - path: /var/lib/multi-agent
      percent: 37.2
      used_bytes: 7990132736
      size_bytes: 21474836480
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.common.text.formatters import human_to_bytes

from ansible_collections.opskit.ops.plugins.module_utils._input_guard import bad_path_option
from ansible_collections.opskit.ops.plugins.module_utils import _capacity as capacity
from ansible_collections.opskit.ops.plugins.module_utils._check_rows import (
    STATUS_FAILED,
    failure_message,
    make_row,
    summarize,
)

PROCESS_SPEC = dict(
    name=dict(type='str'),
    unit=dict(type='str'),
    pattern=dict(type='str'),
    max_memory=dict(type='str'),
)


def argument_spec():
    return dict(
        processes=dict(type='list', elements='dict', default=[], options=PROCESS_SPEC,
                       mutually_exclusive=[('unit', 'pattern')], required_one_of=[('unit', 'pattern')]),
        max_process_memory=dict(type='str', default='1536M'),
        host=dict(type='bool', default=True),
        cpu_max_percent=dict(type='float', default=70),
        memory_max_percent=dict(type='float', default=80),
        cpu_interval=dict(type='float', default=1),
        host_severity=dict(type='str', default='warning', choices=['critical', 'warning']),
        paths=dict(type='list', elements='path', default=[]),
        disk_max_percent=dict(type='float', default=90),
        fail_on_error=dict(type='bool', default=True),
    )


def to_bytes_option(module, value, what):
    try:
        return human_to_bytes(value)
    except ValueError as exc:
        module.fail_json(msg='%s: %s' % (what, to_native(exc)))


class CapacityCheck(object):
    def __init__(self, module, proc_root=None, cgroup_root=None, sleep=None):
        self.module = module
        self.params = module.params
        self.proc_root = proc_root or capacity.PROC
        self.cgroup_root = cgroup_root or capacity.CGROUP
        self.sleep = sleep or time.sleep
        self.rows = []

    def check_processes(self):
        default_max = to_bytes_option(self.module, self.params['max_process_memory'], 'max_process_memory')
        exclude = capacity.ancestors(os.getpid(), self.proc_root) if self.proc_root == capacity.PROC else set()
        results = []
        for spec in self.params['processes']:
            limit = default_max
            if spec.get('max_memory'):
                limit = to_bytes_option(self.module, spec['max_memory'], 'max_memory of %s' % (
                    spec.get('name') or spec.get('unit') or spec.get('pattern')))
            try:
                result = capacity.process_memory(spec, self.proc_root, self.cgroup_root, exclude)
            except Exception as exc:  # re.error of a bad pattern, unreadable /proc
                self.module.fail_json(msg='processes %s: %s' % (spec, to_native(exc)))
            result['max_bytes'] = limit
            results.append(result)
            self.rows.append(capacity.process_row(result, limit))
        return results

    def check_host(self):
        if not self.params['host']:
            return {}
        severity = self.params['host_severity']
        host = {}
        try:
            first = capacity.sample_cpu(self.proc_root)
            self.sleep(self.params['cpu_interval'])
            second = capacity.sample_cpu(self.proc_root)
            cpu = capacity.cpu_percent(first, second)
        except (IOError, OSError, ValueError) as exc:
            cpu = None
            self.rows.append(make_row('host cpu', 'host', None, capacity.percent_threshold(self.params['cpu_max_percent']),
                                      STATUS_FAILED, 'cannot read /proc/stat: %s' % to_native(exc)))
        else:
            host['cpu_percent'] = None if cpu is None else round(cpu, 2)
            if cpu is None:
                self.rows.append(make_row('host cpu', 'host', None, capacity.percent_threshold(self.params['cpu_max_percent']),
                                          'no_data', 'no CPU time passed between the samples'))
            else:
                self.rows.append(capacity.percent_row('host cpu', 'host', cpu, self.params['cpu_max_percent'],
                                                      severity, 'CPU use', ' over %s s' % self.params['cpu_interval']))
        try:
            meminfo = capacity.parse_meminfo(capacity.read_file(os.path.join(self.proc_root, 'meminfo')))
            memory = capacity.memory_percent(meminfo)
        except (IOError, OSError, ValueError) as exc:
            self.rows.append(make_row('host memory', 'host', None, capacity.percent_threshold(self.params['memory_max_percent']),
                                      STATUS_FAILED, 'cannot read /proc/meminfo: %s' % to_native(exc)))
        else:
            host['memory_percent'] = round(memory, 2)
            host['memory_total_bytes'] = meminfo.get('MemTotal')
            host['memory_available_bytes'] = meminfo.get('MemAvailable')
            self.rows.append(capacity.percent_row('host memory', 'host', memory, self.params['memory_max_percent'],
                                                  severity, 'memory use'))
        return host

    def check_disks(self):
        disks = []
        limit = self.params['disk_max_percent']
        for path in self.params['paths']:
            try:
                percent, used, size = capacity.disk_usage(path)
            except OSError as exc:
                self.rows.append(make_row('disk %s' % path, path, None, capacity.percent_threshold(limit), STATUS_FAILED,
                                          'cannot stat %s: %s' % (path, to_native(exc.strerror or exc))))
                disks.append(dict(path=path, percent=None, used_bytes=None, size_bytes=None))
                continue
            disks.append(dict(path=path, percent=round(percent, 2), used_bytes=used, size_bytes=size))
            self.rows.append(capacity.percent_row('disk %s' % path, path, percent, limit, 'critical',
                                                  'file system use'))
        return disks

    def run(self):
        processes = self.check_processes()
        host = self.check_host()
        disks = self.check_disks()
        return dict(processes=processes, host=host, disks=disks)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    bad = bad_path_option(module.params, ['paths'])
    if bad:
        module.fail_json(msg=bad)
    if module.params['cpu_interval'] < 0:
        module.fail_json(msg='cpu_interval must be >= 0')
    check = CapacityCheck(module)
    details = check.run()
    rows = check.rows
    summary = summarize(rows)
    outcome = dict(changed=False, checks=rows, summary=summary, **details)
    failed = failure_message(rows, 'checks')
    if failed and module.params['fail_on_error']:
        module.fail_json(msg=failed, **outcome)
    outcome['msg'] = failed or '%d checks: %d ok, %d warning' % (summary['total'], summary['passed'], summary['warning'])
    module.exit_json(**outcome)


if __name__ == '__main__':
    main()
