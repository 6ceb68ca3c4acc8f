# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: 100 HTTP health checks as ONE opskit.ops.http_check task vs an ansible.builtin.uri loop.

Starts one threaded HTTP server on 127.0.0.1 with 100 health endpoints
(/svc/<n>/health answering {"status": "ok"}), then runs, one after the other,
with connection local against localhost:

  (a) a playbook with one opskit.ops.http_check task over the 100 endpoints
      (status 200 and JSON field status == "ok"; probes: 1, the same single
      request per endpoint as uri makes);
  (b) the same checks as an ansible.builtin.uri loop (status_code 200,
      failed_when on the JSON field);

and prints both wall times (whole ansible-playbook runs, start-up included)
and the ratio. Target: (a) at least 10x faster. With --probes5 a third,
informational run times http_check with its default of 5 probes per endpoint.

Run from the repository root:  .venv/bin/python bench/http_check_vs_uri.py
Options: --endpoints N (default 100), --probes5.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
PLAYBOOK_BIN = os.path.join(ROOT, '.venv', 'bin', 'ansible-playbook')
PYTHON = os.path.join(ROOT, '.venv', 'bin', 'python')


class HealthHandler(BaseHTTPRequestHandler):
    count = 100
    requests = 0
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def do_GET(self):
        parts = self.path.strip('/').split('/')
        ok = len(parts) == 3 and parts[0] == 'svc' and parts[2] == 'health' and parts[1].isdigit() \
            and int(parts[1]) < self.count
        body = json.dumps({'status': 'ok', 'service': parts[1]} if ok else {'error': 'not found'}).encode()
        with self.lock:
            type(self).requests += 1
        self.send_response(200 if ok else 404)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def playbook_http_check(urls, probes):
    endpoints = [{'name': 'svc %d' % i, 'url': url} for i, url in enumerate(urls)]
    return [{
        'name': 'opskit.ops.http_check: %d endpoints in one task' % len(urls),
        'hosts': 'localhost',
        'gather_facts': False,
        'tasks': [
            {
                'name': 'Check every health endpoint',
                'opskit.ops.http_check': {
                    'endpoints': endpoints,
                    'json': {'status': 'ok'},
                    'probes': probes,
                    'timeout': 5,
                },
                'register': '__bench_http',
            },
            {
                'name': 'All endpoints passed',
                'ansible.builtin.assert': {
                    'that': ['__bench_http.summary.passed == %d' % len(urls)],
                    'quiet': True,
                },
            },
        ],
    }]


def playbook_uri_loop(urls):
    return [{
        'name': 'ansible.builtin.uri loop: %d endpoints' % len(urls),
        'hosts': 'localhost',
        'gather_facts': False,
        'vars': {'bench_urls': urls},
        'tasks': [
            {
                'name': 'Check every health endpoint',
                'ansible.builtin.uri': {
                    'url': '{{ item }}',
                    'status_code': 200,
                    'return_content': True,
                    'timeout': 5,
                },
                'loop': '{{ bench_urls }}',
                'register': '__bench_uri',
                'failed_when': "__bench_uri.status != 200 or __bench_uri.json.status != 'ok'",
            },
            {
                'name': 'All endpoints passed',
                'ansible.builtin.assert': {
                    'that': ['__bench_uri.results | length == %d' % len(urls)],
                    'quiet': True,
                },
            },
        ],
    }]


def run_playbook(workdir, name, plays):
    path = os.path.join(workdir, name + '.yml')
    with open(path, 'w') as handle:
        json.dump(plays, handle, indent=1)  # JSON is YAML
    # Pipelining (module sent on stdin, no temporary files) speeds up both runs alike.
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
               ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_PIPELINING='1')
    command = [PLAYBOOK_BIN, '-i', 'localhost,', '-c', 'local',
               '-e', 'ansible_python_interpreter=%s' % PYTHON, path]
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, check=False)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        sys.stdout.write(result.stdout[-4000:])
        raise SystemExit('%s: ansible-playbook failed with rc %d' % (name, result.returncode))
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--endpoints', type=int, default=100)
    parser.add_argument('--probes5', action='store_true', help='also time http_check with 5 probes per endpoint')
    args = parser.parse_args()

    HealthHandler.count = args.endpoints
    # socketserver's default listen backlog is 5: concurrent clients beyond it wait
    # for a SYN retransmission (1 s). Real services (uvicorn: 2048) queue more.
    ThreadingHTTPServer.request_queue_size = 1024
    server = ThreadingHTTPServer(('127.0.0.1', 0), HealthHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = 'http://127.0.0.1:%d' % server.server_address[1]
    urls = ['%s/svc/%d/health' % (base, i) for i in range(args.endpoints)]
    print('%d health endpoints on %s (one threaded server, %d paths)' % (len(urls), base, len(urls)))
    config = os.path.join(ROOT, 'ansible.cfg')
    print('ansible-playbook: %s, connection local, ANSIBLE_CONFIG=%s' % (PLAYBOOK_BIN, config))
    sys.stdout.flush()

    try:
        with tempfile.TemporaryDirectory(prefix='opskit-bench-') as workdir:
            before = HealthHandler.requests
            http_check = run_playbook(workdir, 'http_check', playbook_http_check(urls, probes=1))
            http_requests = HealthHandler.requests - before
            print('(a) opskit.ops.http_check, 1 task, probes=1 : %7.2f s  (%d requests)'
                  % (http_check, http_requests))
            sys.stdout.flush()
            before = HealthHandler.requests
            uri = run_playbook(workdir, 'uri_loop', playbook_uri_loop(urls))
            uri_requests = HealthHandler.requests - before
            print('(b) ansible.builtin.uri loop, %d items     : %7.2f s  (%d requests)'
                  % (len(urls), uri, uri_requests))
            sys.stdout.flush()
            if args.probes5:
                before = HealthHandler.requests
                five = run_playbook(workdir, 'http_check_probes5', playbook_http_check(urls, probes=5))
                print('    opskit.ops.http_check, probes=5 (default): %7.2f s  (%d requests, p95 judged)'
                      % (five, HealthHandler.requests - before))
    finally:
        server.shutdown()
        server.server_close()

    ratio = uri / http_check
    print('ratio uri loop / http_check: %.1fx (target >= 10x) -> %s' % (ratio, 'met' if ratio >= 10 else 'NOT met'))
    return 0 if ratio >= 10 else 1


if __name__ == '__main__':
    sys.exit(main())
