# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""opskit.ops.metrics_check: text, a real /metrics endpoint, and a Prometheus-like query API."""

from __future__ import absolute_import, division, print_function

import copy
import json
import os
import re
import threading
import time

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as CONTENT_TYPE_OPENMETRICS
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest


from ansible_collections.opskit.ops.plugins.modules import metrics_check

from _module_harness import run_main


ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
with open(os.path.join(ROOT, 'roles', 'healthcheck', 'defaults', 'main.yml')) as _handle:
    # The runbooks' rule sets live in the role healthcheck; the module has none built in.
    RUNBOOK_RULES = yaml.safe_load(_handle)['healthcheck_default_rules']


def rules(runbook):
    return copy.deepcopy(RUNBOOK_RULES[runbook])


@pytest.fixture
def run(monkeypatch):
    def runner(args, check_mode=False):
        return run_main(monkeypatch, metrics_check.main, args, check_mode=check_mode)
    return runner


def runtime_registry():
    """A registry with runbook 003's metrics, as the runtime service exports them."""
    registry = CollectorRegistry()
    metrics = dict(
        total=Counter('chat_execution_total', 'executions', ['mode'], registry=registry),
        success=Counter('chat_execution_success_total', 'successes', ['mode'], registry=registry),
        error=Counter('chat_execution_error_total', 'errors', ['mode'], registry=registry),
        latency=Histogram('chat_execution_latency_ms', 'latency', ['mode'], registry=registry,
                          buckets=(100, 500, 1000, 2500, 5000, 10000)),
        fallback=Gauge('chat_runtime_fallback_enabled', 'fallback', registry=registry),
    )
    return registry, metrics


def record(metrics, mode, ok, failed, latency_ms):
    for dummy in range(ok):
        metrics['total'].labels(mode).inc()
        metrics['success'].labels(mode).inc()
        metrics['latency'].labels(mode).observe(latency_ms)
    for dummy in range(failed):
        metrics['total'].labels(mode).inc()
        metrics['error'].labels(mode).inc()
        metrics['latency'].labels(mode).observe(latency_ms)


def exposition(registry):
    return generate_latest(registry).decode()


def rows_by_check(result):
    return dict((row['check'], row) for row in result.result['checks'])


# ---------------------------------------------------------------------------
# text
# ---------------------------------------------------------------------------

def test_runtime_rules_healthy_is_unchanged(run):
    registry, metrics = runtime_registry()
    record(metrics, 'direct_llm', 99, 1, 300)
    record(metrics, 'runtime_orchestrator', 98, 2, 800)
    result = run({'text': exposition(registry), 'rules': rules('003')})
    assert result.failed is False
    assert result.result['changed'] is False
    rows = rows_by_check(result)
    assert rows['runtime error rate{mode="runtime_orchestrator"}']['value'] == 0.02
    assert rows['runtime error rate{mode="runtime_orchestrator"}']['status'] == 'ok'
    # 300 ms observations: p95 rank 95 in (100, 500]: 100 + 400 * 95 / 100
    assert rows['runtime latency p95 ms{mode="direct_llm"}']['value'] == 480.0
    assert rows['runtime fallback']['value'] == 0.0
    assert rows['metrics text']['status'] == 'ok'
    assert result.result['summary']['failed'] == 0
    assert set(row['status'] for row in result.result['checks']) == set(['ok'])


def test_runtime_rules_error_rate_fails(run):
    registry, metrics = runtime_registry()
    record(metrics, 'runtime_orchestrator', 80, 20, 800)
    result = run({'text': exposition(registry), 'rules': rules('003')})
    assert result.failed is True
    assert result.result['msg'] == (
        '2 of 6 checks failed: runtime error rate{mode="runtime_orchestrator"} '
        '(sum by (mode) (chat_execution_error_total) / sum by (mode) (chat_execution_total)): '
        'runtime error rate = 0.2, expected <= 0.05; '
        'runtime success rate (critical){mode="runtime_orchestrator"} '
        '(sum by (mode) (chat_execution_success_total) / sum by (mode) (chat_execution_total)): '
        'runtime success rate (critical) = 0.8, expected >= 0.9')
    rows = rows_by_check(result)
    assert rows['runtime success rate (warning){mode="runtime_orchestrator"}']['status'] == 'warning'


def test_fail_on_error_false_returns_results(run):
    registry, metrics = runtime_registry()
    record(metrics, 'runtime_orchestrator', 80, 20, 800)
    metrics['fallback'].set(1)
    result = run({'text': exposition(registry), 'rules': rules('003'), 'fail_on_error': False})
    assert result.failed is False
    assert result.result['summary'] == {'total': 6, 'passed': 2, 'failed': 2, 'warning': 2, 'no_data': 0}
    assert result.result['msg'].startswith('2 of 6 checks failed: ')


def test_check_mode_gives_the_same_results(run):
    registry, metrics = runtime_registry()
    record(metrics, 'direct_llm', 10, 0, 50)
    normal = run({'text': exposition(registry), 'rules': rules('003')})
    checked = run({'text': exposition(registry), 'rules': rules('003')}, check_mode=True)
    assert checked.result['checks'] == normal.result['checks']
    assert checked.result['changed'] is False


def test_malformed_text_is_a_failed_check(run):
    result = run({'text': 'chat_execution_total{mode="a" 12\n', 'rules': rules('003')})
    assert result.failed is True
    assert result.result['checks'][0]['check'] == 'metrics text'
    assert result.result['checks'][0]['message'].startswith('malformed metrics exposition: ')
    assert len(result.result['checks']) == 1
    assert result.result['msg'].startswith('1 of 1 checks failed: metrics text (text): malformed metrics exposition')


def test_missing_metric_is_a_failed_check(run):
    registry, metrics = runtime_registry()
    record(metrics, 'direct_llm', 10, 0, 50)
    result = run({'text': exposition(registry), 'rules': rules('000'), 'fail_on_error': False})
    rows = rows_by_check(result)
    assert rows['el turn latency p99']['status'] == 'failed'
    assert rows['el turn latency p99']['message'] == (
        'el turn latency p99: metric turn_latency_seconds_bucket not found in the scrape (not exported, or misspelt)')
    # p90 is a warning rule of runbook 000
    assert rows['el turn latency p90']['status'] == 'warning'
    assert rows['el qcheck failure rate']['message'].endswith(
        'metric qcheck_failed_total, qgen_total not found in the scrape (not exported, or misspelt)')


def test_el_agent_rules(run):
    registry = CollectorRegistry()
    turn = Histogram('turn_latency_seconds', 'turn', registry=registry, buckets=(1, 2, 5, 10, 30))
    failed = Counter('qcheck_failed_total', 'failed', registry=registry)
    qgen = Counter('qgen_total', 'generated', registry=registry)
    for value in [0.5] * 80 + [3] * 15 + [8] * 5:
        turn.observe(value)
    qgen.inc(100)
    failed.inc(20)
    result = run({'text': exposition(registry), 'rules': rules('000'), 'fail_on_error': False})
    rows = rows_by_check(result)
    # p90: rank 90 in (2, 5]: 2 + 3 * (90 - 80) / 15 = 4; p99: rank 99 in (5, 10]: 5 + 5 * 4 / 5 = 9
    assert (rows['el turn latency p90']['value'], rows['el turn latency p90']['status']) == (4.0, 'ok')
    assert (rows['el turn latency p99']['value'], rows['el turn latency p99']['status']) == (9.0, 'ok')
    assert (rows['el qcheck failure rate']['value'], rows['el qcheck failure rate']['status']) == (0.2, 'failed')


def test_previous_text_gives_rates(run):
    registry, metrics = runtime_registry()
    record(metrics, 'runtime_orchestrator', 1000, 0, 300)   # a long healthy history...
    before = exposition(registry)
    record(metrics, 'runtime_orchestrator', 16, 4, 300)     # ...then 20 % errors in the interval
    after = exposition(registry)
    totals = run({'text': after, 'rules': rules('003'), 'fail_on_error': False})
    assert rows_by_check(totals)['runtime error rate{mode="runtime_orchestrator"}']['status'] == 'ok'
    rates = run({'text': after, 'previous_text': before, 'interval': 10,
                 'rules': rules('003') + [{'name': 'requests per second', 'type': 'rate',
                                           'metric': 'chat_execution_total', 'op': '>=', 'threshold': 1}],
                 'fail_on_error': False})
    rows = rows_by_check(rates)
    assert rows['runtime error rate{mode="runtime_orchestrator"}']['value'] == 0.2
    assert rows['runtime error rate{mode="runtime_orchestrator"}']['status'] == 'failed'
    assert rows['requests per second']['value'] == 2.0
    assert rows['metrics text']['message'] == '%d samples parsed (2 scrapes 10.0 s apart)' % rows['metrics text']['value']


def test_a_target_rule_replaces_the_module_rule_of_the_same_name(run):
    registry, metrics = runtime_registry()
    record(metrics, 'direct_llm', 90, 10, 50)
    own = [{'name': 'runtime error rate', 'type': 'ratio', 'metric': 'chat_execution_error_total',
            'denominator': 'chat_execution_total', 'op': '<=', 'threshold': 0.2}]
    assert [r['name'] for r in metrics_check.merge_rules(rules('003'), own)] == [r['name'] for r in rules('003')]
    merged = metrics_check.merge_rules(rules('003'), own)
    result = run({'text': exposition(registry), 'rules': merged, 'fail_on_error': False})
    row = rows_by_check(result)['runtime error rate']
    assert (row['value'], row['threshold'], row['status']) == (0.1, '<= 0.2', 'ok')


def test_bad_rule_fails_the_module(run):
    result = run({'text': '', 'rules': [{'name': 'x', 'type': 'ratio', 'metric': 'a', 'op': '<', 'threshold': 1}]})
    assert result.failed is True
    assert result.result['msg'] == "rule 'x' (type ratio) needs denominator"


def test_query_rule_without_prometheus_fails_the_module(run):
    result = run({'text': '', 'rules': [{'name': 'up', 'type': 'query', 'query': 'up', 'op': '==', 'threshold': 1}]})
    assert result.failed is True
    assert result.result['msg'] == "rule 'up': type query needs prometheus_url"


def test_missing_prometheus_client_reports_missing_required_lib(run, monkeypatch):
    monkeypatch.setattr(metrics_check, 'HAS_PROMETHEUS_CLIENT', False)
    result = run({'text': 'x 1\n'})
    assert result.failed is True
    assert 'prometheus_client' in result.result['msg']
    assert 'Failed to import the required Python library' in result.result['msg']


def test_sources_are_mutually_exclusive(run):
    result = run({'text': 'x 1\n', 'url': 'http://127.0.0.1:1/metrics'})
    assert result.failed is True
    assert 'mutually exclusive' in result.result['msg']


# ---------------------------------------------------------------------------
# a real /metrics endpoint
# ---------------------------------------------------------------------------

class MetricsHandler(BaseHTTPRequestHandler):
    registry = None
    metrics = None
    scrapes = 0
    token = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        cls = type(self)
        content_type = 'text/plain; version=0.0.4'
        if self.path == '/broken':
            body = b'<html>502 Bad Gateway</html>'
        elif self.path == '/openmetrics':
            body = openmetrics_latest(cls.registry)
            content_type = CONTENT_TYPE_OPENMETRICS
        elif self.path == '/metrics':
            if cls.token and self.headers.get('Authorization') != 'Bearer ' + cls.token:
                self.send_response(401)
                self.end_headers()
                return
            cls.scrapes += 1
            if cls.scrapes % 2 == 0:
                # between two scrapes: 10 executions, 3 of them failing
                record(cls.metrics, 'runtime_orchestrator', 7, 3, 800)
            body = generate_latest(cls.registry)
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def metrics_server():
    registry, metrics = runtime_registry()
    record(metrics, 'runtime_orchestrator', 500, 0, 300)
    MetricsHandler.registry = registry
    MetricsHandler.metrics = metrics
    MetricsHandler.scrapes = 0
    MetricsHandler.token = None
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), MetricsHandler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield 'http://127.0.0.1:%d' % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_url_one_scrape_uses_totals(run, metrics_server):
    result = run({'url': metrics_server + '/metrics', 'rules': rules('003')})
    assert result.failed is False
    assert result.result['scrape']['scrapes'] == 1
    assert rows_by_check(result)['metrics scrape']['status'] == 'ok'


def test_url_two_scrapes_judge_the_interval(run, metrics_server):
    result = run({'url': metrics_server + '/metrics', 'rules': rules('003'), 'interval': 0.2, 'fail_on_error': False})
    assert result.result['scrape']['scrapes'] == 2
    assert result.result['scrape']['seconds'] >= 0.2
    rows = rows_by_check(result)
    # the 500 healthy executions before the first scrape do not count: 3 of 10 failed
    assert rows['runtime error rate{mode="runtime_orchestrator"}']['value'] == 0.3
    assert rows['runtime error rate{mode="runtime_orchestrator"}']['status'] == 'failed'
    assert re.search(r'rate\(chat_execution_error_total\[0\.\ds\]\)',
                     rows['runtime error rate{mode="runtime_orchestrator"}']['target'])
    # latency of the interval: 10 observations of 800 ms, p95 rank 9.5 in (500, 1000]
    assert rows['runtime latency p95 ms{mode="runtime_orchestrator"}']['value'] == 975.0


def test_url_with_token(run, metrics_server):
    MetricsHandler.token = 's3cret'
    denied = run({'url': metrics_server + '/metrics', 'fail_on_error': False})
    assert denied.result['checks'][0]['message'] == 'cannot read %s/metrics: status 401' % metrics_server
    allowed = run({'url': metrics_server + '/metrics', 'token': 's3cret'})
    assert allowed.failed is False
    assert 's3cret' not in json.dumps(allowed.result)


def test_url_unreachable_and_not_metrics(run, metrics_server):
    gone = run({'url': 'http://127.0.0.1:9/metrics', 'rules': rules('003'), 'timeout': 1})
    assert gone.failed is True
    assert gone.result['checks'][0]['check'] == 'metrics scrape'
    assert gone.result['checks'][0]['message'].startswith('cannot read http://127.0.0.1:9/metrics: ')
    html = run({'url': metrics_server + '/broken', 'rules': rules('003')})
    assert html.failed is True
    assert html.result['checks'][0]['message'].startswith('malformed metrics exposition: ')


# ---------------------------------------------------------------------------
# a Prometheus query API
# ---------------------------------------------------------------------------

class PrometheusHandler(BaseHTTPRequestHandler):
    queries = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query).get('query', [''])[0]
        type(self).queries.append(query)
        if query.startswith('sum by (mode) (rate(chat_execution_error_total[5m]))'):
            data = {'resultType': 'vector', 'result': [
                {'metric': {'mode': 'direct_llm'}, 'value': [1, '0.01']},
                {'metric': {'mode': 'runtime_orchestrator'}, 'value': [1, '0.2']}]}
        elif query.startswith('histogram_quantile('):
            data = {'resultType': 'vector', 'result': [{'metric': {'mode': 'direct_llm'}, 'value': [1, 'NaN']}]}
        elif query == 'up{job="runtime-service"}':
            data = {'resultType': 'vector', 'result': [{'metric': {'__name__': 'up', 'job': 'runtime-service'},
                                                        'value': [1, '1']}]}
        elif query == 'bad(':
            body = json.dumps({'status': 'error', 'errorType': 'bad_data', 'error': 'parse error'}).encode()
            self.send_response(400)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        else:
            data = {'resultType': 'vector', 'result': []}
        body = json.dumps({'status': 'success', 'data': data}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def prometheus():
    PrometheusHandler.queries = []
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), PrometheusHandler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield 'http://127.0.0.1:%d' % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_prometheus_query_api(run, prometheus):
    result = run({'prometheus_url': prometheus, 'fail_on_error': False,
                  'rules': rules('003') + [
                      {'name': 'runtime up', 'type': 'query', 'query': 'up{job="runtime-service"}',
                       'op': '==', 'threshold': 1},
                      {'name': 'broken', 'type': 'query', 'query': 'bad(', 'op': '==', 'threshold': 1}]})
    assert PrometheusHandler.queries[:2] == [
        'sum by (mode) (rate(chat_execution_error_total[5m])) / sum by (mode) (rate(chat_execution_total[5m]))',
        'histogram_quantile(0.95, sum by (le, mode) (rate(chat_execution_latency_ms_bucket[5m])))',
    ]
    rows = rows_by_check(result)
    assert rows['runtime error rate{mode="runtime_orchestrator"}']['status'] == 'failed'
    assert rows['runtime error rate{mode="direct_llm"}']['status'] == 'ok'
    assert rows['runtime latency p95 ms{mode="direct_llm"}']['status'] == 'no_data'
    assert rows['runtime fallback']['status'] == 'no_data'
    assert rows['runtime up{job="runtime-service"}']['status'] == 'ok'
    assert rows['broken']['status'] == 'failed'
    assert rows['broken']['message'] == 'query failed: status 400: bad_data: parse error'


def test_url_serving_openmetrics(run, metrics_server):
    result = run({'url': metrics_server + '/openmetrics', 'rules': rules('003')})
    assert result.failed is False
    rows = rows_by_check(result)
    assert rows['runtime error rate{mode="runtime_orchestrator"}']['value'] == 0.0
    # 500 observations of 300 ms: rank 475 in (100, 500]: 100 + 400 * 475 / 500
    assert rows['runtime latency p95 ms{mode="runtime_orchestrator"}']['value'] == 480.0


# ---------------------------------------------------------------------------
# targets: every service of a host in one interval
# ---------------------------------------------------------------------------

def test_targets_share_one_interval_and_keep_their_own_rules(run, metrics_server):
    fallback = [{'name': 'fallback off', 'metric': 'chat_runtime_fallback_enabled', 'op': '==', 'threshold': 0}]
    started = time.monotonic()
    result = run({'interval': 0.5, 'fail_on_error': False, 'targets': [
        {'name': 'runtime', 'url': metrics_server + '/metrics', 'rules': rules('003')},
        {'name': 'other', 'url': metrics_server + '/openmetrics', 'rules': fallback},
        {'name': 'gone', 'url': 'http://127.0.0.1:9/metrics'},
    ], 'timeout': 1})
    elapsed = time.monotonic() - started
    # One wait for the three targets, not one each.
    assert 0.5 <= elapsed < 1.0 + 0.5, elapsed
    assert [t['name'] for t in result.result['targets']] == ['runtime', 'other', 'gone']
    rows = rows_by_check(result)
    # Each target by its own rules only, rows prefixed with its name.
    assert rows['runtime: runtime error rate{mode="runtime_orchestrator"}']['value'] == 0.3
    assert rows['runtime: runtime error rate{mode="runtime_orchestrator"}']['status'] == 'failed'
    assert rows['runtime: metrics scrape']['message'].endswith('s apart)')
    assert rows['other: fallback off']['status'] == 'ok'
    assert not [check for check in rows if check.startswith('other: runtime')]
    assert not [check for check in rows if check.startswith('runtime: fallback off')]
    assert rows['gone: metrics scrape']['status'] == 'failed'
    assert rows['gone: metrics scrape']['message'].startswith('cannot read http://127.0.0.1:9/metrics: ')
    assert result.result['targets'][2]['checks'][0]['check'] == 'metrics scrape'
    assert result.result['targets'][0]['scrape']['scrapes'] == 2
    assert result.result['summary']['failed'] == sum(t['summary']['failed'] for t in result.result['targets'])


def test_targets_exclude_url_and_name_a_bad_rule(run, metrics_server):
    both = run({'url': metrics_server + '/metrics', 'targets': [{'name': 'a', 'url': metrics_server + '/metrics'}]})
    assert both.failed is True
    assert 'mutually exclusive' in both.result['msg']
    bad = run({'targets': [{'name': 'svc', 'url': metrics_server + '/metrics',
                            'rules': [{'name': 'x', 'type': 'ratio', 'metric': 'a', 'op': '<', 'threshold': 1}]}]})
    assert bad.failed is True
    assert bad.result['msg'] == "targets[svc]: rule 'x' (type ratio) needs denominator"


def test_bucket_with_a_non_numeric_bound_fails_its_rule_only(run):
    text = ('# TYPE x histogram\nx_bucket{le="abc"} 1\nx_bucket{le="+Inf"} 2\nx_count 2\nx_sum 1\n'
            '# TYPE up gauge\nup 1\n')
    result = run({'text': text, 'fail_on_error': False, 'rules': [
        {'name': 'x p90', 'type': 'quantile', 'metric': 'x', 'quantile': 0.9, 'op': '<=', 'threshold': 1},
        {'name': 'up', 'metric': 'up', 'op': '==', 'threshold': 1}]})
    rows = rows_by_check(result)
    assert rows['x p90']['status'] == 'failed'
    assert rows['x p90']['message'] == "bucket label le='abc' is not a number"
    assert rows['up']['status'] == 'ok'
