# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runbook 003's fallback status, readable, from the answers of the runtime admin API."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def _text(value, empty='-'):
    if value is None or value == '':
        return empty
    return str(value)


def _problem(status, msg):
    if status == 200:
        return None
    if status in (None, -1):
        return 'no answer (%s)' % (msg or 'request failed')
    if status in (401, 403):
        return ('answered %d: the admin token (opskit_admin_token) is not the ADMIN_TOKEN of the service'
                % status)
    if status == 503:
        return 'answered 503: ADMIN_TOKEN is not set on the service, its admin API is off'
    if status == 404:
        return 'answered 404: no fallback API here (only the runtime API service, role api, has it)'
    return 'answered %s: %s' % (status, msg or 'unexpected status')


def _lines(name, data):
    enabled = bool(data.get('fallbackEnabled'))
    if enabled:
        first = '%s: fallback ENABLED since %s, executions run in %s mode; reason: %s' % (
            name, _text(data.get('triggeredAt')), _text(data.get('currentMode')), _text(data.get('fallbackReason')))
    else:
        first = '%s: fallback disabled, executions run in %s mode' % (name, _text(data.get('currentMode')))
    thresholds = data.get('thresholds') or {}
    lines = [
        first,
        '  triggered %s time(s) since the state was created; last trigger %s; last reset %s' % (
            _text(data.get('triggerCount'), '0'), _text(data.get('triggeredAt'), 'never'),
            _text(data.get('resetAt'), 'never')),
        '  consecutive errors %s; recent error rate %s over %s runtime_orchestrator executions' % (
            _text(data.get('consecutiveErrors'), '0'), _text(data.get('recentErrorRate'), 'n/a'),
            _text(data.get('recentSamples'), '0')),
        '  auto-fallback when the error rate of the last %s (at least %s) exceeds %s, or after %s errors in a row' % (
            _text(thresholds.get('window'), '?'), _text(thresholds.get('minSamples'), '?'),
            _text(thresholds.get('errorRate'), '?'), _text(thresholds.get('consecutiveErrors'), '?')),
    ]
    previous = data.get('previous')
    if isinstance(previous, Mapping):
        lines.append('  reset: fallback was %s%s' % (
            'enabled' if previous.get('fallbackEnabled') else 'already disabled',
            ' (reason: %s)' % previous['fallbackReason'] if previous.get('fallbackReason') else ''))
    return lines


def runtime_fallback(results):
    if isinstance(results, Mapping):
        results = results.get('results')
    if results is None or isinstance(results, (str, bytes)) or not isinstance(results, (list, tuple)):
        raise AnsibleFilterError('runtime_fallback: expected the registered results of a uri loop')
    out = []
    for result in results:
        if not isinstance(result, Mapping):
            raise AnsibleFilterError('runtime_fallback: every result must be a dict, got %r' % (result,))
        item = result.get(result.get('ansible_loop_var') or 'item')
        name = str(item.get('name')) if isinstance(item, Mapping) and item.get('name') else _text(item, 'service')
        if result.get('skipped'):
            out.append({'service': name, 'http_status': None, 'ok': None, 'problem': None,
                        'fallback_enabled': None, 'previous_enabled': None, 'data': {},
                        'lines': ['%s: request not sent (check mode, or skipped)' % name]})
            continue
        status = result.get('status')
        body = result.get('json') if isinstance(result.get('json'), Mapping) else {}
        data = body.get('data') if isinstance(body.get('data'), Mapping) else {}
        problem = _problem(status, result.get('msg'))
        if problem is None and not data:
            problem = 'answered 200 without a data object'
        previous = data.get('previous') if isinstance(data.get('previous'), Mapping) else {}
        out.append({
            'service': name,
            'http_status': status,
            'ok': problem is None,
            'problem': problem,
            'fallback_enabled': bool(data['fallbackEnabled']) if 'fallbackEnabled' in data else None,
            'previous_enabled': bool(previous['fallbackEnabled']) if 'fallbackEnabled' in previous else None,
            'data': dict(data),
            'lines': _lines(name, data) if problem is None else ['%s: %s' % (name, problem)],
        })
    return out


class FilterModule(object):
    def filters(self):
        return {'runtime_fallback': runtime_fallback}
