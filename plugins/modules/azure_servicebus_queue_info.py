#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: azure_servicebus_queue_info
short_description: Read Service Bus queue counts and judge them against thresholds
version_added: 0.2.0
description:
  - Reads the active and dead-letter message counts of Service Bus queues, as
    runbook 001 does with C(az servicebus queue show --query countDetails), and
    judges them against thresholds (the runbook's alert "queue length > 100";
    dead-lettered jobs need attention).
  - Every judgement is a row of RV(checks), the row shape of
    M(opskit.ops.http_check) and M(opskit.ops.sqlite_check), so the rows go into
    the same summary table as the on-host health checks.
  - A queue that cannot be read (authentication failure, queue or namespace
    missing, throttling after the SDK's retries, endpoint unreachable) gives one
    failed row naming the cause, never a traceback.
  - Azure Service Bus has no local emulator on the machines opskit is tested on;
    the module is tested with fake clients at the SDK boundary only.
author: opskit maintainers (@opskit)
requirements:
  - azure-servicebus (Python library)
  - azure-identity (Python library; only without O(connection_string))
attributes:
  check_mode:
    description: The module only reads, so check mode reads and judges the same.
    support: full
  diff_mode:
    description: Nothing is changed, so there is no diff.
    support: none
options:
  connection_string:
    description:
      - Namespace connection string with the Manage claim (runtime counts are
        management data). Defaults to the environment variable
        E(AZURE_SERVICEBUS_CONNECTION_STRING). Never logged.
    type: str
  namespace:
    description:
      - Namespace name (V(agent-sb-prd)) or fully qualified name, used with a
        credential when there is no O(connection_string).
    type: str
  client_id:
    description: Service principal application ID; defaults to E(AZURE_CLIENT_ID). Never logged.
    type: str
  secret:
    description: Service principal secret; defaults to E(AZURE_CLIENT_SECRET). Never logged.
    type: str
  tenant:
    description:
      - Tenant ID; defaults to E(AZURE_TENANT_ID). Without all three of
        O(client_id), O(secret) and O(tenant), C(DefaultAzureCredential) is used
        (managed identity, C(az login)).
    type: str
  queues:
    description: Queues to read.
    type: list
    elements: str
    default: [agent-jobs]
  active_max:
    description: Largest acceptable number of active messages (runbook 001 alerts above 100).
    type: int
    default: 100
  active_severity:
    description: Status of a row whose active count is above O(active_max).
    type: str
    choices: [failed, warning]
    default: failed
  dead_letter_max:
    description: Largest acceptable number of dead-lettered messages.
    type: int
    default: 0
  dead_letter_severity:
    description: Status of a row whose dead-letter count is above O(dead_letter_max).
    type: str
    choices: [failed, warning]
    default: warning
  fail_on_error:
    description: Fail the task when a row is failed; with V(false) the rows are returned and the task succeeds.
    type: bool
    default: true
notes:
  - 'Azure Service Bus cannot run here; see the README section "Azure: what runs here and what stands in".'
seealso:
  - module: azure.azcollection.azure_rm_servicebus_info
  - module: opskit.ops.azure_appinsights_query
"""

EXAMPLES = r"""
- name: Check the job queue of the agent framework (runbook 001)
  opskit.ops.azure_servicebus_queue_info:
    namespace: agent-sb-prd
    queues: [agent-jobs]
    active_max: 100
    fail_on_error: false
  delegate_to: localhost
  register: __servicebus

- name: With a connection string from the environment (AZURE_SERVICEBUS_CONNECTION_STRING)
  opskit.ops.azure_servicebus_queue_info:
    queues: [agent-jobs]
"""

RETURN = r"""
checks:
  description: One row per judgement, or one failed row per queue that could not be read.
  returned: always
  type: list
  elements: dict
  sample:
    - check: servicebus agent-jobs active messages
      target: agent-sb-prd.servicebus.windows.net/agent-jobs
      value: 12
      threshold: "<= 100"
      status: ok
      message: 12 active messages within (<= 100)
    - check: servicebus agent-jobs dead-letter messages
      target: agent-sb-prd.servicebus.windows.net/agent-jobs
      value: 3
      threshold: "<= 0"
      status: warning
      message: "3 dead-lettered messages above (<= 0): inspect the dead-letter queue, fix the cause and resubmit the jobs"
queues:
  description: Counts of each queue that was read.
  returned: always
  type: dict
  sample:
    agent-jobs:
      active_message_count: 12
      dead_letter_message_count: 3
      scheduled_message_count: 0
      transfer_message_count: 0
      transfer_dead_letter_message_count: 0
      total_message_count: 15
      size_in_bytes: 20480
errors:
  description: Queues that could not be read, with the kind of error (auth, not_found, throttled, error).
  returned: always
  type: dict
  sample: {"agent-jobs": "throttled"}
summary:
  description: Number of rows by status.
  returned: always
  type: dict
  sample: {total: 2, passed: 1, failed: 0, warning: 1, no_data: 0}
"""

import re

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.opskit.ops.plugins.module_utils._azure_common import (
    AzureCallError,
    credential_argument_spec,
    credential_from_params,
)
from ansible_collections.opskit.ops.plugins.module_utils._azure_servicebus import (
    HAS_SERVICEBUS,
    SERVICEBUS_IMPORT_ERROR,
    admin_client,
    check_queues,
    error_row,
)
from ansible_collections.opskit.ops.plugins.module_utils._check_rows import failure_message, summarize


def namespace_label(params):
    if params['connection_string']:
        match = re.search(r'Endpoint=sb://([^/;]+)', params['connection_string'], re.I)
        return match.group(1) if match else 'servicebus'
    name = params['namespace'] or 'servicebus'
    return name if '.' in name else name + '.servicebus.windows.net'


def argument_spec():
    spec = dict(
        connection_string=dict(type='str', no_log=True,
                               fallback=(env_fallback, ['AZURE_SERVICEBUS_CONNECTION_STRING'])),
        namespace=dict(type='str'),
        queues=dict(type='list', elements='str', default=['agent-jobs']),
        active_max=dict(type='int', default=100),
        active_severity=dict(type='str', default='failed', choices=['failed', 'warning']),
        dead_letter_max=dict(type='int', default=0),
        dead_letter_severity=dict(type='str', default='warning', choices=['failed', 'warning']),
        fail_on_error=dict(type='bool', default=True),
    )
    spec.update(credential_argument_spec())
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), required_one_of=[('connection_string', 'namespace')],
                           supports_check_mode=True)
    if not HAS_SERVICEBUS:
        module.fail_json(msg=missing_required_lib('azure-servicebus'), exception=str(SERVICEBUS_IMPORT_ERROR))
    p = module.params
    label = namespace_label(p)
    try:
        credential = None if p['connection_string'] else credential_from_params(p)
        client = admin_client(p['connection_string'], p['namespace'], credential)
    except AzureCallError as exc:
        if exc.kind == 'missing':
            module.fail_json(msg=missing_required_lib('azure-identity'))
        rows = [error_row(label, queue, exc)[0] for queue in p['queues']]
        found, errors = {}, dict((queue, exc.kind) for queue in p['queues'])
    else:
        rows, found, errors = check_queues(client, label, p['queues'], active_max=p['active_max'],
                                           dead_letter_max=p['dead_letter_max'],
                                           active_severity=p['active_severity'],
                                           dead_letter_severity=p['dead_letter_severity'])
        close = getattr(client, 'close', None)
        if close:
            close()
    summary = summarize(rows)
    result = dict(changed=False, checks=rows, queues=found, errors=errors, summary=summary)
    failed = failure_message(rows, 'queue checks')
    if failed and p['fail_on_error']:
        module.fail_json(msg=failed, **result)
    result['msg'] = failed or '%d queue checks: %d ok, %d warning' % (summary['total'], summary['passed'],
                                                                      summary['warning'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
