#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: http_check
short_description: Probe many HTTP health endpoints concurrently in one task
version_added: 0.1.0
description:
  - Probes every endpoint of O(endpoints) concurrently (one thread per endpoint,
    at most O(concurrency) at a time) and judges each one on its HTTP status,
    optional JSON fields of the body and the p95 of the latencies of O(probes)
    requests, so a single lucky request does not hide a slow service.
  - A failed attempt is retried up to O(retries) times with exponential backoff
    (O(backoff), then twice that, and so on); retries stop as soon as the
    endpoint passes.
  - Options given at module level are the defaults of every endpoint; an
    endpoint's own value wins.
  - Fails, unless O(fail_on_error=false), with a message that names each failing
    endpoint, its URL and why it failed (a status that was not expected, a time-out
    after O(timeout) seconds, a refused connection, a JSON field with another value,
    a p95 latency over the budget).
  - Uses only the Python standard library (urllib, one shared opener per TLS
    setting); runs on the controller (C(delegate_to) V(localhost)) or on the targets.
  - Proxies come from the C(http_proxy)/C(https_proxy)/C(no_proxy) environment
    variables, as with M(ansible.builtin.uri); redirects are followed.
  - Every endpoint is returned as a row of RV(checks), the same row shape as
    M(opskit.ops.metrics_check), M(opskit.ops.sqlite_check) and
    M(opskit.ops.capacity_check), so one summary table can be built.
author: opskit maintainers (@opskit)
attributes:
  check_mode:
    description: The probes only read, so check mode runs exactly the same probes.
    support: full
  diff_mode:
    description: Nothing is changed, so there is no diff.
    support: none
options:
  endpoints:
    description:
      - The endpoints to probe.
    type: list
    elements: dict
    required: true
    suboptions:
      url:
        description: URL to request.
        type: str
        required: true
      name:
        description: Name of the endpoint in results and messages; default the URL.
        type: str
      method:
        description: HTTP method; default O(method).
        type: str
      status_code:
        description: Accepted HTTP statuses; default O(status_code).
        type: list
        elements: int
      json:
        description:
          - Fields the JSON body must have, a dict of path to expected value; a path is dotted
            (V(checks.db.status)) and may index lists (V(items.0.name)). Default O(json).
        type: dict
      latency_max_ms:
        description: Budget for the p95 latency in milliseconds; default O(latency_max_ms).
        type: float
      probes:
        description: Number of requests per attempt; default O(probes).
        type: int
      timeout:
        description: Timeout of each request in seconds; default O(timeout).
        type: float
      retries:
        description: Number of retries of a failed attempt; default O(retries).
        type: int
      backoff:
        description: Seconds before the first retry; default O(backoff).
        type: float
      token:
        description: Bearer token for the C(Authorization) header; default O(token).
        type: str
      headers:
        description: Extra headers, added to O(headers).
        type: dict
      validate_certs:
        description: Verify TLS certificates; default O(validate_certs).
        type: bool
      body:
        description: Request body; a dict or list is sent as JSON. Default O(body).
        type: raw
  method:
    description: HTTP method of every endpoint.
    type: str
    default: GET
  status_code:
    description: Accepted HTTP statuses.
    type: list
    elements: int
    default: [200]
  json:
    description: JSON fields every endpoint's body must have, as for O(endpoints[].json).
    type: dict
  latency_max_ms:
    description:
      - Budget for the p95 latency of the O(probes) requests, in milliseconds.
        Without it latency is measured and returned but not judged.
      - For example V(2000) for runbook 002's response time target (under 2 s).
    type: float
  probes:
    description:
      - Number of requests per attempt; all must pass, and their p95 latency
        (linear interpolation between the closest ranks) is judged against the budget.
    type: int
    default: 5
  timeout:
    description: Timeout of each request in seconds.
    type: float
    default: 5
  retries:
    description: How many times a failed endpoint is tried again.
    type: int
    default: 0
  backoff:
    description: Seconds before the first retry; each further retry waits twice as long.
    type: float
    default: 0.5
  token:
    description: Bearer token sent in the C(Authorization) header (for example runbook 003's C(ADMIN_TOKEN)).
    type: str
  headers:
    description: Extra HTTP headers of every request.
    type: dict
    default: {}
  validate_certs:
    description: Verify TLS certificates.
    type: bool
    default: true
  body:
    description: Request body of every endpoint; a dict or list is sent as JSON.
    type: raw
  concurrency:
    description: Number of endpoints probed at the same time.
    type: int
    default: 32
  fail_on_error:
    description:
      - Fail the task when an endpoint fails. With V(false) the results are
        returned and the task succeeds.
    type: bool
    default: true
notes:
  - The probes only read, so the module never reports a change, and runs the same in check mode.
  - With O(probes=5) the p95 is close to the slowest request; raise O(probes) for a finer estimate.
seealso:
  - module: ansible.builtin.uri
    description: One request per task (or per loop item); this module probes all endpoints in one task.
  - module: opskit.ops.metrics_check
"""

EXAMPLES = r"""
- name: Check the health endpoints of every service
  opskit.ops.http_check:
    timeout: 2
    retries: 2
    latency_max_ms: 2000
    endpoints:
      - name: el-bot health
        url: http://127.0.0.1:8000/health
        json:
          status: ok
      - name: el-bot metrics
        url: http://127.0.0.1:8000/metrics
        probes: 1

- name: Runbook 003 fallback status with the admin token, from the controller
  opskit.ops.http_check:
    token: "{{ semibot_admin_token }}"
    endpoints:
      - name: runtime fallback status
        url: "http://{{ inventory_hostname }}:8000/api/v1/runtime/fallback/status"
        json:
          data.fallbackEnabled: false
  delegate_to: localhost

- name: Probe the services of opskit_services and keep the results for a summary
  opskit.ops.http_check:
    endpoints: "{{ opskit_services | map(attribute='port')
                   | map('regex_replace', '^(.*)$', 'http://127.0.0.1:\\1/health')
                   | map('community.general.dict_kv', 'url') | list }}"
    fail_on_error: false
  register: __http
"""

RETURN = r"""
endpoints:
  description: One result per endpoint, in the order of O(endpoints).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the endpoint.
      type: str
      sample: el-bot health
    url:
      description: The URL.
      type: str
      sample: http://127.0.0.1:8000/health
    ok:
      description: Whether the endpoint passed.
      type: bool
      sample: true
    status:
      description: HTTP status of the last response; null when no response came.
      type: int
      sample: 200
    reason:
      description: Why the endpoint failed (its last attempt); null when it passed.
      type: str
      sample: status 503, expected [200]
    attempts:
      description: Number of attempts made (1 + retries used).
      type: int
      sample: 1
    probes:
      description: Number of successful requests of the last attempt.
      type: int
      sample: 5
    latency_ms:
      description: p50, p95 and max latency of the last attempt's requests in ms; null without any.
      type: dict
      sample: {p50: 3.1, p95: 4.8, max: 5.0}
    json:
      description: Values found at the paths of O(endpoints[].json), from the last response.
      type: dict
      sample: {status: ok}
    elapsed_ms:
      description: Time spent on the endpoint, retries included.
      type: float
      sample: 16.2
checks:
  description:
    - One row per endpoint, the same row shape in all opskit check modules.
  returned: always
  type: list
  elements: dict
  contains:
    check:
      description: Name of the endpoint.
      type: str
      sample: el-bot health
    target:
      description: URL.
      type: str
      sample: http://127.0.0.1:8000/health
    value:
      description: Status and p95 latency measured; null when no response came.
      type: str
      sample: HTTP 200, p95 4.8 ms
    threshold:
      description: What was expected.
      type: str
      sample: HTTP [200], JSON status="ok", p95 <= 2000 ms
    status:
      description: V(ok) or V(failed).
      type: str
      sample: ok
    message:
      description: Details, or the reason of the failure.
      type: str
      sample: HTTP 200, p50 3.1 ms, p95 4.8 ms over 5 probes
summary:
  description: Number of endpoints by outcome.
  returned: always
  type: dict
  sample: {total: 5, passed: 3, failed: 2, warning: 0, no_data: 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.opskit.ops.plugins.module_utils._check_rows import (
    failure_message,
    summarize,
)
from ansible_collections.opskit.ops.plugins.module_utils._http_probe import (
    check_endpoints,
    resolve_endpoints,
    result_to_row,
    validate_endpoint,
)

ENDPOINT_SPEC = dict(
    url=dict(type='str', required=True),
    name=dict(type='str'),
    method=dict(type='str'),
    status_code=dict(type='list', elements='int'),
    json=dict(type='dict'),
    latency_max_ms=dict(type='float'),
    probes=dict(type='int'),
    timeout=dict(type='float'),
    retries=dict(type='int'),
    backoff=dict(type='float'),
    token=dict(type='str', no_log=True),
    headers=dict(type='dict'),
    validate_certs=dict(type='bool'),
    body=dict(type='raw'),
)


def argument_spec():
    return dict(
        endpoints=dict(type='list', elements='dict', required=True, options=ENDPOINT_SPEC),
        method=dict(type='str', default='GET'),
        status_code=dict(type='list', elements='int', default=[200]),
        json=dict(type='dict'),
        latency_max_ms=dict(type='float'),
        probes=dict(type='int', default=5),
        timeout=dict(type='float', default=5),
        retries=dict(type='int', default=0),
        backoff=dict(type='float', default=0.5),
        token=dict(type='str', no_log=True),
        headers=dict(type='dict', default={}),
        validate_certs=dict(type='bool', default=True),
        body=dict(type='raw'),
        concurrency=dict(type='int', default=32),
        fail_on_error=dict(type='bool', default=True),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    if params['concurrency'] < 1:
        module.fail_json(msg='concurrency must be >= 1')
    endpoints = resolve_endpoints(params['endpoints'], params)
    for endpoint in endpoints:
        problem = validate_endpoint(endpoint)
        if problem:
            module.fail_json(msg='endpoint %s: %s' % (endpoint['name'], problem))

    results = check_endpoints(endpoints, params['concurrency'])
    rows = [result_to_row(result, endpoint) for result, endpoint in zip(results, endpoints)]
    summary = summarize(rows)
    outcome = dict(changed=False, endpoints=results, checks=rows, summary=summary)
    failed = failure_message(rows, 'endpoints')
    if failed and params['fail_on_error']:
        module.fail_json(msg=failed, **outcome)
    outcome['msg'] = failed or 'all %d endpoints passed' % summary['total']
    module.exit_json(**outcome)


if __name__ == '__main__':
    main()
