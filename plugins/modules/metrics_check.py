#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: metrics_check
short_description: Check Prometheus metrics against thresholds given as data
version_added: 0.1.0
description:
  - Reads a Prometheus C(/metrics) endpoint (O(url)), exposition text (O(text)),
    or a Prometheus server's query API (O(prometheus_url)) and evaluates rules
    given as data; each rule passes when C(value op threshold) holds.
  - The exposition is parsed by C(prometheus_client)'s parser
    (C(text_string_to_metric_families); its OpenMetrics parser when the endpoint
    answers C(application/openmetrics-text)); malformed text gives a failed check.
  - The rule types are V(gauge) (value of each matching series, or C(sum by) O(rules[].by)),
    V(ratio) (the sum of O(rules[].metric) divided by the sum of
    O(rules[].denominator), per group of O(rules[].by), for example an error rate by C(mode)), V(quantile) (p50/p90/p95/p99 from histogram
    buckets, computed exactly like PromQL's C(histogram_quantile), with linear
    interpolation inside the bucket, lower bound 0 for the lowest bucket, the
    second highest bound when the rank falls into the C(+Inf) bucket, and no
    data without observations), V(rate) (per-second increase of a counter),
    V(present) and V(absent) (the metric must have / must not have a series), and
    V(query) (a PromQL O(rules[].query), only with O(prometheus_url)).
  - Rates need two samples. With O(interval) > 0 the module scrapes O(url) twice,
    O(interval) seconds apart, and evaluates V(ratio), V(quantile) and V(rate)
    rules on the increase of the counters and buckets between the scrapes, as
    PromQL's C(increase) and C(rate) do (a counter that went down was reset, and its
    new value is the increase). With O(interval=0) they use the totals since
    the service started.
  - A metric the exposition does not declare at all gives a failed check (it is
    misspelt or not exported); a metric declared without samples, a ratio whose
    denominator is 0 and a histogram without observations give V(no_data).
  - Against a Prometheus server (O(prometheus_url)) every rule is translated into
    PromQL over O(window) (V(ratio) and V(quantile) through C(rate)) and
    sent to C(/api/v1/query).
  - Every check is returned as a row of RV(checks), the same row shape as
    M(opskit.ops.http_check), M(opskit.ops.sqlite_check) and
    M(opskit.ops.capacity_check), so one summary table can be built.
author: opskit maintainers (@opskit)
requirements:
  - prometheus_client (Python library, on the host that runs the module) when
    reading O(url) or O(text).
attributes:
  check_mode:
    description: Runs the same reads in check mode; it never changes anything.
    support: full
  diff_mode:
    description: Nothing is changed, so there is no diff.
    support: none
options:
  url:
    description:
      - URL of a Prometheus text exposition endpoint, for example C(http://127.0.0.1:8000/metrics).
      - Exactly one of O(url), O(targets), O(text) and O(prometheus_url) is required.
    type: str
  targets:
    description:
      - Several endpoints judged in one task, each by its own rules. With O(interval) > 0
        every target is scraped, then the module waits O(interval) seconds B(once) and
        scrapes every target again, so a host with five services takes one interval, not five.
      - The rows of RV(checks) are prefixed with the target's name and a colon, for example
        C(el-bot) then C(metrics scrape); RV(targets) has each target's own rows, summary,
        rule results and scrape.
    type: list
    elements: dict
    suboptions:
      name:
        description: Name of the target (a service), the prefix of its rows.
        type: str
        required: true
      url:
        description: URL of its exposition endpoint.
        type: str
        required: true
      rules:
        description: Its rules, in the format of O(rules).
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: Name of the rule; the C(check) column of the result rows.
            type: str
            required: true
          type:
            description: What to compute.
            type: str
            choices: [gauge, ratio, quantile, rate, present, absent, query]
            default: gauge
          metric:
            description:
              - Sample name, as in PromQL (C(chat_execution_total), C(turn_latency_seconds)).
              - For V(quantile) the histogram's name (with or without C(_bucket)); for V(ratio) the numerator.
            type: str
          labels:
            description: Label values the series must have (equality matchers).
            type: dict
          denominator:
            description: Denominator sample name of a V(ratio) rule.
            type: str
          denominator_labels:
            description: Label matchers of the denominator; default the same as O(rules[].labels).
            type: dict
          by:
            description:
              - Labels to group by, as PromQL's C(sum by); one result per group, for example C([mode]).
              - A V(ratio) group present in the denominator but not in the numerator counts 0 errors.
            type: list
            elements: str
          quantile:
            description: Quantile of a V(quantile) rule, between 0 and 1 (V(0.95) for p95).
            type: float
          query:
            description: PromQL expression of a V(query) rule (only with O(prometheus_url)).
            type: str
          op:
            description: Comparison that must hold, C(value op threshold).
            type: str
            choices: ['<', '<=', '>', '>=', '==', '!=']
          threshold:
            description: Threshold of the comparison.
            type: float
          severity:
            description:
              - V(critical) - a rule that does not hold is V(failed) and fails the task.
              - V(warning) - it is reported with status V(warning) and does not fail the task.
            type: str
            choices: [critical, warning]
            default: critical
          no_data:
            description:
              - Status when the value cannot be computed (no series, denominator 0, no
                observations, a rate without two scrapes).
            type: str
            choices: [ok, no_data, warning, failed]
            default: no_data
  text:
    description:
      - Prometheus exposition text to evaluate instead of scraping O(url) (tests, or text fetched otherwise).
    type: str
  previous_text:
    description:
      - An earlier exposition of the same service, used with O(text). When given,
        V(ratio), V(quantile) and V(rate) rules are evaluated on the difference, and
        V(rate) divides by O(interval) seconds.
    type: str
  prometheus_url:
    description:
      - Base URL of a Prometheus server, for example C(http://127.0.0.1:9090). Rules
        are evaluated by its query API instead of a scrape.
    type: str
  window:
    description:
      - Range of C(rate) in the PromQL sent to O(prometheus_url), for example V(5m).
    type: str
    default: 5m
  interval:
    description:
      - Seconds between two scrapes of O(url). V(0) takes one scrape.
      - With O(text) and O(previous_text), the seconds between the two texts (for V(rate) rules).
    type: float
    default: 0
  rules:
    description:
      - Rules to evaluate. With O(targets), they are evaluated on every target, before the target's own rules.
      - opskit keeps the runbooks' rule sets in one place, the role opskit.ops.healthcheck
        (C(healthcheck_default_rules)); this module has no built-in thresholds.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the rule; the C(check) column of the result rows.
        type: str
        required: true
      type:
        description: What to compute.
        type: str
        choices: [gauge, ratio, quantile, rate, present, absent, query]
        default: gauge
      metric:
        description:
          - Sample name, as in PromQL (C(chat_execution_total), C(turn_latency_seconds)).
          - For V(quantile) the histogram's name (with or without C(_bucket)); for V(ratio) the numerator.
        type: str
      labels:
        description: Label values the series must have (equality matchers).
        type: dict
      denominator:
        description: Denominator sample name of a V(ratio) rule.
        type: str
      denominator_labels:
        description: Label matchers of the denominator; default the same as O(rules[].labels).
        type: dict
      by:
        description:
          - Labels to group by, as PromQL's C(sum by); one result per group, for example C([mode]).
          - A V(ratio) group present in the denominator but not in the numerator counts 0 errors.
        type: list
        elements: str
      quantile:
        description: Quantile of a V(quantile) rule, between 0 and 1 (V(0.95) for p95).
        type: float
      query:
        description: PromQL expression of a V(query) rule (only with O(prometheus_url)).
        type: str
      op:
        description: Comparison that must hold, C(value op threshold).
        type: str
        choices: ['<', '<=', '>', '>=', '==', '!=']
      threshold:
        description: Threshold of the comparison.
        type: float
      severity:
        description:
          - V(critical) - a rule that does not hold is V(failed) and fails the task.
          - V(warning) - it is reported with status V(warning) and does not fail the task.
        type: str
        choices: [critical, warning]
        default: critical
      no_data:
        description:
          - Status when the value cannot be computed (no series, denominator 0, no
            observations, a rate without two scrapes).
        type: str
        choices: [ok, no_data, warning, failed]
        default: no_data
  token:
    description:
      - Bearer token sent in the C(Authorization) header (for example runbook 003's C(ADMIN_TOKEN)).
    type: str
  headers:
    description: Extra HTTP headers.
    type: dict
    default: {}
  timeout:
    description: Timeout of each HTTP request, in seconds.
    type: float
    default: 10
  validate_certs:
    description: Verify TLS certificates.
    type: bool
    default: true
  fail_on_error:
    description:
      - Fail the task when a check has status V(failed). With V(false) the results
        are returned and the task succeeds.
    type: bool
    default: true
notes:
  - Read-only; check mode runs the same reads and evaluations.
  - Without O(interval), ratios and quantiles are over the whole life of the process;
    use O(interval) (for example V(30)) to judge the recent behaviour as Prometheus alerts do.
  - Runbook 003 writes the latency panel as C(histogram_quantile) of 0.95 over C(chat_execution_latency_ms)
    itself; that expression has no C(_bucket) series and no C(rate), and returns nothing in
    Prometheus. This module evaluates the buckets.
seealso:
  - module: opskit.ops.http_check
  - name: Prometheus histogram_quantile
    description: The PromQL function the V(quantile) rules reproduce.
    link: https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile
"""

EXAMPLES = r"""
- name: Check the runtime service's error rate over 30 seconds (runbook 003)
  opskit.ops.metrics_check:
    url: http://127.0.0.1:8000/metrics
    interval: 30
    rules:
      - name: runtime error rate
        type: ratio
        metric: chat_execution_error_total
        denominator: chat_execution_total
        by: [mode]
        op: '<='
        threshold: 0.05

- name: Judge every service of a host by its own rules, with one 10 s interval for all
  opskit.ops.metrics_check:
    interval: 10
    targets:
      - name: agent-framework-api
        url: http://127.0.0.1:8000/metrics
        rules: []
      - name: agent-framework-worker
        url: http://127.0.0.1:8001/metrics
        rules:
          - name: queue length
            metric: queue_messages
            op: '<='
            threshold: 100
    fail_on_error: false
  register: __metrics

- name: Check the EL bot with a stricter p99 and slot coverage per stage
  opskit.ops.metrics_check:
    url: http://127.0.0.1:8000/metrics
    rules:
      - name: el turn latency p99
        type: quantile
        metric: turn_latency_seconds
        quantile: 0.99
        op: '<='
        threshold: 8
      - name: slot coverage
        type: gauge
        metric: slot_coverage
        op: '>='
        threshold: 0.5
        severity: warning
      - name: metrics of the bot exported
        type: present
        metric: turn_latency_seconds_count

- name: Error rate of runtime_orchestrator only, from a Prometheus server
  opskit.ops.metrics_check:
    prometheus_url: http://127.0.0.1:9090
    window: 5m
    rules:
      - name: runtime_orchestrator error rate
        type: ratio
        metric: chat_execution_error_total
        denominator: chat_execution_total
        labels:
          mode: runtime_orchestrator
        op: '<='
        threshold: 0.1
      - name: runtime service up
        type: query
        query: up{job="runtime-service"}
        op: '=='
        threshold: 1

- name: Collect the results without failing, for a summary table
  opskit.ops.metrics_check:
    url: http://127.0.0.1:8000/metrics
    rules:
      - name: runtime fallback
        metric: chat_runtime_fallback_enabled
        op: '=='
        threshold: 0
        severity: warning
    fail_on_error: false
  register: __metrics_table
"""

RETURN = r"""
checks:
  description:
    - One row per rule result (one per group with O(rules[].by)) plus one row for the scrape.
    - The same row shape in all opskit check modules.
  returned: always
  type: list
  elements: dict
  contains:
    check:
      description: Rule name, with the group's labels.
      type: str
      sample: runtime error rate{mode="runtime_orchestrator"}
    target:
      description: The equivalent PromQL expression (the URL for the scrape row).
      type: str
      sample: sum by (mode) (chat_execution_error_total) / sum by (mode) (chat_execution_total)
    value:
      description: Measured value (6 significant digits); null when there is no data.
      type: raw
      sample: 0.0213
    threshold:
      description: The condition that must hold.
      type: str
      sample: <= 0.05
    status:
      description: V(ok), V(warning), V(failed) or V(no_data).
      type: str
      sample: ok
    message:
      description: What was measured against what.
      type: str
      sample: runtime error rate = 0.0213, expected <= 0.05
  sample:
    - check: metrics scrape
      target: http://127.0.0.1:8000/metrics
      value: 42
      threshold: parsable exposition
      status: ok
      message: 42 samples parsed (2 scrapes 30.0 s apart)
    - check: runtime error rate{mode="direct_llm"}
      target: sum by (mode) (chat_execution_error_total) / sum by (mode) (chat_execution_total)
      value: 0.0213
      threshold: <= 0.05
      status: ok
      message: runtime error rate = 0.0213, expected <= 0.05
summary:
  description: Number of rows by status.
  returned: always
  type: dict
  sample: {total: 8, passed: 7, failed: 1, warning: 0, no_data: 0}
rules:
  description: Full results of the rules, with unrounded values and group labels.
  returned: always
  type: list
  elements: dict
  sample:
    - name: runtime latency p95 ms{mode="direct_llm"}
      rule: runtime latency p95 ms
      type: quantile
      labels: {mode: direct_llm}
      value: 812.5
      op: <=
      threshold: 5000.0
      severity: critical
      status: ok
      message: runtime latency p95 ms = 812.5, expected <= 5000
      expression: histogram_quantile(0.95, sum by (le, mode) (chat_execution_latency_ms_bucket))
scrape:
  description: Where the samples came from.
  returned: always
  type: dict
  sample: {source: http://127.0.0.1:8000/metrics, scrapes: 2, seconds: 30.01, series: 42}
targets:
  description:
    - With O(targets), one entry per target, in the order given - its C(name), C(url), its own
      C(checks) (not prefixed), C(summary), C(rules) and C(scrape) as described above.
    - Empty without O(targets).
  returned: always
  type: list
  elements: dict
  sample:
    - name: agent-framework-worker
      url: http://127.0.0.1:8001/metrics
      checks:
        - {check: metrics scrape, target: http://127.0.0.1:8001/metrics, value: 31, threshold: parsable exposition,
           status: ok, message: 31 samples parsed (2 scrapes 10.0 s apart)}
      summary: {total: 2, passed: 2, failed: 0, warning: 0, no_data: 0}
      rules: []
      scrape: {source: http://127.0.0.1:8001/metrics, scrapes: 2, seconds: 10.0, series: 31}
"""

import json
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.six.moves.urllib.parse import urlencode
from ansible.module_utils.urls import open_url

from ansible_collections.opskit.ops.plugins.module_utils._check_rows import (
    STATUS_FAILED,
    STATUS_OK,
    failure_message,
    make_row,
    summarize,
)
from ansible_collections.opskit.ops.plugins.module_utils._metrics_eval import (
    HAS_PROMETHEUS_CLIENT,
    PROMETHEUS_CLIENT_IMPORT_ERROR,
    MetricsError,
    RuleError,
    evaluate_query_result,
    evaluate_rule,
    merge_rules,
    normalize_rule,
    parse_exposition,
    prometheus_query,
    result_to_row,
    threshold_text,
)

RULE_SPEC = dict(
    name=dict(type='str', required=True),
    type=dict(type='str', default='gauge', choices=['gauge', 'ratio', 'quantile', 'rate', 'present', 'absent', 'query']),
    metric=dict(type='str'),
    labels=dict(type='dict'),
    denominator=dict(type='str'),
    denominator_labels=dict(type='dict'),
    by=dict(type='list', elements='str'),
    quantile=dict(type='float'),
    query=dict(type='str'),
    op=dict(type='str', choices=['<', '<=', '>', '>=', '==', '!=']),
    threshold=dict(type='float'),
    severity=dict(type='str', default='critical', choices=['critical', 'warning']),
    no_data=dict(type='str', default='no_data', choices=['ok', 'no_data', 'warning', 'failed']),
)


def argument_spec():
    return dict(
        url=dict(type='str'),
        text=dict(type='str'),
        previous_text=dict(type='str'),
        prometheus_url=dict(type='str'),
        window=dict(type='str', default='5m'),
        interval=dict(type='float', default=0),
        rules=dict(type='list', elements='dict', default=[], options=RULE_SPEC),
        targets=dict(type='list', elements='dict', options=dict(
            name=dict(type='str', required=True),
            url=dict(type='str', required=True),
            rules=dict(type='list', elements='dict', default=[], options=RULE_SPEC),
        )),
        token=dict(type='str', no_log=True),
        headers=dict(type='dict', default={}),
        timeout=dict(type='float', default=10),
        validate_certs=dict(type='bool', default=True),
        fail_on_error=dict(type='bool', default=True),
    )


class MetricsCheck(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        headers = dict(self.params['headers'] or {})
        if self.params['token']:
            headers['Authorization'] = 'Bearer %s' % self.params['token']
        self.headers = headers

    def fetch(self, url, accept):
        """(body text, content type) of a GET."""
        headers = dict(self.headers)
        headers.setdefault('Accept', accept)
        response = open_url(url, headers=headers, timeout=self.params['timeout'],
                            validate_certs=self.params['validate_certs'], method='GET')
        content_type = response.headers.get('Content-Type') or ''
        return to_text(response.read(), errors='surrogate_or_replace'), content_type

    def scrape(self, url):
        text, content_type = self.fetch(url, 'text/plain;version=0.0.4;q=1.0, */*;q=0.1')
        return parse_exposition(text, openmetrics=content_type.startswith('application/openmetrics-text'))

    def rules(self, own=None, where=None):
        try:
            merged = merge_rules(self.params['rules'], own or [])
            return [normalize_rule(rule) for rule in merged]
        except RuleError as exc:
            self.module.fail_json(msg='%s%s' % ('targets[%s]: ' % where if where else '', to_native(exc)))

    def run(self):
        if self.params['targets'] is not None:
            return self.run_targets()
        rules = self.rules()
        if self.params['prometheus_url']:
            rows, results, info = self.run_prometheus(rules)
        else:
            rows, results, info = self.run_scrape(rules)
        return rows, results, info, []

    def run_targets(self):
        """Scrape every target, wait one interval, scrape every target again, judge each by its rules."""
        interval = self.params['interval']
        targets = []
        for target in self.params['targets']:
            rules = self.rules(target['rules'], target['name'])
            for rule in rules:
                if rule['type'] == 'query':
                    self.module.fail_json(msg='targets[%s]: rule %r: type query needs prometheus_url'
                                          % (target['name'], rule['name']))
            targets.append(dict(name=target['name'], url=target['url'], rules=rules, previous=None,
                                started=None, error=None, scrapes=0))
        if interval > 0 and targets:
            for target in targets:
                target['error'] = self.try_scrape(target, 'previous')
                target['started'] = time.monotonic()
            time.sleep(interval)
        for target in targets:
            if target['error'] is None:
                target['error'] = self.try_scrape(target, 'current')
        rows, results, per_target = [], [], []
        for target in targets:
            if target['error'] is not None:
                own_rows, own_results = [target['error']], []
                info = dict(source=target['url'], scrapes=target['scrapes'], seconds=None, series=0)
            else:
                own_rows, own_results, info = self.evaluate('metrics scrape', target['url'], target['rules'],
                                                            target['current'], target['previous'],
                                                            target.get('seconds'), target['scrapes'])
            per_target.append(dict(name=target['name'], url=target['url'], checks=own_rows,
                                   summary=summarize(own_rows), rules=own_results, scrape=info))
            for row in own_rows:
                rows.append(dict(row, check='%s: %s' % (target['name'], row['check'])))
            results.extend(dict(result, target=target['name']) for result in own_results)
        return rows, results, dict(source='targets', scrapes=max([t['scrapes'] for t in targets] or [0]),
                                   seconds=interval if interval > 0 else None,
                                   series=sum(t['scrape']['series'] or 0 for t in per_target)), per_target

    def try_scrape(self, target, key):
        """Scrape one target into target[key]; None, or the failed row."""
        try:
            target[key] = self.scrape(target['url'])
            target['scrapes'] += 1
            if key == 'current' and target['started'] is not None:
                target['seconds'] = time.monotonic() - target['started']
            return None
        except MetricsError as exc:
            return make_row('metrics scrape', target['url'], None, 'parsable exposition', STATUS_FAILED, to_native(exc))
        except Exception as exc:  # URLError, HTTPError, socket errors, timeouts
            message = 'cannot read %s: %s' % (target['url'], describe_error(exc, self.params['timeout']))
            return make_row('metrics scrape', target['url'], None, 'reachable', STATUS_FAILED, message)

    @staticmethod
    def evaluate(check, source, rules, current, previous, seconds, scrapes):
        series = current.series_count()
        detail = '%d samples parsed' % series
        if previous is not None:
            detail += ' (2 scrapes%s)' % (' %.1f s apart' % seconds if seconds else '')
        rows = [make_row(check, source, series, 'parsable exposition', STATUS_OK, detail)]
        results = []
        for rule in rules:
            try:
                evaluated = evaluate_rule(rule, current, previous, seconds)
            except MetricsError as exc:
                # A sample the rule cannot read (a bucket whose le is not a
                # number): the rule fails with the reason, the others still run.
                rows.append(make_row(rule['name'], source, None, threshold_text(rule), STATUS_FAILED, to_native(exc)))
                continue
            for result in evaluated:
                results.append(result)
                rows.append(result_to_row(result))
        return rows, results, dict(source=source, scrapes=scrapes, seconds=seconds, series=series)

    def run_scrape(self, rules):
        params = self.params
        for rule in rules:
            if rule['type'] == 'query':
                self.module.fail_json(msg='rule %r: type query needs prometheus_url' % rule['name'])
        previous = None
        seconds = None
        if params['text'] is not None:
            source = 'text'
            check = 'metrics text'
            try:
                if params['previous_text'] is not None:
                    previous = parse_exposition(params['previous_text'])
                    seconds = params['interval'] or None
                current = parse_exposition(params['text'])
            except MetricsError as exc:
                row = make_row(check, source, None, 'parsable exposition', STATUS_FAILED, to_native(exc))
                return [row], [], dict(source=source, scrapes=0, seconds=None, series=0)
            scrapes = 2 if previous is not None else 1
        else:
            source = params['url']
            check = 'metrics scrape'
            scrapes = 0
            try:
                if params['interval'] > 0:
                    previous = self.scrape(source)
                    first = time.monotonic()
                    scrapes += 1
                    time.sleep(params['interval'])
                    current = self.scrape(source)
                    seconds = time.monotonic() - first
                else:
                    current = self.scrape(source)
                scrapes += 1
            except MetricsError as exc:
                row = make_row(check, source, None, 'parsable exposition', STATUS_FAILED, to_native(exc))
                return [row], [], dict(source=source, scrapes=scrapes, seconds=None, series=0)
            except Exception as exc:  # URLError, HTTPError, socket errors, timeouts
                message = 'cannot read %s: %s' % (source, describe_error(exc, params['timeout']))
                row = make_row(check, source, None, 'reachable', STATUS_FAILED, message)
                return [row], [], dict(source=source, scrapes=scrapes, seconds=None, series=0)
        return self.evaluate(check, source, rules, current, previous, seconds, scrapes)

    def run_prometheus(self, rules):
        base = self.params['prometheus_url'].rstrip('/')
        rows = []
        results = []
        for rule in rules:
            query = prometheus_query(rule, self.params['window'])
            rule['_expression'] = query
            url = '%s/api/v1/query?%s' % (base, urlencode({'query': query}))
            try:
                answer = json.loads(self.fetch(url, 'application/json')[0])
                if answer.get('status') != 'success':
                    raise MetricsError('%s: %s' % (answer.get('errorType'), answer.get('error')))
                rule_results = evaluate_query_result(rule, answer['data'])
            except MetricsError as exc:
                rows.append(make_row(rule['name'], query, None, 'query succeeds', STATUS_FAILED,
                                     'query failed: %s' % to_native(exc)))
                continue
            except Exception as exc:
                rows.append(make_row(rule['name'], query, None, 'query succeeds', STATUS_FAILED,
                                     'query failed: %s' % describe_error(exc, self.params['timeout'])
                                     + prometheus_error(exc)))
                continue
            for result in rule_results:
                results.append(result)
                rows.append(result_to_row(result))
        return rows, results, dict(source=base, scrapes=0, seconds=None, series=None)


def prometheus_error(exc):
    """': bad_data: parse error ...' from the JSON body of a Prometheus error answer, or ''."""
    try:
        answer = json.loads(to_text(exc.read()))
        return ': %s: %s' % (answer['errorType'], answer['error'])
    except Exception:
        return ''


def describe_error(exc, timeout):
    """Short reason of an HTTP failure: 'status 503', 'timed out after 2.0s'."""
    code = getattr(exc, 'code', None)
    if isinstance(code, int):
        return 'status %d' % code
    text = to_native(getattr(exc, 'reason', None) or exc)
    if 'timed out' in text.lower():
        return 'timed out after %ss' % timeout
    return text


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[('url', 'text', 'prometheus_url', 'targets')],
        required_one_of=[('url', 'text', 'prometheus_url', 'targets')],
        required_by={'previous_text': 'text'},
        supports_check_mode=True,
    )
    if not module.params['prometheus_url'] and not HAS_PROMETHEUS_CLIENT:
        module.fail_json(msg=missing_required_lib('prometheus_client'), exception=PROMETHEUS_CLIENT_IMPORT_ERROR)
    if module.params['interval'] < 0:
        module.fail_json(msg='interval must be >= 0, got %s' % module.params['interval'])

    rows, results, info, targets = MetricsCheck(module).run()
    summary = summarize(rows)
    outcome = dict(changed=False, checks=rows, summary=summary, rules=results, scrape=info, targets=targets)
    failed = failure_message(rows, 'checks')
    if failed and module.params['fail_on_error']:
        module.fail_json(msg=failed, **outcome)
    outcome['msg'] = failed or '%d checks: %d ok, %d warning, %d no data' % (
        summary['total'], summary['passed'], summary['warning'], summary['no_data'])
    module.exit_json(**outcome)


if __name__ == '__main__':
    main()
