"""Unit tests of the health-check filters (plugins/filter/health_summary.py)."""
import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.opskit.ops.plugins.filter.health_summary import (
    PROBE_PREFIX,
    health_metric_rules,
    health_plan,
    health_rows,
    health_summary,
    show_value,
    text_table,
)
from ansible_collections.opskit.ops.plugins.module_utils._check_rows import make_row
from ansible_collections.opskit.ops.plugins.module_utils._metrics_eval import (
    PRESETS,
    evaluate_rule,
    normalize_rule,
    parse_exposition,
    result_to_row,
)

AGENT_FRAMEWORK = [
    {"name": "agent-framework-api", "runbook": "001", "role": "api", "user": "agent-framework", "port": 8000,
     "store": "sqlite"},
    {"name": "agent-framework-worker", "runbook": "001", "role": "worker", "user": "agent-framework",
     "shares_store_of": "agent-framework-api", "port": 8001, "store": "sqlite"},
]


# ---------------------------------------------------------------------------
# health_plan
# ---------------------------------------------------------------------------

def test_plan_follows_the_path_conventions_and_shares_one_store():
    plan = health_plan(AGENT_FRAMEWORK)
    assert [e["name"] for e in plan["endpoints"]] == [
        "agent-framework-api: GET /health", "agent-framework-api: GET /metrics",
        "agent-framework-worker: GET /health", "agent-framework-worker: GET /metrics"]
    assert plan["endpoints"][0] == {"name": "agent-framework-api: GET /health",
                                    "url": "http://127.0.0.1:8000/health", "json": {"status": "ok"}}
    assert plan["endpoints"][3]["url"] == "http://127.0.0.1:8001/metrics"
    assert plan["endpoints"][3]["probes"] == 1
    # The worker opens the API's store: one SQLite check for both.
    assert plan["sqlite"] == [{"name": "agent-framework-api",
                               "path": "/var/lib/agent-framework-api/data/el_sessions.db",
                               "services": ["agent-framework-api", "agent-framework-worker"]}]
    assert plan["processes"] == [{"name": "agent-framework-api", "unit": "agent-framework-api"},
                                 {"name": "agent-framework-worker", "unit": "agent-framework-worker"}]
    assert plan["paths"] == ["/var/lib/agent-framework-api", "/var/log/agent-framework-api",
                             "/var/lib/agent-framework-worker", "/var/log/agent-framework-worker"]
    assert plan["metrics"][1] == {"name": "agent-framework-worker", "url": "http://127.0.0.1:8001/metrics",
                                  "runbook": "001"}
    assert [(s["name"], s["role"], s["base_url"]) for s in plan["services"]] == [
        ("agent-framework-api", "api", "http://127.0.0.1:8000"),
        ("agent-framework-worker", "worker", "http://127.0.0.1:8001")]


def test_plan_of_a_postgres_service_has_no_sqlite_store_and_defaults_role_api():
    plan = health_plan([{"name": "multi-agent", "port": "8000", "store": "postgres"}], {"http_address": "10.0.0.5"})
    assert plan["sqlite"] == []
    assert plan["services"] == [{"name": "multi-agent", "port": 8000, "role": "api", "runbook": "",
                                 "base_url": "http://10.0.0.5:8000"}]
    assert plan["endpoints"][0]["url"] == "http://10.0.0.5:8000/health"


def test_plan_defaults_the_store_to_sqlite():
    assert health_plan([{"name": "el-bot", "port": 8000}])["sqlite"][0]["path"] == "/var/lib/el-bot/data/el_sessions.db"


@pytest.mark.parametrize("services, message", [
    ([{"name": "el-bot", "port": "eighty"}], r"opskit_services\[el-bot\].port: expected a TCP port"),
    ([{"port": 8000}], r"opskit_services\[0\]: every service needs a name"),
    ("el-bot", "must be a list"),
])
def test_plan_rejects_bad_services_naming_them(services, message):
    with pytest.raises(AnsibleFilterError, match=message):
        health_plan(services)


def test_plan_of_no_services_is_empty():
    assert health_plan(None)["endpoints"] == []


# ---------------------------------------------------------------------------
# health_metric_rules
# ---------------------------------------------------------------------------

RULESETS = {
    "000": {"preset": "el_agent"},
    "001": {"rules": [{"name": "queue length", "type": "gauge", "metric": "queue_messages", "op": "<=",
                       "threshold": 100}]},
    "003": {"preset": "runtime",
            "rules": [{"name": "runtime error rate", "type": "ratio", "metric": "chat_execution_error_total",
                       "denominator": "chat_execution_total", "by": ["mode"], "op": "<=", "threshold": 0.1}]},
    "004": {},
}


def test_own_rules_first_then_the_others_as_optional_with_probes():
    target = health_metric_rules([{"name": "el-bot", "url": "http://x/metrics", "runbook": "000"}], RULESETS)[0]
    names = [r["name"] for r in target["rules"]]
    el_agent = [r["name"] for r in PRESETS["el_agent"]]
    runtime = [r["name"] for r in PRESETS["runtime"]]
    assert names[:3] == el_agent
    assert names[3:4] == ["queue length"]
    assert names[4:4 + len(runtime)] == runtime
    assert set(target["optional"]) == {"queue length"} | set(runtime)
    assert target["optional"]["runtime error rate"] == ["chat_execution_error_total", "chat_execution_total"]
    assert target["optional"]["runtime latency p95 ms"] == ["chat_execution_latency_ms_bucket"]
    assert target["probes"][PROBE_PREFIX + "queue_messages"] == "queue_messages"
    probes = [r for r in target["rules"] if r["name"].startswith(PROBE_PREFIX)]
    assert len(probes) == len(target["probes"])
    assert all(r["type"] == "present" and r["severity"] == "warning" for r in probes)
    # No probe for the service's own metrics: those must be there.
    assert PROBE_PREFIX + "qgen_total" not in target["probes"]


def test_a_rule_replaces_the_preset_rule_of_the_same_name():
    target = health_metric_rules([{"name": "semibot-runtime", "url": "u", "runbook": "003"}], RULESETS)[0]
    error_rate = [r for r in target["rules"] if r["name"] == "runtime error rate"]
    assert len(error_rate) == 1
    assert error_rate[0]["threshold"] == 0.1
    assert target["rules"][0]["name"] == "runtime error rate"
    assert "runtime error rate" not in target["optional"]


def test_the_preset_rules_are_copies():
    target = health_metric_rules([{"name": "a", "url": "u", "runbook": "000"}], {"000": {"preset": "el_agent"}})[0]
    target["rules"][0]["threshold"] = 99
    assert PRESETS["el_agent"][0]["threshold"] == 5.0


@pytest.mark.parametrize("rulesets, message", [
    ({"000": {"preset": "nope"}}, "metric rule set 000: unknown preset 'nope'"),
    ({"001": {"rules": [{"type": "gauge"}]}}, "metric rule set 001: every rule needs a name"),
    ({"001": "x"}, "metric rule set 001: expected a dict"),
    (["000"], "must be a dict of runbook"),
    ({"001": {"rules": [{"name": PROBE_PREFIX + "qgen_total", "type": "present", "metric": "qgen_total"}]},
      "000": {"preset": "el_agent"}}, "may not be named"),
])
def test_bad_rule_sets_are_named(rulesets, message):
    with pytest.raises(AnsibleFilterError, match=message):
        health_metric_rules([{"name": "a", "url": "u", "runbook": "000"}], rulesets)


# ---------------------------------------------------------------------------
# health_rows
# ---------------------------------------------------------------------------

def _module_result(*rows, **extra):
    result = {"changed": False, "checks": [make_row(*row) for row in rows]}
    result.update(extra)
    return result


def test_rows_of_a_single_result_and_of_a_loop():
    http = _module_result(("el-bot: GET /health", "http://127.0.0.1:8000/health", "HTTP 200", "HTTP [200]", "ok",
                           "fine"))
    sqlite = {"results": [
        _module_result(("sqlite quick_check", "/db", "ok", "ok", "ok", "ok"), item={"name": "el-bot", "path": "/db"},
                       ansible_loop_var="item"),
    ]}
    rows = health_rows([{"name": "http_check", "result": http}, {"name": "sqlite_check", "result": sqlite}])
    assert [r["check"] for r in rows] == ["el-bot: GET /health", "el-bot: sqlite quick_check"]
    assert rows[1] == {"check": "el-bot: sqlite quick_check", "target": "/db", "value": "ok", "threshold": "ok",
                       "status": "ok", "message": "ok"}


def test_a_module_that_could_not_run_is_a_failed_row_and_a_skipped_one_none():
    crashed = {"failed": False, "failed_when_result": False, "msg": "Failed to import the required Python library "
               "(prometheus_client)"}
    loop = {"results": [{"skipped": True, "item": {"name": "x"}},
                        {"msg": "MODULE FAILURE", "module_stderr": "Traceback", "item": {"name": "semibot-runtime"}}]}
    rows = health_rows([{"name": "capacity_check", "result": crashed}, {"name": "metrics_check", "result": loop},
                        {"name": "sqlite_check", "result": {"skipped": True, "results": []}}])
    assert rows == [
        {"check": "capacity_check", "target": None, "value": None, "threshold": "module runs", "status": "failed",
         "message": "capacity_check could not run: Failed to import the required Python library (prometheus_client)"},
        {"check": "semibot-runtime: metrics_check", "target": None, "value": None, "threshold": "module runs",
         "status": "failed", "message": "metrics_check could not run: MODULE FAILURE (Traceback)"},
    ]


def test_a_connection_failure_shows_what_the_connection_said():
    gone = {"failed": False, "rc": 1, "module_stdout": "",
            "msg": "Module result deserialization failed: No start of json char found",
            "module_stderr": "Error response from daemon: No such container: opskit-missing"}
    (row,) = health_rows([{"name": "http_check", "result": gone}])
    assert row["message"] == ("http_check could not run: Module result deserialization failed: No start of json char "
                              "found (Error response from daemon: No such container: opskit-missing)")


def test_a_task_without_a_result_is_a_failed_row():
    rows = health_rows([{"name": "http_check", "result": None}])
    assert rows[0]["status"] == "failed"
    assert rows[0]["message"] == "http_check has no result: the task did not run"


def test_an_unreachable_host_is_one_row():
    unreachable = {"unreachable": True, "msg": "container opskit-el-bot is not running", "changed": False}
    rows = health_rows([{"name": "http_check", "result": unreachable},
                        {"name": "sqlite_check", "result": {"results": [dict(unreachable, item={"name": "el-bot"})]}}])
    assert rows == [{"check": "host reachable", "target": "host", "value": None, "threshold": "reachable",
                     "status": "failed", "message": "host unreachable: container opskit-el-bot is not running"}]


EXPOSITION = """# HELP qgen_total Questions generated
# TYPE qgen_total counter
qgen_total 20.0
# HELP qcheck_failed_total Rejected
# TYPE qcheck_failed_total counter
qcheck_failed_total 5.0
# HELP chat_execution_total Chat executions
# TYPE chat_execution_total counter
chat_execution_total{mode="runtime_orchestrator"} 50.0
# HELP chat_execution_error_total Failed chat executions
# TYPE chat_execution_error_total counter
chat_execution_error_total{mode="runtime_orchestrator"} 10.0
"""


def _metrics_check_result(target, text=EXPOSITION):
    """What opskit.ops.metrics_check returns for ``target``'s rules on ``text`` (its own functions)."""
    scrape = parse_exposition(text)
    checks = [make_row("metrics scrape", target["url"], scrape.series_count(), "parsable exposition", "ok", "parsed")]
    results = []
    for rule in target["rules"]:
        for result in evaluate_rule(normalize_rule(rule), scrape):
            results.append(result)
            checks.append(result_to_row(result))
    return {"changed": False, "checks": checks, "rules": results, "item": target, "ansible_loop_var": "item"}


def test_metrics_rows_keep_exposed_optional_rules_and_drop_probes_and_unexposed_ones():
    rulesets = {
        "000": {"rules": [{"name": "qcheck failure rate", "type": "ratio", "metric": "qcheck_failed_total",
                           "denominator": "qgen_total", "op": "<=", "threshold": 0.15},
                          {"name": "turn latency p99", "type": "quantile", "metric": "turn_latency_seconds",
                           "quantile": 0.99, "op": "<=", "threshold": 10}]},
        "001": {"rules": [{"name": "queue length", "type": "gauge", "metric": "queue_messages", "op": "<=",
                           "threshold": 100}]},
        "003": {"rules": [{"name": "error rate", "type": "ratio", "metric": "chat_execution_error_total",
                           "denominator": "chat_execution_total", "by": ["mode"], "op": "<=", "threshold": 0.05}]},
    }
    target = health_metric_rules([{"name": "el-bot", "url": "http://127.0.0.1:8000/metrics", "runbook": "000"}],
                                 rulesets)[0]
    rows = health_rows([{"name": "metrics_check", "kind": "metrics", "result": {"results": [
        _metrics_check_result(target)]}}])
    by_check = dict((r["check"], r) for r in rows)
    assert list(by_check) == ["el-bot: metrics scrape", "el-bot: qcheck failure rate", "el-bot: turn latency p99",
                              'el-bot: error rate{mode="runtime_orchestrator"}']
    # Its own runbook's metric is missing: failed, it is the runbook's contract.
    assert by_check["el-bot: turn latency p99"]["status"] == "failed"
    assert "not found in the scrape" in by_check["el-bot: turn latency p99"]["message"]
    assert by_check["el-bot: qcheck failure rate"]["value"] == 0.25
    assert by_check["el-bot: qcheck failure rate"]["status"] == "failed"
    # Runbook 003's rule applies because el-bot exposes its counters; 001's queue rule does not.
    assert by_check['el-bot: error rate{mode="runtime_orchestrator"}']["value"] == 0.2
    assert by_check['el-bot: error rate{mode="runtime_orchestrator"}']["status"] == "failed"


def test_metrics_rows_of_a_failed_scrape_keep_the_scrape_row():
    failed = {"checks": [make_row("metrics scrape", "http://x/metrics", None, "reachable", "failed",
                                  "cannot read http://x/metrics: connection refused")],
              "rules": [], "item": {"name": "el-bot", "probes": {}, "optional": {}}}
    rows = health_rows([{"name": "metrics_check", "kind": "metrics", "result": {"results": [failed]}}])
    assert rows == [{"check": "el-bot: metrics scrape", "target": "http://x/metrics", "value": None,
                     "threshold": "reachable", "status": "failed",
                     "message": "cannot read http://x/metrics: connection refused"}]


REDIS_INFO = {"redis_version": "8.0.2", "role": "master", "uptime_in_seconds": 100, "connected_clients": 2,
              "used_memory": 813200, "used_memory_human": "794.14K", "maxmemory": 268435456,
              "maxmemory_human": "256.00M", "maxmemory_policy": "allkeys-lru", "rdb_last_bgsave_status": "ok",
              "rdb_changes_since_last_save": 0}


def test_redis_rows():
    rows = health_rows([{"name": "redis_info", "kind": "redis", "result": {"changed": False, "info": REDIS_INFO},
                         "target": "127.0.0.1:6379"}])
    assert [(r["check"], r["value"], r["status"]) for r in rows] == [
        ("redis ping", "redis 8.0.2", "ok"), ("redis memory", 0.3, "ok"), ("redis rdb_last_bgsave_status", "ok", "ok")]
    assert rows[1]["threshold"] == "<= 90 % of maxmemory"


def test_redis_over_its_memory_limit_warns_a_failed_bgsave_fails_no_maxmemory_warns():
    info = dict(REDIS_INFO, used_memory=260000000, rdb_last_bgsave_status="err")
    rows = health_rows([{"name": "redis_info", "kind": "redis", "result": {"info": info}}],
                       {"redis_memory_max_percent": 95})
    assert [(r["check"], r["status"]) for r in rows[1:]] == [
        ("redis memory", "warning"), ("redis rdb_last_bgsave_status", "failed")]
    assert rows[1]["value"] == 96.9
    rows = health_rows([{"name": "redis_info", "kind": "redis", "result": {"info": dict(REDIS_INFO, maxmemory=0)}}])
    assert rows[1]["status"] == "warning"
    assert "no maxmemory" in rows[1]["message"]


def test_redis_that_does_not_answer_is_a_failed_ping():
    rows = health_rows([{"name": "redis_info", "kind": "redis", "target": "127.0.0.1:6379",
                         "result": {"failed": False, "msg": "unable to connect to database: Connection refused"}}])
    assert rows == [{"check": "redis ping", "target": "127.0.0.1:6379", "value": None, "threshold": "answers",
                     "status": "failed",
                     "message": "Redis did not answer: unable to connect to database: Connection refused"}]


def test_postgresql_ping_rows():
    result = {"results": [
        {"is_available": True, "server_version": {"full": "17.11"}, "conn_err_msg": "", "item": {"name": "discord_agent"}},
        {"is_available": False, "server_version": {}, "item": {"name": "other"},
         "conn_err_msg": 'password authentication failed for user "other"'},
    ]}
    rows = health_rows([{"name": "postgresql_ping", "kind": "postgresql_ping", "result": result, "target": "pg"}])
    assert [(r["check"], r["value"], r["status"]) for r in rows] == [
        ("postgresql ping discord_agent", "PostgreSQL 17.11", "ok"), ("postgresql ping other", None, "failed")]
    assert rows[1]["message"] == 'cannot connect to database other: password authentication failed for user "other"'


def test_postgresql_info_rows():
    info = {"databases": {"discord_agent": {"owner": "discord_agent", "size": "8296115",
                                            "extensions": {"vector": {"extversion": {"raw": "0.8.0"}}}},
                          "other": {"owner": "postgres", "size": "1", "extensions": {}}}}
    databases = [{"name": "discord_agent", "owner": "discord_agent", "extensions": ["vector"]},
                 {"name": "other", "owner": "app", "extensions": ["vector"]},
                 "missing"]
    rows = health_rows([{"name": "postgresql_info", "kind": "postgresql_info", "result": info,
                         "databases": databases}])
    assert [(r["check"], r["value"], r["status"]) for r in rows] == [
        ("postgresql database discord_agent", 7.9, "ok"),
        ("postgresql extension vector in discord_agent", "0.8.0", "ok"),
        ("postgresql database other", 0.0, "failed"),
        ("postgresql extension vector in other", None, "failed"),
        ("postgresql database missing", None, "failed"),
    ]
    assert rows[2]["message"].endswith("expected owner app")
    assert rows[3]["message"] == "extension vector missing in other: CREATE EXTENSION vector"


@pytest.mark.parametrize("entries, message", [
    ([{"name": "x", "kind": "mysql", "result": {}}], "unknown kind 'mysql'"),
    ([{"result": {}}], "every entry needs a name"),
    ("x", "expected a list"),
])
def test_bad_entries_are_errors(entries, message):
    with pytest.raises(AnsibleFilterError, match=message):
        health_rows(entries)


# ---------------------------------------------------------------------------
# health_summary
# ---------------------------------------------------------------------------

def _row(check, value, threshold, status, message="m", target="t"):
    return {"check": check, "target": target, "value": value, "threshold": threshold, "status": status,
            "message": message}


HOSTVARS = {
    "opskit-el-bot": {"healthcheck_rows": [
        _row("el-bot: GET /health", None, "HTTP [200]", "failed", "connection refused"),
        _row("host cpu", 93.5, "<= 70 %", "warning"),
        _row("el-bot: el turn latency p90", float("nan"), "<= 5", "no_data"),
    ]},
    "opskit-runtime": {"healthcheck_rows": [
        _row('semibot-runtime: runtime error rate{mode="runtime_orchestrator"}', 0.2, "<= 0.05", "failed",
             "runtime error rate = 0.2, expected <= 0.05"),
        _row("memory semibot-runtime", 122.5, "<= 1536 MiB", "ok"),
    ]},
    "opskit-multi-agent": {},
}


def test_summary_counts_and_fails_naming_host_check_and_value():
    summary = health_summary(["opskit-el-bot", "opskit-runtime", "opskit-multi-agent"], HOSTVARS,
                             generated_at="2026-01-01T00:00:00Z")
    assert summary["counts"] == {"total": 6, "ok": 1, "warning": 1, "failed": 3, "no_data": 1}
    assert summary["status"] == "failed"
    assert summary["hosts"]["opskit-runtime"] == {"total": 2, "ok": 1, "warning": 0, "failed": 1, "no_data": 0}
    assert [r["host"] for r in summary["rows"]] == ["opskit-el-bot"] * 3 + ["opskit-runtime"] * 2 + [
        "opskit-multi-agent"]
    # A host without rows failed before its checks finished: it is not silently left out.
    assert summary["rows"][-1]["check"] == "health check ran"
    assert summary["rows"][2]["value"] is None
    assert summary["failure_message"].splitlines() == [
        "Health check failed: 3 of 6 checks failed on opskit-el-bot, opskit-runtime, opskit-multi-agent:",
        "- opskit-el-bot: el-bot: GET /health = n/a (expected HTTP [200]): connection refused",
        '- opskit-runtime: semibot-runtime: runtime error rate{mode="runtime_orchestrator"} = 0.2 (expected <= 0.05): '
        'runtime error rate = 0.2, expected <= 0.05',
        "- opskit-multi-agent: health check ran = n/a (expected results for every host): no results: "
        "opskit-multi-agent failed before its checks finished (see the play output above)",
    ]


def test_summary_table_and_reports():
    summary = health_summary(["opskit-el-bot", "opskit-runtime"], HOSTVARS, "healthcheck_rows", "Health check",
                             "2026-01-01T00:00:00Z", True)
    lines = summary["table"].splitlines()
    assert lines[0].split() == ["HOST", "CHECK", "VALUE", "THRESHOLD", "STATUS"]
    assert lines[2].split()[:5] == ["opskit-el-bot", "el-bot:", "GET", "/health", "-"]
    assert lines[2].endswith("FAILED")
    assert lines[3].split() == ["opskit-el-bot", "host", "cpu", "93.5", "<=", "70", "%", "warning"]
    assert lines[-1] == "5 checks: 1 ok, 1 warning, 2 failed, 1 no data on 2 hosts: FAILED"
    # Columns line up: every row's status starts where the header's does.
    column = lines[0].index("STATUS")
    assert all(line[column - 2:column] == "  " for line in lines[:-1])
    markdown = summary["markdown"]
    assert markdown.startswith("# Health check summary\n\nGenerated 2026-01-01T00:00:00Z · check mode: yes · 2 hosts")
    assert "**Status: FAILED** — 5 checks: 1 ok, 1 warning, 2 failed, 1 no data" in markdown
    assert "| opskit-el-bot | el-bot: GET /health | - | HTTP [200] | FAILED | connection refused |" in markdown
    assert "| opskit-el-bot | host cpu | 93.5 | <= 70 % | warning |" in markdown
    document = summary["document"]
    assert json.loads(json.dumps(document)) == document
    assert document["check_mode"] is True
    assert document["generated_at"] == "2026-01-01T00:00:00Z"
    assert document["rows"][0] == {"host": "opskit-el-bot", "check": "el-bot: GET /health", "target": "t",
                                   "value": None, "threshold": "HTTP [200]", "status": "failed",
                                   "message": "connection refused"}


def test_warnings_and_no_data_do_not_fail():
    hostvars = {"h": {"rows": [_row("host cpu", 90, "<= 70 %", "warning"), _row("p99", None, "<= 10", "no_data")]}}
    summary = health_summary(["h"], hostvars, "rows", "Smoke test")
    assert summary["status"] == "warning"
    assert summary["failure_message"] is None
    assert summary["failed"] == []
    assert summary["markdown"].startswith("# Smoke test summary")


def test_markdown_escapes_pipes():
    hostvars = {"h": {"healthcheck_rows": [_row("a|b", "x|y", "<= 1", "failed", "bad | worse")]}}
    assert "| h | a\\|b | x\\|y | <= 1 | FAILED | bad \\| worse |" in health_summary(["h"], hostvars)["markdown"]


@pytest.mark.parametrize("hosts, hostvars, message", [
    ("opskit-el-bot", {}, "must be a list of host names"),
    (["h"], ["x"], "hostvars must be"),
    (["h"], {"h": {"healthcheck_rows": ["x"]}}, "not a check row"),
])
def test_summary_rejects_bad_input(hosts, hostvars, message):
    with pytest.raises(AnsibleFilterError, match=message):
        health_summary(hosts, hostvars)


@pytest.mark.parametrize("value, shown", [(None, "-"), (True, "true"), (0.2, "0.2"), (36864, "36864"),
                                          (122.5, "122.5"), ("HTTP 200", "HTTP 200")])
def test_show_value(value, shown):
    assert show_value(value) == shown


def test_text_table_of_no_rows_is_the_header():
    assert text_table([]).splitlines()[0].split() == ["HOST", "CHECK", "VALUE", "THRESHOLD", "STATUS"]
