"""playbooks/azure_deploy.yml, azure_scale.yml and azure_update.yml end to end,
against the local STAND-IN of Azure Resource Manager (tests/azure_standin/).

Real here: ansible-playbook, the role azure_app, azure.azcollection's modules
(azure_rm_resourcegroup, azure_rm_deployment, azure_rm_deployment_info,
azure_rm_webapp_info, azure_rm_webappslot, azure_rm_appserviceplan(_info),
azure_rm_autoscale, azure_rm_servicebus_info), opskit's Azure modules, the
Azure SDK and azure-identity with their HTTP, TLS and OAuth2 client-credential
flows, and infra/bicep/main.json as it is committed.
Stand-in: Azure itself (the ARM endpoints, the token endpoint, the health
endpoints of the apps), served on 127.0.0.1 over TLS with a CA made for the
run; it logs every write, which is how "--check writes nothing" and "a second
run changes nothing" are proven.

These tests need no container; they are in the integration stage because
each runs real playbooks (about 20 s each).
"""
import os
import re
import ssl
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, ROOT)

from tests.azure_standin.server import StandIn  # noqa: E402
from tests.azure_standin.tls import make_ca_and_cert  # noqa: E402

AZURE_PYTHON = os.environ.get("OPSKIT_AZURE_PYTHON", os.path.join(ROOT, ".cache", "venv-azure", "bin", "python"))
HOST = "stg-agent-framework-1"
RG = "agent-framework-stg-rg"
API_1 = ["-e", "azure_app_api_package_url=https://releases.example.invalid/agent-api-1.1.0.zip",
         "-e", "azure_app_api_release=1.1.0"]
WORKER_1 = ["-e", "azure_app_worker_image=registry.example.invalid/agent-worker:1.1.0"]
OUTPUTS = []


@pytest.fixture(scope="module")
def azure(tmp_path_factory):
    if not os.path.exists(AZURE_PYTHON):
        pytest.fail("the Azure interpreter %s is missing: run scripts/setup_host.sh (it creates .cache/venv-azure "
                    "from requirements-azure.txt)" % AZURE_PYTHON)
    tls = make_ca_and_cert(str(tmp_path_factory.mktemp("azure-standin-tls")))
    standin = StandIn(tls["cert.pem"], tls["key.pem"]).start()
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("AZURE_"):
            del env[key]
    env.update({
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1",
        "OPSKIT_AZURE_PYTHON": AZURE_PYTHON,
        # the stand-in's CA, for the SDK (requests) and the health probes (ssl)
        "REQUESTS_CA_BUNDLE": tls["ca.pem"], "SSL_CERT_FILE": tls["ca.pem"],
        # azure.azcollection reads its credentials and cloud from the environment
        "AZURE_SUBSCRIPTION_ID": standin.state.subscription,
        "AZURE_CLIENT_ID": standin.state.client_id,
        "AZURE_SECRET": standin.state.client_secret,
        "AZURE_TENANT": standin.state.tenant,
        "AZURE_CLOUD_ENVIRONMENT": standin.base_url,
        "AZURE_DISABLE_INSTANCE_DISCOVERY": "true",
        # adds the function azure.azcollection 3.12 calls for a metadata URL (see the shim's docstring)
        "PYTHONPATH": os.path.join(ROOT, "tests", "azure_standin", "pyshim"),
    })
    ctx = ssl.create_default_context(cafile=tls["ca.pem"])
    yield {"standin": standin, "env": env, "ctx": ctx}
    standin.stop()


def run(azure, playbook, *extra, check=False, env=None):
    cmd = [os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", "inventories/staging",
           "--vault-password-file", "inventories/staging/vault-password.example",
           "-e", "azure_app_health_url=%s/_standin/health/{host}" % azure["standin"].base_url,
           "-e", "azure_app_health_retries=2", "-e", "azure_app_health_delay=1",
           os.path.join("playbooks", playbook)] + list(extra)
    if check:
        cmd.append("--check")
    proc = subprocess.run(cmd, cwd=ROOT, env=env or azure["env"], capture_output=True, text=True, timeout=900, check=False)
    out = proc.stdout + proc.stderr
    OUTPUTS.append(out)
    m = re.search(r"^%s\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)" % re.escape(HOST), out, re.M)
    assert m, "no PLAY RECAP line for %s:\n%s" % (HOST, out[-3000:])
    return {"rc": proc.returncode, "out": out, "changed": int(m.group(2)), "failed": int(m.group(4))}


def writes(azure, clear=True):
    state = azure["standin"].state
    with state.lock:
        got = [(w["method"], w["path"]) for w in state.writes]
        if clear:
            del state.writes[:]
    return got


def resource(azure, suffix):
    state = azure["standin"].state
    with state.lock:
        found = [r for k, r in state.resources.items() if k.endswith(suffix.lower())]
    assert len(found) == 1, "%s: %d resources" % (suffix, len(found))
    return found[0]


def settings_of(site):
    return dict((s["name"], s["value"]) for s in site["properties"]["siteConfig"].get("appSettings") or [])


def traffic_of(azure, app="agent-worker-stg"):
    state = azure["standin"].state
    with state.lock:
        app_res = resource(azure, "/containerapps/" + app)
        return dict((r["name"], (r["properties"]["trafficWeight"], r["properties"]["active"],
                                 r["properties"]["template"]["containers"][0]["image"]))
                    for r in state.revisions_of(app_res["id"]))


def control(azure, **values):
    with azure["standin"].state.lock:
        azure["standin"].state.control.update(values)


def ok(result):
    assert result["rc"] == 0 and result["failed"] == 0, result["out"][-4000:]
    return result


# ------------------------------------------------------------------ deploy
def test_deploy_check_on_an_empty_subscription_writes_nothing(azure):
    result = ok(run(azure, "azure_deploy.yml", check=True))
    assert "Create   resource group %s" % RG in result["out"]
    assert writes(azure) == []


def test_deploy_creates_everything_then_changes_nothing(azure):
    first = ok(run(azure, "azure_deploy.yml"))
    assert first["changed"] >= 2
    done = writes(azure)
    assert ("PUT", "/subscriptions/%s/resourcegroups/%s" % (azure["standin"].state.subscription, RG)) in done
    assert any(p.endswith("/Microsoft.Resources/deployments/agent-framework") for m, p in done if m == "PUT")
    assert "Create   Microsoft.Web/sites agent-api-stg" in first["out"]
    assert resource(azure, "/microsoft.web/sites/agent-api-stg/slots/staging")["properties"]["defaultHostName"] == \
        "agent-api-stg-staging.azurewebsites.net"
    second = ok(run(azure, "azure_deploy.yml"))
    assert second["changed"] == 0, second["out"][-3000:]
    assert writes(azure) == []
    assert "What-if: no resource would change" in second["out"]


def test_deploy_check_reports_a_change_and_writes_nothing(azure):
    result = ok(run(azure, "azure_deploy.yml", "-e", '{"azure_app_template_parameters": {"workerMaxReplicas": 20}}',
                    check=True))
    assert "Modify   Microsoft.App/containerApps agent-worker-stg" in result["out"]
    assert result["changed"] >= 1
    assert writes(azure) == []


def test_wrong_secret_is_refused(azure):
    env = dict(azure["env"], AZURE_SECRET="not-the-secret")
    result = run(azure, "azure_deploy.yml", check=True, env=env)
    assert result["rc"] != 0
    assert "stand-in: unknown client or wrong secret" in result["out"]
    assert writes(azure) == []


# ------------------------------------------------------------------- scale
def test_scale_sets_autoscale_then_changes_nothing(azure):
    ok(run(azure, "azure_scale.yml", check=True))
    assert writes(azure) == []
    first = ok(run(azure, "azure_scale.yml"))
    assert "HOLD (queue agent-jobs: 0 active" in first["out"]
    setting = resource(azure, "/autoscalesettings/agent-api-autoscale-stg")["properties"]
    profile = setting["profiles"][0]
    assert profile["capacity"] == {"minimum": "2", "maximum": "10", "default": "2"}
    rules = sorted((r["metricTrigger"]["operator"], r["metricTrigger"]["threshold"], r["metricTrigger"]["timeWindow"],
                    r["scaleAction"]["direction"], r["scaleAction"]["value"]) for r in profile["rules"])
    assert rules == [("GreaterThan", 70.0, "PT5M", "Increase", "1"), ("LessThan", 30.0, "PT10M", "Decrease", "1")]
    writes(azure)
    second = ok(run(azure, "azure_scale.yml"))
    assert second["changed"] == 0, second["out"][-3000:]
    assert writes(azure) == []


def test_scale_manual_worker_count_of_the_plan(azure):
    ok(run(azure, "azure_scale.yml", "-e", "azure_app_api_workers=5"))
    assert resource(azure, "/serverfarms/agent-plan-stg")["sku"]["capacity"] == 5
    writes(azure)
    bad = run(azure, "azure_scale.yml", "-e", "azure_app_api_workers=12")
    assert bad["rc"] != 0 and "azure_app_api_workers (12) within min..max" in bad["out"]
    assert writes(azure) == []
    ok(run(azure, "azure_scale.yml", "-e", "azure_app_api_workers=2"))
    writes(azure)


def test_scale_out_the_worker_when_the_queue_holds_more_than_100_jobs(azure):
    control(azure, queue_active=150)
    result = ok(run(azure, "azure_scale.yml"))
    assert "OUT (queue agent-jobs: 150 active" in result["out"]
    assert "queue length 150 > 100" in result["out"]
    app = resource(azure, "/containerapps/agent-worker-stg")
    assert app["properties"]["template"]["scale"]["minReplicas"] == 2
    assert [m for m, p in writes(azure) if p.lower().endswith("/containerapps/agent-worker-stg")] == ["PATCH"]
    control(azure, queue_active=0)
    back = ok(run(azure, "azure_scale.yml"))
    assert "IN (queue agent-jobs: 0 active" in back["out"]
    assert resource(azure, "/containerapps/agent-worker-stg")["properties"]["template"]["scale"]["minReplicas"] == 1
    writes(azure)


# ------------------------------------------------------------------ update
def test_update_code_rolls_out_both_then_changes_nothing(azure):
    ok(run(azure, "azure_update.yml", *(API_1 + WORKER_1), check=True))
    assert writes(azure) == []
    first = ok(run(azure, "azure_update.yml", *(API_1 + WORKER_1)))
    done = writes(azure)
    assert [p.rsplit("/", 1)[1] for m, p in done if m == "POST"] == ["slotsswap"]
    prod = resource(azure, "/microsoft.web/sites/agent-api-stg")
    assert settings_of(prod)["AGENT_APP_VERSION"] == "1.1.0"
    traffic = traffic_of(azure)
    live = [name for name, (weight, _a, image) in traffic.items() if weight == 100]
    assert len(live) == 1 and traffic[live[0]][2] == "registry.example.invalid/agent-worker:1.1.0", traffic
    assert "traffic still on" in first["out"]
    second = ok(run(azure, "azure_update.yml", *(API_1 + WORKER_1)))
    assert second["changed"] == 0, second["out"][-3000:]
    assert writes(azure) == []
    assert "production runs 1.1.0; nothing to do" in second["out"]


def test_update_api_rolls_back_when_production_fails_after_the_swap(azure):
    control(azure, unhealthy=[{"image_contains": "agent-api-1.2.0", "where": "site"}])
    result = run(azure, "azure_update.yml", "-e", "azure_app_api_package_url=https://releases.example.invalid/agent-api-1.2.0.zip",
                 "-e", "azure_app_api_release=1.2.0")
    assert result["rc"] != 0
    assert "ROLLED BACK: API release 1.2.0 failed its health gate in production after the swap" in result["out"]
    assert "swapped back to 1.1.0, which is healthy again" in result["out"]
    assert [p.rsplit("/", 1)[1] for m, p in writes(azure) if m == "POST"] == ["slotsswap", "slotsswap"]
    assert settings_of(resource(azure, "/microsoft.web/sites/agent-api-stg"))["AGENT_APP_VERSION"] == "1.1.0"
    control(azure, unhealthy=[])


def test_update_api_stops_before_the_swap_when_the_slot_fails(azure):
    control(azure, unhealthy=[{"image_contains": "agent-api-1.3.0", "where": "slot"}])
    result = run(azure, "azure_update.yml", "-e", "azure_app_api_package_url=https://releases.example.invalid/agent-api-1.3.0.zip",
                 "-e", "azure_app_api_release=1.3.0")
    assert result["rc"] != 0
    assert "HEALTH GATE FAILED before the swap" in result["out"]
    assert "Production was not touched and still runs 1.1.0" in result["out"]
    assert [m for m, p in writes(azure) if p.endswith("/slotsswap")] == []
    assert settings_of(resource(azure, "/microsoft.web/sites/agent-api-stg"))["AGENT_APP_VERSION"] == "1.1.0"
    control(azure, unhealthy=[])


def test_update_worker_moves_traffic_back_when_the_app_fails_after_the_shift(azure):
    before = traffic_of(azure)
    old = [n for n, (w, _a, _i) in before.items() if w == 100][0]
    control(azure, unhealthy=[{"image_contains": "agent-worker:1.2.0", "where": "app"}])
    result = run(azure, "azure_update.yml", "-e", "azure_app_worker_image=registry.example.invalid/agent-worker:1.2.0")
    assert result["rc"] != 0
    assert "ROLLED BACK: worker image registry.example.invalid/agent-worker:1.2.0" in result["out"]
    assert "all traffic is back on %s, which is healthy again" % old in result["out"]
    after = traffic_of(azure)
    assert after[old][0] == 100
    assert len(after) == len(before) + 1
    assert [m for m, p in writes(azure) if p.lower().endswith("/containerapps/agent-worker-stg")] == ["PATCH"] * 3
    control(azure, unhealthy=[])


def test_update_worker_stops_before_the_shift_when_the_revision_fails(azure):
    before = traffic_of(azure)
    old = [n for n, (w, _a, _i) in before.items() if w == 100][0]
    control(azure, unhealthy=[{"image_contains": "agent-worker:1.3.0", "where": "revision"}])
    result = run(azure, "azure_update.yml", "-e", "azure_app_worker_image=registry.example.invalid/agent-worker:1.3.0")
    assert result["rc"] != 0
    assert "HEALTH GATE FAILED before the traffic moved" in result["out"]
    after = traffic_of(azure)
    new = [n for n in after if n not in before]
    assert len(new) == 1 and after[new[0]][:2] == (0, False), after
    assert after[old][0] == 100
    assert any(p.endswith("/%s/deactivate" % new[0]) for m, p in writes(azure))
    control(azure, unhealthy=[])


def test_no_secret_in_any_output(azure):
    # every playbook run of this module (deploy, scale, update, the refused secret) is in OUTPUTS
    assert len(OUTPUTS) >= 16, "only %d playbook runs recorded" % len(OUTPUTS)
    state = azure["standin"].state
    with state.lock:
        tokens = list(state.tokens)
    assert tokens, "the stand-in issued no token: the playbooks never authenticated"
    secrets = [state.client_secret,
               "not-the-secret",          # the wrong secret of test_wrong_secret_is_refused is a secret too
               "standin-not-a-secret"]    # the publishing profile azure_rm_webapp_info returns
    for i, out in enumerate(OUTPUTS):
        for secret in secrets + tokens:   # the bearer tokens the stand-in handed out
            assert secret not in out, "run %d printed a secret or token" % i
