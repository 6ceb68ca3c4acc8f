# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of playbooks/healthcheck.yml and playbooks/smoke.yml.

Each filter is documented in the ``<filter>.yml`` file beside this one.

* ``health_plan``: what to check on one host, from ``opskit_services`` and the
  path conventions of docs/DEVELOPING.md (endpoints, metrics URLs, SQLite
  stores, units, data and log directories).
* ``health_metric_rules``: the runbooks' metric rule sets; a service is
  judged by its own runbook's rules and by every other rule whose metrics it
  exposes (found by ``present`` probes in the same scrape).
* ``health_rows``: registered results of the check tasks (opskit check
  modules, community.general.redis_info, community.postgresql.postgresql_ping
  and postgresql_info) as uniform rows; a task that could not run becomes a
  failed row, so nothing disappears from the summary.
* ``health_summary``: the rows of every host as one table (text, Markdown,
  JSON document) and the final failure message.
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
from ansible_collections.opskit.ops.plugins.module_utils._metrics_eval import (
    RuleError,
    merge_rules,
    preset_rules,
)

STATUS_ORDER = ('failed', 'warning', 'no_data', 'ok')
ROW_KEYS = ('check', 'target', 'value', 'threshold', 'status', 'message')
MIB = 1024.0 * 1024.0
MESSAGE_MAX = 400


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


def _service_name(service, index):
    if not isinstance(service, Mapping) or not service.get('name'):
        raise AnsibleFilterError('opskit_services[%d]: every service needs a name, got %r' % (index, service))
    return str(service['name'])


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
# health_plan
# ---------------------------------------------------------------------------

def health_plan(services, settings=None):
    """What to check on a host running ``services`` (its ``opskit_services``).

    ``settings``: ``http_address`` (default 127.0.0.1), where the checks on the
    host reach the services. Paths follow docs/DEVELOPING.md.
    """
    if services is None:
        services = []
    if not _is_list(services):
        raise AnsibleFilterError('health_plan: opskit_services must be a list, got %s' % type(services).__name__)
    settings = dict(settings or {})
    address = settings.get('http_address') or '127.0.0.1'
    plan_services, endpoints, metrics, sqlite, processes, paths = [], [], [], [], [], []
    stores = {}
    for index, service in enumerate(services):
        name = _service_name(service, index)
        try:
            port = int(service.get('port'))
        except (TypeError, ValueError):
            raise AnsibleFilterError('opskit_services[%s].port: expected a TCP port, got %r' % (name, service.get('port')))
        base = 'http://%s:%d' % (address, port)
        plan_services.append({'name': name, 'port': port, 'role': service.get('role') or 'api',
                              'runbook': str(service.get('runbook') or ''), 'base_url': base})
        endpoints.append({'name': '%s: GET /health' % name, 'url': base + '/health', 'json': {'status': 'ok'}})
        endpoints.append({'name': '%s: GET /metrics' % name, 'url': base + '/metrics', 'probes': 1})
        metrics.append({'name': name, 'url': base + '/metrics', 'runbook': str(service.get('runbook') or '')})
        if (service.get('store') or 'sqlite') == 'sqlite':
            owner = service.get('shares_store_of') or name
            path = '/var/lib/%s/data/el_sessions.db' % owner
            if path not in stores:
                stores[path] = {'name': owner, 'path': path, 'services': []}
                sqlite.append(stores[path])
            stores[path]['services'].append(name)
        processes.append({'name': name, 'unit': name})
        for path in ('/var/lib/%s' % name, '/var/log/%s' % name):
            if path not in paths:
                paths.append(path)
    return {'services': plan_services, 'endpoints': endpoints, 'metrics': metrics, 'sqlite': sqlite,
            'processes': processes, 'paths': paths}


# ---------------------------------------------------------------------------
# Metric rule sets
# ---------------------------------------------------------------------------

def _expand(runbook, ruleset):
    """Rules of one rule set: its preset's rules (from metrics_check) merged with its own rules."""
    if ruleset is None:
        return []
    if not isinstance(ruleset, Mapping):
        raise AnsibleFilterError('metric rule set %s: expected a dict with preset and/or rules, got %r' % (runbook, ruleset))
    rules = ruleset.get('rules') or []
    if not _is_list(rules):
        raise AnsibleFilterError('metric rule set %s: rules must be a list' % runbook)
    for rule in rules:
        if not isinstance(rule, Mapping) or not rule.get('name'):
            raise AnsibleFilterError('metric rule set %s: every rule needs a name, got %r' % (runbook, rule))
    try:
        preset = preset_rules(ruleset.get('preset') or 'none')
    except RuleError as exc:
        raise AnsibleFilterError('metric rule set %s: %s' % (runbook, exc))
    return [dict(rule) for rule in merge_rules(preset, [dict(rule) for rule in rules])]


def rule_metrics(rule):
    """Sample names a rule reads (the bucket series for a quantile)."""
    kind = rule.get('type') or 'gauge'
    metric = rule.get('metric')
    if kind == 'query' or not metric:
        return []
    if kind == 'quantile':
        base = metric[:-len('_bucket')] if metric.endswith('_bucket') else metric
        return [base + '_bucket']
    if kind == 'ratio' and rule.get('denominator'):
        return [metric, rule['denominator']]
    return [metric]


def _rulesets(rulesets):
    if rulesets is None:
        return []
    if not isinstance(rulesets, Mapping):
        raise AnsibleFilterError('metric rule sets must be a dict of runbook: {preset, rules}, got %s'
                                 % type(rulesets).__name__)
    return [(str(key), _expand(str(key), rulesets[key])) for key in sorted(rulesets, key=str)]


PROBE_PREFIX = 'exposes '


def health_metric_rules(targets, rulesets):
    """Each metrics target of health_plan with the rules to evaluate on it, in one scrape.

    A service gets every rule of its own runbook's set: a metric its runbook
    defines must be exported, so a missing one fails the check. It also gets
    every rule of the other sets, marked optional, and one ``present`` probe
    per sample name those read: health_rows (kind ``metrics``) keeps an
    optional rule's rows only when the probes found all its samples, and
    never shows the probes. So every service is judged by every rule whose
    metrics it exposes, with one scrape. A rule name already taken is not
    added twice.
    """
    sets = _rulesets(rulesets)
    if targets is None:
        targets = []
    if not _is_list(targets):
        raise AnsibleFilterError('health_metric_rules: targets must be the metrics list of health_plan')
    planned = []
    for target in targets:
        if not isinstance(target, Mapping) or not target.get('name'):
            raise AnsibleFilterError('health_metric_rules: targets must come from health_plan (name, url, runbook)')
        own = str(target.get('runbook') or '')
        chosen, names, optional, probes = [], set(), {}, {}
        ordered = [s for s in sets if s[0] == own] + [s for s in sets if s[0] != own]
        for runbook, rules in ordered:
            for rule in rules:
                if rule['name'] in names:
                    continue
                names.add(rule['name'])
                chosen.append(copy.deepcopy(rule))
                if runbook != own:
                    optional[rule['name']] = rule_metrics(rule)
                    for metric in optional[rule['name']]:
                        probes[PROBE_PREFIX + metric] = metric
        for probe, metric in probes.items():
            if probe in names:
                raise AnsibleFilterError('health_metric_rules: a rule may not be named %r' % probe)
            chosen.append({'name': probe, 'type': 'present', 'metric': metric, 'severity': 'warning'})
        planned.append({'name': target['name'], 'url': target.get('url'), 'runbook': own, 'rules': chosen,
                        'optional': optional, 'probes': probes})
    return planned


# ---------------------------------------------------------------------------
# health_rows
# ---------------------------------------------------------------------------

def _item_label(result):
    item = result.get(result.get('ansible_loop_var') or 'item')
    if isinstance(item, Mapping):
        return str(item.get('name') or item.get('path') or '')
    if _is_list(item) and item:
        return _item_label({'item': item[0]})
    return '' if item is None else str(item)


def _error_text(result):
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
                 '%s could not run: %s' % (name, _error_text(result)))]


def _metrics_rows(result, name, prefix):
    """Rows of one metrics_check result of a health_metric_rules target (its loop item).

    The probes' rows are left out, and so are the rows of an optional rule
    whose samples the probes did not find (the service does not expose them).
    """
    item = result.get(result.get('ansible_loop_var') or 'item')
    checks = result.get('checks')
    results = result.get('rules')
    if not isinstance(item, Mapping) or not _is_list(checks) or not _is_list(results) or \
            len(checks) != len(results) + 1:
        return _module_rows(result, name, prefix)
    probes = item.get('probes') or {}
    optional = item.get('optional') or {}
    exposed = set(probes[r.get('rule')] for r in results
                  if r.get('rule') in probes and (r.get('value') or 0) > 0)
    rows = _module_rows(dict(result, checks=[checks[0]]), name, prefix)
    for check, rule_result in zip(checks[1:], results):
        rule = rule_result.get('rule')
        if rule in probes:
            continue
        if rule in optional and not all(metric in exposed for metric in optional[rule]):
            continue
        rows.extend(_module_rows(dict(result, checks=[check]), name, prefix))
    return rows


def _each(result):
    """(result, label) of a task result, one per loop item for a loop."""
    if isinstance(result, Mapping) and _is_list(result.get('results')) and 'checks' not in result:
        return [(item, _item_label(item)) for item in result['results'] if isinstance(item, Mapping)]
    return [(result, '')]


def _redis_rows(result, name, target, settings):
    if not isinstance(result.get('info'), Mapping):
        if result.get('skipped'):
            return []
        return [_row('redis ping', target, None, 'answers', 'failed', 'Redis did not answer: %s' % _error_text(result))]
    info = result['info']
    rows = [_row('redis ping', target, 'redis %s' % info.get('redis_version', '?'), 'answers', 'ok',
                 'Redis %s answers, role %s, up %s s, %s clients' % (
                     info.get('redis_version', '?'), info.get('role', '?'), info.get('uptime_in_seconds', '?'),
                     info.get('connected_clients', '?')))]
    used = info.get('used_memory') or 0
    maxmemory = info.get('maxmemory') or 0
    limit = float(settings.get('redis_memory_max_percent', 90))
    if maxmemory:
        percent = round(100.0 * used / maxmemory, 1)
        status = 'ok' if percent <= limit else 'warning'
        rows.append(_row('redis memory', target, percent, '<= %s %% of maxmemory' % fmt_number(limit), status,
                         'used_memory %s of maxmemory %s (%s %%, policy %s)' % (
                             info.get('used_memory_human', used), info.get('maxmemory_human', maxmemory),
                             fmt_number(percent), info.get('maxmemory_policy', '?'))))
    else:
        rows.append(_row('redis memory', target, round(used / MIB, 1), 'maxmemory set', 'warning',
                         'used_memory %s MiB and no maxmemory: Redis can take all memory of the host'
                         % fmt_number(round(used / MIB, 1))))
    bgsave = info.get('rdb_last_bgsave_status')
    rows.append(_row('redis rdb_last_bgsave_status', target, bgsave, '== ok', 'ok' if bgsave == 'ok' else 'failed',
                     'last BGSAVE %s (rdb_changes_since_last_save %s)' % (
                         bgsave, info.get('rdb_changes_since_last_save', '?'))))
    return rows


def _pg_ping_rows(result, name, label, target):
    database = label or name
    check = 'postgresql ping %s' % database if database else 'postgresql ping'
    if result.get('skipped'):
        return []
    if 'is_available' not in result:
        return [_row(check, target, None, 'available', 'failed', 'postgresql_ping did not run: %s' % _error_text(result))]
    version = (result.get('server_version') or {}).get('full')
    if result.get('is_available'):
        return [_row(check, target, 'PostgreSQL %s' % version, 'available', 'ok',
                     'connection to database %s works (SELECT 1), server %s' % (database, version))]
    return [_row(check, target, None, 'available', 'failed',
                 'cannot connect to database %s: %s' % (database, _short(result.get('conn_err_msg') or _error_text(result))))]


def _pg_info_rows(result, name, target, databases):
    if result.get('skipped'):
        return []
    if not isinstance(result.get('databases'), Mapping):
        return [_row('postgresql info', target, None, 'readable', 'failed',
                     'postgresql_info did not run: %s' % _error_text(result))]
    found = result['databases']
    rows = []
    for database in databases or []:
        if isinstance(database, string_types):
            database = {'name': database}
        db_name = database.get('name')
        info = found.get(db_name)
        owner = database.get('owner')
        threshold = 'exists' + (', owner %s' % owner if owner else '')
        if not isinstance(info, Mapping):
            rows.append(_row('postgresql database %s' % db_name, target, None, threshold, 'failed',
                             'database %s does not exist (or the login cannot see it)' % db_name))
            continue
        size = info.get('size')
        try:
            size_mib = round(int(size) / MIB, 1)
        except (TypeError, ValueError):
            size_mib = None
        ok = not owner or info.get('owner') == owner
        rows.append(_row('postgresql database %s' % db_name, target, size_mib, threshold, 'ok' if ok else 'failed',
                         'database %s, owner %s, %s MiB' % (db_name, info.get('owner'), fmt_number(size_mib))
                         + ('' if ok else ', expected owner %s' % owner)))
        extensions = info.get('extensions') or {}
        for extension in database.get('extensions') or []:
            ext = extensions.get(extension)
            if isinstance(ext, Mapping):
                version = (ext.get('extversion') or {}).get('raw')
                rows.append(_row('postgresql extension %s in %s' % (extension, db_name), target, version, 'installed',
                                 'ok', 'extension %s %s installed in %s' % (extension, version, db_name)))
            else:
                rows.append(_row('postgresql extension %s in %s' % (extension, db_name), target, None, 'installed',
                                 'failed', 'extension %s missing in %s: CREATE EXTENSION %s' % (extension, db_name, extension)))
    return rows


KINDS = ('checks', 'metrics', 'redis', 'postgresql_ping', 'postgresql_info')


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


def health_rows(entries, settings=None):
    """Rows of registered check results.

    ``entries``: list of dicts ``{name, result, kind, prefix, target, databases}``:

    * kind ``checks`` (default): a result (or loop result) of an opskit check
      module; rows are its ``checks``, each check prefixed with ``prefix`` or,
      for loops, with the loop item's name.
    * ``metrics``: a loop of opskit.ops.metrics_check over the targets of
      health_metric_rules; probes and unexposed optional rules left out.
    * ``redis``: community.general.redis_info (ping, memory against
      maxmemory, last BGSAVE).
    * ``postgresql_ping``: community.postgresql.postgresql_ping, a loop over
      databases (rows named after the loop item).
    * ``postgresql_info``: community.postgresql.postgresql_info; ``databases``
      (name, owner, extensions) are checked against what it found.

    A result that is unreachable, or failed without rows, becomes a failed row.
    """
    settings = dict(settings or {})
    if entries is None:
        return []
    if not _is_list(entries):
        raise AnsibleFilterError('health_rows: expected a list of {name, result, kind}, got %s' % type(entries).__name__)
    for entry in entries:
        if not isinstance(entry, Mapping) or 'name' not in entry:
            raise AnsibleFilterError('health_rows: every entry needs a name and a result, got %r' % (entry,))
        kind = entry.get('kind') or 'checks'
        if kind not in KINDS:
            raise AnsibleFilterError('health_rows: unknown kind %r (use one of %s)' % (kind, ', '.join(KINDS)))
    unreachable = _unreachable(entries)
    if unreachable is not None:
        # Every task of the host met the same wall: one row says so.
        return [_row('host reachable', 'host', None, 'reachable', 'failed',
                     'host unreachable: %s' % _error_text(unreachable))]
    rows = []
    for entry in entries:
        kind = entry.get('kind') or 'checks'
        result = entry.get('result')
        name = str(entry['name'])
        if not isinstance(result, Mapping):
            rows.append(_row(name, entry.get('target'), None, 'module runs', 'failed',
                             '%s has no result: the task did not run' % name))
            continue
        for one, label in _each(result):
            if kind == 'checks':
                rows.extend(_module_rows(one, name, label or entry.get('prefix') or ''))
            elif kind == 'metrics':
                rows.extend(_metrics_rows(one, name, label or entry.get('prefix') or ''))
            elif kind == 'redis':
                rows.extend(_redis_rows(one, name, entry.get('target'), settings))
            elif kind == 'postgresql_ping':
                rows.extend(_pg_ping_rows(one, name, label, entry.get('target')))
            else:
                rows.extend(_pg_info_rows(one, name, entry.get('target'), entry.get('databases')))
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


def text_table(rows):
    """Fixed-width text table: HOST CHECK VALUE THRESHOLD STATUS."""
    header = ('HOST', 'CHECK', 'VALUE', 'THRESHOLD', 'STATUS')
    lines = [(row['host'], row['check'], show_value(row['value']), show_value(row['threshold']),
              _status_text(row['status'])) for row in rows]
    widths = [max([len(header[i])] + [len(line[i]) for line in lines]) for i in range(4)]

    def fmt(cells):
        return '  '.join(cells[i].ljust(widths[i]) for i in range(4)) + '  ' + cells[4]

    out = [fmt(header), '  '.join('-' * w for w in widths) + '  ' + '-' * 6]
    out.extend(fmt(line) for line in lines)
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
    problems = [row for row in rows if row['status'] in ('failed', 'warning')]
    if problems:
        out.extend(['', '## Failed and warning checks', '',
                    '| host | check | value | threshold | status | message |', '|---|---|---|---|---|---|'])
        for row in sorted(problems, key=lambda r: STATUS_ORDER.index(r['status'])):
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
    """One table of the rows every host in ``hosts`` stored in fact ``fact``."""
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
        _counts_text(counts), len(per_host), '' if len(per_host) == 1 else 's',
        'FAILED' if status == 'failed' else status)
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
        'table': table,
        'markdown': markdown_report(title, rows, counts, per_host, generated_at, check_mode),
        'document': document,
        'failure_message': failure_text(title, failed, counts),
    }


class FilterModule(object):
    def filters(self):
        return {
            'health_plan': health_plan,
            'health_metric_rules': health_metric_rules,
            'health_rows': health_rows,
            'health_summary': health_summary,
        }
