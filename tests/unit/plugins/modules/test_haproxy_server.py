"""Unit tests of opskit.ops.haproxy_server and module_utils/_haproxy.py.

The HAProxy here is a stand-in: a Unix socket server in a thread that answers
``show servers state``, ``show stat`` and ``set server`` the way HAProxy 3.0
does (formats copied from a real ``haproxy`` answer). The real HAProxy is
driven by the Molecule scenario ``scale``.
"""
import os
import socket
import threading

import pytest

from ansible_collections.opskit.ops.plugins.module_utils import _haproxy
from ansible_collections.opskit.ops.plugins.modules import haproxy_server

from _module_harness import run_module

STATE_HEADER = ('# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight '
                'srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state '
                'srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl '
                'srv_check_port srv_check_addr srv_agent_addr srv_agent_port')
STAT_HEADER = '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,'


class FakeHAProxy(object):
    """Stand-in for HAProxy's admin socket: one backend, servers with admin bits and sessions."""

    def __init__(self, path):
        self.path = path
        self.servers = {'web-1': {'admin': 0, 'scur': 0}, 'web-2': {'admin': 0, 'scur': 0}}
        self.commands = []
        self.drain_after = 0   # answers of "show stat" before sessions drop to 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _status(self, bits):
        return 'MAINT' if bits & 1 else 'DRAIN' if bits & 8 else 'UP'

    def _answer(self, command):
        self.commands.append(command)
        if command == 'show servers state web':
            rows = ['%d web %d %s 127.0.0.1 2 %d 1 1 5 6 3 4 6 0 0 0 - %d - 0 0 - - 0'
                    % (3, i + 1, name, srv['admin'], 8000 + i) for i, (name, srv) in enumerate(sorted(self.servers.items()))]
            return '1\n%s\n%s\n\n' % (STATE_HEADER, '\n'.join(rows))
        if command.startswith('show servers state '):
            return "Can't find backend.\n"
        if command == 'show stat':
            lines = [STAT_HEADER, 'web,FRONTEND,,,0,1,2000,10,0,0,0,0,0,,,,,OPEN,']
            waiting = self.drain_after > 0
            self.drain_after -= 1
            for name, srv in sorted(self.servers.items()):
                if srv['admin'] & 8 and not waiting:
                    srv['scur'] = 0
                lines.append('web,%s,0,0,%d,3,,42,0,0,,0,,0,0,0,0,%s,' % (name, srv['scur'], self._status(srv['admin'])))
            return '\n'.join(lines) + '\n\n'
        if command.startswith('set server web/'):
            name, _sep, state = command[len('set server web/'):].partition(' state ')
            if name not in self.servers:
                return 'No such server.\n'
            self.servers[name]['admin'] = {'ready': 0, 'drain': 8, 'maint': 1}[state]
            return '\n'
        return 'Unknown command.\n'

    def _serve(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b''
                while not data.endswith(b'\n'):
                    data += conn.recv(4096)
                conn.sendall(self._answer(data.decode().strip()).encode())

    def close(self):
        self.sock.close()


@pytest.fixture
def haproxy(tmp_path):
    path = str(tmp_path / 'admin.sock')
    fake = FakeHAProxy(path)
    yield fake
    fake.close()
    if os.path.exists(path):
        os.unlink(path)


def _args(haproxy, **extra):
    args = {'socket': haproxy.path, 'backend': 'web', 'server': 'web-2', 'state': 'drain'}
    args.update(extra)
    return args


@pytest.mark.parametrize('bits, state', [(0, 'ready'), (8, 'drain'), (0x10, 'drain'), (1, 'maint'),
                                         (4, 'maint'), (9, 'maint'), (0x20, 'maint')])
def test_admin_state_from_bits(bits, state):
    assert _haproxy.admin_state(bits) == state


def test_command_for():
    assert _haproxy.command_for('ready', 'ready') is None
    assert _haproxy.command_for('ready', 'drain') == 'state drain'
    assert _haproxy.command_for('maint', 'ready') == 'state ready'
    with pytest.raises(ValueError):
        _haproxy.command_for('ready', 'up')


def test_drain_changes_then_is_idempotent(monkeypatch, haproxy):
    haproxy.servers['web-2']['scur'] = 2
    result, failed = run_module(monkeypatch, haproxy_server.main, _args(haproxy))
    assert failed is False
    assert result['changed'] is True
    assert result['before']['admin_state'] == 'ready'
    assert result['before']['sessions'] == 2
    assert result['after']['admin_state'] == 'drain'
    assert result['after']['status'] == 'DRAIN'
    assert 'set server web/web-2 state drain' in haproxy.commands
    again, failed = run_module(monkeypatch, haproxy_server.main, _args(haproxy))
    assert (again['changed'], failed) == (False, False)
    assert haproxy.commands.count('set server web/web-2 state drain') == 1


def test_check_mode_reports_and_sends_nothing(monkeypatch, haproxy):
    result, failed = run_module(monkeypatch, haproxy_server.main, _args(haproxy, state='maint'),
                                check_mode=True, diff=True)
    assert failed is False
    assert result['changed'] is True
    assert result['after']['admin_state'] == 'maint'
    assert result['diff']['before'] == 'state: ready\n'
    assert result['diff']['after'] == 'state: maint\n'
    assert [c for c in haproxy.commands if c.startswith('set ')] == []
    assert haproxy.servers['web-2']['admin'] == 0


def test_wait_drained_polls_until_sessions_are_zero(monkeypatch, haproxy):
    haproxy.servers['web-2']['scur'] = 3
    haproxy.drain_after = 3
    result, failed = run_module(monkeypatch, haproxy_server.main, _args(haproxy, wait_drained=True, timeout=10))
    assert failed is False
    assert result['after']['sessions'] == 0
    assert haproxy.commands.count('show stat') >= 3


def test_wait_drained_times_out_with_the_session_count(monkeypatch, haproxy):
    haproxy.servers['web-2']['scur'] = 3
    haproxy.drain_after = 10 ** 6
    result, failed = run_module(monkeypatch, haproxy_server.main, _args(haproxy, wait_drained=True, timeout=0.5))
    assert failed is True
    assert 'web/web-2 still has 3 session(s) after 0.5 s of drain' in result['msg']


def test_ready_puts_a_drained_server_back(monkeypatch, haproxy):
    haproxy.servers['web-1']['admin'] = 8
    result, failed = run_module(monkeypatch, haproxy_server.main, _args(haproxy, server='web-1', state='ready'))
    assert (result['changed'], failed) == (True, False)
    assert haproxy.servers['web-1']['admin'] == 0


def test_missing_server(monkeypatch, haproxy):
    result, failed = run_module(monkeypatch, haproxy_server.main, _args(haproxy, server='web-9'))
    assert failed is True
    assert 'server web/web-9: no such server' in result['msg']
    result, failed = run_module(monkeypatch, haproxy_server.main, _args(haproxy, server='web-9', missing_ok=True))
    assert (result['changed'], failed, result['before']) == (False, False, None)


def test_missing_backend_with_missing_ok(monkeypatch, haproxy):
    result, failed = run_module(monkeypatch, haproxy_server.main, _args(haproxy, backend='api', missing_ok=True))
    assert (result['changed'], failed) == (False, False)


def test_unreachable_socket_is_an_error(monkeypatch, tmp_path):
    result, failed = run_module(monkeypatch, haproxy_server.main,
                                {'socket': str(tmp_path / 'none.sock'), 'backend': 'web', 'server': 'web-1',
                                 'state': 'ready'})
    assert failed is True
    assert 'cannot connect to the HAProxy admin socket' in result['msg']


def test_missing_socket_with_missing_ok_is_no_change(monkeypatch, tmp_path):
    result, failed = run_module(monkeypatch, haproxy_server.main,
                                {'socket': str(tmp_path / 'none.sock'), 'backend': 'web', 'server': 'web-1',
                                 'state': 'ready', 'missing_ok': True})
    assert (result['changed'], failed) == (False, False)
    assert 'no HAProxy admin socket' in result['msg']
