#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: pm2_info
short_description: Read pm2's process list (pm2 jlist) and judge whether named processes are online
version_added: 0.2.0
description:
  - Runs C(pm2 jlist) (with O(pm2_home) as C(PM2_HOME) when given) and returns every process pm2
    supervises with its status, pid, restarts, uptime, memory and CPU.
  - For each of O(names) (every process when empty) returns a check row, the row shape of
    M(opskit.ops.http_check) and the other opskit check modules; a process that is missing or not
    V(online) is a failed row. With O(fail_on_error) the task then fails.
  - Read-only; for a service supervised by pm2 this is what C(systemctl is-active) is for a systemd unit.
author: opskit maintainers (@opskit)
attributes:
  check_mode:
    description: Only reads, so it runs the same in check mode.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
options:
  names:
    description: Process names to judge; empty judges every process.
    type: list
    elements: str
    default: []
  pm2:
    description: The pm2 executable.
    type: path
    default: pm2
  pm2_home:
    description: pm2's home directory (C(PM2_HOME)) of the daemon to ask; default pm2's own (C(~/.pm2)).
    type: path
  fail_on_error:
    description: Fail the task when a row has status V(failed).
    type: bool
    default: false
requirements:
  - pm2 on the host (npm package C(pm2)), run as the user whose daemon supervises the processes.
"""

EXAMPLES = r"""
- name: Is semibot-runtime online under pm2?
  opskit.ops.pm2_info:
    names: [semibot-runtime]
    pm2_home: /var/lib/semibot-runtime/.pm2
    fail_on_error: true
  become: true
  become_user: semibot-runtime
"""

RETURN = r"""
processes:
  description: Every process of the pm2 daemon.
  returned: success
  type: list
  elements: dict
  sample:
    - {name: semibot-runtime, pm_id: 0, pid: 4242, status: online, restarts: 0, unstable_restarts: 0,
       uptime_seconds: 81.5, memory_bytes: 61865984, cpu_percent: 0.3, exec_mode: fork_mode}
checks:
  description: One row per judged name.
  returned: success
  type: list
  elements: dict
  sample:
    - {check: pm2 semibot-runtime, target: semibot-runtime, value: 1/1 online, threshold: online, status: ok,
       message: "semibot-runtime: online (pid 4242), 0 restart(s)"}
summary:
  description: Rows by status.
  returned: success
  type: dict
  sample: {total: 1, passed: 1, failed: 0}
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.opskit.ops.plugins.module_utils._pm2 import Pm2Error, check_rows, parse_jlist


def main():
    module = AnsibleModule(
        argument_spec=dict(
            names=dict(type='list', elements='str', default=[]),
            pm2=dict(type='path', default='pm2'),
            pm2_home=dict(type='path'),
            fail_on_error=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    env = dict(os.environ)
    if module.params['pm2_home']:
        env['PM2_HOME'] = module.params['pm2_home']
    executable = module.params['pm2']
    if os.sep not in executable:
        executable = module.get_bin_path(executable, required=True)
    rc, out, err = module.run_command([executable, 'jlist'], environ_update=env)
    if rc != 0:
        module.fail_json(msg='pm2 jlist failed (rc %d): %s' % (rc, (err or out).strip()[-500:]))
    try:
        processes = parse_jlist(out, time.time() * 1000)
    except Pm2Error as exc:
        module.fail_json(msg=str(exc))
    rows = check_rows(processes, module.params['names'])
    failed = [r for r in rows if r['status'] == 'failed']
    summary = {'total': len(rows), 'passed': len(rows) - len(failed), 'failed': len(failed)}
    result = dict(changed=False, processes=processes, checks=rows, summary=summary)
    if failed and module.params['fail_on_error']:
        module.fail_json(msg='; '.join(r['message'] for r in failed), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
