# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_metrics_eval agrees with Prometheus's own rate() and histogram_quantile().

The same series are given to Prometheus (``promtool test rules`` with the
recording rules of tests/promtool/agreement_rules.yml) and, as two scrapes
five minutes apart, to _metrics_eval. The values _metrics_eval computes are
written as the ``exp_samples`` of the promtool test: if one of them is wrong,
promtool fails. Values are compared after PromQL's ``round(x, 1e-6)``,
applied the same way on both sides, because rate() divides before
histogram_quantile() interpolates and the module divides after, which may
differ in the last bit of a float.

Skipped only when promtool is not installed (Debian package ``prometheus``;
``scripts/setup_host.sh`` installs it).
"""

from __future__ import absolute_import, division, print_function

import json
import math
import os
import shutil
import subprocess

import pytest
import yaml

from ansible_collections.opskit.ops.plugins.module_utils import _metrics_eval as me

PROMTOOL = shutil.which('promtool')
pytestmark = pytest.mark.skipif(
    PROMTOOL is None,
    reason='promtool is not installed (Debian package prometheus): agreement with Prometheus not checked')

RULES = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'promtool',
                                     'agreement_rules.yml'))
ROUND_TO = 0.000001
BOUNDS = ('100', '500', '1000', '2500', '5000', '10000', '+Inf')

# Group 1: sampled every minute, linear. (name, labels): (value at 0, increase per minute)
LINEAR = {
    ('chat_execution_total', (('mode', 'direct_llm'),)): (1000, 20),
    ('chat_execution_total', (('mode', 'runtime_orchestrator'),)): (500, 50),
    ('chat_execution_error_total', (('mode', 'direct_llm'),)): (10, 1),
    ('chat_execution_error_total', (('mode', 'runtime_orchestrator'),)): (40, 9),
}
_BUCKETS_LINEAR = {
    # cumulative buckets: start values and increases per minute, per le
    'direct_llm': ((200, 600, 850, 950, 990, 1000, 1000), (4, 12, 17, 19, 20, 20, 20)),
    'runtime_orchestrator': ((5, 100, 200, 300, 400, 480, 500), (0, 5, 20, 35, 44, 49, 50)),
}
for _mode, (_starts, _steps) in _BUCKETS_LINEAR.items():
    for _le, _start, _step in zip(BOUNDS, _starts, _steps):
        LINEAR[('chat_execution_latency_ms_bucket', (('le', _le), ('mode', _mode)))] = (_start, _step)

# Group 2: sampled every 5 minutes (0, 5m, 10m); the service restarted between
# 5m and 10m, so every counter went down (a counter reset).
RESET = {
    ('chat_execution_total', (('mode', 'runtime_orchestrator'),)): (100, 400, 30),
    ('chat_execution_error_total', (('mode', 'runtime_orchestrator'),)): (5, 20, 9),
    ('chat_execution_latency_ms_bucket', (('le', '500'), ('mode', 'runtime_orchestrator'))): (10, 100, 3),
    ('chat_execution_latency_ms_bucket', (('le', '1000'), ('mode', 'runtime_orchestrator'))): (50, 300, 20),
    ('chat_execution_latency_ms_bucket', (('le', '+Inf'), ('mode', 'runtime_orchestrator'))): (100, 400, 30),
}

TYPES = '# TYPE chat_execution_total counter\n# TYPE chat_execution_error_total counter\n' \
        '# TYPE chat_execution_latency_ms histogram\n'


def series_name(name, labels):
    return '%s{%s}' % (name, ','.join('%s="%s"' % item for item in labels))


def exposition(values):
    """Text exposition of {(name, labels): value}, as a service would serve it."""
    lines = [TYPES.rstrip('\n')]
    for family in ('chat_execution_total', 'chat_execution_error_total', 'chat_execution_latency_ms_bucket'):
        for (name, labels), value in sorted(values.items()):
            if name == family:
                lines.append('%s %r' % (series_name(name, labels), float(value)))
    return '\n'.join(lines) + '\n'


def linear_at(minute):
    return dict((key, start + step * minute) for key, (start, step) in LINEAR.items())


def reset_at(index):
    return dict((key, values[index]) for key, values in RESET.items())


def promql_round(value):
    """PromQL's round(v, to_nearest), with the same float operations."""
    inverse = 1.0 / ROUND_TO
    return math.floor(value * inverse + 0.5) / inverse


def module_values(rule, previous, current, seconds):
    """{labels text: value} of one rule evaluated by _metrics_eval."""
    results = me.evaluate_rule(me.normalize_rule(rule), current, previous, seconds)
    values = {}
    for result in results:
        assert result['value'] is not None and not math.isnan(result['value']), result
        labels = ','.join('%s="%s"' % item for item in sorted(result['labels'].items()))
        values['{%s}' % labels] = result['value']
    return values


def rule(kind, **kwargs):
    base = dict(name=str(kind), op='<=', threshold=1e12, by=['mode'])
    if kind == 'ratio':
        base.update(type='ratio', metric='chat_execution_error_total', denominator='chat_execution_total')
    elif kind == 'rate':
        base.update(type='rate', metric='chat_execution_total')
    else:
        base.update(type='quantile', metric='chat_execution_latency_ms', quantile=kind)
    base.update(kwargs)
    return base


def expr_tests(recorded, values, eval_time, shift=0.0):
    tests = []
    for record, by_labels in zip(recorded, values):
        tests.append({
            'expr': 'round(%s, %r)' % (record, ROUND_TO),
            'eval_time': eval_time,
            'exp_samples': [{'labels': labels, 'value': promql_round(value) + shift}
                            for labels, value in sorted(by_labels.items())],
        })
    return tests


def build_test_file(shift=0.0):
    """The promtool test, its exp_samples computed by _metrics_eval; and those values."""
    # Group 1: the module scrapes at 5m and 10m; Prometheus evaluates rate(...[5m]) at 10m.
    previous, current = me.parse_exposition(exposition(linear_at(5))), me.parse_exposition(exposition(linear_at(10)))
    linear_values = [
        module_values(rule('ratio'), previous, current, 300.0),
        module_values(rule('rate'), previous, current, 300.0),
        module_values(rule(0.5), previous, current, 300.0),
        module_values(rule(0.95), previous, current, 300.0),
        module_values(rule(0.99), previous, current, 300.0),
        module_values(rule(0.95, by=[]), previous, current, 300.0),
    ]
    linear_records = ['mode:chat_execution_error_ratio:rate5m', 'mode:chat_execution:rate5m',
                      'mode:chat_execution_latency_ms:p50_rate5m', 'mode:chat_execution_latency_ms:p95_rate5m',
                      'mode:chat_execution_latency_ms:p99_rate5m', 'chat_execution_latency_ms:p95_rate5m']
    # Group 2: the module scrapes at 5m and 10m across a reset; Prometheus's range [6m]
    # holds exactly these two samples (and rate() extrapolates both the same way).
    previous, current = me.parse_exposition(exposition(reset_at(1))), me.parse_exposition(exposition(reset_at(2)))
    reset_values = [
        module_values(rule('ratio'), previous, current, 300.0),
        module_values(rule('rate'), previous, current, 300.0),
        module_values(rule(0.5), previous, current, 300.0),
        module_values(rule(0.95), previous, current, 300.0),
    ]
    reset_records = ['mode:chat_execution_error_ratio:rate6m', 'mode:chat_execution:rate6m',
                     'mode:chat_execution_latency_ms:p50_rate6m', 'mode:chat_execution_latency_ms:p95_rate6m']
    test = {
        'rule_files': [RULES],
        'evaluation_interval': '1m',
        'tests': [
            {
                'interval': '1m',
                'input_series': [{'series': series_name(name, labels), 'values': '%d+%dx10' % (start, step)}
                                 for (name, labels), (start, step) in sorted(LINEAR.items())],
                'promql_expr_test': expr_tests(linear_records, linear_values, '10m', shift),
            },
            {
                'interval': '5m',
                'input_series': [{'series': series_name(name, labels), 'values': ' '.join(str(v) for v in values)}
                                 for (name, labels), values in sorted(RESET.items())],
                'promql_expr_test': expr_tests(reset_records, reset_values, '10m', shift),
            },
        ],
    }
    return test, linear_values, reset_values


def run_promtool(tmp_path, test):
    path = tmp_path / 'agreement_test.yml'
    path.write_text(json.dumps(test, indent=1))  # JSON is YAML
    return subprocess.run([PROMTOOL, 'test', 'rules', str(path)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=120,
                          check=False)


def test_module_values_are_the_hand_computed_ones():
    linear, reset = build_test_file()[1:]
    ratio, rate, p50, p95, p99, p95_all = linear
    # increases from 5m to 10m: 5 x the increase per minute
    assert ratio == {'{mode="direct_llm"}': pytest.approx(5.0 / 100), '{mode="runtime_orchestrator"}':
                     pytest.approx(45.0 / 250)}
    assert rate == {'{mode="direct_llm"}': 100.0 / 300, '{mode="runtime_orchestrator"}': 250.0 / 300}
    # direct_llm bucket increases: 20, 60, 85, 95, 100, 100, 100
    #   p50: rank 50 in (100, 500]: 100 + 400 * (50 - 20) / 40 = 400
    #   p95: rank 95 at the top of (1000, 2500]: 2500; p99: rank 99 in (2500, 5000]: 2500 + 2500 * 4 / 5
    assert p50['{mode="direct_llm"}'] == pytest.approx(400.0)
    assert p95['{mode="direct_llm"}'] == pytest.approx(2500.0)
    assert p99['{mode="direct_llm"}'] == pytest.approx(4500.0)
    # runtime_orchestrator: 0, 25, 100, 175, 220, 245, 250: p99 rank 247.5 in the +Inf bucket -> 10000
    assert p99['{mode="runtime_orchestrator"}'] == 10000.0
    # both modes summed by le: 20, 85, 185, 270, 320, 345, 350: p95 rank 332.5 in (5000, 10000]
    assert p95_all == {'{}': pytest.approx(5000 + 5000 * (332.5 - 320) / 25)}
    r_ratio, r_rate, r_p50, r_p95 = reset
    # after the reset the new values are the increases: 9 / 30, 30 / 300 s
    assert r_ratio == {'{mode="runtime_orchestrator"}': pytest.approx(0.3)}
    assert r_rate == {'{mode="runtime_orchestrator"}': pytest.approx(0.1)}
    # buckets 3, 20, 30: p50 rank 15 in (500, 1000]: 500 + 500 * 12 / 17; p95 rank 28.5 in +Inf -> 1000
    assert r_p50 == {'{mode="runtime_orchestrator"}': pytest.approx(500 + 500 * 12.0 / 17)}
    assert r_p95 == {'{mode="runtime_orchestrator"}': 1000.0}


def test_promtool_agrees_with_metrics_eval(tmp_path):
    test = build_test_file()[0]
    result = run_promtool(tmp_path, test)
    assert result.returncode == 0, result.stdout
    assert 'SUCCESS' in result.stdout


def test_promtool_catches_a_wrong_value(tmp_path):
    # the same test with every expected value off by 0.001 must fail: promtool really compares
    test = build_test_file(shift=0.001)[0]
    result = run_promtool(tmp_path, test)
    assert result.returncode != 0
    assert 'FAILED' in result.stdout


def test_promql_sent_to_prometheus_is_valid(tmp_path):
    # every query the module would send to a Prometheus server (the runbooks' rules and each rule type) parses
    with open(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'roles', 'healthcheck', 'defaults',
                           'main.yml')) as handle:
        runbook_rules = yaml.safe_load(handle)['healthcheck_default_rules']
    rules = [rule for runbook in sorted(runbook_rules) for rule in runbook_rules[runbook]] + [
        {'name': 'rps', 'type': 'rate', 'metric': 'chat_execution_total', 'labels': {'mode': 'direct_llm'},
         'op': '>', 'threshold': 0},
        {'name': 'exported', 'type': 'present', 'metric': 'up', 'labels': {'job': 'runtime-service'}},
        {'name': 'gone', 'type': 'absent', 'metric': 'legacy_metric'},
        {'name': 'slots', 'type': 'gauge', 'metric': 'slot_coverage', 'by': ['pipeline_stage'], 'op': '>=',
         'threshold': 0.5},
    ]
    records = [{'record': 'opskit:query_%d' % index, 'expr': me.prometheus_query(me.normalize_rule(r), '5m')}
               for index, r in enumerate(rules)]
    path = tmp_path / 'queries.yml'
    path.write_text(json.dumps({'groups': [{'name': 'queries', 'rules': records}]}))
    result = subprocess.run([PROMTOOL, 'check', 'rules', str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout
    assert 'SUCCESS: %d rules found' % len(records) in result.stdout
