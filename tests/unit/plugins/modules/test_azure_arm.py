# -*- coding: utf-8 -*-
# Copyright (c) 2026, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_azure_arm logic and the two ARM modules at the SDK boundary (fake clients, no network).

The modules' ``exec_module`` runs on an instance whose Azure clients are fakes:
AzureRMModuleBase's credential handling (azure.azcollection's code) is bypassed,
so these tests need neither credentials nor azure-mgmt-* in .venv. The full path
through AzureRMModuleBase is run by tests/integration/test_azure_playbooks.py.
"""

from __future__ import absolute_import, division, print_function

import copy

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

from ansible_collections.opskit.ops.plugins.module_utils import _azure_arm as arm
from ansible_collections.opskit.ops.plugins.modules import azure_containerapp_revision as carev
from ansible_collections.opskit.ops.plugins.modules import azure_deployment_whatif as whatif

RG = "agent-framework-prd-rg"
SUB = "/subscriptions/0000/resourceGroups/%s/providers/" % RG


class Failed(Exception):
    pass


def _fail(msg, **kwargs):
    raise Failed(msg)


class Model(object):
    """An SDK model: as_dict() and optional error."""

    def __init__(self, data, error=None):
        self.data = data
        self.error = error

    def as_dict(self):
        return copy.deepcopy(self.data)


class Poller(object):
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def _instance(cls, check_mode):
    obj = cls.__new__(cls)
    obj.check_mode = check_mode
    obj.results = dict(changed=False) if issubclass(cls, whatif.AzureDeploymentWhatIf) else dict(changed=False, planned=[])
    obj.fail = _fail
    obj.get_poller_result = lambda poller: poller.result()
    return obj


# ---------------------------------------------------------------- pure logic
def test_template_parameters_wraps_plain_values_and_keeps_arm_form():
    out = arm.template_parameters({"environment": "prd", "count": {"value": 3}, "tags": {"a": 1}})
    assert out == {"environment": {"value": "prd"}, "count": {"value": 3}, "tags": {"value": {"a": 1}}}
    assert arm.template_parameters(None) == {}


def test_whatif_summary_counts_sorts_and_flattens_delta():
    result = {"changes": [
        {"change_type": "NoChange", "resource_id": SUB + "Microsoft.ServiceBus/namespaces/sb/queues/agent-jobs"},
        {"change_type": "Modify", "resource_id": SUB + "Microsoft.Web/serverfarms/agent-plan-prd",
         "delta": [{"path": "sku", "children": [{"path": "capacity", "property_change_type": "Modify"}]}]},
        {"change_type": "Create", "resource_id": SUB + "Microsoft.Insights/components/agent-ai-prd"},
    ]}
    changes, counts, would = arm.whatif_summary(result)
    assert [c["change_type"] for c in changes] == ["Create", "Modify", "NoChange"]
    assert changes[1]["resource_type"] == "Microsoft.Web/serverfarms"
    assert changes[1]["changed_properties"] == ["sku.capacity (Modify)"]
    assert changes[2]["resource_type"] == "Microsoft.ServiceBus/namespaces/queues"
    assert counts["Create"] == 1 and counts["Modify"] == 1 and counts["NoChange"] == 1 and counts["Delete"] == 0
    assert would is True
    lines = arm.whatif_lines(changes)
    assert len(lines) == 2 and lines[1].startswith("Modify") and "sku.capacity" in lines[1]


def test_whatif_summary_nochange_and_ignore_change_nothing():
    result = {"properties": {"changes": [{"changeType": "NoChange", "resourceId": SUB + "Microsoft.Web/sites/a"},
                                         {"changeType": "Ignore", "resourceId": SUB + "Microsoft.Web/sites/b"}]}}
    changes, counts, would = arm.whatif_summary(result)
    assert would is False and counts["NoChange"] == 1 and counts["Ignore"] == 1
    assert arm.whatif_lines(changes) == []


def test_whatif_summary_unsupported_counts_as_change():
    dummy, counts, would = arm.whatif_summary({"changes": [{"change_type": "Unsupported", "resource_id": SUB + "X/y/z",
                                                            "unsupported_reason": "nested template"}]})
    assert would is True and counts["Unsupported"] == 1


def _app(image="reg/agent-worker:1.3.0", latest="w--v1", traffic=None, ingress=True, scale=None):
    app = {"name": "w", "location": "japaneast", "latest_revision_name": latest,
           "template": {"containers": [{"name": "worker", "image": image}],
                        "scale": scale if scale is not None else {"min_replicas": 1, "max_replicas": 10}},
           "configuration": {}}
    if ingress:
        app["configuration"]["ingress"] = {"fqdn": "w.example", "traffic": traffic or [{"latest_revision": True, "weight": 100}]}
    return app


REVS = [{"name": "w--v1", "active": True, "traffic_weight": 100, "created_time": "2026-01-01",
         "template": {"containers": [{"image": "reg/agent-worker:1.3.0"}]}}]


def test_plan_unchanged_returns_no_body():
    body, changes = arm.plan_containerapp(_app(), REVS, image="reg/agent-worker:1.3.0", min_replicas=1,
                                          max_replicas=10, traffic=[{"revision_name": "w--v1", "weight": 100}])
    assert body is None and changes == []


def test_plan_new_image_pins_current_traffic():
    body, changes = arm.plan_containerapp(_app(), REVS, image="reg/agent-worker:1.4.0", revision_suffix="v2")
    assert changes == ["image reg/agent-worker:1.3.0 -> reg/agent-worker:1.4.0 (new revision)"]
    assert body["template"]["containers"][0]["image"] == "reg/agent-worker:1.4.0"
    assert body["template"]["revision_suffix"] == "v2"
    assert body["configuration"]["ingress"]["traffic"] == [{"revision_name": "w--v1", "weight": 100}]
    assert "fqdn" not in body["configuration"]["ingress"]


def test_plan_traffic_shift_only_sends_no_template():
    revs = REVS + [{"name": "w--v2", "active": True, "traffic_weight": 0, "created_time": "2026-01-02"}]
    app = _app(latest="w--v2", traffic=[{"revision_name": "w--v1", "weight": 100}])
    body, changes = arm.plan_containerapp(app, revs, traffic=[{"revision_name": "w--v2", "weight": 100}])
    assert "template" not in body
    assert body["configuration"]["ingress"]["traffic"] == [{"revision_name": "w--v2", "weight": 100}]
    assert changes == ["traffic w--v1=100% -> w--v2=100%"]


def test_plan_scale_only_moves_latest_weight():
    body, changes = arm.plan_containerapp(_app(), REVS, min_replicas=2)
    assert changes == ["min_replicas 1 -> 2"]
    assert body["template"]["scale"] == {"min_replicas": 2, "max_replicas": 10}
    assert body["configuration"]["ingress"]["traffic"] == [{"latest_revision": True, "weight": 100}]


@pytest.mark.parametrize("kwargs,message", [
    (dict(min_replicas=5, max_replicas=3), "must not exceed max_replicas"),
    (dict(image="x:2", revision_suffix="v1"), "already exists"),
    (dict(image="x:2", container_name="nope"), "no container 'nope'"),
    (dict(traffic=[{"revision_name": "w--gone", "weight": 100}]), "does not exist"),
    (dict(traffic=[{"revision_name": "w--v1", "weight": 60}]), "add up to 100"),
])
def test_plan_errors_name_the_parameter(kwargs, message):
    with pytest.raises(arm.PlanError, match=message):
        arm.plan_containerapp(_app(), REVS, **kwargs)


def test_plan_traffic_without_ingress_is_an_error():
    revs = REVS + [{"name": "w--v2", "created_time": "2026-01-02"}]
    with pytest.raises(arm.PlanError, match="no ingress"):
        arm.plan_containerapp(_app(ingress=False), revs, traffic=[{"revision_name": "w--v2", "weight": 100}])


def test_deactivations():
    revs = [{"name": "a", "active": True, "traffic_weight": 0}, {"name": "b", "active": False},
            {"name": "c", "active": True, "traffic_weight": 50}]
    assert arm.deactivations(revs, ["a", "b"]) == ["a"]
    with pytest.raises(arm.PlanError, match="still takes 50%"):
        arm.deactivations(revs, ["c"])
    with pytest.raises(arm.PlanError, match="does not exist"):
        arm.deactivations(revs, ["zz"])


def test_traffic_weights_resolves_latest_and_defaults():
    app = _app(latest="w--v2", traffic=[{"latest_revision": True, "weight": 30}, {"revision_name": "w--v1", "weight": 70}])
    assert arm.traffic_weights(app, []) == {"w--v2": 30, "w--v1": 70}
    assert arm.traffic_weights(_app(ingress=False), []) == {"w--v1": 100}


# ------------------------------------------------ azure_deployment_whatif
class FakeResourceGroups(object):
    def __init__(self, exc=None):
        self.exc = exc

    def get(self, name):
        if self.exc:
            raise self.exc
        return Model({"name": name})


class FakeDeployments(object):
    def __init__(self, result=None, exc=None):
        self.result, self.exc, self.calls = result, exc, []

    def begin_what_if(self, rg, name, body):
        self.calls.append(("what_if", rg, name, body))
        if self.exc:
            raise self.exc
        return Poller(self.result)

    def __getattr__(self, attr):  # any write (begin_create_or_update, ...) is recorded and refused
        if attr.startswith("begin_") or attr in ("create_or_update", "delete"):
            raise AssertionError("what-if module called a write: %s" % attr)
        raise AttributeError(attr)


class FakeRM(object):
    def __init__(self, rg_exc=None, result=None, exc=None):
        self.resource_groups = FakeResourceGroups(rg_exc)
        self.deployments = FakeDeployments(result, exc)


WHATIF_ARGS = dict(resource_group=RG, name="agent-framework", template={"resources": []},
                   parameters={"environment": "prd", "location": "japaneast"}, deployment_mode="incremental")


def _run_whatif(rm, check_mode):
    # rm_client is a property of AzureRMModuleBase; a subclass puts the fake in its place
    cls = type("WhatIfWithFakeRM", (whatif.AzureDeploymentWhatIf,), {"rm_client": rm})
    obj = _instance(cls, check_mode)
    return obj.exec_module(**WHATIF_ARGS), rm


@pytest.mark.parametrize("check_mode", [False, True])
def test_whatif_change_reported_changed_only_in_check_mode(check_mode):
    rm = FakeRM(result=Model({"changes": [{"change_type": "Modify", "resource_id": SUB + "Microsoft.Web/sites/api"}]}))
    res, rm = _run_whatif(rm, check_mode)
    assert res["would_change"] is True and res["counts"]["Modify"] == 1
    assert res["changed"] is check_mode
    (dummy, rg, name, body), = rm.deployments.calls
    assert (rg, name) == (RG, "agent-framework")
    assert body["properties"]["mode"] == "Incremental"
    assert body["properties"]["parameters"] == {"environment": {"value": "prd"}, "location": {"value": "japaneast"}}


def test_whatif_unchanged():
    rm = FakeRM(result=Model({"changes": [{"change_type": "NoChange", "resource_id": SUB + "Microsoft.Web/sites/api"}]}))
    res, dummy = _run_whatif(rm, True)
    assert res["would_change"] is False and res["changed"] is False and res["lines"] == []


def test_whatif_missing_resource_group_skips_whatif():
    rm = FakeRM(rg_exc=ResourceNotFoundError(message="ResourceGroupNotFound"))
    res, rm = _run_whatif(rm, True)
    assert res["resource_group_exists"] is False and res["would_change"] is True and res["changed"] is True
    assert rm.deployments.calls == []
    assert RG in res["lines"][0]


@pytest.mark.parametrize("exc", [ClientAuthenticationError(message="AADSTS7000215: invalid client secret"),
                                 HttpResponseError(message="InvalidTemplate: bad template")])
def test_whatif_sdk_errors_fail_with_message(exc):
    with pytest.raises(Failed) as info:
        _run_whatif(FakeRM(exc=exc), True)
    assert "what-if of deployment agent-framework in %s failed" % RG in str(info.value)
    assert exc.message in str(info.value)


def test_whatif_auth_failure_on_resource_group_is_not_swallowed():
    with pytest.raises(ClientAuthenticationError):
        _run_whatif(FakeRM(rg_exc=ClientAuthenticationError(message="expired token")), True)


def test_whatif_error_in_result_fails():
    rm = FakeRM(result=Model({"changes": []}, error=Model({"code": "DeploymentWhatIfResourceError"})))
    with pytest.raises(Failed, match="DeploymentWhatIfResourceError"):
        _run_whatif(rm, False)


# -------------------------------------------- azure_containerapp_revision
class FakeApps(object):
    def __init__(self, state, get_exc=None, update_exc=None):
        self.state, self.get_exc, self.update_exc, self.updates = state, get_exc, update_exc, []

    def get(self, rg, name):
        if self.get_exc:
            raise self.get_exc
        return Model(self.state["app"])

    def begin_update(self, rg, name, body):
        self.updates.append(body)
        if self.update_exc:
            raise self.update_exc
        app = self.state["app"]
        if "template" in body:
            app["template"] = body["template"]
            new = "%s--%s" % (name, body["template"].get("revision_suffix") or "auto%d" % len(self.updates))
            self.state["revisions"].append({"name": new, "active": True, "traffic_weight": 0,
                                            "created_time": "2026-02-0%d" % len(self.updates),
                                            "template": copy.deepcopy(body["template"])})
            app["latest_revision_name"] = new
        if "configuration" in body:
            app["configuration"]["ingress"]["traffic"] = body["configuration"]["ingress"]["traffic"]
        return Poller(None)


class FakeRevisions(object):
    def __init__(self, state):
        self.state, self.deactivated = state, []

    def list_revisions(self, rg, name):
        return [Model(r) for r in self.state["revisions"]]

    def deactivate_revision(self, rg, name, rev):
        self.deactivated.append(rev)


class FakeCA(object):
    def __init__(self, get_exc=None, update_exc=None):
        self.state = {"app": _app(), "revisions": copy.deepcopy(REVS)}
        self.container_apps = FakeApps(self.state, get_exc, update_exc)
        self.container_apps_revisions = FakeRevisions(self.state)


class FakeContainerApp(object):
    @staticmethod
    def from_dict(body):
        return body


CA_ARGS = dict(resource_group=RG, name="w", image=None, container_name=None, revision_suffix=None,
               traffic=None, min_replicas=None, max_replicas=None, deactivate=[])


@pytest.fixture
def run_ca(monkeypatch):
    # the SDK boundary: ResourceNotFoundError as azure-core defines it, models passed through
    monkeypatch.setattr(carev, "ResourceNotFoundError", ResourceNotFoundError)
    monkeypatch.setattr(carev, "ContainerApp", FakeContainerApp, raising=False)

    def run(client, check_mode=False, **args):
        obj = _instance(carev.AzureContainerAppRevision, check_mode)
        obj._client = lambda: client
        full = dict(CA_ARGS)
        full.update(args)
        return obj.exec_module(**full)
    return run


def test_revision_check_mode_makes_no_write(run_ca):
    client = FakeCA()
    res = run_ca(client, check_mode=True, image="reg/agent-worker:1.4.0", revision_suffix="v2")
    assert res["changed"] is True and res["planned"][0].startswith("image ")
    assert client.container_apps.updates == [] and client.container_apps_revisions.deactivated == []
    assert res["previous_revision"] == "w--v1" and res["latest_revision"]["name"] == "w--v1"


def test_revision_new_image_then_unchanged(run_ca):
    client = FakeCA()
    res = run_ca(client, image="reg/agent-worker:1.4.0", revision_suffix="v2")
    assert res["changed"] is True and len(client.container_apps.updates) == 1
    assert res["latest_revision"]["name"] == "w--v2" and res["latest_revision"]["image"] == "reg/agent-worker:1.4.0"
    assert res["traffic"] == {"w--v1": 100}  # the new revision takes no traffic yet
    again = run_ca(client, image="reg/agent-worker:1.4.0", revision_suffix="v2")
    assert again["changed"] is False and again["planned"] == [] and len(client.container_apps.updates) == 1


def test_revision_traffic_shift_and_deactivate(run_ca):
    client = FakeCA()
    run_ca(client, image="reg/agent-worker:1.4.0", revision_suffix="v2")
    res = run_ca(client, traffic=[{"revision_name": "w--v2", "latest_revision": False, "weight": 100}])
    assert res["changed"] is True and res["traffic"] == {"w--v2": 100}
    # traffic_weight of the fake revisions does not follow the ingress; set it as Azure would
    client.state["revisions"][0]["traffic_weight"] = 0
    res = run_ca(client, deactivate=["w--v1"])
    assert res["planned"] == ["deactivate w--v1"] and client.container_apps_revisions.deactivated == ["w--v1"]


def test_revision_traffic_entry_needs_one_target(run_ca):
    with pytest.raises(Failed, match="exactly one of revision_name or latest_revision"):
        run_ca(FakeCA(), traffic=[{"revision_name": "w--v1", "latest_revision": True, "weight": 100}])


def test_revision_app_not_found(run_ca):
    with pytest.raises(Failed, match="container app w not found in resource group %s" % RG):
        run_ca(FakeCA(get_exc=ResourceNotFoundError(message="ResourceNotFound")))


def test_revision_plan_error_fails(run_ca):
    with pytest.raises(Failed, match="must not exceed max_replicas"):
        run_ca(FakeCA(), min_replicas=11)


@pytest.mark.parametrize("exc", [HttpResponseError(message="ContainerAppOperationError: quota exceeded"),
                                 ClientAuthenticationError(message="AADSTS700016: application not found")])
def test_revision_update_errors_fail_with_message(run_ca, exc):
    client = FakeCA(update_exc=exc)
    with pytest.raises(Failed) as info:
        run_ca(client, image="reg/agent-worker:1.4.0")
    assert "update of container app w failed" in str(info.value) and exc.message in str(info.value)


def test_revision_missing_sdk_fails_clearly(monkeypatch):
    monkeypatch.setattr(carev, "ContainerAppsAPIClient", None)
    obj = _instance(carev.AzureContainerAppRevision, False)
    with pytest.raises(Failed, match="azure-mgmt-appcontainers is required"):
        obj._client()
