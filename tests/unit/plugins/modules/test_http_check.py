# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""opskit.ops.http_check against real HTTP servers on 127.0.0.1."""

from __future__ import absolute_import, division, print_function

import json
import shutil
import ssl
import subprocess
import threading
import time

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


from ansible_collections.opskit.ops.plugins.module_utils import _http_probe
from ansible_collections.opskit.ops.plugins.modules import http_check

from _module_harness import run_main


@pytest.fixture
def run(monkeypatch):
    def runner(args, check_mode=False):
        return run_main(monkeypatch, http_check.main, args, check_mode=check_mode)
    return runner


class Handler(BaseHTTPRequestHandler):
    counters = {}
    seen_auth = []
    barrier = None
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def _send(self, status, document):
        body = json.dumps(document).encode()
        try:
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (time-out tests)

    def do_GET(self):
        path, dummy, query = self.path.partition('?')
        if path == '/health':
            self._send(200, {'status': 'ok', 'checks': {'db': {'status': 'ok'}}})
        elif path == '/error':
            self._send(500, {'status': 'error'})
        elif path == '/unavailable':
            self._send(503, {'status': 'starting'})
        elif path == '/slow':
            time.sleep(1.5)
            self._send(200, {'status': 'ok'})
        elif path == '/degraded':
            self._send(200, {'status': 'degraded', 'checks': {'db': {'status': 'down'}}})
        elif path == '/laggy':
            time.sleep(0.12)
            self._send(200, {'status': 'ok'})
        elif path == '/flaky':
            with self.lock:
                count = self.counters[query] = self.counters.get(query, 0) + 1
            self._send(200 if count >= 3 else 503, {'attempt': count})
        elif path == '/barrier':
            try:
                self.barrier.wait()
            except threading.BrokenBarrierError:
                self._send(500, {'concurrent': False})
            else:
                self._send(200, {'concurrent': True})
        elif path == '/auth':
            auth = self.headers.get('Authorization')
            self.seen_auth.append(auth)
            self._send(200 if auth == 'Bearer s3cret' else 401, {'auth': auth is not None})
        else:
            self._send(404, {'error': 'not found'})


@pytest.fixture(scope='module')
def server():
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield 'http://127.0.0.1:%d' % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_all_healthy_is_unchanged(run, server):
    result = run({'endpoints': [{'url': server + '/health', 'name': 'health', 'json': {'status': 'ok'}},
                                {'url': server + '/health', 'json': {'checks.db.status': 'ok'}}]})
    assert result.failed is False
    assert result.result['changed'] is False
    assert result.result['summary'] == {'total': 2, 'passed': 2, 'failed': 0, 'warning': 0, 'no_data': 0}
    first = result.result['endpoints'][0]
    assert (first['ok'], first['status'], first['attempts'], first['probes']) == (True, 200, 1, 5)
    assert sorted(first['latency_ms']) == ['max', 'p50', 'p95']
    assert result.result['endpoints'][1]['name'] == server + '/health'
    assert result.result['msg'] == 'all 2 endpoints passed'


def test_check_mode_runs_the_same_probes(run, server):
    result = run({'endpoints': [{'url': server + '/health'}, {'url': server + '/error', 'name': 'err'}],
                  'fail_on_error': False}, check_mode=True)
    assert result.failed is False
    assert result.result['changed'] is False
    assert [e['status'] for e in result.result['endpoints']] == [200, 500]


def test_500_fails_with_message(run, server):
    result = run({'endpoints': [{'url': server + '/health', 'name': 'ok'},
                                {'url': server + '/error', 'name': 'el-bot health'}]})
    assert result.failed is True
    assert result.result['msg'] == ('1 of 2 endpoints failed: el-bot health (%s/error): status 500, expected [200]'
                                    % server)
    row = result.result['checks'][1]
    assert row == {'check': 'el-bot health', 'target': server + '/error', 'value': 'HTTP 500',
                   'threshold': 'HTTP [200]', 'status': 'failed', 'message': 'status 500, expected [200]'}


def test_expected_status_list(run, server):
    result = run({'endpoints': [{'url': server + '/unavailable', 'status_code': [200, 503]}], 'probes': 1})
    assert result.failed is False


def test_timeout(run, server):
    started = time.monotonic()
    result = run({'endpoints': [{'url': server + '/slow', 'name': 'runtime metrics', 'timeout': 0.3}],
                  'fail_on_error': False})
    assert time.monotonic() - started < 1.4  # one probe, not five: the attempt stops at the time-out
    endpoint = result.result['endpoints'][0]
    assert (endpoint['ok'], endpoint['reason'], endpoint['status']) == (False, 'timed out after 0.3s', None)
    assert result.result['msg'] == ('1 of 1 endpoints failed: runtime metrics (%s/slow): timed out after 0.3s'
                                    % server)


def test_connection_refused(run, server):
    # a port that was just free: nothing listens on it
    import socket
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    result = run({'endpoints': [{'url': 'http://127.0.0.1:%d/health' % port}], 'fail_on_error': False})
    assert result.result['endpoints'][0]['reason'] == 'connection refused'


def test_json_field_mismatch(run, server):
    result = run({'endpoints': [{'url': server + '/degraded', 'name': 'deg'}],
                  'json': {'status': 'ok', 'checks.db.status': 'ok'}})
    assert result.failed is True
    endpoint = result.result['endpoints'][0]
    assert endpoint['reason'] == ('JSON field status is "degraded", expected "ok"; '
                                  'JSON field checks.db.status is "down", expected "ok"')
    assert endpoint['json'] == {'status': 'degraded', 'checks.db.status': 'down'}


def test_latency_over_budget(run, server):
    result = run({'endpoints': [{'url': server + '/laggy', 'name': 'laggy', 'latency_max_ms': 50},
                                {'url': server + '/health', 'name': 'fast', 'latency_max_ms': 1000}],
                  'probes': 3, 'fail_on_error': False})
    laggy, fast = result.result['endpoints']
    assert laggy['ok'] is False
    assert laggy['reason'].startswith('p95 latency ')
    assert laggy['reason'].endswith(' ms over budget 50 ms (3 probes)')
    assert laggy['latency_ms']['p95'] >= 120
    assert fast['ok'] is True
    assert result.result['summary']['failed'] == 1


def test_retries_with_backoff_succeed_on_third_try(run, server, monkeypatch):
    sleeps = []
    monkeypatch.setattr(_http_probe, '_sleep', sleeps.append)
    result = run({'endpoints': [{'url': server + '/flaky?third-try', 'name': 'flaky'}],
                  'retries': 4, 'backoff': 0.2, 'probes': 1})
    assert result.failed is False
    endpoint = result.result['endpoints'][0]
    assert (endpoint['ok'], endpoint['attempts']) == (True, 3)
    assert sleeps == [0.2, 0.4]
    assert result.result['checks'][0]['message'].endswith('passed on attempt 3')


def test_retries_real_backoff_waits(run, server):
    started = time.monotonic()
    result = run({'endpoints': [{'url': server + '/flaky?real-wait', 'retries': 2, 'backoff': 0.1, 'probes': 1}]})
    assert result.result['endpoints'][0]['attempts'] == 3
    assert time.monotonic() - started >= 0.3  # 0.1 + 0.2


def test_bearer_token_and_no_log(run, server):
    Handler.seen_auth[:] = []
    result = run({'endpoints': [{'url': server + '/auth', 'name': 'with token', 'token': 's3cret'},
                                {'url': server + '/auth', 'name': 'default token'},
                                {'url': server + '/auth', 'name': 'wrong', 'token': 'nope'}],
                  'token': 's3cret', 'probes': 1, 'fail_on_error': False})
    assert [e['status'] for e in result.result['endpoints']] == [200, 200, 401]
    assert sorted(Handler.seen_auth) == ['Bearer nope', 'Bearer s3cret', 'Bearer s3cret']
    assert 's3cret' not in json.dumps(result.result)
    spec = http_check.argument_spec()
    assert spec['token']['no_log'] is True
    assert spec['endpoints']['options']['token']['no_log'] is True


def test_many_endpoints_are_probed_concurrently(run, server):
    # /barrier answers 200 only while 6 requests are in the handler at the same time;
    # probed one after the other, the first request would wait 3 s and get a 500.
    Handler.barrier = threading.Barrier(6, timeout=3)
    result = run({'endpoints': [{'url': server + '/barrier?%d' % i} for i in range(6)], 'probes': 1})
    assert result.result['summary']['passed'] == 6
    assert result.failed is False


def test_concurrency_one_is_sequential(run, server):
    Handler.barrier = threading.Barrier(2, timeout=0.3)
    result = run({'endpoints': [{'url': server + '/barrier?a'}, {'url': server + '/barrier?b'}],
                  'probes': 1, 'concurrency': 1, 'fail_on_error': False})
    assert [e['status'] for e in result.result['endpoints']] == [500, 500]


def test_failure_message_lists_every_failing_endpoint(run, server):
    result = run({'endpoints': [
        {'url': server + '/health', 'name': 'a'},
        {'url': server + '/error', 'name': 'b'},
        {'url': server + '/slow', 'name': 'c', 'timeout': 0.2},
        {'url': server + '/degraded', 'name': 'd', 'json': {'status': 'ok'}},
        {'url': server + '/health', 'name': 'e'},
    ]})
    assert result.failed is True
    assert result.result['msg'] == (
        '3 of 5 endpoints failed: b (%(s)s/error): status 500, expected [200]; '
        'c (%(s)s/slow): timed out after 0.2s; '
        'd (%(s)s/degraded): JSON field status is "degraded", expected "ok"' % {'s': server})


def test_invalid_settings_fail(run, server):
    result = run({'endpoints': [{'url': server + '/health', 'probes': 0}]})
    assert result.failed is True
    assert result.result['msg'] == 'endpoint %s/health: probes must be >= 1' % server


@pytest.fixture(scope='module')
def tls_server(tmp_path_factory):
    openssl = shutil.which('openssl')
    if openssl is None:
        pytest.skip('openssl is not installed: no self-signed certificate for the TLS test')
    directory = tmp_path_factory.mktemp('tls')
    key, cert = str(directory / 'key.pem'), str(directory / 'cert.pem')
    subprocess.run([openssl, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1',
                    '-keyout', key, '-out', cert, '-days', '1'], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    httpd.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield 'https://127.0.0.1:%d' % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_tls_validate_certs(run, tls_server):
    result = run({'endpoints': [{'url': tls_server + '/health', 'name': 'verified'},
                                {'url': tls_server + '/health', 'name': 'unverified', 'validate_certs': False}],
                  'probes': 2, 'fail_on_error': False})
    verified, unverified = result.result['endpoints']
    assert verified['ok'] is False
    assert 'CERTIFICATE_VERIFY_FAILED' in verified['reason']
    assert (unverified['ok'], unverified['status']) == (True, 200)


def test_bad_url_is_a_failed_endpoint(run):
    result = run({'endpoints': [{'url': 'not a url', 'name': 'typo'}], 'fail_on_error': False})
    assert result.result['endpoints'][0]['ok'] is False
    assert result.result['endpoints'][0]['reason'] == "unknown url type: 'not a url'"
