# -*- coding: utf-8 -*-
# Copyright (c) 2026, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HAProxy runtime API (admin socket) for ``opskit.ops.haproxy_server``.

Reads a server's administrative state from ``show servers state`` (the
``srv_admin_state`` bit field), its check status and current sessions from
``show stat``, and changes it with ``set server <backend>/<server> state
ready|drain|maint``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import csv
import socket

STATES = ('ready', 'drain', 'maint')

# srv_admin_state bits (HAProxy src/server.h, SRV_ADMF_*).
ADMF_FMAINT = 0x01   # forced maintenance (set server state maint, disable server)
ADMF_IMAINT = 0x02   # maintenance inherited from a tracked server
ADMF_CMAINT = 0x04   # maintenance from the configuration ("disabled")
ADMF_FDRAIN = 0x08   # forced drain (set server state drain)
ADMF_IDRAIN = 0x10   # drain inherited
ADMF_RMAINT = 0x20   # maintenance because its address did not resolve
ADMF_HMAINT = 0x40   # maintenance from "set server ... addr" (hostname)
MAINT_MASK = ADMF_FMAINT | ADMF_IMAINT | ADMF_CMAINT | ADMF_RMAINT | ADMF_HMAINT
DRAIN_MASK = ADMF_FDRAIN | ADMF_IDRAIN


class HAProxyError(Exception):
    """The socket cannot be reached or answered an error."""


def send(path, command, timeout=5.0):
    """Send one command to the admin socket and return the whole answer."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(path)
        except (OSError, socket.error) as exc:
            raise HAProxyError('cannot connect to the HAProxy admin socket %s: %s' % (path, exc))
        sock.sendall((command.strip() + '\n').encode('utf-8'))
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    finally:
        sock.close()
    return b''.join(chunks).decode('utf-8', 'replace')


def parse_servers_state(text):
    """Rows of ``show servers state``: a version line, a ``# name ...`` header, rows."""
    header, rows = None, []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith('#'):
            header = line.lstrip('#').split()
            continue
        if header is None:
            continue  # the format version line
        values = line.split()
        rows.append(dict(zip(header, values)))
    return rows


def parse_stat(text):
    """Rows of ``show stat`` (CSV whose header line starts with ``# ``)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith('#'):
        return []
    lines[0] = lines[0].lstrip('# ')
    return list(csv.DictReader(lines))


def admin_state(bits):
    """``maint``, ``drain`` or ``ready`` from a srv_admin_state value."""
    bits = int(bits)
    if bits & MAINT_MASK:
        return 'maint'
    if bits & DRAIN_MASK:
        return 'drain'
    return 'ready'


def server_info(servers_state_text, stat_text, backend, server):
    """The server's state, or None when the backend has no such server."""
    found = None
    for row in parse_servers_state(servers_state_text):
        if row.get('be_name') == backend and row.get('srv_name') == server:
            found = row
            break
    if found is None:
        return None
    info = {
        'backend': backend,
        'server': server,
        'admin_state': admin_state(found.get('srv_admin_state', 0)),
        'address': '%s:%s' % (found.get('srv_addr'), found.get('srv_port')),
        'status': None,
        'sessions': None,
        'total_sessions': None,
    }
    for row in parse_stat(stat_text):
        if row.get('pxname') == backend and row.get('svname') == server:
            info['status'] = row.get('status')
            info['sessions'] = int(row.get('scur') or 0)
            info['total_sessions'] = int(row.get('stot') or 0)
            break
    return info


def command_for(current, wanted):
    """The runtime command that takes the server from ``current`` to ``wanted``, or None."""
    if wanted not in STATES:
        raise ValueError('state must be one of %s, got %r' % (', '.join(STATES), wanted))
    if current == wanted:
        return None
    return 'state %s' % wanted


class Runtime(object):
    """One server of one backend, through one admin socket."""

    def __init__(self, path, backend, server, timeout=5.0, sender=send):
        self.path = path
        self.backend = backend
        self.server = server
        self.timeout = timeout
        self._send = sender

    def info(self):
        state = self._send(self.path, 'show servers state %s' % self.backend, self.timeout)
        if state.strip().lower().startswith(("can't find backend", 'unknown')):
            return None
        stat = self._send(self.path, 'show stat', self.timeout)
        return server_info(state, stat, self.backend, self.server)

    def set_state(self, wanted):
        answer = self._send(self.path, 'set server %s/%s state %s' % (self.backend, self.server, wanted),
                            self.timeout).strip()
        if answer:
            # HAProxy answers nothing on success, a message on failure.
            raise HAProxyError('set server %s/%s state %s: %s' % (self.backend, self.server, wanted, answer))
