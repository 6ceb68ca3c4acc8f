# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_http_probe logic with a scripted transport (the real HTTP cases are in test_http_check)."""

from __future__ import absolute_import, division, print_function

import socket
import threading

import pytest

from ansible.module_utils.six.moves.urllib.error import URLError

from ansible_collections.opskit.ops.plugins.module_utils import _http_probe as hp

DEFAULTS = dict(method='GET', status_code=[200], json=None, latency_max_ms=None, probes=5, timeout=2.0,
                retries=0, backoff=0.5, token=None, headers={}, validate_certs=True, body=None)


def endpoint(**kwargs):
    kwargs.setdefault('url', 'http://127.0.0.1:1/health')
    return hp.resolve_endpoints([kwargs], DEFAULTS)[0]


def scripted(answers):
    """A send() returning the given answers in turn (the last one repeats)."""
    calls = []

    def send(ep):
        calls.append(ep)
        answer = answers[min(len(calls) - 1, len(answers) - 1)]
        return dict(dict(status=None, latency_ms=None, body=b'', error=None), **answer)
    send.calls = calls
    return send


def ok(latency=5.0, body=b'{"status": "ok"}'):
    return dict(status=200, latency_ms=latency, body=body)


@pytest.mark.parametrize('values, q, expected', [
    ([1.0, 2.0, 3.0, 4.0, 5.0], 0.5, 3.0),
    ([1.0, 2.0, 3.0, 4.0, 5.0], 0.95, 4.8),   # position 3.8: 4 + 0.8 * (5 - 4)
    ([5.0, 1.0, 4.0, 2.0, 3.0], 0.95, 4.8),   # order does not matter
    ([10.0, 20.0], 0.5, 15.0),
    ([7.0], 0.95, 7.0),
    ([1.0, 2.0, 3.0, 4.0, 5.0], 0.0, 1.0),
    ([1.0, 2.0, 3.0, 4.0, 5.0], 1.0, 5.0),
])
def test_percentile(values, q, expected):
    assert hp.percentile(values, q) == pytest.approx(expected)


def test_percentile_empty():
    assert hp.percentile([], 0.5) is None


def test_get_path():
    doc = {'status': 'ok', 'checks': {'db': {'status': 'down'}}, 'items': [{'name': 'a'}]}
    assert hp.get_path(doc, 'status') == 'ok'
    assert hp.get_path(doc, 'checks.db.status') == 'down'
    assert hp.get_path(doc, 'items.0.name') == 'a'
    assert hp.get_path(doc, 'items.5.name') is hp._MISSING
    assert hp.get_path(doc, 'checks.cache') is hp._MISSING
    assert hp.get_path(doc, 'status.deeper') is hp._MISSING


def test_check_json():
    body = b'{"status": "ok", "workers": 2, "ready": true, "db": {"ok": false}}'
    assert hp.check_json(body, {'status': 'ok', 'workers': 2, 'ready': True}) == (
        [], {'status': 'ok', 'workers': 2, 'ready': True})
    reasons, actual = hp.check_json(body, {'status': 'degraded', 'db.ok': True, 'cache': 'ok', 'workers': 2.0})
    assert reasons == ['JSON field status is "ok", expected "degraded"',
                       'JSON field db.ok is false, expected true',
                       'JSON field cache missing, expected "ok"']
    assert actual == {'status': 'ok', 'db.ok': False, 'cache': None, 'workers': 2}


def test_check_json_bool_is_not_int():
    reasons = hp.check_json(b'{"up": 1}', {'up': True})[0]
    assert reasons == ['JSON field up is 1, expected true']


def test_check_json_not_json():
    reasons, actual = hp.check_json(b'<html>', {'status': 'ok'})
    assert len(reasons) == 1 and reasons[0].startswith('body is not JSON')
    assert actual == {}


def test_resolve_endpoints_defaults_and_overrides():
    defaults = dict(DEFAULTS, headers={'X-A': '1'}, timeout=3.0, token='t0')
    eps = hp.resolve_endpoints([
        {'url': 'http://a/', 'timeout': 1.0, 'headers': {'X-B': '2'}, 'status_code': [200, 204]},
        {'url': 'http://b/', 'name': 'b', 'token': 't1', 'method': 'head'},
    ], defaults)
    assert (eps[0]['name'], eps[0]['timeout'], eps[0]['headers'], eps[0]['status_code'], eps[0]['token']) == (
        'http://a/', 1.0, {'X-A': '1', 'X-B': '2'}, [200, 204], 't0')
    assert (eps[1]['name'], eps[1]['timeout'], eps[1]['token'], eps[1]['method']) == ('b', 3.0, 't1', 'HEAD')


def test_all_probes_pass():
    send = scripted([ok(1.0), ok(2.0), ok(3.0), ok(4.0), ok(5.0)])
    result = hp.check_endpoint(endpoint(latency_max_ms=10), send, sleep=lambda s: None)
    assert (result['ok'], result['attempts'], result['probes'], result['status']) == (True, 1, 5, 200)
    assert result['latency_ms'] == {'p50': 3.0, 'p95': 4.8, 'max': 5.0}
    assert len(send.calls) == 5


def test_latency_budget_judged_on_p95_not_one_request():
    # one fast request would pass; the p95 of five does not
    send = scripted([ok(1.0), ok(200.0), ok(210.0), ok(220.0), ok(230.0)])
    result = hp.check_endpoint(endpoint(latency_max_ms=100), send, sleep=lambda s: None)
    assert result['ok'] is False
    assert result['reason'] == 'p95 latency 228 ms over budget 100 ms (5 probes)'


def test_status_mismatch_stops_the_attempt():
    send = scripted([dict(status=503, latency_ms=1.0)])
    result = hp.check_endpoint(endpoint(), send, sleep=lambda s: None)
    assert (result['ok'], result['reason'], result['status'], len(send.calls)) == (
        False, 'status 503, expected [200]', 503, 1)


def test_later_probe_failure_is_named():
    send = scripted([ok(), ok(), dict(status=500, latency_ms=1.0)])
    result = hp.check_endpoint(endpoint(), send, sleep=lambda s: None)
    assert result['reason'] == 'probe 3/5: status 500, expected [200]'


def test_retries_with_exponential_backoff_until_pass():
    sleeps = []
    send = scripted([dict(error='connection refused'), dict(status=503, latency_ms=1.0), ok()])
    result = hp.check_endpoint(endpoint(retries=5, backoff=0.25, probes=1), send, sleep=sleeps.append)
    assert (result['ok'], result['attempts']) == (True, 3)
    assert sleeps == [0.25, 0.5]
    assert len(send.calls) == 3  # no retry after the pass


def test_retries_exhausted():
    sleeps = []
    send = scripted([dict(error='timed out after 2.0s')])
    result = hp.check_endpoint(endpoint(retries=2, backoff=1.0), send, sleep=sleeps.append)
    assert (result['ok'], result['attempts'], result['reason']) == (False, 3, 'timed out after 2.0s')
    assert sleeps == [1.0, 2.0]


def test_check_endpoints_runs_concurrently_and_keeps_order():
    barrier = threading.Barrier(4, timeout=5)

    def send(ep):
        barrier.wait()  # only returns when 4 probes are in flight at once
        return dict(status=200, latency_ms=1.0, body=b'', error=None)

    eps = [endpoint(url='http://127.0.0.1:1/%d' % i, probes=1) for i in range(4)]
    results = hp.check_endpoints(eps, concurrency=4, send=send, sleep=lambda s: None)
    assert [r['url'] for r in results] == [ep['url'] for ep in eps]
    assert all(r['ok'] for r in results)


def test_describe_error():
    assert hp.describe_error(socket.timeout('timed out'), 2) == 'timed out after 2.0s'
    assert hp.describe_error(URLError(socket.timeout('timed out')), 0.5) == 'timed out after 0.5s'
    assert hp.describe_error(URLError(ConnectionRefusedError(111, 'refused')), 1) == 'connection refused'


def test_validate_endpoint():
    assert hp.validate_endpoint(endpoint(probes=0)) == 'probes must be >= 1'
    assert hp.validate_endpoint(endpoint(retries=-1)) == 'retries must be >= 0'
    assert hp.validate_endpoint(endpoint()) is None


def test_result_to_row():
    ep = endpoint(name='el-bot health', json={'status': 'ok'}, latency_max_ms=500)
    good = hp.check_endpoint(ep, scripted([ok(2.0)]), sleep=lambda s: None)
    row = hp.result_to_row(good, ep)
    assert row == {'check': 'el-bot health', 'target': 'http://127.0.0.1:1/health', 'value': 'HTTP 200, p95 2 ms',
                   'threshold': 'HTTP [200], JSON status="ok", p95 <= 500 ms', 'status': 'ok',
                   'message': 'HTTP 200, p50 2 ms, p95 2 ms over 5 probes'}
    bad = hp.check_endpoint(ep, scripted([dict(error='connection refused')]), sleep=lambda s: None)
    row = hp.result_to_row(bad, ep)
    assert (row['value'], row['status'], row['message']) == (None, 'failed', 'connection refused')


def test_check_json_of_a_body_nested_too_deeply():
    """json.loads raises RecursionError on it: a mismatch reason, not a crash."""
    from ansible_collections.opskit.ops.plugins.module_utils._http_probe import check_json
    reasons, actual = check_json(b'[' * 200000 + b']' * 200000, {'status': 'ok'})
    assert (reasons, actual) == (['body is not JSON this module can read (nested too deeply)'], {})
