# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every calculation of _metrics_eval against hand-computed values."""

from __future__ import absolute_import, division, print_function

import copy
import math
import os

import pytest
import yaml

from ansible_collections.opskit.ops.plugins.module_utils import _metrics_eval as me

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
with open(os.path.join(ROOT, 'roles', 'healthcheck', 'defaults', 'main.yml')) as _handle:
    # The runbooks' rule sets are data of the role healthcheck.
    RUNBOOK_RULES = yaml.safe_load(_handle)['healthcheck_default_rules']


def runbook_rules(runbook):
    return copy.deepcopy(RUNBOOK_RULES[runbook])


INF = float('inf')


def rule(**kwargs):
    return me.normalize_rule(kwargs)


def one(results):
    assert len(results) == 1
    return results[0]


# ---------------------------------------------------------------------------
# histogram_quantile
# ---------------------------------------------------------------------------

BUCKETS = [(0.1, 10.0), (0.5, 60.0), (1.0, 90.0), (INF, 100.0)]


@pytest.mark.parametrize('q, expected', [
    # rank 50 falls in (0.1, 0.5]: 0.1 + 0.4 * (50 - 10) / (60 - 10)
    (0.5, 0.1 + 0.4 * (40.0 / 50.0)),
    # rank 5 in the lowest bucket, lower bound 0: 0.1 * 5 / 10
    (0.05, 0.05),
    # rank 90 exactly at the top of (0.5, 1]
    (0.9, 1.0),
    # rank 95 in the +Inf bucket: the second highest bound
    (0.95, 1.0),
    (0.99, 1.0),
    # rank 0: the first bucket, 0 + 0.1 * 0 / 10
    (0.0, 0.0),
    (1.0, 1.0),
])
def test_bucket_quantile_hand_computed(q, expected):
    assert me.bucket_quantile(q, BUCKETS) == pytest.approx(expected, rel=1e-12)


def test_bucket_quantile_order_of_buckets_does_not_matter():
    assert me.bucket_quantile(0.5, list(reversed(BUCKETS))) == pytest.approx(0.42)


def test_bucket_quantile_out_of_range_q():
    assert me.bucket_quantile(-0.1, BUCKETS) == -INF
    assert me.bucket_quantile(1.1, BUCKETS) == INF
    assert math.isnan(me.bucket_quantile(float('nan'), BUCKETS))


def test_bucket_quantile_no_observations_is_nan():
    assert math.isnan(me.bucket_quantile(0.5, [(1.0, 0.0), (INF, 0.0)]))


def test_bucket_quantile_without_inf_bucket_is_nan():
    assert math.isnan(me.bucket_quantile(0.5, [(1.0, 5.0), (2.0, 10.0)]))


def test_bucket_quantile_fewer_than_two_buckets_is_nan():
    assert math.isnan(me.bucket_quantile(0.5, [(INF, 10.0)]))
    assert math.isnan(me.bucket_quantile(0.5, []))


def test_bucket_quantile_lowest_bound_not_positive_is_returned():
    buckets = [(-1.0, 5.0), (1.0, 10.0), (INF, 10.0)]
    assert me.bucket_quantile(0.2, buckets) == -1.0
    buckets = [(0.0, 5.0), (1.0, 10.0), (INF, 10.0)]
    assert me.bucket_quantile(0.2, buckets) == 0.0
    # rank 7.5 in (0, 1]: 0 + 1 * (7.5 - 5) / 5
    assert me.bucket_quantile(0.75, buckets) == pytest.approx(0.5)


def test_bucket_quantile_all_in_inf_bucket_returns_second_highest_bound():
    assert me.bucket_quantile(0.5, [(1.0, 0.0), (2.0, 0.0), (INF, 10.0)]) == 2.0


def test_bucket_quantile_empty_first_bucket_at_rank_zero_is_nan():
    # Go: 0 + (1 - 0) * (0 / 0) = NaN
    assert math.isnan(me.bucket_quantile(0.0, [(1.0, 0.0), (2.0, 5.0), (INF, 5.0)]))


def test_bucket_quantile_forces_monotonicity():
    # (2, 5) is raised to 10: rank 5 in (0, 1] -> 0.5
    assert me.bucket_quantile(0.5, [(1.0, 10.0), (2.0, 5.0), (INF, 10.0)]) == pytest.approx(0.5)


def test_bucket_quantile_coalesces_equal_bounds():
    buckets = [(1.0, 5.0), (1.0, 5.0), (INF, 10.0), (INF, 10.0)]
    # (1, 10), (+Inf, 20): rank 5 -> 1 * 5 / 10
    assert me.bucket_quantile(0.25, buckets) == pytest.approx(0.5)


def test_bucket_quantile_precision_errors_are_flattened():
    a = 1.0 / 3.0
    b = a * (1 + 1e-14)
    buckets = [(1.0, a), (2.0, b), (INF, 1.0)]
    # Without the correction the rank (a + b) / 2 would fall into (1, 2] and give
    # 1.5; b is flattened to a (relative difference <= 1e-12), so the rank lies
    # above every finite bucket and the second highest bound is returned.
    assert me.bucket_quantile((a + b) / 2, buckets) == 2.0


# ---------------------------------------------------------------------------
# counters
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('previous, current, expected', [
    (10.0, 15.0, 5.0),
    (10.0, 10.0, 0.0),
    (10.0, 3.0, 3.0),  # reset: the new value is the increase since the reset
    (0.0, 7.0, 7.0),
])
def test_counter_increase(previous, current, expected):
    assert me.counter_increase(previous, current) == expected


# ---------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------

RUNTIME_1 = """\
# HELP chat_execution_total Executions
# TYPE chat_execution_total counter
chat_execution_total{mode="direct_llm"} 100
chat_execution_total{mode="runtime_orchestrator"} 200
# TYPE chat_execution_error_total counter
chat_execution_error_total{mode="direct_llm"} 2
chat_execution_error_total{mode="runtime_orchestrator"} 30
# TYPE chat_execution_success_total counter
chat_execution_success_total{mode="direct_llm"} 98
chat_execution_success_total{mode="runtime_orchestrator"} 170
# TYPE chat_execution_latency_ms histogram
chat_execution_latency_ms_bucket{le="100",mode="direct_llm"} 20
chat_execution_latency_ms_bucket{le="1000",mode="direct_llm"} 80
chat_execution_latency_ms_bucket{le="5000",mode="direct_llm"} 100
chat_execution_latency_ms_bucket{le="+Inf",mode="direct_llm"} 100
chat_execution_latency_ms_count{mode="direct_llm"} 100
chat_execution_latency_ms_sum{mode="direct_llm"} 50000
chat_execution_latency_ms_bucket{le="100",mode="runtime_orchestrator"} 0
chat_execution_latency_ms_bucket{le="1000",mode="runtime_orchestrator"} 100
chat_execution_latency_ms_bucket{le="5000",mode="runtime_orchestrator"} 150
chat_execution_latency_ms_bucket{le="+Inf",mode="runtime_orchestrator"} 200
chat_execution_latency_ms_count{mode="runtime_orchestrator"} 200
chat_execution_latency_ms_sum{mode="runtime_orchestrator"} 900000
# TYPE chat_runtime_fallback_enabled gauge
chat_runtime_fallback_enabled 0
"""

RUNTIME_2 = """\
# TYPE chat_execution_total counter
chat_execution_total{mode="direct_llm"} 150
chat_execution_total{mode="runtime_orchestrator"} 40
# TYPE chat_execution_error_total counter
chat_execution_error_total{mode="direct_llm"} 3
chat_execution_error_total{mode="runtime_orchestrator"} 8
# TYPE chat_execution_success_total counter
chat_execution_success_total{mode="direct_llm"} 147
chat_execution_success_total{mode="runtime_orchestrator"} 32
# TYPE chat_execution_latency_ms histogram
chat_execution_latency_ms_bucket{le="100",mode="direct_llm"} 30
chat_execution_latency_ms_bucket{le="1000",mode="direct_llm"} 120
chat_execution_latency_ms_bucket{le="5000",mode="direct_llm"} 150
chat_execution_latency_ms_bucket{le="+Inf",mode="direct_llm"} 150
chat_execution_latency_ms_count{mode="direct_llm"} 150
chat_execution_latency_ms_sum{mode="direct_llm"} 75000
chat_execution_latency_ms_bucket{le="100",mode="runtime_orchestrator"} 0
chat_execution_latency_ms_bucket{le="1000",mode="runtime_orchestrator"} 10
chat_execution_latency_ms_bucket{le="5000",mode="runtime_orchestrator"} 20
chat_execution_latency_ms_bucket{le="+Inf",mode="runtime_orchestrator"} 40
chat_execution_latency_ms_count{mode="runtime_orchestrator"} 40
chat_execution_latency_ms_sum{mode="runtime_orchestrator"} 250000
# TYPE chat_runtime_fallback_enabled gauge
chat_runtime_fallback_enabled 1
"""


def test_parse_exposition_counts_samples_and_declared_names():
    scrape = me.parse_exposition(RUNTIME_1)
    assert scrape.series_count() == 2 + 2 + 2 + 12 + 1
    assert scrape.is_declared('chat_execution_total')
    assert scrape.is_declared('chat_execution_latency_ms_bucket')
    assert not scrape.is_declared('chat_execution_latency_ms')
    assert scrape.select('chat_execution_total', {'mode': 'direct_llm'}) == [({'mode': 'direct_llm'}, 100.0)]


def test_parse_exposition_declared_without_samples():
    scrape = me.parse_exposition('# HELP x_total help\n# TYPE x_total counter\n')
    assert scrape.is_declared('x_total')
    assert scrape.select('x_total') == []


@pytest.mark.parametrize('text', [
    'foo{ 1',
    'foo bar',
    '# TYPE x counter\nx_total{a="1"} nope\n',
    '<html><body>502 Bad Gateway</body></html>',
    'metric{label="unterminated} 1\n',
])
def test_parse_exposition_malformed_raises(text):
    with pytest.raises(me.MetricsError) as exc:
        me.parse_exposition(text)
    assert str(exc.value).startswith('malformed metrics exposition')


# ---------------------------------------------------------------------------
# rules on one scrape
# ---------------------------------------------------------------------------

def test_ratio_by_mode_on_totals():
    current = me.parse_exposition(RUNTIME_1)
    results = me.evaluate_rule(rule(name='err', type='ratio', metric='chat_execution_error_total',
                                    denominator='chat_execution_total', by=['mode'], op='<=', threshold=0.05),
                               current)
    values = dict((r['labels']['mode'], (r['value'], r['status'])) for r in results)
    assert values == {'direct_llm': (0.02, 'ok'), 'runtime_orchestrator': (0.15, 'failed')}
    assert results[1]['name'] == 'err{mode="runtime_orchestrator"}'


def test_ratio_without_by_sums_everything():
    current = me.parse_exposition(RUNTIME_1)
    result = one(me.evaluate_rule(rule(name='err', type='ratio', metric='chat_execution_error_total',
                                       denominator='chat_execution_total', op='<=', threshold=0.05), current))
    assert result['value'] == pytest.approx(32.0 / 300.0)
    assert result['status'] == 'failed'


def test_ratio_with_labels_selects_one_mode():
    current = me.parse_exposition(RUNTIME_1)
    result = one(me.evaluate_rule(rule(name='err', type='ratio', metric='chat_execution_error_total',
                                       denominator='chat_execution_total', labels={'mode': 'direct_llm'},
                                       op='<=', threshold=0.05), current))
    assert result['value'] == pytest.approx(0.02)


def test_ratio_numerator_group_missing_counts_zero():
    text = ('# TYPE e_total counter\ne_total{mode="a"} 1\n'
            '# TYPE t_total counter\nt_total{mode="a"} 10\nt_total{mode="b"} 10\n')
    results = me.evaluate_rule(rule(name='r', type='ratio', metric='e_total', denominator='t_total',
                                    by=['mode'], op='<=', threshold=0.5), me.parse_exposition(text))
    assert [(r['labels'], r['value']) for r in results] == [({'mode': 'a'}, 0.1), ({'mode': 'b'}, 0.0)]


def test_ratio_zero_denominator_is_no_data():
    text = '# TYPE e_total counter\ne_total 0\n# TYPE t_total counter\nt_total 0\n'
    result = one(me.evaluate_rule(rule(name='r', type='ratio', metric='e_total', denominator='t_total',
                                       op='<=', threshold=0.5), me.parse_exposition(text)))
    assert result['status'] == 'no_data'
    assert math.isnan(result['value'])
    assert 't_total of the value is 0' in result['message']


def test_ratio_declared_without_samples_is_no_data_and_configurable():
    text = '# TYPE e_total counter\n# TYPE t_total counter\n'
    result = one(me.evaluate_rule(rule(name='r', type='ratio', metric='e_total', denominator='t_total',
                                       op='<=', threshold=0.5), me.parse_exposition(text)))
    assert (result['status'], result['value']) == ('no_data', None)
    result = one(me.evaluate_rule(rule(name='r', type='ratio', metric='e_total', denominator='t_total',
                                       op='<=', threshold=0.5, no_data='failed'), me.parse_exposition(text)))
    assert result['status'] == 'failed'


def test_missing_metric_fails():
    current = me.parse_exposition(RUNTIME_1)
    result = one(me.evaluate_rule(rule(name='q', type='quantile', metric='turn_latency_seconds', quantile=0.9,
                                       op='<=', threshold=5), current))
    assert result['status'] == 'failed'
    assert result['message'] == ('q: metric turn_latency_seconds_bucket not found in the scrape '
                                 '(not exported, or misspelt)')
    warning = one(me.evaluate_rule(rule(name='g', metric='nope', op='==', threshold=0, severity='warning'), current))
    assert warning['status'] == 'warning'


def test_quantile_by_mode_on_totals():
    current = me.parse_exposition(RUNTIME_1)
    results = me.evaluate_rule(rule(name='p95', type='quantile', metric='chat_execution_latency_ms_bucket',
                                    quantile=0.95, by=['mode'], op='<=', threshold=5000), current)
    values = dict((r['labels']['mode'], r['value']) for r in results)
    # direct_llm: rank 95 in (1000, 5000]: 1000 + 4000 * (95 - 80) / 20 = 4000
    # runtime_orchestrator: rank 190 in +Inf bucket -> 5000
    assert values == {'direct_llm': pytest.approx(4000.0), 'runtime_orchestrator': 5000.0}
    assert [r['status'] for r in results] == ['ok', 'ok']


def test_quantile_without_by_sums_buckets():
    current = me.parse_exposition(RUNTIME_1)
    result = one(me.evaluate_rule(rule(name='p50', type='quantile', metric='chat_execution_latency_ms',
                                       quantile=0.5, op='<=', threshold=5000), current))
    # summed: 100:20, 1000:180, 5000:250, +Inf:300; rank 150 in (100, 1000]:
    # 100 + 900 * (150 - 20) / 160
    assert result['value'] == pytest.approx(100 + 900 * 130.0 / 160.0)


def test_quantile_without_observations_is_no_data():
    text = ('# TYPE h histogram\nh_bucket{le="1"} 0\nh_bucket{le="+Inf"} 0\nh_count 0\nh_sum 0\n')
    result = one(me.evaluate_rule(rule(name='p', type='quantile', metric='h', quantile=0.5, op='<=',
                                       threshold=1), me.parse_exposition(text)))
    assert result['status'] == 'no_data'
    assert 'no observations' in result['message']


def test_gauge_each_series_and_sum_by():
    text = ('# TYPE slot_coverage gauge\nslot_coverage{pipeline_stage="s1"} 0.9\n'
            'slot_coverage{pipeline_stage="s2"} 0.4\n')
    current = me.parse_exposition(text)
    results = me.evaluate_rule(rule(name='cov', metric='slot_coverage', op='>=', threshold=0.5), current)
    assert [(r['name'], r['status']) for r in results] == [
        ('cov{pipeline_stage="s1"}', 'ok'), ('cov{pipeline_stage="s2"}', 'failed')]
    summed = one(me.evaluate_rule(rule(name='cov', metric='slot_coverage', by=['x'], op='>=', threshold=1.3),
                                  current))
    assert summed['value'] == pytest.approx(1.3)


def test_gauge_fallback_of_runbook_003():
    rules = [me.normalize_rule(r) for r in runbook_rules('003')]
    fallback = [r for r in rules if r['name'] == 'runtime fallback'][0]
    assert one(me.evaluate_rule(fallback, me.parse_exposition(RUNTIME_1)))['status'] == 'ok'
    # fallback is severity warning, as runbook 003's AutoFallbackTriggered alert
    assert one(me.evaluate_rule(fallback, me.parse_exposition(RUNTIME_2)))['status'] == 'warning'


def test_present_and_absent():
    current = me.parse_exposition(RUNTIME_1)
    assert one(me.evaluate_rule(rule(name='p', type='present', metric='chat_execution_total'),
                                current))['status'] == 'ok'
    assert one(me.evaluate_rule(rule(name='p', type='present', metric='nope'), current))['status'] == 'failed'
    assert one(me.evaluate_rule(rule(name='a', type='absent', metric='nope'), current))['status'] == 'ok'
    absent = one(me.evaluate_rule(rule(name='a', type='absent', metric='chat_execution_total',
                                       labels={'mode': 'direct_llm'}), current))
    assert (absent['status'], absent['value']) == ('failed', 1.0)


def test_rate_needs_two_scrapes():
    result = one(me.evaluate_rule(rule(name='r', type='rate', metric='chat_execution_total', op='>', threshold=0),
                                  me.parse_exposition(RUNTIME_1)))
    assert result['status'] == 'no_data'
    assert 'two scrapes' in result['message']


# ---------------------------------------------------------------------------
# rules on two scrapes (rate/increase semantics)
# ---------------------------------------------------------------------------

def test_ratio_on_increase_with_counter_reset():
    previous = me.parse_exposition(RUNTIME_1)
    current = me.parse_exposition(RUNTIME_2)
    results = me.evaluate_rule(rule(name='err', type='ratio', metric='chat_execution_error_total',
                                    denominator='chat_execution_total', by=['mode'], op='<=', threshold=0.05),
                               current, previous, 30.0)
    values = dict((r['labels']['mode'], r['value']) for r in results)
    # direct_llm: (3 - 2) / (150 - 100); runtime_orchestrator was reset (200 -> 40, 30 -> 8): 8 / 40
    assert values == {'direct_llm': pytest.approx(0.02), 'runtime_orchestrator': pytest.approx(0.2)}
    assert results[0]['expression'] == ('sum by (mode) (rate(chat_execution_error_total[30s])) / '
                                        'sum by (mode) (rate(chat_execution_total[30s]))')


def test_quantile_on_bucket_increase():
    previous = me.parse_exposition(RUNTIME_1)
    current = me.parse_exposition(RUNTIME_2)
    results = me.evaluate_rule(rule(name='p95', type='quantile', metric='chat_execution_latency_ms',
                                    quantile=0.95, by=['mode'], op='<=', threshold=5000), current, previous, 30.0)
    values = dict((r['labels']['mode'], r['value']) for r in results)
    # direct_llm increases: 100:10, 1000:40, 5000:50, +Inf:50; rank 47.5 in (1000, 5000]:
    # 1000 + 4000 * (47.5 - 40) / 10 = 4000
    # runtime_orchestrator was reset, increases = new values 0, 10, 20, 40: rank 38 in +Inf -> 5000
    assert values == {'direct_llm': pytest.approx(4000.0), 'runtime_orchestrator': 5000.0}
    p50 = me.evaluate_rule(rule(name='p50', type='quantile', metric='chat_execution_latency_ms',
                                quantile=0.5, labels={'mode': 'direct_llm'}, op='<=', threshold=5000),
                           current, previous, 30.0)
    # rank 25 in (100, 1000]: 100 + 900 * (25 - 10) / 30 = 550
    assert one(p50)['value'] == pytest.approx(550.0)


def test_quantile_no_new_observations_is_no_data():
    previous = me.parse_exposition(RUNTIME_1)
    result = me.evaluate_rule(rule(name='p', type='quantile', metric='chat_execution_latency_ms', quantile=0.5,
                                   by=['mode'], op='<=', threshold=1), previous, previous, 10.0)
    assert [r['status'] for r in result] == ['no_data', 'no_data']
    assert 'no observations in the interval' in result[0]['message']


def test_rate_per_second():
    previous = me.parse_exposition(RUNTIME_1)
    current = me.parse_exposition(RUNTIME_2)
    results = me.evaluate_rule(rule(name='rps', type='rate', metric='chat_execution_total', by=['mode'],
                                    op='>=', threshold=1), current, previous, 20.0)
    values = dict((r['labels']['mode'], r['value']) for r in results)
    # direct_llm: 50 / 20; runtime_orchestrator reset: 40 / 20
    assert values == {'direct_llm': 2.5, 'runtime_orchestrator': 2.0}


def test_series_new_in_second_scrape_counts_from_zero():
    previous = me.parse_exposition('# TYPE e_total counter\n# TYPE t_total counter\nt_total 10\n')
    current = me.parse_exposition('# TYPE e_total counter\ne_total 3\n# TYPE t_total counter\nt_total 20\n')
    result = one(me.evaluate_rule(rule(name='r', type='ratio', metric='e_total', denominator='t_total',
                                       op='<=', threshold=0.5), current, previous, 10.0))
    assert result['value'] == pytest.approx(0.3)


# ---------------------------------------------------------------------------
# rules as data
# ---------------------------------------------------------------------------

def test_the_runbook_rules_carry_the_runbook_thresholds():
    runtime = dict((r['name'], r) for r in runbook_rules('003'))
    assert runtime['runtime error rate']['threshold'] == 0.05
    assert runtime['runtime latency p95 ms']['threshold'] == 5000
    assert runtime['runtime success rate (warning)']['threshold'] == 0.95
    assert runtime['runtime success rate (critical)']['threshold'] == 0.90
    el_agent = dict((r['name'], r) for r in runbook_rules('000'))
    assert el_agent['el qcheck failure rate']['threshold'] == 0.15
    assert (el_agent['el turn latency p90']['quantile'], el_agent['el turn latency p99']['quantile']) == (0.9, 0.99)
    # every rule of every runbook is valid for the module
    for runbook in ('000', '001', '002', '003', '004'):
        for rule in runbook_rules(runbook):
            assert me.normalize_rule(rule)['name'] == rule['name']


def test_merge_rules_replaces_by_name_and_appends():
    merged = me.merge_rules(runbook_rules('000'), [
        {'name': 'el turn latency p99', 'type': 'quantile', 'metric': 'turn_latency_seconds', 'quantile': 0.99,
         'op': '<=', 'threshold': 8},
        {'name': 'extra', 'type': 'present', 'metric': 'up'},
    ])
    assert [r['name'] for r in merged] == ['el turn latency p90', 'el turn latency p99',
                                           'el qcheck failure rate', 'extra']
    assert merged[1]['threshold'] == 8


@pytest.mark.parametrize('bad, message', [
    ({'type': 'gauge'}, 'needs a name'),
    ({'name': 'x', 'type': 'nope'}, 'unknown type'),
    ({'name': 'x', 'type': 'ratio', 'metric': 'a', 'op': '<', 'threshold': 1}, 'needs denominator'),
    ({'name': 'x', 'type': 'quantile', 'metric': 'a', 'quantile': 1.5, 'op': '<', 'threshold': 1}, 'between 0 and 1'),
    ({'name': 'x', 'metric': 'a', 'op': '=~', 'threshold': 1}, 'unknown operator'),
    ({'name': 'x', 'metric': 'a', 'op': '<', 'threshold': 'high'}, 'must be a number'),
    ({'name': 'x', 'metric': 'a', 'op': '<', 'threshold': 1, 'severity': 'info'}, 'severity'),
])
def test_normalize_rule_errors(bad, message):
    with pytest.raises(me.RuleError) as exc:
        me.normalize_rule(bad)
    assert message in str(exc.value)


def test_normalize_rule_label_values_become_strings():
    normalized = me.normalize_rule({'name': 'x', 'metric': 'a', 'op': '<', 'threshold': 1,
                                    'labels': {'code': 200, 'ok': True}})
    assert normalized['labels'] == {'code': '200', 'ok': 'true'}


def test_query_rule_needs_prometheus():
    with pytest.raises(me.RuleError):
        me.evaluate_rule(rule(name='q', type='query', query='up', op='==', threshold=1), me.Scrape())


@pytest.mark.parametrize('kwargs, window, expected', [
    (dict(type='ratio', metric='e_total', denominator='t_total', by=['mode']), '5m',
     'sum by (mode) (rate(e_total[5m])) / sum by (mode) (rate(t_total[5m]))'),
    (dict(type='ratio', metric='e_total', denominator='t_total', labels={'mode': 'x'}), '5m',
     'sum(rate(e_total{mode="x"}[5m])) / sum(rate(t_total{mode="x"}[5m]))'),
    (dict(type='quantile', metric='h_bucket', quantile=0.95, by=['mode']), '5m',
     'histogram_quantile(0.95, sum by (le, mode) (rate(h_bucket[5m])))'),
    (dict(type='quantile', metric='h', quantile=0.5), None, 'histogram_quantile(0.5, sum by (le) (h_bucket))'),
    (dict(type='gauge', metric='g', labels={'a': 'b"c'}), '5m', 'g{a="b\\"c"}'),
    (dict(type='rate', metric='c_total'), '1m', 'sum(rate(c_total[1m]))'),
    (dict(type='absent', metric='c_total'), None, 'absent(c_total)'),
])
def test_expression(kwargs, window, expected):
    base = dict(name='x', op='<=', threshold=1)
    base.update(kwargs)
    assert me.expression(me.normalize_rule(base), window) == expected


# ---------------------------------------------------------------------------
# Prometheus query API answers
# ---------------------------------------------------------------------------

def test_query_result_vector():
    data = {'resultType': 'vector', 'result': [
        {'metric': {'__name__': 'up', 'job': 'a'}, 'value': [1700000000, '1']},
        {'metric': {'job': 'b'}, 'value': [1700000000, '0']},
    ]}
    results = me.evaluate_query_result(rule(name='up', type='query', query='up', op='==', threshold=1), data)
    assert [(r['name'], r['status']) for r in results] == [('up{job="a"}', 'ok'), ('up{job="b"}', 'failed')]


def test_query_result_scalar_nan_and_empty():
    nan = me.evaluate_query_result(rule(name='q', type='query', query='x', op='<', threshold=1),
                                   {'resultType': 'scalar', 'result': [1700000000, 'NaN']})
    assert one(nan)['status'] == 'no_data'
    empty = me.evaluate_query_result(rule(name='q', type='query', query='x', op='<', threshold=1),
                                     {'resultType': 'vector', 'result': []})
    assert one(empty)['status'] == 'no_data'
    absent = me.evaluate_query_result(rule(name='a', type='absent', metric='x'),
                                      {'resultType': 'vector', 'result': []})
    assert one(absent)['status'] == 'ok'
    with pytest.raises(me.MetricsError):
        me.evaluate_query_result(rule(name='q', type='query', query='x', op='<', threshold=1),
                                 {'resultType': 'matrix', 'result': []})


def test_result_to_row_is_uniform_and_rounded():
    current = me.parse_exposition(RUNTIME_1)
    result = one(me.evaluate_rule(rule(name='err', type='ratio', metric='chat_execution_error_total',
                                       denominator='chat_execution_total', op='<=', threshold=0.05), current))
    row = me.result_to_row(result)
    assert sorted(row) == ['check', 'message', 'status', 'target', 'threshold', 'value']
    assert row['value'] == 0.106667
    assert row['threshold'] == '<= 0.05'
    assert row['message'] == 'err = 0.1067, expected <= 0.05'


def test_parse_openmetrics():
    text = ('# TYPE requests counter\nrequests_total{code="200"} 10.0\n'
            '# TYPE latency histogram\nlatency_bucket{le="1.0"} 2.0\nlatency_bucket{le="+Inf"} 4.0\n'
            'latency_count 4.0\nlatency_sum 5.0\n# EOF\n')
    scrape = me.parse_exposition(text, openmetrics=True)
    assert scrape.select('requests_total') == [({'code': '200'}, 10.0)]
    result = one(me.evaluate_rule(rule(name='p50', type='quantile', metric='latency', quantile=0.5, op='<=',
                                       threshold=1), scrape))
    assert result['value'] == 1.0
    with pytest.raises(me.MetricsError):
        me.parse_exposition('requests_total 1\n', openmetrics=True)  # no # EOF
