"""infra/bicep: each .bicep and the ARM JSON beside it describe the same deployment.

The Bicep side is parsed by pycep-parser, the ARM side by json; both are
evaluated for each allowed `environment` and compared: parameters (type,
allowed values, defaults, bounds, description), variables, every resource
(type, API version, name, dependsOn, every property) and module (name,
parameters passed, nested template = the module's own .json, recursively
compared with the module's .bicep), and the outputs.
"""

import json

import pytest

import bicep_arm

ENVIRONMENTS = ["stg", "prd"]

# The contract the Azure playbooks and modules read (keep these stable).
PARAMETERS = [
    "environment", "location", "namePrefix", "appServicePlanSku", "apiRuntime", "workerImage", "workerPort",
    "workerMinReplicas", "workerMaxReplicas", "autoscaleMinCount", "autoscaleMaxCount", "autoscaleDefaultCount",
    "alertEmail", "errorRateThresholdPercent", "queueLengthThreshold", "monthlyTokenBudget",
    "tokenBudgetAlertPercent", "tokenMetricName", "searchSku", "searchReplicaCount", "logRetentionDays", "tags",
]
OUTPUTS = [
    "environment", "location", "appServicePlanName", "autoscaleSettingName", "apiWebAppName", "apiHostName",
    "stagingSlotName", "stagingHostName", "containerAppsEnvironmentName", "workerContainerAppName",
    "workerLatestRevisionName", "serviceBusNamespaceName", "serviceBusEndpoint", "queueName", "storageAccountName",
    "storageBlobEndpoint", "checkpointsContainerName", "searchServiceName", "searchServiceEndpoint",
    "logAnalyticsWorkspaceName", "logAnalyticsWorkspaceId", "appInsightsName", "appInsightsAppId",
    "appInsightsConnectionStringSetting", "actionGroupName", "alertRuleNames",
]


def _compare(bicep_dir, arm, text=None, environment="prd"):
    return bicep_arm.compare_files(bicep_dir / "main.bicep", None, {"environment": environment},
                                   bicep_text=text, arm_template=arm)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_bicep_and_arm_agree(bicep_dir, main_arm, environment):
    assert _compare(bicep_dir, main_arm, environment=environment) == []


def test_environment_allows_exactly_stg_and_prd(main_arm):
    assert main_arm["parameters"]["environment"]["allowedValues"] == ENVIRONMENTS
    assert "defaultValue" not in main_arm["parameters"]["environment"]


def test_parameter_and_output_names_are_the_published_contract(bicep_dir, main_arm):
    bicep = bicep_arm.load_bicep(bicep_dir / "main.bicep")
    assert list(bicep.params) == PARAMETERS
    assert list(main_arm["parameters"]) == PARAMETERS
    assert list(bicep.outputs) == OUTPUTS
    assert list(main_arm["outputs"]) == OUTPUTS


def test_every_module_has_its_arm_json(bicep_dir):
    modules = sorted(p.stem for p in (bicep_dir / "modules").glob("*.bicep"))
    assert modules == sorted(p.stem for p in (bicep_dir / "modules").glob("*.json"))
    assert modules == ["alerts", "api", "data", "monitoring", "worker"]


# --- negative tests: the comparison must find each of these mutations ------

def _module(arm, name):
    return next(r for r in arm["resources"] if r["name"] == name)["properties"]["template"]


def _resource(template, rtype):
    return next(r for r in template["resources"] if r["type"] == rtype)


ARM_MUTATIONS = {
    "api version": (
        lambda t: _resource(_module(t, "data"), "Microsoft.ServiceBus/namespaces").update(apiVersion="2021-11-01"),
        "apiVersion Bicep 2022-10-01-preview != ARM 2021-11-01"),
    "resource name": (
        lambda t: t["variables"].update(apiWebAppName="[format('{0}-app-{1}', parameters('namePrefix'), parameters('environment'))]"),
        "variable apiWebAppName: Bicep 'agent-api-prd' != ARM 'agent-app-prd'"),
    "property value": (
        lambda t: _resource(_module(t, "api"), "Microsoft.Insights/autoscalesettings")["properties"]["profiles"][0]
        ["rules"][1]["metricTrigger"].update(threshold=25),
        "metricTrigger.threshold: Bicep 30 != ARM 25"),
    "missing output": (lambda t: t["outputs"].pop("queueName"), "output queueName: only in Bicep"),
    "allowed values": (
        lambda t: t["parameters"]["environment"].update(allowedValues=["stg", "prd", "dev"]),
        "parameter environment: allowed values"),
    "default": (lambda t: t["parameters"]["autoscaleMaxCount"].update(defaultValue=20),
                "parameter autoscaleMaxCount: default Bicep 10 != ARM 20"),
    "parameter type": (lambda t: t["parameters"]["workerPort"].update(type="string"),
                       "parameter workerPort: type Bicep 'int' != ARM 'string'"),
    "dependsOn": (lambda t: _resource(_module(t, "data"), "Microsoft.ServiceBus/namespaces/queues").pop("dependsOn"),
                  "dependsOn Bicep"),
    "extra resource": (
        lambda t: _module(t, "monitoring")["resources"].append(
            {"type": "Microsoft.Insights/components", "apiVersion": "2020-02-02", "name": "extra", "location": "x"}),
        "ARM resource Microsoft.Insights/components extra: not in the Bicep file"),
    "module parameter": (
        lambda t: next(r for r in t["resources"] if r["name"] == "worker")["properties"]["parameters"]
        ["queueScaleThreshold"].update(value="[parameters('workerMaxReplicas')]"),
        "params.queueScaleThreshold: Bicep 100 != ARM 10"),
}


@pytest.mark.parametrize("mutation", sorted(ARM_MUTATIONS))
def test_mismatch_in_the_arm_json_is_found(bicep_dir, main_arm, mutation):
    mutate, expected = ARM_MUTATIONS[mutation]
    diffs = _compare(bicep_dir, bicep_arm.mutated(main_arm, mutate))
    assert any(expected in d for d in diffs), diffs


BICEP_MUTATIONS = {
    "allowed value": (
        ("  'stg'\n  'prd'\n])\nparam environment", "  'stg'\n  'prd'\n  'dev'\n])\nparam environment"),
        "parameter environment: allowed values"),
    "name": (("var apiWebAppName = '${namePrefix}-api-${environment}'", "var apiWebAppName = '${namePrefix}-web-${environment}'"),
             "variable apiWebAppName: Bicep 'agent-web-prd' != ARM 'agent-api-prd'"),
    "new output": (("output queueName string = queueName\n", "output queueName string = queueName\noutput extra string = queueName\n"),
                   "output extra: only in Bicep"),
    "module dependency": (("  dependsOn: [\n    monitoring\n    data\n  ]\n}\n\nmodule worker",
                           "  dependsOn: [\n    monitoring\n  ]\n}\n\nmodule worker"),
                          "module api (Microsoft.Resources/deployments api): dependsOn"),
}


@pytest.mark.parametrize("mutation", sorted(BICEP_MUTATIONS))
def test_mismatch_in_the_bicep_is_found(bicep_dir, main_arm, main_bicep_text, mutation):
    (old, new), expected = BICEP_MUTATIONS[mutation]
    assert main_bicep_text.count(old) == 1, "the mutation no longer applies to main.bicep"
    diffs = _compare(bicep_dir, main_arm, text=main_bicep_text.replace(old, new))
    assert any(expected in d for d in diffs), diffs


def test_module_json_edited_without_main_json_is_found(bicep_dir, main_arm):
    # main.json inlines each module: editing only modules/api.json must be reported.
    stale = bicep_arm.mutated(main_arm, lambda t: _resource(_module(t, "api"), "Microsoft.Web/serverfarms")
                              ["properties"].update(reserved=False))
    diffs = _compare(bicep_dir, stale)
    assert "main.bicep: module api (Microsoft.Resources/deployments api): the nested template differs from modules/api.json" in diffs


def test_module_bicep_edit_is_found(bicep_dir, main_arm, tmp_path):
    # a copy of the tree with one module changed in Bicep only
    import shutil
    copy_dir = tmp_path / "bicep"
    shutil.copytree(bicep_dir, copy_dir)
    worker = copy_dir / "modules" / "worker.bicep"
    text = worker.read_text()
    assert text.count("activeRevisionsMode: 'Multiple'") == 1
    worker.write_text(text.replace("activeRevisionsMode: 'Multiple'", "activeRevisionsMode: 'Single'"))
    diffs = bicep_arm.compare_files(copy_dir / "main.bicep", copy_dir / "main.json", {"environment": "stg"})
    assert any("configuration.activeRevisionsMode: Bicep 'Single' != ARM 'Multiple'" in d for d in diffs), diffs


def test_invalid_bicep_is_rejected(bicep_dir, main_arm, main_bicep_text):
    with pytest.raises(bicep_arm.TemplateError, match="not valid Bicep"):
        _compare(bicep_dir, main_arm, text=main_bicep_text + "\nresource broken 'A/b@2020-01-01' = {\n")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_bicep_cli_build_matches_the_committed_json(bicep_dir, main_arm, tmp_path, environment):
    import shutil
    import subprocess
    bicep = shutil.which("bicep")
    if bicep is None:
        pytest.skip("no bicep CLI on PATH (it is in no registry this machine can reach); "
                    "the committed main.json is checked against main.bicep by the tests above")
    out = tmp_path / "main.json"
    subprocess.run([bicep, "build", str(bicep_dir / "main.bicep"), "--outfile", str(out)], check=True)
    built = json.loads(out.read_text())
    assert bicep_arm.compare_arm(built, main_arm, {"environment": environment}) == []


def test_arm_to_arm_comparison_used_with_the_bicep_cli(main_arm):
    # The comparison the CLI test above runs, exercised here without the CLI:
    # a template agrees with itself, and with a re-spelled but equal name.
    assert bicep_arm.compare_arm(main_arm, main_arm, {"environment": "prd"}) == []
    respelled = bicep_arm.mutated(main_arm, lambda t: t["variables"].update(
        apiWebAppName="[concat(parameters('namePrefix'), '-api-', parameters('environment'))]"))
    assert bicep_arm.compare_arm(respelled, main_arm, {"environment": "prd"}) == []
    changed = bicep_arm.mutated(main_arm, lambda t: _resource(_module(t, "worker"), "Microsoft.App/containerApps")
                                ["properties"]["template"]["scale"].update(maxReplicas=3))
    diffs = bicep_arm.compare_arm(changed, main_arm, {"environment": "prd"})
    assert any("scale.maxReplicas" in d for d in diffs), diffs
