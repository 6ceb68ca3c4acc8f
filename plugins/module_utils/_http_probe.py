# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Concurrent HTTP health probes for the ``opskit.ops.http_check`` module.

An endpoint passes when, in one attempt, every one of its ``probes`` requests
answers with an expected status and the expected JSON fields, and the p95 of
their latencies is within the budget. A failed attempt is retried after
``backoff * 2 ** (attempt - 1)`` seconds, at most ``retries`` times; retries
stop as soon as the endpoint passes. Endpoints are probed concurrently, each
in its own thread; the probes of one endpoint run one after the other.

Only the standard library (urllib) is used, so the module runs on any target
with Python 3.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import math
import socket
import ssl
import threading
import time

from concurrent.futures import ThreadPoolExecutor
from urllib import request as urllib_request
from urllib.error import HTTPError

from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

from ansible_collections.opskit.ops.plugins.module_utils._check_rows import (
    STATUS_FAILED,
    STATUS_OK,
    fmt_number,
    make_row,
)

MAX_BODY = 1024 * 1024  # bytes read from a response, enough for any health document
USER_AGENT = 'opskit-http-check'

ENDPOINT_KEYS = ('url', 'name', 'method', 'status_code', 'json', 'latency_max_ms', 'probes',
                 'timeout', 'retries', 'backoff', 'token', 'headers', 'validate_certs', 'body')


def percentile(values, q):
    """q-quantile (0..1) of ``values`` by linear interpolation between closest ranks.

    The 'linear' method of numpy.percentile / Excel PERCENTILE.INC: the value
    at position (n - 1) * q of the sorted values. None for no values.
    """
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    lower = int(math.floor(position))
    upper = min(lower + 1, len(ordered) - 1)
    weight = position - lower
    return ordered[lower] + (ordered[upper] - ordered[lower]) * weight


_MISSING = object()


def get_path(document, path):
    """Value at a dotted path ('checks.db.status', 'items.0.name'), or _MISSING."""
    current = document
    for part in str(path).split('.'):
        if isinstance(current, dict):
            if part not in current:
                return _MISSING
            current = current[part]
        elif isinstance(current, list):
            try:
                current = current[int(part)]
            except (ValueError, IndexError):
                return _MISSING
        else:
            return _MISSING
    return current


def _same(actual, expected):
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return actual == expected
    return actual == expected


def check_json(body, expected):
    """(mismatch reasons, actual values by path) of ``expected`` {path: value} in ``body``."""
    try:
        document = json.loads(to_text(body, errors='surrogate_or_replace'))
    except ValueError as exc:
        return ['body is not JSON (%s)' % to_native(exc)], {}
    except RecursionError:
        return ['body is not JSON this module can read (nested too deeply)'], {}
    reasons = []
    actual = {}
    for path, want in expected.items():
        got = get_path(document, path)
        if got is _MISSING:
            reasons.append('JSON field %s missing, expected %s' % (path, json.dumps(want)))
            actual[path] = None
            continue
        actual[path] = got
        if not _same(got, want):
            reasons.append('JSON field %s is %s, expected %s' % (path, json.dumps(got), json.dumps(want)))
    return reasons, actual


def _is_timeout(exc):
    if isinstance(exc, socket.timeout):
        return True
    reason = getattr(exc, 'reason', None)
    if isinstance(reason, socket.timeout):
        return True
    return 'timed out' in to_native(exc).lower()


def describe_error(exc, timeout):
    """Short reason of a failed request: 'timed out after 2.0s', 'connection refused'."""
    if _is_timeout(exc):
        return 'timed out after %ss' % float(timeout)
    reason = getattr(exc, 'reason', exc)
    if isinstance(reason, ConnectionRefusedError):
        return 'connection refused'
    if isinstance(reason, socket.gaierror):
        return 'name resolution failed (%s)' % to_native(reason)
    text = to_native(reason) or type(exc).__name__
    return text


_OPENERS = {}
_OPENERS_LOCK = threading.Lock()


def opener(validate_certs):
    """One urllib opener per TLS setting, built once and shared by the threads.

    ``ansible.module_utils.urls.open_url`` is not used: it builds a new TLS
    context (loading the CA store, about 40 ms of CPU under the GIL) for every
    request, and installs its opener process-wide before opening, which is not
    safe when threads with different settings request at the same time.
    """
    with _OPENERS_LOCK:
        if validate_certs not in _OPENERS:
            context = ssl.create_default_context()
            if not validate_certs:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            _OPENERS[validate_certs] = urllib_request.build_opener(urllib_request.HTTPSHandler(context=context))
        return _OPENERS[validate_certs]


def request(endpoint):
    """One request. Returns dict(status, latency_ms, body, error)."""
    headers = dict(endpoint.get('headers') or {})
    if endpoint.get('token'):
        headers['Authorization'] = 'Bearer %s' % endpoint['token']
    data = endpoint.get('body')
    if data is not None:
        if not isinstance(data, (bytes, str)):
            data = json.dumps(data)
            headers.setdefault('Content-Type', 'application/json')
        data = to_bytes(data)
    headers.setdefault('User-Agent', USER_AGENT)
    try:
        req = urllib_request.Request(endpoint['url'], data=data, headers=headers, method=endpoint['method'])
        shared = opener(endpoint['validate_certs'])  # outside the timing: built once per run
    except Exception as exc:  # a URL urllib cannot use
        return dict(status=None, latency_ms=None, body=None, error=describe_error(exc, endpoint['timeout']))
    started = time.monotonic()
    try:
        response = shared.open(req, timeout=endpoint['timeout'])
        try:
            body = response.read(MAX_BODY)
            status = response.getcode()
        finally:
            response.close()
    except HTTPError as exc:
        # 4xx/5xx: a response nonetheless, judged against the expected statuses.
        try:
            body = exc.read(MAX_BODY)
        except Exception:
            body = b''
        status = exc.code
    except Exception as exc:  # URLError, socket errors, time-outs, http.client errors, bad URLs
        return dict(status=None, latency_ms=None, body=None,
                    error=describe_error(exc, endpoint['timeout']))
    latency_ms = (time.monotonic() - started) * 1000.0
    return dict(status=status, latency_ms=latency_ms, body=body, error=None)


def _attempt(endpoint, send):
    """Probe ``endpoint`` ``probes`` times; return (reason or None, details)."""
    latencies = []
    status = None
    fields = {}
    for index in range(endpoint['probes']):
        answer = send(endpoint)
        prefix = 'probe %d/%d: ' % (index + 1, endpoint['probes']) if index else ''
        if answer['error']:
            return prefix + answer['error'], dict(status=status, latencies=latencies, json=fields)
        status = answer['status']
        if status not in endpoint['status_code']:
            reason = '%sstatus %d, expected %s' % (prefix, status, _codes(endpoint['status_code']))
            return reason, dict(status=status, latencies=latencies, json=fields)
        if endpoint.get('json'):
            mismatches, fields = check_json(answer['body'], endpoint['json'])
            if mismatches:
                return prefix + '; '.join(mismatches), dict(status=status, latencies=latencies, json=fields)
        latencies.append(answer['latency_ms'])
    details = dict(status=status, latencies=latencies, json=fields)
    budget = endpoint.get('latency_max_ms')
    if budget is not None:
        p95 = percentile(latencies, 0.95)
        if p95 > budget:
            return ('p95 latency %s ms over budget %s ms (%d probes)'
                    % (fmt_number(round(p95, 1)), fmt_number(float(budget)), len(latencies))), details
    return None, details


def _codes(codes):
    return '[%s]' % ', '.join(str(c) for c in codes)


def _sleep(seconds):
    time.sleep(seconds)


def check_endpoint(endpoint, send=None, sleep=None):
    """Probe one endpoint with retries and backoff; return its result dict.

    ``send`` (one request) and ``sleep`` default to ``request`` and ``_sleep``,
    looked up when called so tests can replace them.
    """
    send = send or request
    sleep = sleep or _sleep
    attempts = 0
    reason = None
    details = {}
    started = time.monotonic()
    while True:
        attempts += 1
        reason, details = _attempt(endpoint, send)
        if reason is None or attempts > endpoint['retries']:
            break
        sleep(endpoint['backoff'] * (2 ** (attempts - 1)))
    latencies = details.get('latencies') or []
    latency = None
    if latencies:
        latency = dict(
            p50=round(percentile(latencies, 0.5), 2),
            p95=round(percentile(latencies, 0.95), 2),
            max=round(max(latencies), 2),
        )
    return dict(
        name=endpoint['name'],
        url=endpoint['url'],
        ok=reason is None,
        status=details.get('status'),
        reason=reason,
        attempts=attempts,
        probes=len(latencies),
        latency_ms=latency,
        json=details.get('json') or {},
        elapsed_ms=round((time.monotonic() - started) * 1000.0, 1),
    )


def check_endpoints(endpoints, concurrency, send=None, sleep=None):
    """Results of all endpoints, probed concurrently, in the order given."""
    if not endpoints:
        return []
    workers = max(1, min(concurrency, len(endpoints)))
    if workers == 1:
        return [check_endpoint(ep, send, sleep) for ep in endpoints]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(check_endpoint, ep, send, sleep) for ep in endpoints]
        return [future.result() for future in futures]


def resolve_endpoints(endpoints, defaults):
    """Endpoint dicts with every key set: the endpoint's value, else the module default."""
    resolved = []
    for endpoint in endpoints:
        merged = {}
        for key in ENDPOINT_KEYS:
            value = endpoint.get(key)
            merged[key] = defaults.get(key) if value is None else value
        headers = dict(defaults.get('headers') or {})
        headers.update(endpoint.get('headers') or {})
        merged['headers'] = headers
        merged['name'] = merged['name'] or merged['url']
        merged['method'] = (merged['method'] or 'GET').upper()
        merged['status_code'] = [int(c) for c in (merged['status_code'] or [200])]
        resolved.append(merged)
    return resolved


def validate_endpoint(endpoint):
    """Error text for an impossible setting, else None."""
    if endpoint['probes'] < 1:
        return 'probes must be >= 1'
    if endpoint['retries'] < 0:
        return 'retries must be >= 0'
    if endpoint['timeout'] <= 0:
        return 'timeout must be > 0'
    if endpoint['backoff'] < 0:
        return 'backoff must be >= 0'
    return None


def expectation_text(endpoint):
    text = 'HTTP %s' % _codes(endpoint['status_code'])
    if endpoint.get('json'):
        text += ', JSON %s' % ', '.join('%s=%s' % (k, json.dumps(v)) for k, v in sorted(endpoint['json'].items()))
    if endpoint.get('latency_max_ms') is not None:
        text += ', p95 <= %s ms' % fmt_number(float(endpoint['latency_max_ms']))
    return text


def result_to_row(result, endpoint):
    """The uniform check row of one endpoint result."""
    parts = []
    if result['status'] is not None:
        parts.append('HTTP %d' % result['status'])
    if result['latency_ms']:
        parts.append('p95 %s ms' % fmt_number(result['latency_ms']['p95']))
    value = ', '.join(parts) or None
    if result['ok']:
        message = 'HTTP %d, p50 %s ms, p95 %s ms over %d probes' % (
            result['status'], fmt_number(result['latency_ms']['p50']),
            fmt_number(result['latency_ms']['p95']), result['probes'])
        if result['attempts'] > 1:
            message += ', passed on attempt %d' % result['attempts']
        status = STATUS_OK
    else:
        message = result['reason']
        if result['attempts'] > 1:
            message += ' (%d attempts)' % result['attempts']
        status = STATUS_FAILED
    return make_row(result['name'], result['url'], value, expectation_text(endpoint), status, message)
