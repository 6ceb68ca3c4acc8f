# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""KQL checks on Application Insights / Log Analytics (runbook 001).

A check is ``{name, query, timespan, measure, column, op, threshold,
severity, empty}``: the query runs (``LogsQueryClient.query_workspace`` or
``query_resource``), ``measure`` takes either the number of rows (``rows``)
or the number in ``column`` of the first row (``column``), and the value is
judged with ``op`` against ``threshold``. A value that does not hold gives
``severity`` (failed or warning); no rows or a null value gives ``empty``
(no_data, ok or failed). A partial result (the service stopped early, for
example on a limit) is judged on the data it returned and is never better
than a warning, since the rest is unknown.

``preset_checks`` are the runbook's: its two KQL queries (error traces of the
last hour, job errors), the error-rate alert (> 5 % over 5 min) and the
token-budget alert (> 80 % of the monthly budget).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import re

from ansible_collections.opskit.ops.plugins.module_utils._azure_common import AzureCallError, classify
from ansible_collections.opskit.ops.plugins.module_utils._check_rows import OPERATORS, compare, fmt_number, make_row

try:
    from azure.monitor.query import LogsQueryClient
    HAS_MONITOR_QUERY = True
    MONITOR_QUERY_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - reported by the module
    HAS_MONITOR_QUERY = False
    MONITOR_QUERY_IMPORT_ERROR = _exc
    LogsQueryClient = None

MEASURES = ('rows', 'column')
SEVERITIES = ('failed', 'warning')
EMPTY = ('no_data', 'ok', 'failed')
SAMPLE_ROWS = 3

# The runbook's first query, verbatim: error traces of the last hour.
QUERY_ERROR_TRACES = """traces
| where timestamp > ago(1h)
| where severityLevel >= 3
| order by timestamp desc"""

# The runbook's second query, verbatim: job errors (no time filter of its own;
# the check's timespan bounds it).
QUERY_JOB_ERRORS = """traces
| where customDimensions.job_id != ""
| where severityLevel == 3
| project timestamp, message, customDimensions.job_id"""

# Alert "error rate > 5 % (5 minutes)": failed requests over all requests.
QUERY_ERROR_RATE = """requests
| where timestamp > ago(5m)
| summarize total = count(), failed = countif(success == false)
| project error_rate_percent = iff(total == 0, real(null), 100.0 * failed / total), total, failed"""

# Alert "monthly tokens over 80 % of the budget": the month's sum of a custom metric.
QUERY_TOKEN_BUDGET = """customMetrics
| where timestamp >= startofmonth(now())
| where name == "{metric}"
| summarize used = sum(valueSum)
| project budget_used_percent = iff(isnull(used), real(null), 100.0 * used / {budget}), used"""


class CheckError(Exception):
    """A check definition is invalid."""


_METRIC_RE = re.compile(r'^[A-Za-z0-9_.\-/ ]+$')


def preset_checks(preset='runbook_001', error_rate_max=5.0, token_budget=None, token_budget_max=80.0,
                  token_metric='agent_tokens', error_traces_max=0, job_errors_max=0):
    """The runbook 001 checks; the token-budget check only with a token_budget."""
    if preset in (None, 'none'):
        return []
    if preset != 'runbook_001':
        raise CheckError('unknown preset %r (use runbook_001 or none)' % preset)
    checks = [
        {'name': 'appinsights error traces (1h)', 'query': QUERY_ERROR_TRACES, 'timespan': 'PT1H',
         'measure': 'rows', 'op': '<=', 'threshold': error_traces_max, 'severity': 'warning', 'empty': 'ok',
         'sample_column': 'message'},
        {'name': 'appinsights job errors (1h)', 'query': QUERY_JOB_ERRORS, 'timespan': 'PT1H',
         'measure': 'rows', 'op': '<=', 'threshold': job_errors_max, 'severity': 'warning', 'empty': 'ok',
         'sample_column': 'customDimensions_job_id'},
        {'name': 'appinsights error rate % (5 min)', 'query': QUERY_ERROR_RATE, 'timespan': 'PT10M',
         'measure': 'column', 'column': 'error_rate_percent', 'op': '<=', 'threshold': error_rate_max,
         'severity': 'failed', 'empty': 'no_data'},
    ]
    if token_budget:
        if not _METRIC_RE.match(token_metric or ''):
            raise CheckError('token_metric %r: expected a custom metric name (letters, digits, _ . - /)'
                             % (token_metric,))
        checks.append({'name': 'appinsights token budget used %', 'timespan': 'P31D',
                       'query': QUERY_TOKEN_BUDGET.format(metric=token_metric, budget=int(token_budget)),
                       'measure': 'column', 'column': 'budget_used_percent', 'op': '<=',
                       'threshold': token_budget_max, 'severity': 'warning', 'empty': 'no_data'})
    return checks


def parse_timespan(value):
    """ISO 8601 duration (PT1H, P31D, PT10M, P1DT2H) or seconds -> timedelta; None stays None."""
    if value in (None, ''):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.timedelta(seconds=value)
    text = str(value).strip()
    if text.isdigit():
        return datetime.timedelta(seconds=int(text))
    match = re.match(r'^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$', text.upper())
    if not match or text.upper() in ('P', 'PT'):
        raise CheckError('timespan %r: expected an ISO 8601 duration such as PT1H or P31D, or seconds' % (value,))
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return datetime.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def normalize_check(check):
    """A check with every key set, or CheckError naming what is wrong."""
    if not isinstance(check, dict) or not check.get('name') or not check.get('query'):
        raise CheckError('every check needs a name and a query, got %r' % (check,))
    out = {'measure': 'rows', 'column': None, 'op': '<=', 'threshold': 0, 'severity': 'failed',
           'empty': 'no_data', 'timespan': None, 'sample_column': None}
    out.update(check)
    name = out['name']
    if out['measure'] not in MEASURES:
        raise CheckError('check %s: measure must be one of %s' % (name, ', '.join(MEASURES)))
    if out['measure'] == 'column' and not out['column']:
        raise CheckError('check %s: measure column needs column (the result column to judge)' % name)
    if out['op'] not in OPERATORS:
        raise CheckError('check %s: op must be one of %s' % (name, ', '.join(sorted(OPERATORS))))
    if out['severity'] not in SEVERITIES:
        raise CheckError('check %s: severity must be failed or warning' % name)
    if out['empty'] not in EMPTY:
        raise CheckError('check %s: empty must be one of %s' % (name, ', '.join(EMPTY)))
    try:
        out['threshold'] = float(out['threshold'])
    except (TypeError, ValueError):
        raise CheckError('check %s: threshold must be a number, got %r' % (name, out['threshold']))
    out['timespan'] = parse_timespan(out['timespan'])
    return out


def logs_client(credential, endpoint=None):
    kwargs = {'endpoint': endpoint} if endpoint else {}
    return LogsQueryClient(credential, **kwargs)


def run_query(client, query, timespan, workspace_id=None, resource_id=None):
    """(tables, partial error or None); raises the SDK's exceptions and AzureCallError on a failure status."""
    if resource_id:
        response = client.query_resource(resource_id, query, timespan=timespan)
    else:
        response = client.query_workspace(workspace_id, query, timespan=timespan)
    status = getattr(response, 'status', None)
    status_name = getattr(status, 'name', status)
    if str(status_name).upper().endswith('PARTIAL'):
        error = getattr(response, 'partial_error', None)
        return list(response.partial_data or []), getattr(error, 'message', None) or str(error or 'partial result')
    if str(status_name).upper().endswith('FAILURE'):
        raise AzureCallError('error', 'query failed: %s' % getattr(response, 'message', response))
    return list(response.tables or []), None


def _plain(value):
    """A cell as a JSON value (timestamps as ISO 8601 text; dynamic columns as they came)."""
    if value is None or isinstance(value, (bool, int, float, str, list, dict)):
        return value
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    return str(value)


def _rows_of(table):
    columns = [str(c) for c in (getattr(table, 'columns', None) or [])]
    return [dict(zip(columns, [_plain(v) for v in row])) for row in (getattr(table, 'rows', None) or [])]


def _number(value):
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number == int(number) and abs(number) < 1e15 else round(number, 4)


def judge(check, tables, partial_error=None, target=None):
    """One row for a check from the tables its query returned; a result summary beside it."""
    rows = _rows_of(tables[0]) if tables else []
    threshold = '%s %s' % (check['op'], fmt_number(check['threshold']))
    if check['measure'] == 'rows':
        value = len(rows)
        what = '%d rows' % value
    else:
        value = _number(rows[0].get(check['column'])) if rows else None
        what = '%s = %s' % (check['column'], fmt_number(value))
    info = {'name': check['name'], 'rows': len(rows), 'value': value, 'partial': partial_error is not None,
            'sample': rows[:SAMPLE_ROWS]}
    if check['measure'] == 'column' and value is None:
        status = check['empty']
        message = 'no data: the query returned %s' % ('no rows' if not rows else 'null in %s' % check['column'])
    elif check['measure'] == 'rows' and value == 0 and check['empty'] != 'ok':
        status = check['empty']
        message = 'no data: the query returned no rows'
    else:
        holds = compare(value, check['op'], check['threshold'])
        status = 'ok' if holds else check['severity']
        message = '%s, %s %s' % (what, 'within' if holds else 'outside', threshold)
        if not holds and check.get('sample_column') and rows:
            seen = [str(r.get(check['sample_column'])) for r in rows[:SAMPLE_ROWS]]
            message += '; first: %s' % ', '.join(seen)
    if partial_error is not None:
        if status == 'ok':
            status = 'warning'
        message += ' (partial result, the rest is unknown: %s)' % partial_error
    return make_row(check['name'], target, value, threshold, status, message), info


def run_checks(client, checks, workspace_id=None, resource_id=None):
    """(rows, results, errors) for every check; a query that raises becomes a failed row."""
    target = resource_id or ('workspace %s' % workspace_id)
    rows, results, errors = [], [], {}
    for check in checks:
        try:
            tables, partial = run_query(client, check['query'], check['timespan'], workspace_id, resource_id)
        except Exception as exc:  # every SDK error is a failed row naming its kind
            kind, message = classify(exc)
            errors[check['name']] = kind
            rows.append(make_row(check['name'], target, None, '%s %s' % (check['op'], fmt_number(check['threshold'])),
                                 'failed', 'query did not run: %s' % message))
            results.append({'name': check['name'], 'rows': 0, 'value': None, 'partial': False, 'sample': [],
                            'error': kind})
            continue
        row, info = judge(check, tables, partial, target)
        rows.append(row)
        results.append(info)
    return rows, results, errors
