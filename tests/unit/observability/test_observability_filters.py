"""roles/observability/filter_plugins/observability.py: inventory (each host's service model) -> scrape and log targets."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location(
    "observability_filters", ROOT / "roles/observability/filter_plugins/observability.py")
flt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(flt)

GROUPS = {
    "el_bot": ["opskit-el-bot"],
    "runtime": ["rt-1", "rt-2"],
    "agent_framework": ["af"],
    "ungrouped": [],
}
HOSTVARS = {
    "opskit-el-bot": {"opskit_services": [{"name": "el-bot", "runbook": "000", "port": 8000, "trace": True}]},
    "rt-1": {"opskit_services": [{"name": "semibot-runtime", "runbook": "003", "port": "8000"}]},
    "rt-2": {"opskit_services": [{"name": "semibot-runtime", "runbook": "003", "port": 8000}]},
    "af": {"opskit_services": [
        {"name": "agent-framework-api", "runbook": "001", "port": 8000, "role": "api"},
        {"name": "agent-framework-worker", "runbook": "001", "port": 8001, "role": "worker"}]},
}
JOBS = {"el-bot": "el-agent", "semibot-runtime": "runtime-service"}


def services(groups=("el_bot", "runtime", "agent_framework", "multi_agent")):
    return flt.observability_services(GROUPS, HOSTVARS, list(groups), JOBS)


def test_services_flattened_in_inventory_order_with_job_names():
    got = [(s["host"], s["name"], s["port"], s["job"]) for s in services()]
    assert got == [
        ("opskit-el-bot", "el-bot", 8000, "el-agent"),
        ("rt-1", "semibot-runtime", 8000, "runtime-service"),
        ("rt-2", "semibot-runtime", 8000, "runtime-service"),
        ("af", "agent-framework-api", 8000, "agent-framework-api"),
        ("af", "agent-framework-worker", 8001, "agent-framework-worker"),
    ]


def test_host_in_two_groups_counted_once():
    groups = dict(GROUPS, runtime=["rt-1", "opskit-el-bot"])
    got = flt.observability_services(groups, HOSTVARS, ["el_bot", "runtime"], JOBS)
    assert [(s["host"], s["name"], s["group"]) for s in got] == [
        ("opskit-el-bot", "el-bot", "el_bot"), ("rt-1", "semibot-runtime", "runtime")]


def test_scrape_jobs_grouped_and_sorted():
    jobs = flt.observability_scrape_jobs(services())
    assert [j["job"] for j in jobs] == ["agent-framework-api", "agent-framework-worker", "el-agent", "runtime-service"]
    runtime = jobs[-1]
    assert [t["address"] for t in runtime["targets"]] == ["rt-1:8000", "rt-2:8000"]
    assert runtime["targets"][0]["labels"] == {"service": "semibot-runtime", "host": "rt-1", "runbook": "003"}


def test_log_targets_ship_app_logs_and_trace_logs_of_trace_services():
    targets = flt.observability_log_targets(services())
    assert [(t["path"], t["job"], t["log_type"]) for t in targets] == [
        ("/var/log/agent-framework-api/*.log", "agent-framework-api", "app"),
        ("/var/log/agent-framework-worker/*.log", "agent-framework-worker", "app"),
        ("/var/log/el-bot/*.log", "el-agent", "app"),
        ("/var/log/el-bot/wal/*.log", "el-agent", "wal"),
        ("/var/log/semibot-runtime/*.log", "runtime-service", "app"),
    ]


def test_missing_groups_and_hosts_without_services_are_skipped():
    hostvars = dict(HOSTVARS, bare={})
    got = flt.observability_services({"el_bot": ["bare"]}, hostvars, ["el_bot", "nope"], {})
    assert got == []


@pytest.mark.parametrize("svc, message", [
    ({"name": "x"}, "opskit_services[x].port: required"),
    ({"port": 1}, "opskit_services[0].name: expected a lower-case name"),
    ({"name": "x", "port": "http"}, "expected an integer 1-65535, got 'http'"),
])
def test_bad_service_entries_fail_clearly(svc, message):
    with pytest.raises(Exception) as exc:
        flt.observability_services({"g": ["h"]}, {"h": {"opskit_services": [svc]}}, ["g"], {})
    assert message in str(exc.value)


def test_services_must_be_a_list():
    with pytest.raises(Exception) as exc:
        flt.observability_services({"g": ["h"]}, {"h": {"opskit_services": {"name": "x"}}}, ["g"], {})
    assert "host h: opskit_services: expected a list of services" in str(exc.value)


def test_the_model_fact_of_a_host_is_used_as_it_is():
    """A host the preflight play reached has opskit_model: its paths win (here a moved log root)."""
    from ansible_collections.opskit.ops.plugins.plugin_utils.service_model import service_model
    model = service_model([{"name": "el-bot", "port": 8000, "trace": True}], roots={"log_root": "/srv/log"})
    got = flt.observability_services({"el_bot": ["h"]}, {"h": {"opskit_model": model, "opskit_services": []}},
                                     ["el_bot"], {})
    assert [(s["name"], s["log_dir"], s["trace_dir"]) for s in got] == [("el-bot", "/srv/log/el-bot", "/srv/log/el-bot/wal")]
    assert [t["path"] for t in flt.observability_log_targets(got)] == ["/srv/log/el-bot/*.log", "/srv/log/el-bot/wal/*.log"]


def test_defaults_come_from_the_model():
    got = services(("agent_framework",))
    assert [(s["name"], s["role"], s["trace"], s["trace_dir"]) for s in got] == [
        ("agent-framework-api", "api", False, None), ("agent-framework-worker", "worker", False, None)]
