#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: azure_appinsights_query
short_description: Run KQL checks on Application Insights / Log Analytics and judge them against thresholds
version_added: 0.2.0
description:
  - Runs KQL queries with C(azure-monitor-query) (C(LogsQueryClient)) on a Log
    Analytics workspace (O(workspace_id)) or a workspace-based Application
    Insights resource (O(resource_id)) and judges each result against a
    threshold, one row of RV(checks) per query in the row shape of the other
    opskit check modules.
  - O(preset=runbook_001) (the default) runs the checks of runbook 001 - its two
    KQL queries (error traces of the last hour, C(severityLevel >= 3); job errors,
    C(severityLevel == 3) with a C(job_id)), the error-rate alert (failed requests
    over all requests in 5 minutes, failed above O(error_rate_max) percent) and,
    when O(token_budget) is given, the token-budget alert (the month's sum of the
    custom metric O(token_metric), warning above O(token_budget_max) percent of
    the budget). O(checks) adds checks of your own (or replaces the preset with
    O(preset=none)).
  - A partial result (the service stopped early, for example at a size or time
    limit) is judged on the rows it returned and is never better than a warning.
    A query that cannot run (authentication failure, workspace missing,
    throttling after the SDK's retries, invalid KQL) gives a failed row naming
    the cause.
  - Application Insights and Log Analytics cannot run on the machines opskit is
    tested on; the module is tested with fake clients at the SDK boundary only.
author: opskit maintainers (@opskit)
requirements:
  - azure-monitor-query (Python library)
  - azure-identity (Python library)
attributes:
  check_mode:
    description: Queries only read, so check mode runs and judges the same.
    support: full
  diff_mode:
    description: Nothing is changed, so there is no diff.
    support: none
options:
  workspace_id:
    description: Log Analytics workspace ID (a GUID) that holds the Application Insights tables.
    type: str
  resource_id:
    description:
      - Azure resource ID of the Application Insights component (or any resource)
        to query instead of a workspace, C(/subscriptions/.../components/agent-ai-prd).
    type: str
  endpoint:
    description: Log Analytics query endpoint (another cloud than Azure public).
    type: str
    default: https://api.loganalytics.io/v1
  client_id:
    description: Service principal application ID; defaults to E(AZURE_CLIENT_ID). Never logged.
    type: str
  secret:
    description: Service principal secret; defaults to E(AZURE_CLIENT_SECRET). Never logged.
    type: str
  tenant:
    description:
      - Tenant ID; defaults to E(AZURE_TENANT_ID). Without all three of
        O(client_id), O(secret) and O(tenant), C(DefaultAzureCredential) is used.
    type: str
  preset:
    description: Built-in checks to run before O(checks).
    type: str
    choices: [runbook_001, none]
    default: runbook_001
  error_rate_max:
    description: Largest acceptable percentage of failed requests over 5 minutes (runbook 001 alerts above 5).
    type: float
    default: 5.0
  error_traces_max:
    description: Error traces of the last hour accepted before the row warns.
    type: int
    default: 0
  job_errors_max:
    description: Job error traces of the last hour accepted before the row warns.
    type: int
    default: 0
  token_budget:
    description: Monthly token budget; without it the token-budget check is not run.
    type: int
  token_budget_max:
    description: Largest acceptable use of O(token_budget) in percent (runbook 001 alerts above 80).
    type: float
    default: 80.0
  token_metric:
    description: Name of the custom metric in C(customMetrics) that counts the tokens the agents use.
    type: str
    default: agent_tokens
  checks:
    description: Further checks.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Row name.
        type: str
        required: true
      query:
        description: KQL text.
        type: str
        required: true
      timespan:
        description: Time range of the query (ISO 8601 duration such as V(PT1H), or seconds); none means the query's own filters.
        type: str
      measure:
        description: V(rows) judges the number of rows, V(column) the number in O(checks[].column) of the first row.
        type: str
        choices: [rows, column]
        default: rows
      column:
        description: Result column judged with O(checks[].measure=column).
        type: str
      op:
        description: Comparison of the value with O(checks[].threshold) that must hold.
        type: str
        choices: ['<', '<=', '>', '>=', '==', '!=']
        default: '<='
      threshold:
        description: Threshold.
        type: float
        default: 0
      severity:
        description: Status when the comparison does not hold.
        type: str
        choices: [failed, warning]
        default: failed
      empty:
        description: Status when there is nothing to judge (no rows for V(column), or zero rows).
        type: str
        choices: [no_data, ok, failed]
        default: no_data
      sample_column:
        description: Column whose first values are named in the message of a row that does not hold.
        type: str
  fail_on_error:
    description: Fail the task when a row is failed; with V(false) the rows are returned and the task succeeds.
    type: bool
    default: true
notes:
  - 'Application Insights cannot run here; see the README section "Azure: what runs here and what stands in".'
seealso:
  - module: opskit.ops.azure_servicebus_queue_info
  - name: Kusto Query Language
    description: The query language of Log Analytics.
    link: https://learn.microsoft.com/azure/data-explorer/kusto/query/
"""

EXAMPLES = r"""
- name: Run the runbook's KQL checks and the budget alert (runbook 001)
  opskit.ops.azure_appinsights_query:
    workspace_id: "{{ azure_log_analytics_workspace_id }}"
    token_budget: 50000000
    fail_on_error: false
  delegate_to: localhost
  register: __appinsights

- name: Only one check of your own
  opskit.ops.azure_appinsights_query:
    resource_id: /subscriptions/0000/resourceGroups/agent-framework-prd-rg/providers/microsoft.insights/components/agent-ai-prd
    preset: none
    checks:
      - name: slow requests (15 min)
        query: requests | where timestamp > ago(15m) | summarize p95 = percentile(duration, 95)
        measure: column
        column: p95
        op: "<="
        threshold: 5000
"""

RETURN = r"""
checks:
  description: One row per check.
  returned: always
  type: list
  elements: dict
  sample:
    - check: appinsights error rate % (5 min)
      target: workspace 5b9d0c3e-0000-0000-0000-000000000000
      value: 7.5
      threshold: "<= 5"
      status: failed
      message: error_rate_percent = 7.5, outside <= 5
results:
  description: What each query returned (row count, value, whether partial, up to 3 rows).
  returned: always
  type: list
  elements: dict
  sample:
    - name: appinsights error rate % (5 min)
      rows: 1
      value: 7.5
      partial: false
      sample: [{"error_rate_percent": 7.5, "total": 400, "failed": 30}]
errors:
  description: Checks whose query did not run, with the kind of error (auth, not_found, throttled, error).
  returned: always
  type: dict
  sample: {}
summary:
  description: Number of rows by status.
  returned: always
  type: dict
  sample: {total: 4, passed: 3, failed: 1, warning: 0, no_data: 0}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.opskit.ops.plugins.module_utils._azure_common import (
    AzureCallError,
    classify,
    credential_argument_spec,
    credential_from_params,
)
from ansible_collections.opskit.ops.plugins.module_utils._azure_monitor import (
    HAS_MONITOR_QUERY,
    MONITOR_QUERY_IMPORT_ERROR,
    CheckError,
    logs_client,
    normalize_check,
    preset_checks,
    run_checks,
)
from ansible_collections.opskit.ops.plugins.module_utils._check_rows import failure_message, make_row, summarize


def argument_spec():
    spec = dict(
        workspace_id=dict(type='str'),
        resource_id=dict(type='str'),
        endpoint=dict(type='str', default='https://api.loganalytics.io/v1'),
        preset=dict(type='str', default='runbook_001', choices=['runbook_001', 'none']),
        error_rate_max=dict(type='float', default=5.0),
        error_traces_max=dict(type='int', default=0),
        job_errors_max=dict(type='int', default=0),
        token_budget=dict(type='int', no_log=False),
        token_budget_max=dict(type='float', default=80.0, no_log=False),
        token_metric=dict(type='str', default='agent_tokens', no_log=False),
        checks=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True),
            query=dict(type='str', required=True),
            timespan=dict(type='str'),
            measure=dict(type='str', default='rows', choices=['rows', 'column']),
            column=dict(type='str'),
            op=dict(type='str', default='<=', choices=['<', '<=', '>', '>=', '==', '!=']),
            threshold=dict(type='float', default=0),
            severity=dict(type='str', default='failed', choices=['failed', 'warning']),
            empty=dict(type='str', default='no_data', choices=['no_data', 'ok', 'failed']),
            sample_column=dict(type='str'),
        )),
        fail_on_error=dict(type='bool', default=True),
    )
    spec.update(credential_argument_spec())
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), required_one_of=[('workspace_id', 'resource_id')],
                           mutually_exclusive=[('workspace_id', 'resource_id')], supports_check_mode=True)
    if not HAS_MONITOR_QUERY:
        module.fail_json(msg=missing_required_lib('azure-monitor-query'), exception=str(MONITOR_QUERY_IMPORT_ERROR))
    p = module.params
    if p['token_budget'] is not None and p['token_budget'] <= 0:
        module.fail_json(msg='token_budget: expected a positive number of tokens, got %s' % p['token_budget'])
    try:
        checks = preset_checks(p['preset'], error_rate_max=p['error_rate_max'], token_budget=p['token_budget'],
                               token_budget_max=p['token_budget_max'], token_metric=p['token_metric'],
                               error_traces_max=p['error_traces_max'], job_errors_max=p['job_errors_max'])
        checks = [normalize_check(c) for c in checks + [dict((k, v) for k, v in c.items() if v is not None)
                                                        for c in p['checks']]]
    except CheckError as exc:
        module.fail_json(msg=str(exc))
    if not checks:
        module.fail_json(msg='nothing to check: preset is none and checks is empty')
    target = p['resource_id'] or 'workspace %s' % p['workspace_id']
    try:
        client = logs_client(credential_from_params(p), p['endpoint'])
    except AzureCallError as exc:
        if exc.kind == 'missing':
            module.fail_json(msg=missing_required_lib('azure-identity'))
        kind, message = classify(exc)
        rows = [make_row(c['name'], target, None, 'query runs', 'failed', 'query did not run: %s' % message)
                for c in checks]
        results, errors = [], dict((c['name'], kind) for c in checks)
    else:
        rows, results, errors = run_checks(client, checks, p['workspace_id'], p['resource_id'])
    summary = summarize(rows)
    result = dict(changed=False, checks=rows, results=results, errors=errors, summary=summary)
    failed = failure_message(rows, 'KQL checks')
    if failed and p['fail_on_error']:
        module.fail_json(msg=failed, **result)
    result['msg'] = failed or '%d KQL checks: %d ok, %d warning, %d no data' % (
        summary['total'], summary['passed'], summary['warning'], summary['no_data'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
