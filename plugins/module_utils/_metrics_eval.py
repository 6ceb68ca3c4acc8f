# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure-Python evaluation of Prometheus metrics against rules given as data.

Used by the ``opskit.ops.metrics_check`` module. Nothing here does I/O: the
module fetches the exposition text (or a Prometheus query API answer) and hands
it over. The exposition is parsed by prometheus_client's own parser
(``text_string_to_metric_families``); the calculations follow PromQL:

* ``bucket_quantile`` is ``histogram_quantile`` on classic buckets (linear
  interpolation inside the bucket, lower bound 0 for the lowest bucket when
  its upper bound is positive, the second highest upper bound when the rank
  falls into the ``+Inf`` bucket, NaN without observations or without a
  ``+Inf`` bucket, coalescing of equal bounds, forced monotonicity).
* ``counter_increase`` is what ``increase()``/``rate()`` do between two
  samples, including counter resets (a value that went down is taken as the
  whole increase since the reset).

Rule types (``type``):

* ``gauge``: ``metric{labels} op threshold``; each matching series is a result,
  or ``sum by (by)`` when ``by`` is given.
* ``ratio``: ``sum by (by) (metric{labels}) / sum by (by) (denominator{...})``,
  on counter increases when a previous scrape is given.
* ``quantile``: ``histogram_quantile(quantile, sum by (le, by) (metric_bucket))``,
  on bucket increases when a previous scrape is given.
* ``rate``: per-second increase of ``sum by (by) (metric)`` between the scrapes.
* ``present`` / ``absent``: the metric must have / must not have a series.
* ``query``: a PromQL ``query`` run by a Prometheus server (query API only).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import traceback

from ansible_collections.opskit.ops.plugins.module_utils._check_rows import (
    STATUS_FAILED,
    STATUS_NO_DATA,
    STATUS_OK,
    STATUS_WARNING,
    compare,
    fmt_number,
    make_row,
)

try:
    from prometheus_client.parser import text_string_to_metric_families
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
except ImportError:
    HAS_PROMETHEUS_CLIENT = False
    PROMETHEUS_CLIENT_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_PROMETHEUS_CLIENT = True
    PROMETHEUS_CLIENT_IMPORT_ERROR = None

NAN = float('nan')
INF = float('inf')

RULE_TYPES = ('gauge', 'ratio', 'quantile', 'rate', 'present', 'absent', 'query')
SEVERITIES = ('critical', 'warning')
NO_DATA_STATUSES = (STATUS_OK, STATUS_NO_DATA, STATUS_WARNING, STATUS_FAILED)

# Sample names a metric family of each type exposes (text format 0.0.4 as read
# by prometheus_client: a counter family "x" exposes "x_total").
_FAMILY_SUFFIXES = {
    'counter': ('_total', '_created'),
    'histogram': ('_bucket', '_count', '_sum', '_created'),
    'gaugehistogram': ('_bucket', '_gcount', '_gsum'),
    'summary': ('', '_count', '_sum', '_created'),
    'info': ('_info',),
    'stateset': ('',),
    'gauge': ('',),
    'unknown': ('',),
    'untyped': ('',),
}


class MetricsError(Exception):
    """Malformed exposition text or a rule that cannot be evaluated."""


class RuleError(MetricsError):
    """A rule given as data is incomplete or inconsistent."""


# ---------------------------------------------------------------------------
# Rule lists. The runbooks' rule sets are data of the role opskit.ops.healthcheck
# (healthcheck_default_rules); nothing here carries a threshold.
# ---------------------------------------------------------------------------

def merge_rules(base, rules):
    """``base`` rules followed by ``rules``; a rule named like a base rule replaces it."""
    by_name = dict((rule['name'], rule) for rule in rules or [])
    merged = [by_name.pop(rule['name'], rule) for rule in base or []]
    merged.extend(rule for rule in rules or [] if rule['name'] in by_name)
    return merged


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------

class Scrape(object):
    """One parsed exposition: samples by sample name, and the declared names."""

    def __init__(self, samples=None, declared=None):
        # name -> list of (labels dict, value)
        self.samples = samples or {}
        # every sample name a family declares, even with no samples yet
        self.declared = set(declared or ())
        self.declared.update(self.samples)

    def series_count(self):
        return sum(len(v) for v in self.samples.values())

    def is_declared(self, name):
        return name in self.declared

    def select(self, name, matchers=None):
        """[(labels, value)] of sample ``name`` whose labels equal ``matchers``."""
        matchers = matchers or {}
        found = []
        for labels, value in self.samples.get(name, ()):
            if all(labels.get(k, '') == v for k, v in matchers.items()):
                found.append((labels, value))
        return found


def parse_exposition(text, openmetrics=False):
    """Parse Prometheus text exposition with prometheus_client; return a Scrape.

    ``openmetrics``: the text is OpenMetrics (content type
    ``application/openmetrics-text``), parsed by prometheus_client's
    OpenMetrics parser. Raises MetricsError on malformed text
    (prometheus_client raises ValueError, sometimes other exceptions, while it
    iterates).
    """
    if not HAS_PROMETHEUS_CLIENT:
        raise MetricsError('prometheus_client is not installed')
    if text is None:
        raise MetricsError('no exposition text')
    samples = {}
    declared = set()
    try:
        parse = openmetrics_families if openmetrics else text_string_to_metric_families
        for family in parse(text):
            for suffix in _FAMILY_SUFFIXES.get(family.type, ('',)):
                declared.add(family.name + suffix)
            for sample in family.samples:
                samples.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    except Exception as exc:  # the parser raises ValueError, IndexError, KeyError...
        raise MetricsError('malformed metrics exposition: %s: %s' % (type(exc).__name__, exc))
    return Scrape(samples, declared)


# ---------------------------------------------------------------------------
# PromQL calculations
# ---------------------------------------------------------------------------

def _div(a, b):
    """IEEE 754 division as Go/PromQL does it (x/0 is +-Inf, 0/0 is NaN)."""
    if b == 0:
        if a == 0 or math.isnan(a):
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)
    return a / b


def counter_increase(previous, current):
    """Increase of a counter between two samples, with reset handling.

    Like Prometheus: when the value went down the counter was reset, and the
    new value is the increase since the reset.
    """
    if current < previous:
        return current
    return current - previous


def parse_le(value):
    """Upper bound of a bucket from its ``le`` label ('+Inf', '0.5', '1e3').

    Raises MetricsError naming the label when it is not a number.
    """
    try:
        return float(value)
    except (TypeError, ValueError):
        raise MetricsError('bucket label le=%r is not a number' % (value,))


def bucket_quantile(q, buckets):
    """``histogram_quantile(q, ...)`` for one set of classic buckets.

    ``buckets`` is an iterable of (upper_bound, cumulative_count). Behaviour
    follows Prometheus: NaN for q NaN, -Inf for q < 0, +Inf for q > 1, NaN
    when the highest bound is not +Inf, when there are fewer than 2 buckets
    or no observations; a rank in the +Inf bucket returns the second highest
    bound; a rank in the lowest bucket interpolates from 0, unless that
    bucket's bound is <= 0, which is then returned.
    """
    if math.isnan(q):
        return NAN
    if q < 0:
        return -INF
    if q > 1:
        return INF
    ordered = sorted(((float(ub), float(count)) for ub, count in buckets), key=lambda b: b[0])
    if not ordered or ordered[-1][0] != INF:
        return NAN
    # Coalesce buckets with the same upper bound (several series summed by le).
    merged = []
    for upper, count in ordered:
        if merged and merged[-1][0] == upper:
            merged[-1][1] += count
        else:
            merged.append([upper, count])
    _correct_precision(merged, 1e-12)
    _ensure_monotonic(merged)
    if len(merged) < 2:
        return NAN
    observations = merged[-1][1]
    if observations == 0:
        return NAN
    rank = q * observations
    last = len(merged) - 1
    index = last
    for i in range(last):
        if merged[i][1] >= rank:
            index = i
            break
    if index == last:
        return merged[-2][0]
    if index == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start = 0.0
    end = merged[index][0]
    count = merged[index][1]
    if index > 0:
        start = merged[index - 1][0]
        count -= merged[index - 1][1]
        rank -= merged[index - 1][1]
    return start + (end - start) * _div(rank, count)


def _correct_precision(buckets, tolerance):
    """Flatten tiny float differences between neighbouring cumulative counts."""
    previous = buckets[0][1]
    for bucket in buckets[1:]:
        current = bucket[1]
        delta = abs(current - previous)
        if delta == 0:
            continue
        if current != 0 and delta / current <= tolerance:
            bucket[1] = previous
        else:
            previous = current


def _ensure_monotonic(buckets):
    """Cumulative counts never decrease with the bound (take the envelope)."""
    highest = buckets[0][1]
    for bucket in buckets[1:]:
        if bucket[1] > highest:
            highest = bucket[1]
        elif bucket[1] < highest:
            bucket[1] = highest


def _series_key(labels):
    return frozenset(labels.items())


def _group_key(labels, by):
    return tuple(labels.get(name, '') for name in by)


def _group_labels(key, by):
    return dict(zip(by, key))


def series_values(current, previous, name, matchers, delta):
    """[(labels, value)] of ``name``: raw values, or increases since ``previous``.

    With ``delta`` true each series of ``current`` is compared with the series
    of the same labels in ``previous`` (counter semantics, resets handled). A
    series absent from ``previous`` counts from 0: it was created after the
    first scrape (prometheus_client creates labelled children on first use).
    Prometheus would need two samples of it; for a health check the errors
    counted in that series are real and are kept.
    """
    now = current.select(name, matchers)
    if not delta:
        return now
    before = dict((_series_key(labels), value) for labels, value in previous.select(name, matchers))
    result = []
    for labels, value in now:
        old = before.get(_series_key(labels))
        result.append((labels, value if old is None else counter_increase(old, value)))
    return result


def sum_by(series, by):
    """``sum by (by)``: {group key: sum}, in first-seen order of the groups."""
    groups = {}
    order = []
    for labels, value in series:
        key = _group_key(labels, by)
        if key not in groups:
            groups[key] = 0.0
            order.append(key)
        groups[key] += value
    return [(key, groups[key]) for key in order]


def quantiles_by(q, bucket_series, by):
    """``histogram_quantile(q, sum by (le, by) (buckets))``: [(group key, value)]."""
    groups = {}
    order = []
    for labels, value in bucket_series:
        if 'le' not in labels:
            continue
        key = _group_key(labels, by)
        if key not in groups:
            groups[key] = {}
            order.append(key)
        upper = parse_le(labels['le'])
        groups[key][upper] = groups[key].get(upper, 0.0) + value
    return [(key, bucket_quantile(q, list(groups[key].items()))) for key in order]


def selector(name, matchers=None):
    """PromQL selector text: name{a="b",c="d"}."""
    if not matchers:
        return name
    inner = ','.join('%s="%s"' % (k, str(v).replace('\\', '\\\\').replace('"', '\\"'))
                     for k, v in sorted(matchers.items()))
    return '%s{%s}' % (name, inner)


def label_text(labels):
    """{mode="x"} for row names; '' without labels."""
    if not labels:
        return ''
    return '{%s}' % ','.join('%s="%s"' % (k, v) for k, v in sorted(labels.items()))


# ---------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------

_RULE_DEFAULTS = {
    'type': 'gauge',
    'metric': None,
    'labels': None,
    'denominator': None,
    'denominator_labels': None,
    'by': None,
    'quantile': None,
    'query': None,
    'op': None,
    'threshold': None,
    'severity': 'critical',
    'no_data': STATUS_NO_DATA,
}

_NEEDS = {
    'gauge': ('metric', 'op', 'threshold'),
    'ratio': ('metric', 'denominator', 'op', 'threshold'),
    'quantile': ('metric', 'quantile', 'op', 'threshold'),
    'rate': ('metric', 'op', 'threshold'),
    'present': ('metric',),
    'absent': ('metric',),
    'query': ('query', 'op', 'threshold'),
}


def normalize_rule(rule):
    """Rule dict with every key set; raises RuleError when it is incomplete."""
    if not isinstance(rule, dict):
        raise RuleError('a rule must be a dict, got %r' % (rule,))
    result = dict(_RULE_DEFAULTS)
    result.update(dict((k, v) for k, v in rule.items() if v is not None))
    name = result.get('name')
    if name is None or name == '':
        raise RuleError('a rule needs a name: %r' % (rule,))
    name = result['name'] = str(name)
    if result['type'] not in RULE_TYPES:
        raise RuleError('rule %r: unknown type %r (use one of %s)' % (name, result['type'], ', '.join(RULE_TYPES)))
    missing = [key for key in _NEEDS[result['type']] if result.get(key) is None]
    if missing:
        raise RuleError('rule %r (type %s) needs %s' % (name, result['type'], ', '.join(missing)))
    if result['severity'] not in SEVERITIES:
        raise RuleError('rule %r: severity must be one of %s' % (name, ', '.join(SEVERITIES)))
    if result['no_data'] not in NO_DATA_STATUSES:
        raise RuleError('rule %r: no_data must be one of %s' % (name, ', '.join(NO_DATA_STATUSES)))
    if result['op'] is not None:
        try:
            compare(0.0, result['op'], 0.0)
        except ValueError as exc:
            raise RuleError('rule %r: %s' % (name, exc))
    if result['threshold'] is not None:
        try:
            result['threshold'] = float(result['threshold'])
        except (TypeError, ValueError):
            raise RuleError('rule %r: threshold must be a number, got %r' % (name, result['threshold']))
    if result['quantile'] is not None:
        result['quantile'] = float(result['quantile'])
        if not 0 <= result['quantile'] <= 1:
            raise RuleError('rule %r: quantile must be between 0 and 1, got %s' % (name, result['quantile']))
    for key in ('labels', 'denominator_labels'):
        value = result[key] or {}
        if not isinstance(value, dict):
            raise RuleError('rule %r: %s must be a dict of label: value' % (name, key))
        result[key] = dict((str(k), _label_value(v)) for k, v in value.items())
    by = result['by'] or []
    if isinstance(by, str):
        by = [by]
    result['by'] = [str(b) for b in by]
    if result['type'] == 'quantile':
        metric = result['metric']
        if metric.endswith('_bucket'):
            result['metric'] = metric[:-len('_bucket')]
    return result


def _label_value(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    return str(value)


def threshold_text(rule):
    if rule['type'] == 'present':
        return 'present'
    if rule['type'] == 'absent':
        return 'absent'
    return '%s %s' % (rule['op'], fmt_number(rule['threshold']))


def expression(rule, window=None):
    """The PromQL expression a rule stands for.

    With ``window`` (e.g. '5m') counters and buckets go through rate(); this is
    the query sent to a Prometheus server. Without it, the expression describes
    the evaluation of one scrape (it is used as the row target).
    """
    kind = rule['type']
    by = rule['by']

    def agg(inner):
        if by:
            return 'sum by (%s) (%s)' % (', '.join(by), inner)
        return 'sum(%s)' % inner

    def counter(name, matchers):
        sel = selector(name, matchers)
        return 'rate(%s[%s])' % (sel, window) if window else sel

    if kind == 'query':
        return rule['query']
    if kind == 'gauge':
        sel = selector(rule['metric'], rule['labels'])
        return agg(sel) if by else sel
    if kind == 'ratio':
        den_labels = rule['denominator_labels'] or rule['labels']
        return '%s / %s' % (agg(counter(rule['metric'], rule['labels'])),
                            agg(counter(rule['denominator'], den_labels)))
    if kind == 'rate':
        return agg('rate(%s[%s])' % (selector(rule['metric'], rule['labels']), window or 'interval'))
    if kind == 'quantile':
        inner = counter(rule['metric'] + '_bucket', rule['labels'])
        return 'histogram_quantile(%s, sum by (%s) (%s))' % (
            fmt_number(rule['quantile'], 6), ', '.join(['le'] + by), inner)
    if kind == 'present':
        return 'count(%s)' % selector(rule['metric'], rule['labels'])
    return 'absent(%s)' % selector(rule['metric'], rule['labels'])


def _window_text(seconds):
    """'30s' for the range of rate() in a row target ('interval' when unknown)."""
    if not seconds:
        return 'interval'
    return '%ss' % fmt_number(round(float(seconds), 1))


def _judge(rule, value, what):
    """(status, message) for a computed value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        status = rule['no_data']
        return status, '%s: no data (%s)' % (rule['name'], what or 'value undetermined')
    threshold = rule['threshold']
    shown = '%s = %s, expected %s' % (rule['name'], fmt_number(value), threshold_text(rule))
    if compare(value, rule['op'], threshold):
        return STATUS_OK, shown
    status = STATUS_FAILED if rule['severity'] == 'critical' else STATUS_WARNING
    return status, shown


def _result(rule, labels, value, status, message, target):
    return {
        'name': rule['name'] + label_text(labels),
        'rule': rule['name'],
        'type': rule['type'],
        'labels': labels,
        'value': value,
        'op': rule['op'],
        'threshold': rule['threshold'],
        'severity': rule['severity'],
        'status': status,
        'message': message,
        'expression': target,
    }


def _missing(rule, names, current):
    """Names among ``names`` that the scrape does not declare at all."""
    return [name for name in names if not current.is_declared(name)]


def evaluate_rule(rule, current, previous=None, seconds=None):
    """Evaluate one normalized rule on a scrape; return a list of result dicts.

    ``previous``: an earlier Scrape; when given, ratio, quantile and rate rules
    use the counter increases between the two. ``seconds``: time between them.
    """
    kind = rule['type']
    delta = previous is not None
    target = expression(rule, _window_text(seconds) if delta else None)
    if kind == 'query':
        raise RuleError('rule %r: type query needs prometheus_url (a Prometheus server)' % rule['name'])

    metric = rule['metric']
    needed = {
        'gauge': [metric],
        'ratio': [metric, rule['denominator']],
        'quantile': [metric + '_bucket'],
        'rate': [metric],
        'present': [],
        'absent': [],
    }[kind]
    missing = _missing(rule, needed, current)
    if missing:
        status = STATUS_FAILED if rule['severity'] == 'critical' else STATUS_WARNING
        message = '%s: metric %s not found in the scrape (not exported, or misspelt)' % (
            rule['name'], ', '.join(missing))
        return [_result(rule, {}, None, status, message, target)]

    if kind in ('present', 'absent'):
        count = len(current.select(metric, rule['labels']))
        wanted = count > 0 if kind == 'present' else count == 0
        if wanted:
            status = STATUS_OK
        else:
            status = STATUS_FAILED if rule['severity'] == 'critical' else STATUS_WARNING
        message = '%s: %d series of %s, expected %s' % (
            rule['name'], count, selector(metric, rule['labels']), kind)
        return [_result(rule, {}, float(count), status, message, target)]

    if kind == 'gauge':
        series = current.select(metric, rule['labels'])
        if rule['by']:
            values = [(_group_labels(k, rule['by']), v) for k, v in sum_by(series, rule['by'])]
        else:
            values = [(dict((k, v) for k, v in labels.items() if k not in rule['labels']), value)
                      for labels, value in series]
        if not values:
            status, message = _judge(rule, None, 'no series of %s' % selector(metric, rule['labels']))
            return [_result(rule, {}, None, status, message, target)]
        results = []
        for labels, value in values:
            status, message = _judge(rule, value, None)
            results.append(_result(rule, labels, value, status, message, target))
        return results

    if kind == 'rate':
        if not delta or not seconds or seconds <= 0:
            status, message = _judge(rule, None, 'a rate needs two scrapes: set interval > 0')
            return [_result(rule, {}, None, status, message, target)]
        series = series_values(current, previous, metric, rule['labels'], True)
        groups = sum_by(series, rule['by'])
        if not groups:
            status, message = _judge(rule, None, 'no series of %s' % selector(metric, rule['labels']))
            return [_result(rule, {}, None, status, message, target)]
        results = []
        for key, increase in groups:
            value = increase / float(seconds)
            status, message = _judge(rule, value, None)
            results.append(_result(rule, _group_labels(key, rule['by']), value, status, message, target))
        return results

    if kind == 'ratio':
        den_labels = rule['denominator_labels'] or rule['labels']
        num = dict(sum_by(series_values(current, previous, metric, rule['labels'], delta), rule['by']))
        den = sum_by(series_values(current, previous, rule['denominator'], den_labels, delta), rule['by'])
        if not den:
            status, message = _judge(rule, None, 'no series of %s' % selector(rule['denominator'], den_labels))
            return [_result(rule, {}, None, status, message, target)]
        results = []
        for key, denominator in den:
            # A group the numerator has no series for counts 0 (the labelled
            # child is only created on first use); PromQL would drop it.
            value = _div(num.get(key, 0.0), denominator)
            why = None
            if math.isnan(value) or math.isinf(value):
                why = '%s of %s is 0%s' % (rule['denominator'], 'the increase' if delta else 'the value',
                                           ' in the interval' if delta else '')
                value = NAN
            status, message = _judge(rule, value, why)
            results.append(_result(rule, _group_labels(key, rule['by']), value, status, message, target))
        return results

    # quantile
    buckets = series_values(current, previous, metric + '_bucket', rule['labels'], delta)
    groups = quantiles_by(rule['quantile'], buckets, rule['by'])
    if not groups:
        status, message = _judge(rule, None, 'no buckets of %s' % selector(metric + '_bucket', rule['labels']))
        return [_result(rule, {}, None, status, message, target)]
    results = []
    for key, value in groups:
        why = None
        if math.isnan(value):
            why = 'no observations%s' % (' in the interval' if delta else '')
        status, message = _judge(rule, value, why)
        results.append(_result(rule, _group_labels(key, rule['by']), value, status, message, target))
    return results


def evaluate_query_result(rule, data):
    """Results of a rule from a Prometheus ``/api/v1/query`` answer (its ``data``)."""
    target = rule.get('_expression') or expression(rule)
    result_type = data.get('resultType')
    result = data.get('result')
    values = []
    if result_type == 'vector':
        for item in result or []:
            labels = dict((k, v) for k, v in (item.get('metric') or {}).items() if k != '__name__')
            values.append((labels, float(item['value'][1])))
    elif result_type == 'scalar':
        values.append(({}, float(result[1])))
    else:
        raise MetricsError('rule %r: query returned a %s, expected an instant vector or a scalar'
                           % (rule['name'], result_type))
    if rule['type'] == 'present':
        count = sum(item[1] for item in values) if values else 0.0
        ok = count > 0
        status = STATUS_OK if ok else (STATUS_FAILED if rule['severity'] == 'critical' else STATUS_WARNING)
        return [_result(rule, {}, count, status, '%s: %s series, expected present' % (
            rule['name'], fmt_number(count)), target)]
    if rule['type'] == 'absent':
        count = sum(item[1] for item in values) if values else 0.0
        ok = count == 0
        status = STATUS_OK if ok else (STATUS_FAILED if rule['severity'] == 'critical' else STATUS_WARNING)
        return [_result(rule, {}, count, status, '%s: %s series, expected absent' % (
            rule['name'], fmt_number(count)), target)]
    if not values:
        status, message = _judge(rule, None, 'the query returned no series')
        return [_result(rule, {}, None, status, message, target)]
    results = []
    for labels, value in values:
        status, message = _judge(rule, value, 'the query returned NaN' if math.isnan(value) else None)
        results.append(_result(rule, labels, value, status, message, target))
    return results


def prometheus_query(rule, window):
    """The PromQL the module sends to a Prometheus server for ``rule``."""
    if rule['type'] == 'present' or rule['type'] == 'absent':
        return 'count(%s)' % selector(rule['metric'], rule['labels'])
    return expression(rule, window)


def rounded(value, digits=6):
    """Value for a table row: ``digits`` significant digits, None for NaN."""
    if value is None or not isinstance(value, float):
        return value
    if math.isnan(value) or math.isinf(value):
        return None
    return float('%.*g' % (digits, value))


def result_to_row(result):
    """The uniform check row of one rule result."""
    threshold = threshold_text({'type': result['type'], 'op': result['op'], 'threshold': result['threshold']})
    return make_row(
        check=result['name'],
        target=result['expression'],
        value=rounded(result['value']),
        threshold=threshold,
        status=result['status'],
        message=result['message'],
    )
