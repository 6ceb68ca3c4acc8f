#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: azure_containerapp_revision
short_description: Roll a new revision of an Azure Container App, split its traffic, set its replica bounds
version_added: 0.2.0
description:
  - Manages the revisions of an existing Container App in multiple-revision
    mode with the Azure SDK (C(azure-mgmt-appcontainers)), the piece
    C(azure.azcollection) has no module for.
  - O(image) different from the app's current image starts a new revision
    that takes B(no) traffic; the current traffic is pinned by revision name
    in the same update, so a health check can probe the new revision's own
    FQDN (RV(fqdn)) before any user reaches it.
  - O(traffic) sets the weights (revision names, or C(latest_revision)); it
    is how traffic moves to the new revision and back to the previous one.
  - O(min_replicas)/O(max_replicas) set the replica bounds (a new revision in
    Container Apps; the latest revision's weight follows to it).
  - O(deactivate) deactivates revisions that take no traffic.
  - Idempotent, nothing is sent when the app already is as asked. Check mode
    reports the planned changes (RV(planned)) and sends nothing.
  - Authentication and cloud selection are those of C(azure.azcollection); secrets are never logged.
author: opskit maintainers (@opskit)
options:
  resource_group:
    description: Resource group of the container app.
    type: str
    required: true
  name:
    description: Name of the container app.
    type: str
    required: true
  image:
    description: Wanted image of the container O(container_name) (the first container when not given).
    type: str
  container_name:
    description: Container of the template whose image O(image) sets.
    type: str
  revision_suffix:
    description:
      - Suffix of the new revision (its name is C(<app>--<suffix>)); used only
        when a new revision is made. A suffix already used is an error.
    type: str
  traffic:
    description: Wanted traffic weights; they must add up to 100.
    type: list
    elements: dict
    suboptions:
      revision_name:
        description: A revision of the app.
        type: str
      latest_revision:
        description: The latest revision (the new one, when this task makes one).
        type: bool
        default: false
      weight:
        description: Percent of the traffic.
        type: int
        required: true
  min_replicas:
    description: Minimum replicas of the app's template.
    type: int
  max_replicas:
    description: Maximum replicas of the app's template.
    type: int
  deactivate:
    description: Revisions to deactivate (each must take no traffic).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - azure.azcollection.azure
attributes:
  check_mode:
    support: full
    description: Reports the planned changes and sends nothing.
  diff_mode:
    support: none
    description: No diff; the result lists the revisions and traffic before and after.
requirements:
  - azure-mgmt-appcontainers (with the requirements of azure.azcollection)
"""

EXAMPLES = r"""
- name: Start a revision of the worker with the new image (it takes no traffic yet)
  opskit.ops.azure_containerapp_revision:
    resource_group: agent-framework-prd-rg
    name: agent-worker-prd
    image: myregistry.azurecr.io/agent-worker:1.4.0
    revision_suffix: v1-4-0
  register: worker

- name: Move all traffic to it
  opskit.ops.azure_containerapp_revision:
    resource_group: agent-framework-prd-rg
    name: agent-worker-prd
    traffic:
      - revision_name: "{{ worker.latest_revision.name }}"
        weight: 100

- name: Replica bounds of the worker
  opskit.ops.azure_containerapp_revision:
    resource_group: agent-framework-prd-rg
    name: agent-worker-prd
    min_replicas: 2
    max_replicas: 10
"""

RETURN = r"""
planned:
  description: The changes made (or, in check mode, that would be made).
  type: list
  elements: str
  returned: always
  sample: ["image reg/agent-worker:1.3.0 -> reg/agent-worker:1.4.0 (new revision)"]
previous_revision:
  description: Name of the latest revision before this task.
  type: str
  returned: always
  sample: agent-worker-prd--v1-3-0
latest_revision:
  description: The latest revision after the task (before it, in check mode).
  type: dict
  returned: always
  sample: {name: agent-worker-prd--v1-4-0, fqdn: agent-worker-prd--v1-4-0.example.japaneast.azurecontainerapps.io,
           image: reg/agent-worker:1.4.0, active: true, traffic_weight: 0}
revisions:
  description: Every revision, oldest first.
  type: list
  elements: dict
  returned: always
  sample: [{name: agent-worker-prd--v1-3-0, image: reg/agent-worker:1.3.0, active: true, traffic_weight: 100}]
traffic:
  description: Traffic weight per revision name after the task.
  type: dict
  returned: always
  sample: {agent-worker-prd--v1-3-0: 100}
fqdn:
  description: FQDN of the app's ingress (users' traffic), when it has ingress.
  type: str
  returned: always
  sample: agent-worker-prd.example.japaneast.azurecontainerapps.io
scale:
  description: Replica bounds of the app's template after the task.
  type: dict
  returned: always
  sample: {min_replicas: 2, max_replicas: 10}
"""

from ansible_collections.azure.azcollection.plugins.module_utils.azure_rm_common import AzureRMModuleBase
from ansible_collections.opskit.ops.plugins.module_utils._azure_arm import (
    PlanError,
    deactivations,
    plan_containerapp,
    revision_rows,
    traffic_weights,
)

try:
    from azure.core.exceptions import ResourceNotFoundError
    from azure.mgmt.appcontainers import ContainerAppsAPIClient
    from azure.mgmt.appcontainers.models import ContainerApp
except ImportError:  # reported by AzureRMModuleBase / below
    ContainerAppsAPIClient = None
    ResourceNotFoundError = Exception


class AzureContainerAppRevision(AzureRMModuleBase):

    def __init__(self):
        self.module_arg_spec = dict(
            resource_group=dict(type='str', required=True),
            name=dict(type='str', required=True),
            image=dict(type='str'),
            container_name=dict(type='str'),
            revision_suffix=dict(type='str'),
            traffic=dict(type='list', elements='dict', options=dict(
                revision_name=dict(type='str'),
                latest_revision=dict(type='bool', default=False),
                weight=dict(type='int', required=True),
            )),
            min_replicas=dict(type='int'),
            max_replicas=dict(type='int'),
            deactivate=dict(type='list', elements='str', default=[]),
        )
        self.results = dict(changed=False, planned=[])
        super(AzureContainerAppRevision, self).__init__(derived_arg_spec=self.module_arg_spec,
                                                        supports_check_mode=True, supports_tags=False)

    def _client(self):
        if ContainerAppsAPIClient is None:
            self.fail('azure-mgmt-appcontainers is required by opskit.ops.azure_containerapp_revision '
                      '(pip install azure-mgmt-appcontainers in the Azure interpreter)')
        return self.get_mgmt_svc_client(ContainerAppsAPIClient,
                                        base_url=self._cloud_environment.endpoints.resource_manager)

    def _read(self, client, rg, name):
        app = client.container_apps.get(rg, name).as_dict()
        revisions = [r.as_dict() for r in client.container_apps_revisions.list_revisions(rg, name)]
        return app, revisions

    def exec_module(self, **kwargs):
        rg, name = kwargs['resource_group'], kwargs['name']
        for entry in kwargs['traffic'] or []:
            if bool(entry.get('revision_name')) == bool(entry.get('latest_revision')):
                self.fail('traffic: each entry needs exactly one of revision_name or latest_revision=true')
        client = self._client()
        try:
            app, revisions = self._read(client, rg, name)
        except ResourceNotFoundError:
            self.fail('container app %s not found in resource group %s (deploy the infrastructure first)' % (name, rg))
        previous = app.get('latest_revision_name')
        try:
            body, planned = plan_containerapp(
                app, revisions, image=kwargs['image'], container_name=kwargs['container_name'],
                revision_suffix=kwargs['revision_suffix'], min_replicas=kwargs['min_replicas'],
                max_replicas=kwargs['max_replicas'], traffic=kwargs['traffic'])
            # deactivation is judged on the traffic after the update
            to_deactivate = [] if body is not None and kwargs['deactivate'] else deactivations(revisions, kwargs['deactivate'])
        except PlanError as exc:
            self.fail(str(exc))
        planned += ['deactivate %s' % r for r in to_deactivate]
        self.results['planned'] = planned
        self.results['changed'] = bool(planned)
        if not self.check_mode and planned:
            try:
                if body is not None:
                    self.get_poller_result(client.container_apps.begin_update(rg, name, ContainerApp.from_dict(body)))
                    if kwargs['deactivate']:
                        app, revisions = self._read(client, rg, name)
                        to_deactivate = deactivations(revisions, kwargs['deactivate'])
                        self.results['planned'] += ['deactivate %s' % r for r in to_deactivate]
                for rev in to_deactivate:
                    client.container_apps_revisions.deactivate_revision(rg, name, rev)
            except PlanError as exc:
                self.fail(str(exc))
            except Exception as exc:
                self.fail('update of container app %s failed: %s' % (name, getattr(exc, 'message', None) or exc))
            app, revisions = self._read(client, rg, name)
        rows = revision_rows(revisions)
        latest = next((r for r in rows if r['name'] == app.get('latest_revision_name')), rows[-1] if rows else {})
        ingress = (app.get('configuration') or {}).get('ingress') or {}
        scale = (app.get('template') or {}).get('scale') or {}
        self.results.update(previous_revision=previous, latest_revision=latest, revisions=rows,
                            traffic=traffic_weights(app, revisions), fqdn=ingress.get('fqdn'),
                            scale={'min_replicas': scale.get('min_replicas'), 'max_replicas': scale.get('max_replicas')})
        return self.results


def main():
    AzureContainerAppRevision()


if __name__ == '__main__':
    main()
