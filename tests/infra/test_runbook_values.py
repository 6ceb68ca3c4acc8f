"""infra/bicep: the template holds what runbook 001 asks for.

Read from the committed ARM JSON, evaluated for environment=prd with every
other parameter at its default (the runbook's `--parameters environment=prd
location=japaneast`).
"""

import pytest

import bicep_arm


@pytest.fixture(scope="module")
def deployed(main_arm):
    """Every resource of main.json and its modules, evaluated: {(type, name): resource}."""
    top = bicep_arm.ArmEvaluator(main_arm, {"environment": "prd", "location": "japaneast"})
    resources = {}
    for dep in main_arm["resources"]:
        values = {k: top.value(v["value"]) for k, v in dep["properties"]["parameters"].items()}
        ev = bicep_arm.ArmEvaluator(dep["properties"]["template"], values)
        for res in dep["properties"]["template"]["resources"]:
            body = {k: ev.value(v) for k, v in res.items() if k not in ("dependsOn", "metadata")}
            resources[(res["type"], body["name"])] = body
    return resources


def _one(deployed, rtype):
    found = [r for (t, dummy), r in deployed.items() if t == rtype]
    assert len(found) == 1, (rtype, found)
    return found[0]


def test_runbook_names(deployed):
    assert ("Microsoft.Web/sites", "agent-api-prd") in deployed
    assert ("Microsoft.ServiceBus/namespaces", "agent-sb-prd") in deployed
    assert ("Microsoft.ServiceBus/namespaces/queues", "agent-sb-prd/agent-jobs") in deployed
    assert ("Microsoft.Insights/autoscalesettings", "agent-api-autoscale-prd") in deployed
    storage = _one(deployed, "Microsoft.Storage/storageAccounts")["name"]
    assert ("Microsoft.Storage/storageAccounts/blobServices/containers", f"{storage}/default/checkpoints") in deployed
    assert storage.isalnum() and storage.islower() and 3 <= len(storage) <= 24


def test_every_resource_in_japaneast_or_global(deployed):
    locations = {r.get("location") for r in deployed.values() if "location" in r}
    assert locations == {"japaneast", "global"}


def test_staging_slot_for_swap_updates(deployed):
    slot = _one(deployed, "Microsoft.Web/sites/slots")
    assert slot["name"] == "agent-api-prd/staging"
    assert slot["properties"]["siteConfig"]["healthCheckPath"] == "/health"


def test_worker_has_multiple_revisions_and_queue_scaling(deployed):
    app = _one(deployed, "Microsoft.App/containerApps")
    assert app["properties"]["configuration"]["activeRevisionsMode"] == "Multiple"
    rule = app["properties"]["template"]["scale"]["rules"][0]["custom"]
    assert rule["type"] == "azure-servicebus"
    assert rule["metadata"] == {"queueName": "agent-jobs", "namespace": "agent-sb-prd", "messageCount": "100"}


def test_autoscale_min_2_max_10_default_2_with_scale_out_and_scale_in(deployed):
    setting = _one(deployed, "Microsoft.Insights/autoscalesettings")
    plan = _one(deployed, "Microsoft.Web/serverfarms")
    assert setting["properties"]["targetResourceUri"].endswith("/providers/Microsoft.Web/serverfarms/" + plan["name"])
    (profile,) = setting["properties"]["profiles"]
    assert profile["capacity"] == {"minimum": "2", "maximum": "10", "default": "2"}
    rules = {r["scaleAction"]["direction"]: r for r in profile["rules"]}
    out, in_ = rules["Increase"], rules["Decrease"]
    assert (out["metricTrigger"]["metricName"], out["metricTrigger"]["operator"], out["metricTrigger"]["threshold"],
            out["metricTrigger"]["timeWindow"], out["metricTrigger"]["timeAggregation"]) == \
        ("CpuPercentage", "GreaterThan", 70, "PT5M", "Average")
    assert (out["scaleAction"]["type"], out["scaleAction"]["value"]) == ("ChangeCount", "1")
    assert (in_["metricTrigger"]["operator"], in_["metricTrigger"]["threshold"], in_["metricTrigger"]["timeWindow"]) == \
        ("LessThan", 30, "PT10M")
    assert (in_["scaleAction"]["type"], in_["scaleAction"]["value"]) == ("ChangeCount", "1")


def test_alerts_match_the_runbook(deployed):
    error_rate = deployed[("Microsoft.Insights/scheduledQueryRules", "agent-error-rate-prd")]["properties"]
    assert (error_rate["windowSize"], error_rate["criteria"]["allOf"][0]["threshold"],
            error_rate["criteria"]["allOf"][0]["operator"]) == ("PT5M", 5, "GreaterThan")
    queue = _one(deployed, "Microsoft.Insights/metricAlerts")["properties"]["criteria"]["allOf"][0]
    assert (queue["metricName"], queue["threshold"], queue["dimensions"][0]["values"]) == ("ActiveMessages", 100, ["agent-jobs"])
    budget = deployed[("Microsoft.Insights/scheduledQueryRules", "agent-token-budget-prd")]["properties"]
    assert budget["criteria"]["allOf"][0]["threshold"] == 10000000 * 80 // 100
    action_group = _one(deployed, "Microsoft.Insights/actionGroups")
    for rule in (error_rate, budget):
        assert rule["actions"]["actionGroups"] == [
            bicep_arm.resource_id("Microsoft.Insights/actionGroups", action_group["name"])]


def test_app_insights_is_workspace_based(deployed):
    appi = _one(deployed, "Microsoft.Insights/components")
    workspace = _one(deployed, "Microsoft.OperationalInsights/workspaces")
    assert appi["properties"]["WorkspaceResourceId"] == bicep_arm.resource_id(
        "Microsoft.OperationalInsights/workspaces", workspace["name"])


def test_alert_email_receiver_only_when_given(main_arm):
    monitoring = next(r for r in main_arm["resources"] if r["name"] == "monitoring")["properties"]["template"]
    base = {"location": "japaneast", "tags": {}, "logAnalyticsName": "l", "logRetentionDays": 30,
            "appInsightsName": "a", "actionGroupName": "g", "actionGroupShortName": "g"}
    for email, expected in (("", []), ("ops@example.com", ["ops@example.com"])):
        ev = bicep_arm.ArmEvaluator(monitoring, dict(base, alertEmail=email))
        group = ev.value(_first_type(monitoring, "Microsoft.Insights/actionGroups"))
        assert [r["emailAddress"] for r in group["properties"]["emailReceivers"]] == expected


def _first_type(template, rtype):
    return next(r for r in template["resources"] if r["type"] == rtype)
