"""The Grafana dashboards shipped by roles/observability: each panel's PromQL
parses (promtool, through a recording-rules file), and every metric a panel
names is one the reference service exposes (examples/agent_app) or a
recording rule the role's rules define."""
import ast
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from .conftest import need

ROOT = Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "observability"
DASHBOARDS = sorted((ROLE / "files" / "dashboards").glob("*.json"))
APP = ROOT / "examples" / "agent_app"
DATASOURCES = {"prometheus": "opskit-prometheus", "loki": "opskit-loki"}

# What the reference service exposes (examples/agent_app/README.md, "Metrics"),
# as series names. Cross-checked below against its code and a live scrape.
EXPOSED = {
    "turn_latency_seconds_bucket", "turn_latency_seconds_sum", "turn_latency_seconds_count",
    "slot_coverage", "slot_duplicate_rate", "slot_duplicates_total", "qgen_total", "qcheck_failed_total",
    "chat_execution_total", "chat_execution_success_total", "chat_execution_error_total",
    "chat_execution_latency_ms_bucket", "chat_execution_latency_ms_sum", "chat_execution_latency_ms_count",
    "chat_runtime_fallback_enabled", "queue_messages", "queue_dead_letter_messages",
    "agent_token_budget_used_ratio", "agent_jobs_processed_total", "dynamic_tool_runs_total",
    "dynamic_tools_count", "spontaneous_speech_total", "agent_inflight_turns", "agent_store_up", "agent_info",
}
# Series Prometheus makes itself for every target.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}

GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h", "${__range}": "1h"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
            "offset", "inf", "nan", "le"}


def dashboards():
    return {p.name: json.loads(p.read_text()) for p in DASHBOARDS}


def panels(dashboard):
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def prom_exprs():
    for name, d in dashboards().items():
        for p in panels(d):
            for t in p.get("targets", []):
                if t.get("datasource", p.get("datasource", {})).get("type") == "prometheus":
                    yield name, p["title"], t["expr"]


def substitute(expr):
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    return expr


def metric_names(expr):
    """Metric names a PromQL expression selects (small tokenizer: drops
    strings, label matchers, grouping clauses and ranges, then keeps
    identifiers that are not functions or keywords)."""
    e = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        rest = e[m.end():].lstrip()
        word = m.group(0)
        if rest.startswith("(") or word.lower() in KEYWORDS:
            continue
        if m.start() > 0 and (e[m.start() - 1].isdigit() or e[m.start() - 1] == "."):
            continue  # the exponent or unit of a number
        names.add(word)
    return names


def recording_rules():
    names = set()
    for tpl in (ROLE / "templates" / "rules").glob("*.j2"):
        names |= set(re.findall(r"^\s*- record:\s*(\S+)", tpl.read_text(), re.M))
    return names


def test_tokenizer():
    assert metric_names('histogram_quantile(0.9, sum by (le) (rate(turn_latency_seconds_bucket{job="x"}[5m])))') \
        == {"turn_latency_seconds_bucket"}
    assert metric_names('job_mode:chat_execution_success:ratio{job="a"} * 100 > 1e3') \
        == {"job_mode:chat_execution_success:ratio"}
    assert metric_names('sum(a_total) / on (job) group_left (mode) b') == {"a_total", "b"}


def test_the_two_runbook_dashboards_exist_with_their_panels():
    d = dashboards()
    assert sorted(x["title"] for x in d.values()) == ["EL Agent Overview", "Runtime"]
    titles = {x["title"]: [p["title"] for p in panels(x)] for x in d.values()}
    el = titles["EL Agent Overview"]
    for wanted in ("Turn latency (p50/p90/p99)", "Slot coverage by stage", "QCheck duplicate rate",
                   "QCheck duplicates total", "WAL logs (Loki)"):
        assert wanted in el
    rt = titles["Runtime"]
    for wanted in ("Chat execution success rate by mode", "Chat execution latency (P50/P95/P99)",
                   "Automatic fallback", "Error rate trend"):
        assert wanted in rt


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_structure(path):
    d = json.loads(path.read_text())
    assert d["uid"].startswith("opskit-") and len(d["uid"]) <= 40
    assert isinstance(d["schemaVersion"], int)
    ids = [p["id"] for p in panels(d)]
    assert len(ids) == len(set(ids))
    for p in panels(d):
        ds = p["datasource"]
        assert DATASOURCES[ds["type"]] == ds["uid"], p["title"]
        assert set(p["gridPos"]) == {"x", "y", "w", "h"} and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
        refs = [t["refId"] for t in p["targets"]]
        assert refs and len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            assert t["expr"].strip(), p["title"]
            assert t["datasource"] == ds


def test_datasource_uids_match_the_provisioning():
    vars_ = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
    assert vars_["_observability_prometheus_datasource_uid"] == DATASOURCES["prometheus"]
    assert vars_["_observability_loki_datasource_uid"] == DATASOURCES["loki"]
    shipped = vars_["_observability_dashboards"]
    assert sorted(shipped) == [p.name for p in DASHBOARDS]


def test_every_panel_query_parses(tmp_path):
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": "dashboard:expr_%d" % i, "expr": substitute(expr)}
        for i, (_d, _t, expr) in enumerate(prom_exprs())]}]}
    assert len(rules["groups"][0]["rules"]) >= 15
    path = tmp_path / "dashboard-exprs.yml"
    path.write_text(yaml.safe_dump(rules))
    run = subprocess.run([need("promtool"), "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_metric_in_the_panels_is_exposed_or_recorded():
    recorded = recording_rules()
    unknown = []
    for dashboard, title, expr in prom_exprs():
        for name in metric_names(substitute(expr)):
            if name not in EXPOSED | SYNTHETIC | recorded:
                unknown.append((dashboard, title, name))
    assert unknown == []


def test_recording_rules_the_panels_use_read_exposed_metrics(rendered):
    for f in (rendered / "prometheus" / "rules").glob("*.yml"):
        for group in yaml.safe_load(f.read_text())["groups"]:
            for rule in group["rules"]:
                assert metric_names(rule["expr"]) <= EXPOSED | SYNTHETIC | recording_rules(), rule


def test_wal_panel_selects_the_labels_promtail_sets(rendered):
    promtail = yaml.safe_load((rendered / "promtail" / "promtail.yml").read_text())
    streams = [sc["static_configs"][0]["labels"] for sc in promtail["scrape_configs"]]
    (wal,) = [p for d in dashboards().values() for p in panels(d) if p["title"] == "WAL logs (Loki)"]
    matchers = dict(re.findall(r'(\w+)="([^"]*)"', wal["targets"][0]["expr"]))
    assert any(all(s.get(k) == v for k, v in matchers.items()) for s in streams), (matchers, streams)
    assert matchers == {"job": "el-agent", "log_type": "wal"}


# --- EXPOSED against the reference service itself ------------------------------------

def _names_in_code():
    """Metric names constructed in examples/agent_app/agent_app/metrics.py."""
    tree = ast.parse((APP / "agent_app" / "metrics.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args \
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            kind, name = node.func.id, node.args[0].value
            if kind == "Counter":
                found.add(name + "_total")
            elif kind == "Histogram":
                found |= {name + "_bucket", name + "_sum", name + "_count"}
            elif kind in ("Gauge", "GaugeMetricFamily"):
                found.add(name)
    return found


def test_exposed_list_matches_the_service_code():
    if not (APP / "agent_app" / "metrics.py").exists():
        pytest.skip("examples/agent_app is not in this checkout")
    assert _names_in_code() == EXPOSED


SCRAPE = textwrap.dedent("""
    import os, sys, tempfile
    sys.path.insert(0, sys.argv[1])
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    from starlette.testclient import TestClient
    from agent_app.app import create_app
    from agent_app.config import load_config
    root = tempfile.mkdtemp()
    env = {"ENVIRONMENT": "test", "AGENT_BIND": "127.0.0.1", "AGENT_STATE_DIR": root + "/state",
           "EL_SQLITE_PATH": root + "/data/el.db", "AGENT_LOG_FILE": root + "/logs/agent.log",
           "EL_TRACE_DIR": root + "/logs/wal", "AGENT_DYNAMIC_TOOLS_DIR": root + "/tools"}
    with TestClient(create_app(load_config(env), configure_logging=False)) as client:
        client.post("/api/v1/turns", json={"thread_id": "t1", "text": "The payment service had an outage yesterday"})
        sys.stdout.write(client.get("/metrics").text)
""")


def test_exposed_list_matches_a_live_scrape_of_the_service():
    """Runs the service in a subprocess (its metrics must not leak into this
    process's prometheus_client state) and reads /metrics."""
    if not (APP / "agent_app" / "app.py").exists():
        pytest.skip("examples/agent_app is not in this checkout")
    run = subprocess.run([sys.executable, "-c", SCRAPE, str(APP)], capture_output=True, text=True,
                         env=dict(os.environ), timeout=120, check=False)
    if run.returncode != 0 and "ModuleNotFoundError" in run.stderr:
        pytest.skip("the service's dependencies are not importable here: " + run.stderr.strip().splitlines()[-1])
    assert run.returncode == 0, run.stderr[-3000:]
    scraped = {line.split("{")[0].split(" ")[0] for line in run.stdout.splitlines()
               if line and not line.startswith("#")}
    assert scraped == EXPOSED
