# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the role opskit.ops.healthcheck (health check, smoke test, health gate).

Each filter is documented in the ``<filter>.yml`` file beside this one.

* ``health_rules``: the metric rules by runbook, the role's defaults with the
  inventory's overrides (a rule replaces the rule of the same name).
* ``health_plan``: what to check on one host, read from ``opskit_model`` (the
  fact of playbooks/preflight.yml): endpoints, metrics targets with the rules
  of each service's own runbook, SQLite stores, units, watched directories.
* ``health_rows``: registered results of the check tasks as uniform rows; a
  task that could not run becomes a failed row, so nothing disappears.
* ``health_summary``: the rows of every host: a compact summary (counts by
  status per host, the rows that are not ok), the full table as text,
  Markdown and a JSON document, and the final failure message.
* ``health_gate_targets`` / ``health_gate``: the endpoints of a health gate
  and its verdict (which service did not answer, its last answer, journal).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import math

from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError
from ansible.module_utils.six import string_types

from ansible_collections.opskit.ops.plugins.module_utils._check_rows import fmt_number
from ansible_collections.opskit.ops.plugins.module_utils._metrics_eval import merge_rules

STATUS_ORDER = ('failed', 'warning', 'no_data', 'ok')
ROW_KEYS = ('check', 'target', 'value', 'threshold', 'status', 'message')
RUNBOOKS = ('000', '001', '002', '003', '004')
MESSAGE_MAX = 400
COMPACT_MESSAGE_MAX = 120


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def _is_list(value):
    return isinstance(value, Sequence) and not isinstance(value, string_types)


def _row(check, target, value, threshold, status, message):
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        value = None
    return {'check': check, 'target': target, 'value': value, 'threshold': threshold,
            'status': status, 'message': message}


def _short(text, limit=MESSAGE_MAX):
    text = ' '.join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + '...'


def show_value(value):
    """A value as the table shows it: '-' for none, short numbers, text as is."""
    if value is None:
        return '-'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (int, float)):
        return fmt_number(value)
    return str(value)


# ---------------------------------------------------------------------------
# health_rules
# ---------------------------------------------------------------------------

def _ruleset(where, rules):
    if rules is None:
        return []
    if not _is_list(rules):
        raise AnsibleFilterError('%s: expected a list of rules, got %s' % (where, type(rules).__name__))
    checked = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, Mapping) or not rule.get('name'):
            raise AnsibleFilterError('%s[%d]: every rule needs a name, got %r' % (where, index, rule))
        # Keys the argument spec validation left unset (None) are dropped: the module fills its defaults.
        checked.append(dict((key, copy.deepcopy(value)) for key, value in rule.items() if value is not None))
    return checked


def _rules_dict(where, rules):
    if rules is None:
        return {}
    if not isinstance(rules, Mapping):
        raise AnsibleFilterError('%s: expected a dict of runbook ("000"-"004") to a list of rules, got %s'
                                 % (where, type(rules).__name__))
    out = {}
    for key in rules:
        runbook = str(key)
        if runbook not in RUNBOOKS:
            raise AnsibleFilterError('%s: unknown runbook %r (known: %s)' % (where, key, ', '.join(RUNBOOKS)))
        out[runbook] = _ruleset('%s["%s"]' % (where, runbook), rules[key])
    return out


def health_rules(defaults, overrides=None):
    """The metric rules by runbook: ``defaults`` with ``overrides`` merged in.

    Both are dicts of runbook to a list of rules (the rule format of
    opskit.ops.metrics_check). An override rule replaces the default rule of
    the same name in its runbook; other override rules are added.
    """
    base = _rules_dict('healthcheck_default_rules', defaults)
    extra = _rules_dict('healthcheck_rules', overrides)
    merged = {}
    for runbook in RUNBOOKS:
        if runbook in base or runbook in extra:
            merged[runbook] = merge_rules(base.get(runbook, []), extra.get(runbook, []))
    return merged


# ---------------------------------------------------------------------------
# health_plan
# ---------------------------------------------------------------------------

def _model_services(model):
    if not isinstance(model, Mapping) or not _is_list(model.get('services')):
        raise AnsibleFilterError('health_plan: expected opskit_model (the host fact set by playbooks/preflight.yml, '
                                 'a dict with services), got %s' % type(model).__name__)
    for index, service in enumerate(model['services']):
        if not isinstance(service, Mapping) or not service.get('name') or \
                not isinstance(service.get('urls'), Mapping) or not isinstance(service.get('paths'), Mapping):
            raise AnsibleFilterError('health_plan: opskit_model.services[%d] is not a service of the model '
                                     '(name, unit, urls, paths): %r' % (index, service))
    return model['services']


def health_plan(model, rules=None):
    """What to check on a host, from its ``opskit_model``; ``rules`` from health_rules.

    Nothing is derived here: endpoints, paths and units are the model's. Each
    metrics target carries the rules of the service's own runbook only.
    """
    services = _model_services(model)
    rules = _rules_dict('health_plan rules', rules)
    plan_services, endpoints, metrics, sqlite, processes, paths = [], [], [], [], [], []
    databases = {}
    for service in services:
        name = str(service['name'])
        runbook = str(service.get('runbook') or '')
        urls = service['urls']
        svc_paths = service['paths']
        plan_services.append({'name': name, 'runbook': runbook, 'role': service.get('role'),
                              'unit': service.get('unit'), 'port': service.get('port'), 'base_url': urls.get('base'),
                              'health_url': urls.get('health'), 'store': service.get('store')})
        endpoints.append({'name': '%s: GET /health' % name, 'url': urls['health'], 'json': {'status': 'ok'}})
        endpoints.append({'name': '%s: GET /metrics' % name, 'url': urls['metrics'], 'probes': 1})
        metrics.append({'name': name, 'url': urls['metrics'], 'rules': copy.deepcopy(rules.get(runbook, []))})
        database = svc_paths.get('database')
        if database:
            if database not in databases:
                databases[database] = {'name': service.get('store_owner') or name, 'path': database, 'services': []}
                sqlite.append(databases[database])
            databases[database]['services'].append(name)
        processes.append({'name': name, 'unit': service.get('unit')})
        for path in svc_paths.get('watched') or []:
            if path not in paths:
                paths.append(path)
    postgres = any(service.get('store') == 'postgres' for service in services)
    return {'services': plan_services, 'endpoints': endpoints, 'metrics': metrics, 'sqlite': sqlite,
            'processes': processes, 'paths': paths, 'postgres': postgres}


# ---------------------------------------------------------------------------
# health_rows
# ---------------------------------------------------------------------------

def _item_label(result):
    item = result.get(result.get('ansible_loop_var') or 'item')
    if isinstance(item, Mapping):
        return str(item.get('name') or item.get('path') or '')
    return '' if item is None else str(item)


def error_text(result):
    """Why a task gave no result: its msg, with what the module (or the connection) wrote on stderr."""
    parts = []
    for key in ('msg', 'module_stderr', 'stderr'):
        value = result.get(key)
        if value and str(value).strip() not in parts:
            parts.append(str(value).strip())
    if not parts and result.get('exception'):
        parts.append(str(result['exception']))
    if not parts:
        return 'the task returned no result'
    return _short(parts[0] if len(parts) == 1 else '%s (%s)' % (parts[0], '; '.join(parts[1:])))


def _prefixed(prefix, check):
    return '%s: %s' % (prefix, check) if prefix else check


def _module_rows(result, name, prefix):
    """Rows of one result of an opskit check module."""
    checks = result.get('checks')
    if _is_list(checks):
        rows = []
        for check in checks:
            row = dict((key, check.get(key)) for key in ROW_KEYS)
            row['check'] = _prefixed(prefix, row['check'])
            rows.append(row)
        return rows
    if result.get('skipped'):
        return []
    return [_row(_prefixed(prefix, name), None, None, 'module runs', 'failed',
                 '%s could not run: %s' % (name, error_text(result)))]


def _each(result):
    """(result, label) of a task result, one per loop item for a loop."""
    if isinstance(result, Mapping) and _is_list(result.get('results')) and 'checks' not in result:
        return [(item, _item_label(item)) for item in result['results'] if isinstance(item, Mapping)]
    return [(result, '')]


def _unreachable(entries):
    """The first unreachable result among the entries (or their loop items), else None."""
    for entry in entries:
        result = entry.get('result')
        if not isinstance(result, Mapping):
            continue
        if result.get('unreachable'):
            return result
        for item in result.get('results') or []:
            if isinstance(item, Mapping) and item.get('unreachable'):
                return item
    return None


def _check_row(row, where):
    if not isinstance(row, Mapping) or 'check' not in row or 'status' not in row:
        raise AnsibleFilterError('health_rows: %s holds %r, not a check row' % (where, row))
    return dict((key, row.get(key)) for key in ROW_KEYS)


def health_rows(entries):
    """Rows of registered check results.

    ``entries``: list of dicts, each ``{name, result, prefix}`` (a result or
    loop result of an opskit check module: its ``checks``, each prefixed with
    ``prefix`` or, for loops, with the loop item's name) or ``{name, rows}``
    (rows a check task already judged, such as the Redis and PostgreSQL
    checks). A result that failed without rows becomes a failed row; when any
    result is unreachable the host gets one failed row ``host reachable``.
    """
    if entries is None:
        return []
    if not _is_list(entries):
        raise AnsibleFilterError('health_rows: expected a list of {name, result} or {name, rows}, got %s'
                                 % type(entries).__name__)
    for entry in entries:
        if not isinstance(entry, Mapping) or 'name' not in entry or ('result' not in entry and 'rows' not in entry):
            raise AnsibleFilterError('health_rows: every entry needs a name and a result (or rows), got %r' % (entry,))
    unreachable = _unreachable(entries)
    if unreachable is not None:
        # Every task of the host met the same wall: one row says so.
        return [_row('host reachable', 'host', None, 'reachable', 'failed',
                     'host unreachable: %s' % error_text(unreachable))]
    rows = []
    for entry in entries:
        name = str(entry['name'])
        if 'rows' in entry:
            given = entry['rows'] if entry['rows'] is not None else []
            if not _is_list(given):
                raise AnsibleFilterError('health_rows: rows of %s must be a list, got %r' % (name, given))
            rows.extend(_check_row(row, name) for row in given)
            continue
        result = entry.get('result')
        if not isinstance(result, Mapping):
            rows.append(_row(name, None, None, 'module runs', 'failed', '%s has no result: the task did not run' % name))
            continue
        for one, label in _each(result):
            rows.extend(_module_rows(one, name, label or entry.get('prefix') or ''))
    return rows


# ---------------------------------------------------------------------------
# health_summary
# ---------------------------------------------------------------------------

def _host_rows(hostvars, host, fact):
    try:
        variables = hostvars[host]
    except (KeyError, TypeError):
        variables = None
    rows = None
    if isinstance(variables, Mapping):
        try:
            rows = variables[fact]
        except KeyError:
            rows = None
    if not _is_list(rows):
        return [_row('health check ran', host, None, 'results for every host', 'failed',
                     'no results: %s failed before its checks finished (see the play output above)' % host)]
    return rows


def _counts(rows):
    counts = {'total': len(rows), 'ok': 0, 'warning': 0, 'failed': 0, 'no_data': 0}
    for row in rows:
        counts[row['status'] if row['status'] in counts else 'failed'] += 1
    return counts


def _status_of(counts):
    if counts['failed']:
        return 'failed'
    if counts['warning']:
        return 'warning'
    return 'ok'


def _counts_text(counts):
    return '%d checks: %d ok, %d warning, %d failed, %d no data' % (
        counts['total'], counts['ok'], counts['warning'], counts['failed'], counts['no_data'])


def _status_text(status):
    return 'FAILED' if status == 'failed' else status


def _fixed_width(header, lines):
    widths = [max([len(header[i])] + [len(line[i]) for line in lines]) for i in range(len(header) - 1)]

    def fmt(cells):
        return '  '.join(cells[i].ljust(widths[i]) for i in range(len(widths))) + '  ' + cells[-1]

    out = [fmt(header), '  '.join('-' * w for w in widths) + '  ' + '-' * len(header[-1])]
    out.extend(fmt(line) for line in lines)
    return '\n'.join(out)


def text_table(rows):
    """Fixed-width text table of every row: HOST CHECK VALUE THRESHOLD STATUS."""
    return _fixed_width(('HOST', 'CHECK', 'VALUE', 'THRESHOLD', 'STATUS'),
                        [(row['host'], row['check'], show_value(row['value']), show_value(row['threshold']),
                          _status_text(row['status'])) for row in rows])


def _not_ok(rows):
    """The rows that are not ok, failed first, then warnings, then no data (stable inside each)."""
    return sorted((row for row in rows if row['status'] != 'ok'),
                  key=lambda r: STATUS_ORDER.index(r['status']) if r['status'] in STATUS_ORDER else 0)


def compact_text(title, rows, counts, hosts):
    """What a person reads first: per host the counts by status, then only the rows that are not ok.

    Failed and warning rows are listed with value, threshold and message; the
    checks without data (no traffic in the interval) are named on one line per host.
    """
    status = _status_of(counts)
    out = ['%s: %s on %d host%s: %s' % (title, _counts_text(counts), len(hosts), '' if len(hosts) == 1 else 's',
                                        _status_text(status))]
    width = max([len(host) for host in hosts] or [0])
    for host, host_counts in hosts.items():
        out.append('  %s  %s' % (host.ljust(width), _counts_text(host_counts)))
    problems = [row for row in _not_ok(rows) if row['status'] != 'no_data']
    if problems:
        out.append('')
        out.append('Failed and warning checks (%d):' % len(problems))
        out.append(_fixed_width(
            ('HOST', 'CHECK', 'VALUE', 'THRESHOLD', 'STATUS', 'MESSAGE'),
            [(row['host'], row['check'], show_value(row['value']), show_value(row['threshold']),
              _status_text(row['status']), _short(row['message'] or '', COMPACT_MESSAGE_MAX)) for row in problems]))
    no_data = {}
    for row in rows:
        if row['status'] == 'no_data':
            no_data.setdefault(row['host'], []).append(row['check'])
    if no_data:
        out.append('')
        out.append('No data (no traffic in the interval):')
        for host, checks in no_data.items():
            out.append('  %s: %s' % (host, ', '.join(checks)))
    if not problems and not no_data:
        out.append('Every check is ok.')
    return '\n'.join(out)


def _md(text):
    return show_value(text).replace('\\', '\\\\').replace('|', '\\|').replace('\n', ' ')


def markdown_report(title, rows, counts, hosts, generated_at=None, check_mode=False):
    status = _status_of(counts)
    out = ['# %s summary' % title, '']
    meta = []
    if generated_at:
        meta.append('Generated %s' % generated_at)
    meta.append('check mode: %s' % ('yes' if check_mode else 'no'))
    meta.append('%d host%s' % (len(hosts), '' if len(hosts) == 1 else 's'))
    out.append(' · '.join(meta))
    out.append('')
    out.append('**Status: %s** — %s' % (status.upper(), _counts_text(counts)))
    out.append('')
    out.append('| host | ok | warning | failed | no data |')
    out.append('|---|---:|---:|---:|---:|')
    for host, host_counts in hosts.items():
        out.append('| %s | %d | %d | %d | %d |' % (
            _md(host), host_counts['ok'], host_counts['warning'], host_counts['failed'], host_counts['no_data']))
    problems = _not_ok(rows)
    if problems:
        out.extend(['', '## Checks that are not ok', '',
                    '| host | check | value | threshold | status | message |', '|---|---|---|---|---|---|'])
        for row in problems:
            out.append('| %s | %s | %s | %s | %s | %s |' % (
                _md(row['host']), _md(row['check']), _md(row['value']), _md(row['threshold']),
                _status_text(row['status']), _md(row['message'])))
    out.extend(['', '## All checks', '', '| host | check | value | threshold | status |', '|---|---|---|---|---|'])
    for row in rows:
        out.append('| %s | %s | %s | %s | %s |' % (
            _md(row['host']), _md(row['check']), _md(row['value']), _md(row['threshold']), _status_text(row['status'])))
    return '\n'.join(out) + '\n'


def failure_text(title, failed, counts):
    if not failed:
        return None
    hosts = []
    for row in failed:
        if row['host'] not in hosts:
            hosts.append(row['host'])
    lines = ['%s failed: %d of %d checks failed on %s:' % (title, len(failed), counts['total'], ', '.join(hosts))]
    for row in failed:
        value = 'n/a' if row['value'] is None else show_value(row['value'])
        lines.append('- %s: %s = %s (expected %s): %s' % (
            row['host'], row['check'], value, show_value(row['threshold']),
            _short(row['message'] or '', 300)))
    return '\n'.join(lines)


def health_summary(hosts, hostvars, fact='healthcheck_rows', title='Health check', generated_at=None,
                   check_mode=False):
    """One summary of the rows every host in ``hosts`` stored in fact ``fact``."""
    if hosts is None:
        hosts = []
    if isinstance(hosts, string_types) or not _is_list(hosts):
        raise AnsibleFilterError('health_summary: input must be a list of host names, got %s' % type(hosts).__name__)
    if not isinstance(hostvars, Mapping):
        raise AnsibleFilterError('health_summary: hostvars must be hostvars or a dict of host: variables')
    rows = []
    per_host = {}
    for host in hosts:
        host = str(host)
        host_rows = []
        for row in _host_rows(hostvars, host, fact):
            if not isinstance(row, Mapping) or 'check' not in row or 'status' not in row:
                raise AnsibleFilterError('health_summary: %s of %s holds %r, not a check row' % (fact, host, row))
            full = {'host': host}
            full.update((key, row.get(key)) for key in ROW_KEYS)
            if isinstance(full['value'], float) and (math.isnan(full['value']) or math.isinf(full['value'])):
                full['value'] = None
            host_rows.append(full)
        per_host[host] = _counts(host_rows)
        rows.extend(host_rows)
    counts = _counts(rows)
    status = _status_of(counts)
    failed = [row for row in rows if row['status'] not in ('ok', 'warning', 'no_data')]
    warnings = [row for row in rows if row['status'] == 'warning']
    table = text_table(rows) + '\n' + '%s on %d host%s: %s' % (
        _counts_text(counts), len(per_host), '' if len(per_host) == 1 else 's', _status_text(status))
    document = {
        'title': title,
        'generated_at': generated_at,
        'check_mode': bool(check_mode),
        'status': status,
        'counts': counts,
        'hosts': per_host,
        'rows': rows,
    }
    # A JSON round trip: plain types only (the rows may hold Ansible's lazy containers).
    document = json.loads(json.dumps(document, default=str))
    return {
        'rows': document['rows'],
        'counts': counts,
        'hosts': per_host,
        'status': status,
        'failed': failed,
        'warnings': warnings,
        'compact': compact_text(title, document['rows'], counts, per_host),
        'table': table,
        'markdown': markdown_report(title, rows, counts, per_host, generated_at, check_mode),
        'document': document,
        'failure_message': failure_text(title, failed, counts),
    }


# ---------------------------------------------------------------------------
# Health gate
# ---------------------------------------------------------------------------

def health_gate_targets(services, endpoints=False):
    """Endpoints of a health gate: ``{name, url, unit}`` from model services or ``{name, url[, unit]}`` dicts.

    With ``endpoints`` true only ``{name, url}``, the endpoints of opskit.ops.http_check.
    """
    if services is None:
        services = []
    if isinstance(services, Mapping) or not _is_list(services):
        raise AnsibleFilterError('healthcheck_gate_services: expected a list of services, got %s'
                                 % type(services).__name__)
    targets = []
    for index, service in enumerate(services):
        if not isinstance(service, Mapping) or not service.get('name'):
            raise AnsibleFilterError('healthcheck_gate_services[%d]: every service needs a name, got %r'
                                     % (index, service))
        urls = service.get('urls') if isinstance(service.get('urls'), Mapping) else {}
        url = service.get('url') or service.get('health_url') or urls.get('health')
        if not url:
            raise AnsibleFilterError('healthcheck_gate_services[%s]: needs url (or the urls.health of opskit_model), '
                                     'got %r' % (service['name'], service))
        target = {'name': str(service['name']), 'url': str(url)}
        if not endpoints:
            target['unit'] = service.get('unit') or ''
        targets.append(target)
    return targets


def _journal_lines(journals, name):
    if isinstance(journals, Mapping):
        journals = journals.get('results')
    for journal in journals or []:
        if not isinstance(journal, Mapping) or journal.get('skipped'):
            continue
        item = journal.get(journal.get('ansible_loop_var') or 'item')
        if isinstance(item, Mapping) and item.get('name') == name:
            return [str(line) for line in journal.get('stdout_lines') or []]
    return []


def health_gate(result, targets, journals=None, timeout=None, delay=None, host='', reason=''):
    """Verdict of a health gate: ``{ok, failed, message}`` from the registered http_check result.

    ``failed`` lists the names of the services that did not pass; the message
    names each with its URL, how long it was probed, its last answer and the
    last lines of its journal.
    """
    if not isinstance(result, Mapping):
        raise AnsibleFilterError('health_gate: expected the registered result of opskit.ops.http_check')
    targets = health_gate_targets(targets)
    if result.get('skipped'):
        return {'ok': True, 'failed': [], 'message': 'health gate skipped'}
    checks = result.get('checks')
    if not _is_list(checks):
        names = [target['name'] for target in targets]
        return {'ok': False, 'failed': names,
                'message': 'health gate%s on %s could not probe %s: %s' % (
                    ' ' + reason if reason else '', host or 'the host', ', '.join(names), error_text(result))}
    by_name = dict((str(row.get('check')), row) for row in checks if isinstance(row, Mapping))
    failed, messages = [], []
    for target in targets:
        row = by_name.get(target['name'])
        if row is not None and row.get('status') == 'ok':
            continue
        failed.append(target['name'])
        last = row.get('message') if row is not None else 'not probed'
        message = '%s%s did not answer GET %s with %s%s, probed every %s s for %s s; last answer: %s.' % (
            target['name'], ' on %s' % host if host else '', target['url'],
            row.get('threshold') if row is not None else 'HTTP [200]', ' ' + reason if reason else '',
            fmt_number(delay) if delay is not None else '?', fmt_number(timeout) if timeout is not None else '?',
            last)
        lines = _journal_lines(journals, target['name'])
        if lines:
            message += '\nLast lines of its journal (journalctl -u %s):\n%s' % (
                target['unit'] or target['name'], '\n'.join('  ' + line for line in lines))
        messages.append(message)
    if not failed:
        return {'ok': True, 'failed': [], 'message': '%s answered GET /health%s' % (
            ', '.join(target['name'] for target in targets), ' ' + reason if reason else '')}
    return {'ok': False, 'failed': failed, 'message': '\n\n'.join(messages)}


class FilterModule(object):
    def filters(self):
        return {
            'health_rules': health_rules,
            'health_plan': health_plan,
            'health_rows': health_rows,
            'health_summary': health_summary,
            'health_gate_targets': health_gate_targets,
            'health_gate': health_gate,
        }
