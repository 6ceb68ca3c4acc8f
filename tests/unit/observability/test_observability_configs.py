"""The observability role's rendered configuration: the alert rules' promtool
unit tests, the Prometheus targets drawn from the inventory, and the
structure of what no tool here can check (Loki, Promtail, Grafana)."""
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import need

ROOT = Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "observability"
RULE_TESTS = ROOT / "tests" / "observability" / "rules"


def load(path):
    return yaml.safe_load(Path(path).read_text())


# --- alert rules ---------------------------------------------------------------

def test_rules_pass_promtool_check_rules(rendered):
    files = sorted((rendered / "prometheus" / "rules").glob("*.yml"))
    assert len(files) == 4
    run = subprocess.run([need("promtool"), "check", "rules"] + [str(f) for f in files], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


def test_promtool_unit_tests_pass_against_the_rendered_rules(rendered):
    need("promtool")
    workdir = rendered / "prometheus"
    tests = sorted(RULE_TESTS.glob("*.test.yml"))
    assert [t.name for t in tests] == ["000-el-agent.test.yml", "001-agent-framework.test.yml",
                                       "002-multi-agent.test.yml", "003-runtime.test.yml"]
    for t in tests:
        shutil.copy(t, workdir / t.name)
    run = subprocess.run([need("promtool"), "test", "rules"] + [t.name for t in tests],
                         cwd=workdir, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


def _alerts(rendered):
    alerts = {}
    for f in sorted((rendered / "prometheus" / "rules").glob("*.yml")):
        for group in load(f)["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    alerts[rule["alert"]] = (f.name, rule)
    return alerts


def test_one_rules_file_per_runbook_with_the_runbooks_alert_names(rendered):
    alerts = _alerts(rendered)
    by_file = {}
    for name, (fname, _rule) in alerts.items():
        by_file.setdefault(fname, set()).add(name)
    assert by_file == {
        "000-el-agent.yml": {"QCheckFailureRateHigh", "DuplicateQuestionRateHigh", "TurnLatencyHighP90",
                             "TurnLatencyHighP99", "ElAgentMetricsDown"},
        "001-agent-framework.yml": {"AgentFrameworkErrorRateHigh", "AgentQueueBacklogHigh", "TokenBudgetUsageHigh"},
        "002-multi-agent.yml": {"MultiAgentResponseTimeHigh"},
        "003-runtime.yml": {"RuntimeServiceDown", "HighErrorRate", "HighLatency", "AutoFallbackTriggered"},
    }
    assert alerts["ElAgentMetricsDown"][1]["expr"].strip() == 'up{job="el-agent"} == 0'
    assert alerts["RuntimeServiceDown"][1]["expr"].strip() == 'up{job="runtime-service"} == 0'


def test_every_alert_has_a_promtool_test_that_fires_and_one_that_stays_silent():
    fired, silent = set(), set()
    for t in RULE_TESTS.glob("*.test.yml"):
        for case in load(t)["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else silent).add(check["alertname"])
    alerts = {"QCheckFailureRateHigh", "DuplicateQuestionRateHigh", "TurnLatencyHighP90", "TurnLatencyHighP99",
              "ElAgentMetricsDown", "AgentFrameworkErrorRateHigh", "AgentQueueBacklogHigh", "TokenBudgetUsageHigh",
              "MultiAgentResponseTimeHigh", "RuntimeServiceDown", "HighErrorRate", "HighLatency",
              "AutoFallbackTriggered"}
    assert fired == alerts
    assert silent == alerts


def test_high_latency_uses_buckets_and_milliseconds(rendered):
    expr = _alerts(rendered)["HighLatency"][1]["expr"]
    assert "rate(chat_execution_latency_ms_bucket{" in expr
    assert expr.strip().endswith("> 5000")


# --- Prometheus and Alertmanager ---------------------------------------------------

def test_prometheus_config_passes_promtool(rendered):
    run = subprocess.run([need("promtool"), "check", "config", str(rendered / "prometheus" / "prometheus.yml")],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    # rule_files is relative to the config: the rules next to it are checked too
    assert "SUCCESS: 4 rule files found" in run.stdout


def test_alertmanager_config_passes_amtool(rendered):
    run = subprocess.run([need("amtool"), "check-config", str(rendered / "alertmanager" / "alertmanager.yml")],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


def test_compose_file_passes_docker_compose_config(rendered):
    compose_v2 = shutil.which("docker") is not None and subprocess.run(
        ["docker", "compose", "version"], capture_output=True, check=False).returncode == 0
    if not compose_v2:
        pytest.skip("docker compose (v2) is not installed")
    run = subprocess.run(["docker", "compose", "-p", "render-test", "-f", str(rendered / "compose.yml"),
                          "config", "--quiet"], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


def test_scrape_targets_come_from_the_inventory(rendered):
    config = load(rendered / "prometheus" / "prometheus.yml")
    jobs = {j["job_name"]: [t for sc in j["static_configs"] for t in sc["targets"]] for j in config["scrape_configs"]}
    assert jobs == {
        "prometheus": ["localhost:9090"],
        "alertmanager": ["alertmanager:9093"],
        "el-agent": ["opskit-el-bot:8000"],
        "multi-agent": ["opskit-multi-agent:8000"],
        "runtime-service": ["opskit-runtime:8000"],
        "dynamic-tools": ["opskit-dynamic-tools:8000"],
        "agent-framework-api": ["opskit-agent-framework:8000"],
        "agent-framework-worker": ["opskit-agent-framework:8001"],
    }
    assert config["rule_files"] == ["rules/*.yml"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]


def test_alertmanager_receivers_as_data(rendered):
    config = load(rendered / "alertmanager" / "alertmanager.yml")
    assert config["route"]["receiver"] == "default"
    assert [r["name"] for r in config["receivers"]] == ["default"]


def test_alertmanager_accepts_webhook_email_and_discord_receivers(tmp_path):
    """The receiver shapes the README documents pass amtool."""
    need("amtool")
    config = {
        "global": {"resolve_timeout": "5m", "smtp_smarthost": "smtp.example.com:587",
                   "smtp_from": "alerts@example.com", "smtp_auth_username": "alerts",
                   "smtp_auth_password": "secret-from-vault"},
        "route": {"receiver": "ops", "routes": [{"matchers": ['severity="critical"'], "receiver": "discord"}]},
        "receivers": [
            {"name": "ops", "webhook_configs": [{"url": "http://127.0.0.1:9999/hook", "send_resolved": True}],
             "email_configs": [{"to": "ops-team@example.com"}]},
            {"name": "discord", "discord_configs": [{"webhook_url": "https://discord.com/api/webhooks/1/x"}]},
        ],
    }
    path = tmp_path / "am.yml"
    path.write_text(yaml.safe_dump(config))
    run = subprocess.run([need("amtool"), "check-config", str(path)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


# --- compose ---------------------------------------------------------------------------

def test_compose_file_has_every_component_with_pinned_images(rendered):
    compose = load(rendered / "compose.yml")
    defaults = load(ROLE / "defaults" / "main.yml")
    images = {name: svc["image"] for name, svc in compose["services"].items()}
    assert images == {
        "prometheus": defaults["observability_prometheus_image"],
        "alertmanager": defaults["observability_alertmanager_image"],
        "loki": defaults["observability_loki_image"],
        "promtail": defaults["observability_promtail_image"],
        "grafana": defaults["observability_grafana_image"],
    }
    for image in images.values():
        assert ":" in image and not image.endswith(":latest"), image
    promtail = compose["services"]["promtail"]
    assert "/var/log:/var/log:ro" in promtail["volumes"]
    assert any(v.endswith(":/var/lib/grafana/dashboards:ro") for v in compose["services"]["grafana"]["volumes"])


# --- Loki, Promtail, Grafana: structure only (no binary can run here) ---------------------

LOKI_TOP = {"target", "auth_enabled", "server", "common", "schema_config", "storage_config", "limits_config",
            "compactor", "analytics", "ingester", "querier", "query_range", "ruler", "frontend",
            "query_scheduler", "distributor", "memberlist", "table_manager", "tracing"}


def test_loki_config_structure(rendered):
    loki = load(rendered / "loki" / "loki.yml")
    assert set(loki) <= LOKI_TOP, set(loki) - LOKI_TOP
    assert loki["auth_enabled"] is False
    assert loki["server"]["http_listen_port"] == 3100
    schema = loki["schema_config"]["configs"]
    assert schema[0]["store"] == "tsdb" and schema[0]["schema"] == "v13" and schema[0]["object_store"] == "filesystem"
    assert isinstance(schema[0]["from"], str) and len(schema[0]["from"]) == 10
    assert loki["common"]["storage"]["filesystem"]["chunks_directory"].startswith("/loki/")
    # Loki 3 refuses retention without a delete request store
    assert loki["compactor"]["retention_enabled"] is True
    assert loki["compactor"]["delete_request_store"] == "filesystem"
    assert loki["limits_config"]["retention_period"] == "168h"


PROMTAIL_TOP = {"server", "positions", "clients", "scrape_configs", "target_config", "limits_config", "tracing"}
PROMTAIL_STAGES = {"json", "labels", "regex", "timestamp", "output", "match", "drop", "template", "static_labels",
                   "docker", "cri", "multiline", "pack", "labeldrop", "labelallow", "replace", "tenant", "metrics"}


def test_promtail_ships_every_service_log_and_the_wal_trace_logs(rendered):
    promtail = load(rendered / "promtail" / "promtail.yml")
    assert set(promtail) <= PROMTAIL_TOP
    assert promtail["clients"] == [{"url": "http://loki:3100/loki/api/v1/push"}]
    paths = {}
    for sc in promtail["scrape_configs"]:
        assert set(sc) <= {"job_name", "static_configs", "pipeline_stages"}
        for stage in sc.get("pipeline_stages", []):
            assert set(stage) <= PROMTAIL_STAGES
        for st in sc["static_configs"]:
            paths[st["labels"]["__path__"]] = (st["labels"]["job"], st["labels"]["log_type"])
    assert paths == {
        "/var/log/el-bot/*.log": ("el-agent", "app"),
        "/var/log/el-bot/wal/*.log": ("el-agent", "wal"),
        "/var/log/multi-agent/*.log": ("multi-agent", "app"),
        "/var/log/semibot-runtime/*.log": ("runtime-service", "app"),
        "/var/log/dynamic-tools/*.log": ("dynamic-tools", "app"),
        "/var/log/agent-framework-api/*.log": ("agent-framework-api", "app"),
        "/var/log/agent-framework-worker/*.log": ("agent-framework-worker", "app"),
    }


def test_grafana_provisioning_structure(rendered):
    ds = load(rendered / "grafana/provisioning/datasources/opskit.yml")
    assert ds["apiVersion"] == 1
    assert {(d["name"], d["type"], d["uid"], d["url"]) for d in ds["datasources"]} == {
        ("Prometheus", "prometheus", "opskit-prometheus", "http://prometheus:9090"),
        ("Loki", "loki", "opskit-loki", "http://loki:3100"),
    }
    assert [d["name"] for d in ds["datasources"] if d.get("isDefault")] == ["Prometheus"]
    prov = load(rendered / "grafana/provisioning/dashboards/opskit.yml")
    assert prov["apiVersion"] == 1
    (provider,) = prov["providers"]
    assert provider["type"] == "file" and provider["options"]["path"] == "/var/lib/grafana/dashboards"
    env = (rendered / "grafana/grafana.env").read_text()
    assert "GF_SECURITY_ADMIN_PASSWORD=render-test" in env


# --- role interface ------------------------------------------------------------------------

def test_argument_specs_match_defaults_exactly():
    defaults = load(ROLE / "defaults" / "main.yml")
    options = load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(defaults) == sorted(options)
    for name, value in defaults.items():
        assert options[name]["default"] == value, name
        assert options[name].get("description"), name


def test_readme_documents_every_variable():
    readme = (ROLE / "README.md").read_text()
    missing = [name for name in load(ROLE / "defaults" / "main.yml") if "`%s`" % name not in readme
               and "%s:" % name not in readme]
    assert missing == []


def test_templates_carry_the_ansible_managed_header():
    for tpl in sorted((ROLE / "templates").rglob("*.j2")):
        assert "ansible_managed" in tpl.read_text(), tpl.name
