"""playbooks/healthcheck.yml, runtime_fallback.yml and runtime_restart.yml on the local hosts.

Needs the deployed local hosts of inventories/local (`make demo`) and a Docker
engine. Every case that breaks something puts the healthy state back in a
finally block before it asserts anything.

    .venv/bin/pytest -m integration tests/integration/test_healthcheck.py

About the error-rate case: healthcheck.yml judges rates on the increase of the
counters between two scrapes 10 s apart (healthcheck_thresholds.metrics_interval,
see roles/healthcheck/defaults/main.yml), as Prometheus' rate() does, so turns sent
before the run would not count. The case therefore drives turns all through the
run, from a loop inside the runtime container, with the fault switch at a 20 %
error rate: every 5th turn fails, so the window between the two scrapes holds
an error rate of 0.2 give or take one turn in the number of turns it saw (about
0.2 +- 0.01 with the ~100 or more turns of a 10 s window). The loop ends when
the test creates a stop file (or after 5 minutes at most).
"""
import importlib.util
import json
import os
import re
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

# The helpers of conftest.py, imported by path: "import conftest" could find
# tests/unit/conftest.py when both directories are collected in one session.
_SPEC = importlib.util.spec_from_file_location(
    "opskit_integration_helpers", os.path.join(os.path.dirname(os.path.abspath(__file__)), "conftest.py"))
_HELPERS = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_HELPERS)
docker_exec, host_http = _HELPERS.docker_exec, _HELPERS.host_http

HEALTHCHECK = "playbooks/healthcheck.yml"
EL_BOT, RUNTIME, FRAMEWORK = "opskit-el-bot", "opskit-runtime", "opskit-agent-framework"
FRAMEWORK_SERVICES = ("agent-framework-api", "agent-framework-worker")
FRAMEWORK_DATA = "/var/lib/agent-framework-api/data"
FRAMEWORK_ASIDE = "/root/opskit-healthcheck-test-data"
SERVICE_GROUPS = ("el_bot", "multi_agent", "runtime", "dynamic_tools", "agent_framework")
RUNTIME_ERROR_RATE = 'semibot-runtime: runtime error rate{mode="runtime_orchestrator"}'


# --------------------------------------------------------------------------- helpers

def run_healthcheck(run_playbook, report_dir, *args):
    """Run healthcheck.yml writing its reports to ``report_dir``; (result, summary.json)."""
    result = run_playbook(HEALTHCHECK, "-e", "healthcheck_report_dir=%s" % report_dir, *args)
    path = os.path.join(str(report_dir), "summary.json")
    summary = None
    if os.path.exists(path):
        with open(path) as handle:
            summary = json.load(handle)
    return result, summary


def recap(output):
    """{host: {ok, changed, failed, ...}} of the PLAY RECAP."""
    found = {}
    for host, counters in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", output, re.M):
        found[host] = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", counters))
    return found


def flat(output):
    """The output with every run of whitespace as one space (the YAML callback wraps long lines)."""
    return " ".join(output.split())


def rows_of(summary, host=None, status=None):
    return [r for r in summary["rows"] if (host is None or r["host"] == host)
            and (status is None or r["status"] == status)]


def wait_healthy(host, port=8000, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        status, body = host_http(host, "GET", "/health", port=port)
        if status == 200:
            return body
        assert time.monotonic() < deadline, "%s:%d /health still %s after %ss: %s" % (host, port, status, timeout, body)
        time.sleep(1)


def set_fault(token, **fault):
    status, body = host_http(RUNTIME, "POST", "/api/v1/admin/fault", body=fault, token=token)
    assert status == 200, body
    return body


def fallback_status(token):
    status, body = host_http(RUNTIME, "GET", "/api/v1/runtime/fallback/status", token=token)
    assert status == 200, body
    return body["data"]


def restart_runtime():
    docker_exec(RUNTIME, "systemctl", "restart", "semibot-runtime")
    return wait_healthy(RUNTIME)


TRAFFIC_STOP = "/tmp/opskit-healthcheck-test-stop"


def start_traffic(prefix):
    """Turns without end inside the runtime container (until stop_traffic); prints one HTTP code a turn."""
    prefix = "%s-%s" % (prefix, uuid.uuid4().hex[:8])
    script = ('rm -f {stop}; n=0; end=$(( $(date +%s) + 300 )); '
              'while [ ! -e {stop} ] && [ $(date +%s) -lt $end ]; do n=$((n+1)); '
              'curl -s -o /dev/null -w "%{{http_code}}\\n" -X POST -H "Content-Type: application/json" '
              '-d "{{\\"thread_id\\":\\"{prefix}-$n\\",\\"text\\":\\"Health check traffic for the error rate test\\"}}" '
              'http://127.0.0.1:8000/api/v1/turns; done; rm -f {stop}').format(stop=TRAFFIC_STOP, prefix=prefix)
    return subprocess.Popen(["docker", "exec", RUNTIME, "sh", "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def stop_traffic(proc):
    """End the loop of start_traffic (it stops at its next turn); returns the HTTP codes it saw."""
    docker_exec(RUNTIME, "touch", TRAFFIC_STOP, check=False)
    out, _err = proc.communicate(timeout=60)
    return out.split()


def drive_turns(count, prefix):
    """POST /api/v1/turns ``count`` times inside the runtime container; returns the HTTP codes.

    Each turn opens a new thread (ids unique to this call): a text sent again
    in a known thread would be a duplicate question and fail QCheck (runbook 000).
    """
    prefix = "%s-%s" % (prefix, uuid.uuid4().hex[:8])
    script = ('for i in $(seq 1 %d); do curl -s -o /dev/null -w "%%{http_code}\\n" -X POST '
              '-H "Content-Type: application/json" '
              '-d "{\\"thread_id\\":\\"%s-$i\\",\\"text\\":\\"Health check traffic for the error rate test\\"}" '
              'http://127.0.0.1:8000/api/v1/turns; done' % (count, prefix))
    return docker_exec(RUNTIME, "sh", "-c", script).stdout.split()


# --------------------------------------------------------------------------- healthy

def test_healthy_deployment_passes_and_check_mode_gives_the_same_table(run_playbook, local_hosts, tmp_path):
    # Both runs only read: they run side by side.
    with ThreadPoolExecutor(max_workers=2) as pool:
        normal = pool.submit(run_healthcheck, run_playbook, tmp_path / "normal")
        checked = pool.submit(run_healthcheck, run_playbook, tmp_path / "check", "--check")
        (result, summary), (check_result, check_summary) = normal.result(), checked.result()

    assert result.rc == 0, result
    assert "SUMMARY - checks by status on every host" in result.output
    assert summary["status"] in ("ok", "warning"), rows_of(summary, status="failed")
    assert summary["check_mode"] is False
    hosts = set(local_hosts[group] for group in SERVICE_GROUPS)
    assert set(summary["hosts"]) == hosts
    for host in hosts:
        checks = [r["check"] for r in rows_of(summary, host)]
        assert len(checks) >= 10, (host, checks)
        assert "host memory" in checks
    # Every runbook's checks are there, with the module that makes them.
    checks = set((r["host"], r["check"]) for r in summary["rows"])
    assert (EL_BOT, "el-bot: GET /health") in checks
    assert (EL_BOT, "el-bot: el qcheck failure rate") in checks
    assert (EL_BOT, "el-bot: sqlite quick_check") in checks
    assert (RUNTIME, RUNTIME_ERROR_RATE) in checks
    assert (RUNTIME, "semibot-runtime: runtime fallback") in checks
    assert (FRAMEWORK, 'agent-framework-worker: queue length{queue="agent-jobs"}') in checks
    assert (FRAMEWORK, "agent-framework-api: sqlite quick_check") in checks
    assert ("opskit-multi-agent", "multi-agent: response time p95 s") in checks
    assert ("opskit-multi-agent", "memory multi-agent") in checks
    for check in ("redis ping", "postgresql ping discord_agent", "postgresql extension vector in discord_agent"):
        assert ("opskit-multi-agent", check) in checks
    # Each service is judged by its own runbook's rules only: no rule of another runbook shows up.
    for row in summary["rows"]:
        if row["host"] == EL_BOT:
            assert "runtime " not in row["check"] and "queue length" not in row["check"], row
        if row["host"] == FRAMEWORK:
            assert ": el " not in row["check"] and ": runtime " not in row["check"], row
        if row["host"] == RUNTIME:
            assert ": el " not in row["check"] and "queue length" not in row["check"], row
    # Every service of a host shares one scrape interval (one 10 s wait per host, not per service).
    for host in (EL_BOT, RUNTIME, FRAMEWORK):
        for row in rows_of(summary, host):
            if row["check"].endswith(": metrics scrape"):
                assert re.search(r"\(2 scrapes 1\d\.\d s apart\)$", row["message"]), row
    # The summary printed first: counts per host, then only what is not ok; the full table is in the reports.
    compact = result.output[result.output.index("SUMMARY - checks by status"):]
    compact = compact[:compact.index("TASK [")]
    for host in hosts:
        assert re.search(r"%s\s+\d+ checks: \d+ ok, \d+ warning, 0 failed, \d+ no data" % host, compact), compact
    assert "el-bot: GET /health" not in compact
    assert "sqlite quick_check" not in compact
    with open(tmp_path / "normal" / "table.txt") as handle:
        table = handle.read()
    assert "el-bot: GET /health" in table and "el-bot: sqlite quick_check" in table
    # Nothing changed anywhere.
    for host, counters in recap(result.output).items():
        assert counters["changed"] == 0, (host, counters)
        assert counters["failed"] == 0, (host, counters)

    assert check_result.rc == 0, check_result
    assert check_summary["check_mode"] is True
    for host, counters in recap(check_result.output).items():
        assert counters["changed"] == 0, (host, counters)
    # The same table: same rows, same thresholds, same verdicts (the host CPU
    # and memory of a busy machine may move between warning and ok).
    assert [(r["host"], r["check"], r["threshold"]) for r in check_summary["rows"]] == \
        [(r["host"], r["check"], r["threshold"]) for r in summary["rows"]]
    for row, check_row in zip(summary["rows"], check_summary["rows"]):
        if row["check"] in ("host cpu", "host memory"):
            continue
        assert (check_row["check"], check_row["status"]) == (row["check"], row["status"])
    with open(tmp_path / "check" / "summary.md") as handle:
        assert "check mode: yes" in handle.read()


# --------------------------------------------------------------------------- broken

@pytest.fixture(scope="module")
def broken_run(run_playbook, local_hosts, admin_token, tmp_path_factory):
    """One health check of three hosts each broken another way, the healthy state put back before the asserts.

    (a) el-bot stopped on opskit-el-bot; (b) the runtime's fault switch at a 20 %
    error rate, with turns driven all through the run; (c) the SQLite store of opskit-agent-framework
    overwritten with garbage in its middle pages (its services stopped, the data
    directory copied aside first and put back after).
    """
    report_dir = tmp_path_factory.mktemp("broken")
    codes, traffic = [], None
    try:
        # (b) every 5th turn fails, turns all through the run
        set_fault(admin_token, error_rate=0.2)
        traffic = start_traffic("hc-error-rate")
        # (c)
        docker_exec(FRAMEWORK, "systemctl", "stop", *FRAMEWORK_SERVICES)
        docker_exec(FRAMEWORK, "sh", "-c", "rm -rf %s && cp -a %s %s" % (FRAMEWORK_ASIDE, FRAMEWORK_DATA, FRAMEWORK_ASIDE))
        docker_exec(FRAMEWORK, "sh", "-c",
                    "yes 'opskit: garbage in the middle of the database' | head -c 16384 | "
                    "dd of=%s/el_sessions.db bs=4096 seek=2 count=4 conv=notrunc iflag=fullblock status=none"
                    % FRAMEWORK_DATA)
        # (a) last, right before the run
        docker_exec(EL_BOT, "systemctl", "stop", "el-bot")
        result, summary = run_healthcheck(run_playbook, report_dir, "--limit", ",".join((EL_BOT, RUNTIME, FRAMEWORK)))
    finally:
        docker_exec(EL_BOT, "systemctl", "start", "el-bot", check=False)
        if traffic is not None:
            codes = stop_traffic(traffic)
        set_fault(admin_token)
        docker_exec(FRAMEWORK, "sh", "-c", "test -d %s && rm -rf %s && cp -a %s %s && rm -rf %s" % (
            FRAMEWORK_ASIDE, FRAMEWORK_DATA, FRAMEWORK_ASIDE, FRAMEWORK_DATA, FRAMEWORK_ASIDE), check=False)
        docker_exec(FRAMEWORK, "systemctl", "start", *FRAMEWORK_SERVICES, check=False)
        wait_healthy(EL_BOT)
        wait_healthy(RUNTIME)
        wait_healthy(FRAMEWORK)
        wait_healthy(FRAMEWORK, port=8001)
    # The fault switch failed exactly every 5th turn, and nothing else failed.
    assert len(codes) >= 30, codes
    assert codes.count("500") == len(codes) // 5 and codes.count("200") == len(codes) - len(codes) // 5, codes
    return result, summary


def _failure_message(result):
    match = re.search(r"Health check failed: .*?(?=\nOrigin:|\Z)", result.output, re.S)
    assert match, result
    return match.group(0)


def test_a_stopped_service_fails_naming_host_check_and_value(broken_run):
    result, summary = broken_run
    assert result.rc != 0, result
    assert summary["status"] == "failed"
    failed = dict((r["check"], r) for r in rows_of(summary, EL_BOT, "failed"))
    assert failed["el-bot: GET /health"]["message"].startswith("connection refused")
    assert failed["memory el-bot"]["value"] == 0
    assert failed["memory el-bot"]["message"] == "no running process found for el-bot.service"
    assert failed["el-bot: metrics scrape"]["status"] == "failed"
    message = _failure_message(result)
    assert "- opskit-el-bot: el-bot: GET /health = n/a (expected HTTP [200]" in message
    assert "connection refused" in message
    assert "- opskit-el-bot: memory el-bot = 0 (expected <= 1536 MiB): no running process found" in message
    # The SQLite store of the stopped el-bot is intact.
    assert rows_of(summary, EL_BOT, "ok")


def test_a_20_percent_error_rate_fails_naming_the_runtime_the_check_and_0_2(broken_run):
    result, summary = broken_run
    rows = dict((r["check"], r) for r in rows_of(summary, RUNTIME))
    error_rate = rows[RUNTIME_ERROR_RATE]["value"]
    assert error_rate == pytest.approx(0.2, abs=0.02), rows[RUNTIME_ERROR_RATE]
    assert rows[RUNTIME_ERROR_RATE]["status"] == "failed"
    assert rows[RUNTIME_ERROR_RATE]["threshold"] == "<= 0.05"
    assert rows["semibot-runtime: metrics scrape"]["message"].endswith("s apart)")  # judged on the 10 s window
    critical = 'semibot-runtime: runtime success rate (critical){mode="runtime_orchestrator"}'
    assert rows[critical]["value"] == pytest.approx(1 - error_rate, abs=1e-4)
    assert rows[critical]["status"] == "failed"
    # Only the metrics fail: the service itself answers.
    assert rows["semibot-runtime: GET /health"]["status"] == "ok"
    assert rows["semibot-runtime: runtime fallback"]["value"] == 0
    assert set(r["check"] for r in rows_of(summary, RUNTIME, "failed")) == {RUNTIME_ERROR_RATE, critical}
    shown = "%.4g" % error_rate  # as the table shows it: 0.2, 0.1961
    assert "- opskit-runtime: %s = %s (expected <= 0.05)" % (RUNTIME_ERROR_RATE, shown) in _failure_message(result)


def test_a_corrupt_sqlite_store_fails_naming_host_check_and_message(broken_run):
    result, summary = broken_run
    rows = dict((r["check"], r) for r in rows_of(summary, FRAMEWORK))
    quick = rows["agent-framework-api: sqlite quick_check"]
    assert quick["status"] == "failed"
    assert quick["value"] == "errors"
    assert "malformed" in quick["message"] or "corrupt" in quick["message"], quick
    assert rows["agent-framework-api: sqlite file"]["status"] == "ok"
    message = _failure_message(result)
    assert "- opskit-agent-framework: agent-framework-api: sqlite quick_check = errors (expected ok): " + \
        quick["message"][:60] in message
    # The summary lists the three broken hosts and only them.
    assert set(summary["hosts"]) == {EL_BOT, RUNTIME, FRAMEWORK}
    assert "on opskit-el-bot, opskit-runtime, opskit-agent-framework" in message.splitlines()[0]


# --------------------------------------------------------------------------- bad input

def test_a_misspelt_threshold_or_rule_key_fails_before_any_check_naming_it(run_playbook, local_hosts, tmp_path):
    result, summary = run_healthcheck(
        run_playbook, tmp_path / "typo", "--limit", EL_BOT,
        "-e", '{"healthcheck_thresholds": {"metrics_intervall": 1}, '
              '"healthcheck_rules": {"000": [{"name": "el qcheck failure rate", "treshold": 0.5}]}}')
    assert result.rc != 0, result
    assert summary is None  # nothing was checked
    output = flat(result.output)
    assert "Validation of arguments failed" in output
    assert "healthcheck_thresholds.metrics_intervall" in output
    assert "healthcheck_rules.000.treshold" in output
    assert "metrics_interval" in output.split("healthcheck_thresholds.metrics_intervall", 1)[1]


# --------------------------------------------------------------------------- runbook 003

def test_fallback_status_restart_and_reset(run_playbook, local_hosts, admin_token):
    """Fallback on -> status shows it -> a restart keeps it (runbook 003) -> reset turns it off."""
    restarted = False
    try:
        set_fault(admin_token, error_rate=1.0)
        assert drive_turns(3, "hc-fallback") == ["500", "500", "500"]
        set_fault(admin_token)
        assert fallback_status(admin_token)["fallbackEnabled"] is True

        status = run_playbook("playbooks/runtime_fallback.yml", "--limit", RUNTIME)
        assert status.rc == 0, status
        assert "semibot-runtime: fallback ENABLED since" in flat(status.output)
        assert "executions run in direct_llm mode; reason: 3 consecutive runtime_orchestrator errors" in flat(status.output)
        assert admin_token not in status.output
        assert recap(status.output)[RUNTIME]["changed"] == 0

        pid = host_http(RUNTIME, "GET", "/health")[1]["pid"]
        restart = run_playbook("playbooks/runtime_restart.yml", "--limit", RUNTIME)
        restarted = restart.rc == 0
        assert restart.rc == 0, restart
        assert "changed: [opskit-runtime] => (item=semibot-runtime)" in flat(restart.output)
        assert host_http(RUNTIME, "GET", "/health")[1]["pid"] != pid
        # A restart does not reset the fallback; the playbook shows it.
        assert "semibot-runtime: fallback ENABLED since" in flat(restart.output)
        assert admin_token not in restart.output

        reset = run_playbook("playbooks/runtime_fallback.yml", "--limit", RUNTIME, "-e", "runtime_fallback_action=reset")
        assert reset.rc == 0, reset
        assert "reset: fallback was enabled (reason: 3 consecutive runtime_orchestrator errors" in flat(reset.output)
        assert "semibot-runtime: fallback disabled, executions run in runtime_orchestrator mode" in flat(reset.output)
        assert "Fallback disabled on semibot-runtime" in flat(reset.output)
        assert recap(reset.output)[RUNTIME]["changed"] == 1
        assert admin_token not in reset.output
        assert fallback_status(admin_token)["fallbackEnabled"] is False
    finally:
        set_fault(admin_token)
        host_http(RUNTIME, "POST", "/api/v1/runtime/fallback/reset", token=admin_token)
        if not restarted:
            restart_runtime()  # the three failed turns stay in the error counters until a restart


def test_restart_health_gate_fails_clearly_when_health_stays_503(run_playbook, local_hosts, admin_token):
    try:
        set_fault(admin_token, store_down=True)
        result = run_playbook("playbooks/runtime_restart.yml", "--limit", RUNTIME,
                              "-e", "runtime_restart_health_timeout=4")
    finally:
        set_fault(admin_token)
        wait_healthy(RUNTIME)
    assert result.rc != 0, result
    assert ("semibot-runtime on opskit-runtime did not answer GET http://127.0.0.1:8000/health with HTTP [200] "
            "after the restart (runtime_restart_health_timeout), probed every 2 s for 4 s; last answer: "
            "status 503, expected [200]") in flat(result.output)
    assert "Last lines of its journal (journalctl -u semibot-runtime.service):" in result.output
    # It stopped at the gate: the fallback status was not read.
    assert "Read the fallback status" not in result.output
