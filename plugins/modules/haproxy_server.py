#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: haproxy_server
short_description: Drain, put back or park one HAProxy backend server through the runtime API
version_added: 0.2.0
description:
  - Sets the administrative state of one server of an HAProxy backend with the
    runtime API on the admin socket (C(set server <backend>/<server> state
    ready|drain|maint)), as a scale-in or a rolling update needs it - drain the
    instance, wait until it has no session left, stop or update it, put it back.
  - Reads the state first (C(show servers state), C(show stat)) and changes
    nothing when the server is already in O(state), so the task is idempotent.
  - With O(wait_drained), waits until the server's current sessions (C(scur))
    are 0, up to O(timeout) seconds, after setting V(drain) or V(maint).
  - The state set this way lives in the running HAProxy only; a reload with a
    new configuration starts the servers it lists as ready.
author: opskit maintainers (@opskit)
attributes:
  check_mode:
    description: Reads the state and reports whether it would change it; sends no change.
    support: full
  diff_mode:
    description: The administrative state before and after.
    support: full
options:
  socket:
    description: Path of the admin socket (C(stats socket ... level admin) in C(haproxy.cfg)).
    type: path
    default: /run/haproxy/admin.sock
  backend:
    description: Name of the backend.
    type: str
    required: true
  server:
    description: Name of the server in the backend.
    type: str
    required: true
  state:
    description:
      - V(ready) takes new connections, V(drain) finishes the sessions it has and
        takes no new ones, V(maint) is out of service (no health checks).
    type: str
    choices: [ready, drain, maint]
    required: true
  wait_drained:
    description: With V(drain) or V(maint), wait until the server has no session left.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for the sessions to end with O(wait_drained).
    type: float
    default: 60
  missing_ok:
    description:
      - Succeed without change when the backend has no such server (it was
        already removed from the configuration) or the admin socket does not
        exist (HAProxy is not running yet). Otherwise that is an error.
    type: bool
    default: false
seealso:
  - name: HAProxy management guide, the runtime API
    description: The commands this module sends.
    link: https://docs.haproxy.org/3.0/management.html#9.3
"""

EXAMPLES = r"""
- name: Drain instance 3 of semibot-runtime and wait until its sessions are done
  opskit.ops.haproxy_server:
    backend: semibot-runtime
    server: semibot-runtime-3
    state: drain
    wait_drained: true
    timeout: 30

- name: Put it back into the rotation
  opskit.ops.haproxy_server:
    backend: semibot-runtime
    server: semibot-runtime-3
    state: ready
"""

RETURN = r"""
before:
  description: The server before the task; null when it is not in the backend.
  returned: always
  type: dict
  sample: {backend: semibot-runtime, server: semibot-runtime-3, admin_state: ready, status: UP,
           sessions: 2, total_sessions: 1204, address: "127.0.0.1:8002"}
after:
  description: The server after the task (in check mode, the state it would have).
  returned: always
  type: dict
  sample: {backend: semibot-runtime, server: semibot-runtime-3, admin_state: drain, status: DRAIN,
           sessions: 0, total_sessions: 1206, address: "127.0.0.1:8002"}
waited:
  description: Seconds spent waiting for the sessions to end.
  returned: always
  type: float
  sample: 1.5
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.opskit.ops.plugins.module_utils._haproxy import (
    HAProxyError,
    Runtime,
    STATES,
    command_for,
)


def run(module, runtime, clock=time.monotonic, sleep=time.sleep):
    params = module.params
    if params['missing_ok'] and not os.path.exists(params['socket']):
        return dict(changed=False, before=None, after=None, waited=0.0,
                    msg='no HAProxy admin socket at %s: nothing to change' % params['socket'])
    before = runtime.info()
    if before is None:
        if params['missing_ok']:
            return dict(changed=False, before=None, after=None, waited=0.0,
                        msg='%s/%s is not in the running configuration' % (params['backend'], params['server']))
        module.fail_json(msg='server %s/%s: no such server in the running HAProxy (socket %s)'
                         % (params['backend'], params['server'], params['socket']))
    command = command_for(before['admin_state'], params['state'])
    result = dict(changed=command is not None, before=before, waited=0.0)
    if module._diff:
        result['diff'] = {'before': 'state: %s\n' % before['admin_state'], 'after': 'state: %s\n' % params['state'],
                          'before_header': '%s/%s' % (params['backend'], params['server']),
                          'after_header': '%s/%s' % (params['backend'], params['server'])}
    if module.check_mode:
        after = dict(before)
        after['admin_state'] = params['state']
        result['after'] = after
        return result
    if command is not None:
        runtime.set_state(params['state'])
    after = runtime.info()
    if params['wait_drained'] and params['state'] != 'ready':
        start = clock()
        while after is not None and (after['sessions'] or 0) > 0:
            if clock() - start > params['timeout']:
                module.fail_json(msg='server %s/%s still has %d session(s) after %s s of %s'
                                 % (params['backend'], params['server'], after['sessions'],
                                    params['timeout'], params['state']), before=before, after=after)
            sleep(0.25)
            after = runtime.info()
        result['waited'] = round(clock() - start, 2)
    result['after'] = after
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            socket=dict(type='path', default='/run/haproxy/admin.sock'),
            backend=dict(type='str', required=True),
            server=dict(type='str', required=True),
            state=dict(type='str', required=True, choices=list(STATES)),
            wait_drained=dict(type='bool', default=False),
            timeout=dict(type='float', default=60),
            missing_ok=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    runtime = Runtime(module.params['socket'], module.params['backend'], module.params['server'])
    try:
        result = run(module, runtime)
    except HAProxyError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
