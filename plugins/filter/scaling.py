# -*- coding: utf-8 -*-
# Copyright (c) 2026, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of playbooks/scale.yml and the service_instances role.

- ``lb_backends``: the HAProxy backends of a host's service model, with the
  number of instances each balanced service runs now.
- ``scale_measurements``: CPU, memory, error rate, P95 latency and queue length
  out of ``opskit.ops.capacity_check`` and ``opskit.ops.metrics_check`` results.
- ``scale_decision``: out / in / hold from those measurements, against the
  runbooks' thresholds, within min/max instances.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json
import math

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

# Runbook 003: scale out above 70 % CPU, 80 % memory, P95 5 s, 5 % errors;
# runbook 001: its worker scales out when the queue holds more than 100 jobs.
# Scaling in is opskit's choice (no runbook gives it): well below all of them.
DEFAULT_THRESHOLDS = {
    'out_cpu_percent': 70.0,
    'out_memory_percent': 80.0,
    'out_p95_seconds': 5.0,
    'out_error_rate': 0.05,
    'out_queue_length': 100.0,
    'in_cpu_percent': 30.0,
    'in_memory_percent': 50.0,
    'in_p95_seconds': 1.0,
    'in_error_rate': 0.01,
    'in_queue_length': 10.0,
}

# measurement -> (threshold suffix, label, unit)
METRICS = (
    ('cpu_percent', 'cpu_percent', 'CPU', '%'),
    ('memory_percent', 'memory_percent', 'memory', '%'),
    ('p95_seconds', 'p95_seconds', 'P95 latency', 's'),
    ('error_rate', 'error_rate', 'error rate', ''),
    ('queue_length', 'queue_length', 'queue length', ''),
)

# Rule names of the metrics_check rules scale.yml sends (playbooks/vars/scale.yml).
RULES = {
    'error rate': ('error_rate', 1.0),
    'latency p95 ms': ('p95_seconds', 0.001),
    'queue length': ('queue_length', 1.0),
}


def _fmt(value):
    return ('%.4g' % value) if isinstance(value, float) else str(value)


def lb_backends(model, counts=None, bind='*'):
    """``[{name, bind, port, servers: [{name, address, port}]}]`` for each balanced service."""
    if not isinstance(model, Mapping) or 'services' not in model:
        raise AnsibleFilterError('lb_backends: expected opskit_model (the service model), got %r' % (model,))
    counts = counts or {}
    backends = []
    for svc in model['services']:
        if not svc.get('balancer'):
            continue
        count = counts.get(svc['name'], svc['instances'])
        if isinstance(count, Mapping):  # a scale_records entry
            count = count.get('instances', svc['instances'])
        try:
            count = int(count)
        except (TypeError, ValueError):
            raise AnsibleFilterError('lb_backends: instances of %s: expected an integer, got %r' % (svc['name'], count))
        if not 1 <= count <= svc['max_instances']:
            raise AnsibleFilterError('lb_backends: instances of %s: expected 1-%d (max_instances), got %d'
                                     % (svc['name'], svc['max_instances'], count))
        backends.append({
            'name': svc['balancer']['backend'],
            'bind': bind,
            'port': svc['balancer']['port'],
            'servers': [{'name': slot['server'], 'address': '127.0.0.1', 'port': slot['port']}
                        for slot in svc['instance_slots'][:count]],
        })
    return backends


def _rules_of(result):
    if not isinstance(result, Mapping):
        return []
    rules = []
    for target in result.get('targets') or []:
        for rule in target.get('rules') or []:
            rules.append((target.get('name'), rule))
    if not rules:
        rules = [(None, rule) for rule in result.get('rules') or []]
    return rules


def scale_measurements(capacity=None, metrics=None):
    """The worst value of each measurement, with where it was measured.

    Returns ``{measurement: {'value': float or None, 'source': str}}``; a metric
    without data (no traffic in the window, or not exported) is None.
    """
    found = dict((key, {'value': None, 'source': None}) for key, _s, _l, _u in METRICS)
    host = (capacity or {}).get('host') or {} if isinstance(capacity, Mapping) else {}
    for key in ('cpu_percent', 'memory_percent'):
        if host.get(key) is not None and not math.isnan(float(host[key])):
            found[key] = {'value': float(host[key]), 'source': 'host'}
    for target, rule in _rules_of(metrics):
        name = rule.get('rule') or rule.get('name')
        if name not in RULES or rule.get('value') is None:
            continue
        key, factor = RULES[name]
        value = float(rule['value']) * factor
        if math.isnan(value):  # no data in the window
            continue
        current = found[key]['value']
        if current is None or value > current:
            labels = rule.get('labels') or {}
            where = target or ''
            if labels:
                where += '{%s}' % ','.join('%s="%s"' % item for item in sorted(labels.items()))
            found[key] = {'value': value, 'source': where or None}
    return found


def _thresholds(overrides):
    merged = dict(DEFAULT_THRESHOLDS)
    for key, value in (overrides or {}).items():
        if key not in DEFAULT_THRESHOLDS:
            raise AnsibleFilterError('scale_thresholds: unknown key %r (known: %s)'
                                     % (key, ', '.join(sorted(DEFAULT_THRESHOLDS))))
        try:
            merged[key] = float(value)
        except (TypeError, ValueError):
            raise AnsibleFilterError('scale_thresholds.%s: expected a number, got %r' % (key, value))
    return merged


def scale_decision(measurements, current, minimum=1, maximum=1, thresholds=None, step=1):
    """Decide out / in / hold.

    Out when any measurement is over its out threshold (each reason is listed
    with the value that caused it); in when every measurement is under its in
    threshold (a metric without data counts as idle) and more than
    ``minimum`` instances run; hold otherwise. The target stays within
    ``minimum``..``maximum``; a wanted step beyond a bound is a hold that says so.
    """
    try:
        current, minimum, maximum, step = int(current), int(minimum), int(maximum), int(step)
    except (TypeError, ValueError):
        raise AnsibleFilterError('scale_decision: current, minimum, maximum and step must be integers, got %r'
                                 % ((current, minimum, maximum, step),))
    if not 1 <= minimum <= maximum or step < 1:
        raise AnsibleFilterError('scale_decision: expected 1 <= min_instances <= max_instances and step >= 1, '
                                 'got %d, %d, step %d' % (minimum, maximum, step))
    if not isinstance(measurements, Mapping):
        raise AnsibleFilterError('scale_decision: expected the result of scale_measurements, got %r' % (measurements,))
    limits = _thresholds(thresholds)
    over, not_idle = [], []
    for key, suffix, label, unit in METRICS:
        entry = measurements.get(key) or {}
        value = entry.get('value')
        if value is None:
            continue
        value = float(value)
        where = ' at %s' % entry['source'] if entry.get('source') else ''
        out_limit, in_limit = limits['out_' + suffix], limits['in_' + suffix]
        if value > out_limit:
            over.append({'metric': key, 'value': value, 'threshold': out_limit,
                         'text': '%s %s%s > %s%s%s' % (label, _fmt(value), unit, _fmt(out_limit), unit, where)})
        elif value >= in_limit:
            not_idle.append({'metric': key, 'value': value, 'threshold': in_limit,
                             'text': '%s %s%s >= %s%s%s' % (label, _fmt(value), unit, _fmt(in_limit), unit, where)})
    clamped = max(minimum, min(maximum, current))
    result = {'current': current, 'min': minimum, 'max': maximum, 'reasons': over or not_idle}
    if over:
        wanted = 'out'
        target = min(maximum, current + step)
        why = '; '.join(r['text'] for r in over)
    elif not not_idle:
        wanted = 'in'
        target = max(minimum, current - step)
        shown = []
        for key, _s, label, _u in METRICS:
            value = (measurements.get(key) or {}).get('value')
            shown.append('%s %s' % (label, 'no data' if value is None else _fmt(float(value))))
        why = 'every measurement under its scale-in threshold (%s)' % ', '.join(shown)
    else:
        wanted = 'hold'
        target = clamped
        why = 'between the thresholds: ' + '; '.join(r['text'] for r in not_idle)
    action = wanted
    if wanted in ('out', 'in') and target == current:
        action = 'hold'
        why = '%s wanted (%s) but %d instance(s) is the %s' % (
            wanted, why, current, 'max_instances' if wanted == 'out' else 'min_instances')
    if current != clamped and action == 'hold':
        action = 'out' if clamped > current else 'in'
        target = clamped
        why = '%d instance(s) is outside %d-%d; %s' % (current, minimum, maximum, why)
    result.update(action=action, wanted=wanted, target=target,
                  message='%s: %d -> %d instance(s): %s' % (action, current, target, why))
    return result


def scale_records(results, model):
    """``{service: {instances, workers}}`` from slurp results of each service's scale file.

    A service without a scale file (never scaled) runs the model's instances and workers.
    """
    by_name = dict((svc['name'], svc) for svc in (model or {}).get('services', []))
    records = {}
    for name, svc in by_name.items():
        records[name] = {'instances': svc['instances'], 'workers': svc['workers']}
    for result in results or []:
        svc = result.get('item') or {}
        if svc.get('name') not in by_name or not result.get('content'):
            continue
        try:
            data = json.loads(base64.b64decode(result['content']).decode('utf-8'))
        except (ValueError, TypeError) as exc:
            raise AnsibleFilterError('scale file of %s (%s) is not JSON: %s'
                                     % (svc['name'], svc['paths']['scale_file'], exc))
        record = records[svc['name']]
        for key in ('instances', 'workers'):
            if isinstance(data.get(key), int) and not isinstance(data.get(key), bool) and data[key] >= 1:
                record[key] = data[key]
        record['instances'] = max(svc['min_instances'], min(svc['max_instances'], record['instances']))
    return records


def scale_targets(svc, count, rules=None):
    """The running instances of a service as metrics_check targets and capacity_check processes.

    Returns ``{'targets': [{name, url, rules}], 'processes': [{name, unit}]}``.
    """
    if not isinstance(svc, Mapping) or 'instance_slots' not in svc:
        raise AnsibleFilterError('scale_targets: expected one service of opskit_model.services, got %r' % (svc,))
    slots = svc['instance_slots'][:int(count)]
    return {
        'targets': [{'name': slot['server'], 'url': slot['urls']['metrics'], 'rules': list(rules or [])}
                    for slot in slots],
        'processes': [{'name': slot['server'], 'unit': slot['unit']} for slot in slots],
    }


class FilterModule(object):
    def filters(self):
        return {
            'lb_backends': lb_backends,
            'scale_measurements': scale_measurements,
            'scale_decision': scale_decision,
            'scale_records': scale_records,
            'scale_targets': scale_targets,
        }
