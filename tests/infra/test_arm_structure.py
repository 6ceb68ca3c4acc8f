"""infra/bicep/*.json: offline structural checks of the ARM templates.

What is checked here is what can be checked without Azure: required
top-level keys, parameter types/defaults/allowed values, every resource has
type/apiVersion/name in the right shapes, name segments match the type,
every expression parses (balanced brackets, parentheses and quotes) and only
names declared parameters/variables, dependsOn only points at resources of
the same template, nested deployments get exactly their declared
parameters, and no output exposes a secret. Whether Azure accepts the
template (resource provider schemas, quotas, names taken) is only known on
Azure (`az deployment group validate` / what-if).
"""

import pytest

import bicep_arm


def _values(env):
    return {"environment": env}


@pytest.mark.parametrize("environment", ["stg", "prd"])
def test_main_json_is_structurally_valid(main_arm, environment):
    assert bicep_arm.validate_template(main_arm, "main.json", _values(environment)) == []


def _module(arm, name):
    return next(r for r in arm["resources"] if r["name"] == name)["properties"]["template"]


def _first(template, rtype):
    return next(r for r in template["resources"] if r["type"] == rtype)


BROKEN = {
    "missing contentVersion": (lambda t: t.pop("contentVersion"), "main.json: top-level key 'contentVersion' is missing"),
    "unknown top-level key": (lambda t: t.update(resource=[]), "main.json: unknown top-level key 'resource'"),
    "resource without apiVersion": (
        lambda t: _first(_module(t, "data"), "Microsoft.Search/searchServices").pop("apiVersion"),
        "main.json > data: resources[6]: 'apiVersion' is missing"),
    "bad apiVersion": (lambda t: _first(_module(t, "data"), "Microsoft.Search/searchServices").update(apiVersion="latest"),
                       "apiVersion 'latest' is not YYYY-MM-DD[-preview]"),
    "dangling dependsOn": (
        lambda t: _first(_module(t, "api"), "Microsoft.Web/sites")["dependsOn"].append(
            "[resourceId('Microsoft.Web/serverfarms', 'elsewhere')]"),
        "is no resource of this template"),
    "unbalanced expression": (
        lambda t: t["variables"].update(queueName="[format('{0}', parameters('namePrefix')]"),
        "variables.queueName: expected ')'"),
    "unterminated string": (lambda t: t["variables"].update(queueName="[toLower('agent-jobs)]"),
                            "variables.queueName: unexpected character"),
    "undeclared parameter": (lambda t: t["variables"].update(queueName="[parameters('queue')]"),
                             "variables.queueName: parameters('queue') is not declared"),
    "default not allowed": (lambda t: t["parameters"]["searchSku"].update(defaultValue="free"),
                            "parameter searchSku: default 'free' is not an allowed value"),
    "default of the wrong type": (lambda t: t["parameters"]["workerPort"].update(defaultValue="80"),
                                  "parameter workerPort: default '80' is not of type int"),
    "name segments": (
        lambda t: _first(_module(t, "data"), "Microsoft.ServiceBus/namespaces/queues").update(
            name="[parameters('queueName')]"),
        "name 'agent-jobs' has 1 segments, type Microsoft.ServiceBus/namespaces/queues needs 2"),
    "secret output": (
        lambda t: t["outputs"].update(sbKey={"type": "string", "value": (
            "[listKeys(resourceId('Microsoft.ServiceBus/namespaces/AuthorizationRules', "
            "variables('serviceBusNamespaceName'), 'RootManageSharedAccessKey'), '2022-10-01-preview').primaryKey]")}),
        "main.json: output sbKey exposes a secret"),
    "secret module output": (
        lambda t: _module(t, "monitoring")["outputs"].update(cs={"type": "string", "value": (
            "[reference(resourceId('Microsoft.Insights/components', parameters('appInsightsName')), "
            "'2020-02-02').ConnectionString]")}),
        "main.json > monitoring: output cs exposes a secret"),
    "nested parameter not passed": (
        lambda t: next(r for r in t["resources"] if r["name"] == "alerts")["properties"]["parameters"].pop("queueName"),
        "main.json > alerts: required parameter 'queueName' not passed"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_structural_problem_is_found(main_arm, case):
    mutate, expected = BROKEN[case]
    problems = bicep_arm.validate_template(bicep_arm.mutated(main_arm, mutate), "main.json", _values("prd"))
    assert any(expected in p for p in problems), problems
