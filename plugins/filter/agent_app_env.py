# -*- coding: utf-8 -*-
# Copyright (c) 2026, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter ``opskit.ops.agent_app_env``: the plain environment of one agent_app service."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import posixpath

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

_REQUIRED = ('name', 'role', 'port', 'environment', 'store', 'workers', 'trace', 'dynamic_tools', 'paths')
_REQUIRED_PATHS = ('state_dir', 'log_file', 'database', 'trace_dir', 'pi_dir')


def agent_app_env(service, extra=None):
    """Environment settings (no secrets) of one service of the service model.

    Every value is a string; a path the model leaves null (no SQLite store, no
    trace logs, no runbook 004 layout) is not set, so the application keeps
    its own behaviour for it. ``extra`` entries win.
    """
    if not isinstance(service, Mapping):
        raise AnsibleFilterError('agent_app_env: expected one service of opskit_model.services, got %r' % (service,))
    missing = [key for key in _REQUIRED if key not in service]
    paths = service.get('paths') if isinstance(service.get('paths'), Mapping) else {}
    missing += ['paths.' + key for key in _REQUIRED_PATHS if key not in paths]
    if missing:
        raise AnsibleFilterError('agent_app_env: %s is not a service of opskit_model.services (missing %s)'
                                 % (service.get('name', '?'), ', '.join(missing)))
    if extra is not None and not isinstance(extra, Mapping):
        raise AnsibleFilterError('agent_app_extra_env: expected a dict of NAME: value, got %r' % (extra,))
    env = {
        'ENVIRONMENT': str(service['environment']),
        'AGENT_ROLE': str(service['role']),
        'AGENT_BIND': '0.0.0.0',
        'AGENT_PORT': str(int(service['port'])),
        'AGENT_WORKERS': str(int(service['workers'])),
        'AGENT_STORE': str(service['store']),
        'AGENT_STATE_DIR': paths['state_dir'],
        'AGENT_LOG_FILE': paths['log_file'],
        'EL_TRACE': '1' if service['trace'] else '0',
    }
    if paths['database']:
        env['EL_SQLITE_PATH'] = paths['database']
    if paths['trace_dir']:
        env['EL_TRACE_DIR'] = paths['trace_dir']
    if service['dynamic_tools'] and paths['pi_dir']:
        # The application keeps the runbook 004 layout (.pi/...) under this directory.
        env['AGENT_DYNAMIC_TOOLS_DIR'] = posixpath.dirname(paths['pi_dir'].rstrip('/'))
    for key, value in (extra or {}).items():
        env[str(key)] = str(value)
    return env


class FilterModule(object):
    def filters(self):
        return {'agent_app_env': agent_app_env}
