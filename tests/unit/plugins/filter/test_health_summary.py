"""Unit tests of the filters of the role healthcheck (plugins/filter/health_summary.py, health_datastores.py)
and of the role's argument specs (a misspelt threshold or rule key is an error naming it)."""
import copy
import json
import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.opskit.ops.plugins.filter.health_datastores import health_postgresql, health_redis
from ansible_collections.opskit.ops.plugins.filter.health_summary import (
    health_gate,
    health_gate_targets,
    health_plan,
    health_rows,
    health_rules,
    health_summary,
    show_value,
    text_table,
)
from ansible_collections.opskit.ops.plugins.module_utils._check_rows import make_row
from ansible_collections.opskit.ops.plugins.plugin_utils.service_model import service_model

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
ROLE = os.path.join(ROOT, "roles", "healthcheck")


def _yaml(*parts):
    with open(os.path.join(ROLE, *parts)) as handle:
        return yaml.safe_load(handle)


DEFAULTS = _yaml("defaults", "main.yml")
SPECS = _yaml("meta", "argument_specs.yml")["argument_specs"]
RULES = health_rules(DEFAULTS["healthcheck_default_rules"])

AGENT_FRAMEWORK = [
    {"name": "agent-framework-api", "runbook": "001", "role": "api", "user": "agent-framework", "port": 8000,
     "store": "sqlite"},
    {"name": "agent-framework-worker", "runbook": "001", "role": "worker", "user": "agent-framework",
     "shares_store_of": "agent-framework-api", "port": 8001, "store": "sqlite"},
]


def model(services, **kwargs):
    """opskit_model as playbooks/preflight.yml computes it (the service model's own code)."""
    return service_model(copy.deepcopy(services), **kwargs)


# ---------------------------------------------------------------------------
# health_plan: read from opskit_model, nothing re-derived
# ---------------------------------------------------------------------------

def test_plan_reads_the_model_and_checks_a_shared_store_once():
    host_model = model(AGENT_FRAMEWORK, roots={"data_root": "/srv/data", "log_root": "/srv/log"})
    plan = health_plan(host_model, RULES)
    api, worker = host_model["services"]
    assert [e["name"] for e in plan["endpoints"]] == [
        "agent-framework-api: GET /health", "agent-framework-api: GET /metrics",
        "agent-framework-worker: GET /health", "agent-framework-worker: GET /metrics"]
    urls = [api["urls"]["health"], api["urls"]["metrics"], worker["urls"]["health"], worker["urls"]["metrics"]]
    assert [e["url"] for e in plan["endpoints"]] == urls
    assert plan["endpoints"][0]["json"] == {"status": "ok"}
    assert plan["endpoints"][1]["probes"] == 1
    # The store path is the model's (moved roots included), once for both services.
    assert plan["sqlite"] == [{"name": "agent-framework-api", "path": "/srv/data/agent-framework-api/data/el_sessions.db",
                               "services": ["agent-framework-api", "agent-framework-worker"]}]
    assert plan["processes"] == [{"name": "agent-framework-api", "unit": "agent-framework-api.service"},
                                 {"name": "agent-framework-worker", "unit": "agent-framework-worker.service"}]
    assert plan["paths"] == api["paths"]["watched"] + worker["paths"]["watched"]
    assert plan["paths"][0] == "/srv/data/agent-framework-api"
    assert plan["postgres"] is False
    assert [s["runbook"] for s in plan["services"]] == ["001", "001"]


def test_a_service_is_judged_by_its_own_runbooks_rules_only():
    services = [{"name": "el-bot", "runbook": "000", "port": 8000, "trace": True},
                {"name": "semibot-runtime", "runbook": "003", "port": 8001},
                {"name": "tools", "runbook": "004", "port": 8002, "dynamic_tools": True},
                {"name": "plain", "port": 8003}]
    targets = dict((t["name"], t) for t in health_plan(model(services), RULES)["metrics"])
    names = dict((name, [r["name"] for r in target["rules"]]) for name, target in targets.items())
    assert names["el-bot"] == [r["name"] for r in DEFAULTS["healthcheck_default_rules"]["000"]]
    assert names["semibot-runtime"] == [r["name"] for r in DEFAULTS["healthcheck_default_rules"]["003"]]
    assert names["tools"] == [] and names["plain"] == []
    # Exactly the keys metrics_check's targets accept.
    assert set(targets["el-bot"]) == {"name", "url", "rules"}
    assert targets["el-bot"]["url"] == "http://127.0.0.1:8000/metrics"


def test_a_postgres_store_asks_for_the_datastore_checks_and_has_no_sqlite_file():
    plan = health_plan(model([{"name": "multi-agent", "runbook": "002", "port": 8000, "store": "postgres"}],
                             address="10.0.0.5"), RULES)
    assert plan["postgres"] is True
    assert plan["sqlite"] == []
    assert plan["endpoints"][0]["url"] == "http://10.0.0.5:8000/health"


@pytest.mark.parametrize("bad, message", [
    ([{"name": "el-bot", "port": 8000}], "expected opskit_model"),
    (None, "expected opskit_model"),
    ({"services": [{"name": "el-bot", "port": 8000}]}, "not a service of the model"),
])
def test_plan_needs_the_model(bad, message):
    with pytest.raises(AnsibleFilterError, match=message):
        health_plan(bad, RULES)


# ---------------------------------------------------------------------------
# health_rules: one rule set per runbook, overrides by name
# ---------------------------------------------------------------------------

def test_an_override_replaces_the_rule_of_the_same_name_and_adds_new_ones():
    stricter = {"name": "runtime error rate", "type": "ratio", "metric": "chat_execution_error_total",
                "denominator": "chat_execution_total", "by": ["mode"], "op": "<=", "threshold": 0.02}
    extra = {"name": "queue empty", "metric": "queue_messages", "op": "==", "threshold": 0, "labels": None}
    merged = health_rules(DEFAULTS["healthcheck_default_rules"], {"003": [stricter], "001": [extra]})
    runtime = dict((r["name"], r) for r in merged["003"])
    assert runtime["runtime error rate"]["threshold"] == 0.02
    assert [r["name"] for r in merged["003"]] == [r["name"] for r in DEFAULTS["healthcheck_default_rules"]["003"]]
    assert merged["001"][-1] == {"name": "queue empty", "metric": "queue_messages", "op": "==", "threshold": 0}
    # The defaults are not changed.
    assert DEFAULTS["healthcheck_default_rules"]["003"][0]["threshold"] == 0.05


@pytest.mark.parametrize("overrides, message", [
    ({"0003": []}, "unknown runbook '0003'"),
    ({"003": {"name": "x"}}, "expected a list of rules"),
    ({"003": [{"threshold": 1}]}, r'healthcheck_rules\["003"\]\[0\]: every rule needs a name'),
    (["003"], "expected a dict of runbook"),
])
def test_bad_rule_overrides_are_errors(overrides, message):
    with pytest.raises(AnsibleFilterError, match=message):
        health_rules(DEFAULTS["healthcheck_default_rules"], overrides)


# ---------------------------------------------------------------------------
# meta/argument_specs.yml: what the role validates before it runs
# ---------------------------------------------------------------------------

def _validate(entry, **variables):
    spec = SPECS[entry]["options"]
    values = dict((key, copy.deepcopy(DEFAULTS[key])) for key in spec)
    values.update(variables)
    return ArgumentSpecValidator(spec).validate(values, validate_role_argument_spec=True).error_messages


@pytest.mark.parametrize("entry", ["main", "smoke", "gate"])
def test_the_defaults_pass_their_own_specs(entry):
    assert _validate(entry) == []


@pytest.mark.parametrize("entry", ["main", "smoke"])
def test_a_misspelt_threshold_key_is_an_error_naming_it(entry):
    errors = _validate(entry, healthcheck_thresholds={"metrics_intervall": 60})
    assert len(errors) == 1
    assert "healthcheck_thresholds.metrics_intervall" in errors[0]
    assert "metrics_interval" in errors[0]  # the supported keys are listed


def test_a_misspelt_rule_key_or_runbook_is_an_error_naming_it():
    errors = _validate("main", healthcheck_rules={"003": [{"name": "x", "metric": "m", "treshold": 1}]})
    assert len(errors) == 1 and "healthcheck_rules.003.treshold" in errors[0]
    errors = _validate("main", healthcheck_rules={"03": []})
    assert len(errors) == 1 and "healthcheck_rules.03" in errors[0]
    errors = _validate("main", healthcheck_rules={"003": [{"name": "x", "op": "=<"}]})
    assert len(errors) == 1 and "op" in errors[0] and "=<" in errors[0]


def test_a_wrong_type_is_an_error_naming_the_key():
    errors = _validate("main", healthcheck_thresholds={"http_probes": "five"})
    assert len(errors) == 1 and "http_probes" in errors[0]


def test_every_default_threshold_has_a_spec_and_every_spec_a_default():
    options = SPECS["main"]["options"]["healthcheck_default_thresholds"]["options"]
    assert sorted(options) == sorted(DEFAULTS["healthcheck_default_thresholds"])
    assert SPECS["main"]["options"]["healthcheck_thresholds"]["options"] == options
    assert sorted(SPECS["main"]["options"]["healthcheck_default_rules"]["options"]) == \
        sorted(DEFAULTS["healthcheck_default_rules"])


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


def test_rows_judged_by_a_check_task_are_kept_unless_the_host_is_unreachable():
    judged = [make_row("redis ping", "127.0.0.1:6379", "redis 8", "answers", "ok", "fine")]
    rows = health_rows([{"name": "http_check", "result": {"checks": []}}, {"name": "redis", "rows": judged},
                        {"name": "postgresql", "rows": None}])
    assert rows == judged
    unreachable = {"unreachable": True, "msg": "gone"}
    rows = health_rows([{"name": "http_check", "result": unreachable}, {"name": "redis", "rows": judged}])
    assert [r["check"] for r in rows] == ["host reachable"]
    with pytest.raises(AnsibleFilterError, match="not a check row"):
        health_rows([{"name": "redis", "rows": ["x"]}])


@pytest.mark.parametrize("entries, message", [
    ([{"name": "x"}], "needs a name and a result"),
    ([{"result": {}}], "needs a name and a result"),
    ("x", "expected a list"),
])
def test_bad_entries_are_errors(entries, message):
    with pytest.raises(AnsibleFilterError, match=message):
        health_rows(entries)


# ---------------------------------------------------------------------------
# Redis and PostgreSQL, each judged by its own check (health_datastores.py)
# ---------------------------------------------------------------------------

REDIS_INFO = {"redis_version": "8.0.2", "role": "master", "uptime_in_seconds": 100, "connected_clients": 2,
              "used_memory": 813200, "used_memory_human": "794.14K", "maxmemory": 268435456,
              "maxmemory_human": "256.00M", "maxmemory_policy": "allkeys-lru", "rdb_last_bgsave_status": "ok",
              "rdb_changes_since_last_save": 0}


def test_redis_rows():
    rows = health_redis({"changed": False, "info": REDIS_INFO}, 90, "127.0.0.1:6379")
    assert [(r["check"], r["value"], r["status"]) for r in rows] == [
        ("redis ping", "redis 8.0.2", "ok"), ("redis memory", 0.3, "ok"), ("redis rdb_last_bgsave_status", "ok", "ok")]
    assert rows[1]["threshold"] == "<= 90 % of maxmemory"


def test_redis_over_its_memory_limit_warns_a_failed_bgsave_fails_no_maxmemory_warns():
    info = dict(REDIS_INFO, used_memory=260000000, rdb_last_bgsave_status="err")
    rows = health_redis({"info": info}, 95)
    assert [(r["check"], r["status"]) for r in rows[1:]] == [
        ("redis memory", "warning"), ("redis rdb_last_bgsave_status", "failed")]
    assert rows[1]["value"] == 96.9
    rows = health_redis({"info": dict(REDIS_INFO, maxmemory=0)})
    assert rows[1]["status"] == "warning"
    assert "no maxmemory" in rows[1]["message"]


def test_redis_that_does_not_answer_is_a_failed_ping():
    rows = health_redis({"failed": False, "msg": "unable to connect to database: Connection refused"}, 90, "127.0.0.1:6379")
    assert rows == [{"check": "redis ping", "target": "127.0.0.1:6379", "value": None, "threshold": "answers",
                     "status": "failed",
                     "message": "Redis did not answer: unable to connect to database: Connection refused"}]


def test_postgresql_ping_rows():
    result = {"results": [
        {"is_available": True, "server_version": {"full": "17.11"}, "conn_err_msg": "", "item": {"name": "discord_agent"}},
        {"is_available": False, "server_version": {}, "item": {"name": "other"},
         "conn_err_msg": 'password authentication failed for user "other"'},
    ]}
    rows = health_postgresql(result, None, [], "pg")
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
    rows = health_postgresql({"skipped": True}, info, databases)
    assert [(r["check"], r["value"], r["status"]) for r in rows] == [
        ("postgresql database discord_agent", 7.9, "ok"),
        ("postgresql extension vector in discord_agent", "0.8.0", "ok"),
        ("postgresql database other", 0.0, "failed"),
        ("postgresql extension vector in other", None, "failed"),
        ("postgresql database missing", None, "failed"),
    ]
    assert rows[2]["message"].endswith("expected owner app")
    assert rows[3]["message"] == "extension vector missing in other: CREATE EXTENSION vector"


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


def test_compact_summary_shows_counts_per_host_and_only_rows_that_are_not_ok():
    summary = health_summary(["opskit-el-bot", "opskit-runtime", "opskit-multi-agent"], HOSTVARS)
    compact = summary["compact"].splitlines()
    assert compact[0] == "Health check: 6 checks: 1 ok, 1 warning, 3 failed, 1 no data on 3 hosts: FAILED"
    assert compact[1].split() == ["opskit-el-bot", "3", "checks:", "0", "ok,", "1", "warning,", "1", "failed,", "1",
                                  "no", "data"]
    assert compact[2].split()[:3] == ["opskit-runtime", "2", "checks:"]
    text = summary["compact"]
    # The ok row is not shown; the failed ones first, then the warnings; no data named per host.
    assert "memory semibot-runtime" not in text
    assert "Failed and warning checks (4):" in text
    assert text.index("el-bot: GET /health") < text.index("host cpu")
    assert text.index('runtime error rate{mode="runtime_orchestrator"}') < text.index("host cpu")
    assert "No data (no traffic in the interval):\n  opskit-el-bot: el-bot: el turn latency p90" in text
    # The full table keeps every row.
    assert "memory semibot-runtime" in summary["table"]
    assert "memory semibot-runtime" in summary["markdown"]


def test_compact_summary_of_a_healthy_run():
    hostvars = {"h": {"healthcheck_rows": [_row("a", 1, "<= 2", "ok")]}}
    assert health_summary(["h"], hostvars)["compact"].splitlines() == [
        "Health check: 1 checks: 1 ok, 0 warning, 0 failed, 0 no data on 1 host: ok",
        "  h  1 checks: 1 ok, 0 warning, 0 failed, 0 no data",
        "Every check is ok."]


# ---------------------------------------------------------------------------
# Health gate
# ---------------------------------------------------------------------------

def test_gate_targets_from_the_model_or_plain_dicts():
    host_model = model(AGENT_FRAMEWORK)
    assert health_gate_targets(host_model["services"][:1]) == [
        {"name": "agent-framework-api", "url": "http://127.0.0.1:8000/health", "unit": "agent-framework-api.service"}]
    assert health_gate_targets([{"name": "demo", "url": "http://127.0.0.1:8080/health"}], True) == [
        {"name": "demo", "url": "http://127.0.0.1:8080/health"}]
    with pytest.raises(AnsibleFilterError, match=r"healthcheck_gate_services\[demo\]: needs url"):
        health_gate_targets([{"name": "demo"}])
    with pytest.raises(AnsibleFilterError, match="expected a list of services"):
        health_gate_targets({"name": "demo"})


def test_gate_verdict_names_the_service_its_last_answer_and_its_journal():
    services = [{"name": "semibot-runtime", "url": "http://127.0.0.1:8000/health", "unit": "semibot-runtime.service"},
                {"name": "other", "url": "http://127.0.0.1:8001/health"}]
    result = {"checks": [
        make_row("semibot-runtime", "http://127.0.0.1:8000/health", "HTTP 503", "HTTP [200]", "failed",
                 "status 503, expected [200]"),
        make_row("other", "http://127.0.0.1:8001/health", "HTTP 200", "HTTP [200]", "ok", "fine")]}
    journals = {"results": [{"item": dict(services[0]), "ansible_loop_var": "item", "stdout_lines": ["l1", "l2"]}]}
    verdict = health_gate(result, services, journals, 4, 2, "opskit-runtime", "after the restart")
    assert verdict["ok"] is False
    assert verdict["failed"] == ["semibot-runtime"]
    assert verdict["message"].splitlines() == [
        "semibot-runtime on opskit-runtime did not answer GET http://127.0.0.1:8000/health with HTTP [200] after the "
        "restart, probed every 2 s for 4 s; last answer: status 503, expected [200].",
        "Last lines of its journal (journalctl -u semibot-runtime.service):",
        "  l1",
        "  l2"]
    result["checks"][0] = dict(result["checks"][0], status="ok")
    assert health_gate(result, services, None, 4, 2)["ok"] is True


def test_gate_verdict_when_the_probe_did_not_run():
    verdict = health_gate({"msg": "MODULE FAILURE"}, [{"name": "a", "url": "http://x/health"}], None, 60, 2, "h")
    assert verdict == {"ok": False, "failed": ["a"], "message": "health gate on h could not probe a: MODULE FAILURE"}
    assert health_gate({"skipped": True}, [{"name": "a", "url": "u"}])["ok"] is True
