# -*- coding: utf-8 -*-
# Copyright (c) 2026, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pm2's process list (``pm2 jlist``) for ``opskit.ops.pm2_info``."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json


class Pm2Error(ValueError):
    """pm2's answer cannot be read."""


def parse_jlist(text, now_ms):
    """The processes of ``pm2 jlist`` output (pm2 may print warnings before the JSON)."""
    # pm2 may print lines such as "[PM2] Spawning PM2 daemon" first: take the
    # first line from which the rest parses as JSON.
    lines = text.splitlines()
    data, error = None, 'no JSON list'
    for index, line in enumerate(lines):
        if not line.lstrip().startswith('['):
            continue
        try:
            data = json.loads('\n'.join(lines[index:]))
            break
        except ValueError as exc:
            error = str(exc)
    if data is None:
        raise Pm2Error('pm2 jlist printed no valid JSON list (%s): %r' % (error, text[:200]))
    if not isinstance(data, list):
        raise Pm2Error('pm2 jlist: expected a list, got %s' % type(data).__name__)
    processes = []
    for entry in data:
        env = entry.get('pm2_env') or {}
        monit = entry.get('monit') or {}
        status = env.get('status') or 'unknown'
        started = env.get('pm_uptime')
        uptime = None
        if status == 'online' and isinstance(started, (int, float)):
            uptime = round(max(0, now_ms - started) / 1000.0, 1)
        processes.append({
            'name': entry.get('name'),
            'pm_id': entry.get('pm_id'),
            'pid': entry.get('pid') or None,
            'status': status,
            'restarts': env.get('restart_time', 0),
            'unstable_restarts': env.get('unstable_restarts', 0),
            'uptime_seconds': uptime,
            'memory_bytes': monit.get('memory'),
            'cpu_percent': monit.get('cpu'),
            'exec_mode': env.get('exec_mode'),
        })
    return processes


def check_rows(processes, names):
    """One row per wanted name (all processes when ``names`` is empty), the opskit check-row shape."""
    wanted = list(names) or [p['name'] for p in processes]
    rows = []
    for name in wanted:
        found = [p for p in processes if p['name'] == name]
        if not found:
            rows.append({'check': 'pm2 %s' % name, 'target': name, 'value': None, 'threshold': 'online',
                         'status': 'failed', 'message': 'pm2 has no process named %s' % name})
            continue
        online = [p for p in found if p['status'] == 'online']
        ok = len(online) == len(found)
        statuses = ', '.join('%s (pid %s)' % (p['status'], p['pid']) for p in found)
        rows.append({'check': 'pm2 %s' % name, 'target': name, 'value': '%d/%d online' % (len(online), len(found)),
                     'threshold': 'online', 'status': 'ok' if ok else 'failed',
                     'message': '%s: %s, %d restart(s)' % (name, statuses, sum(p['restarts'] or 0 for p in found))})
    return rows
