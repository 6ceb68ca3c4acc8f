#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: azure_deployment_whatif
short_description: Ask Azure Resource Manager what a template deployment would change (what-if), changing nothing
version_added: 0.2.0
description:
  - Runs the ARM what-if operation (C(POST .../deployments/{name}/whatIf)) of a
    resource-group template deployment with the Azure SDK
    (C(ResourceManagementClient.deployments.begin_what_if)) and returns every
    resource change (Create, Delete, Modify, Deploy, NoChange, Ignore,
    Unsupported), their counts and RV(would_change).
  - What-if writes nothing, in check mode or not. The module reports
    C(changed=true) only in check mode and only when the deployment would
    change something, so C(--check) shows what an apply would do; outside
    check mode it is always C(changed=false).
  - A resource group that does not exist yet is reported as
    RV(resource_group_exists=false) with RV(would_change=true) (what-if needs
    the group; everything in the template would be created).
  - Authentication and cloud selection are those of C(azure.azcollection)
    (environment variables C(AZURE_SUBSCRIPTION_ID), C(AZURE_CLIENT_ID),
    C(AZURE_SECRET), C(AZURE_TENANT), C(AZURE_CLOUD_ENVIRONMENT), a profile, or
    C(az login)); secrets are never logged.
author: opskit maintainers (@opskit)
options:
  resource_group:
    description: Resource group the template is deployed to.
    type: str
    required: true
  name:
    description: Deployment name (what-if compares with the resources, not with an earlier deployment of this name).
    type: str
    default: opskit
  template:
    description: The ARM template (compiled Bicep) as a dict.
    type: dict
    required: true
  parameters:
    description:
      - Template parameters, either plain values (C(environment=prd)) or ARM's
        C(value) form.
    type: dict
    default: {}
  deployment_mode:
    description: Deployment mode to evaluate.
    type: str
    choices: [incremental, complete]
    default: incremental
extends_documentation_fragment:
  - azure.azcollection.azure
attributes:
  check_mode:
    support: full
    description: What-if is read-only; in check mode C(changed) says whether an apply would change anything.
  diff_mode:
    support: none
    description: No diff; the result lists every change the deployment would make.
requirements:
  - azure-mgmt-resource (with the requirements of azure.azcollection)
notes:
  - ARM what-if can report changes that an apply would not make (noise from
    properties the provider fills in); a C(Modify) lists the changed property
    paths so they can be judged.
"""

EXAMPLES = r"""
- name: What would the deployment change?
  opskit.ops.azure_deployment_whatif:
    resource_group: agent-framework-prd-rg
    name: agent-framework
    template: "{{ lookup('ansible.builtin.file', 'infra/bicep/main.json') | from_json }}"
    parameters:
      environment: prd
      location: japaneast
  register: whatif

- name: Deploy only when something would change
  azure.azcollection.azure_rm_deployment:
    resource_group: agent-framework-prd-rg
    name: agent-framework
    template: "{{ lookup('ansible.builtin.file', 'infra/bicep/main.json') | from_json }}"
    parameters: "{{ whatif.parameters }}"
  when: whatif.would_change
"""

RETURN = r"""
would_change:
  description: Whether applying the deployment would create, delete or modify any resource.
  type: bool
  returned: always
  sample: true
resource_group_exists:
  description: Whether the resource group exists (what-if ran only when it does).
  type: bool
  returned: always
  sample: true
counts:
  description: Number of resources per change type.
  type: dict
  returned: always
  sample: {Create: 1, Delete: 0, Modify: 1, Deploy: 0, NoChange: 18, Ignore: 0, Unsupported: 0}
changes:
  description: Every resource change, sorted by change type then resource id.
  type: list
  elements: dict
  returned: always
  sample:
    - resource_id: /subscriptions/0000/resourceGroups/agent-framework-prd-rg/providers/Microsoft.Web/serverfarms/agent-plan-prd
      resource_type: Microsoft.Web/serverfarms
      name: agent-plan-prd
      change_type: Modify
      changed_properties: ["sku.capacity (Modify)"]
      unsupported_reason: null
lines:
  description: One line per change that is not NoChange/Ignore, for reports.
  type: list
  elements: str
  returned: always
  sample: ["Modify   Microsoft.Web/serverfarms agent-plan-prd: sku.capacity (Modify)"]
parameters:
  description: "The parameters in ARM's C({name: {value: ...}}) form (to pass on to azure_rm_deployment)."
  type: dict
  returned: always
  sample: {environment: {value: prd}, location: {value: japaneast}}
"""

from ansible_collections.azure.azcollection.plugins.module_utils.azure_rm_common import AzureRMModuleBase
from ansible_collections.opskit.ops.plugins.module_utils._azure_arm import (
    template_parameters,
    whatif_lines,
    whatif_summary,
)

try:
    from azure.core.exceptions import ResourceNotFoundError
except ImportError:  # reported by AzureRMModuleBase (missing Azure SDK)
    ResourceNotFoundError = Exception


class AzureDeploymentWhatIf(AzureRMModuleBase):

    def __init__(self):
        self.module_arg_spec = dict(
            resource_group=dict(type='str', required=True),
            name=dict(type='str', default='opskit'),
            template=dict(type='dict', required=True),
            parameters=dict(type='dict', default={}),
            deployment_mode=dict(type='str', default='incremental', choices=['incremental', 'complete']),
        )
        self.results = dict(changed=False)
        super(AzureDeploymentWhatIf, self).__init__(derived_arg_spec=self.module_arg_spec,
                                                    supports_check_mode=True, supports_tags=False)

    def exec_module(self, **kwargs):
        params = template_parameters(kwargs['parameters'])
        self.results.update(parameters=params, changes=[], lines=[], counts={}, resource_group_exists=True)
        try:
            self.rm_client.resource_groups.get(kwargs['resource_group'])
        except ResourceNotFoundError:
            self.results.update(resource_group_exists=False, would_change=True,
                                lines=['Create   resource group %s and every resource of the template'
                                       % kwargs['resource_group']])
            self.results['changed'] = bool(self.check_mode)
            return self.results
        body = {'properties': {'mode': kwargs['deployment_mode'].capitalize(),
                               'template': kwargs['template'], 'parameters': params}}
        try:
            poller = self.rm_client.deployments.begin_what_if(kwargs['resource_group'], kwargs['name'], body)
            result = self.get_poller_result(poller)
        except Exception as exc:  # the SDK raises HttpResponseError and friends
            self.fail('what-if of deployment %s in %s failed: %s'
                      % (kwargs['name'], kwargs['resource_group'], getattr(exc, 'message', None) or exc))
        if getattr(result, 'error', None):
            self.fail('what-if of deployment %s reported an error: %s' % (kwargs['name'], result.error.as_dict()))
        changes, counts, would_change = whatif_summary(result.as_dict())
        self.results.update(changes=changes, counts=counts, would_change=would_change,
                            lines=whatif_lines(changes))
        self.results['changed'] = bool(self.check_mode and would_change)
        return self.results


def main():
    AzureDeploymentWhatIf()


if __name__ == '__main__':
    main()
