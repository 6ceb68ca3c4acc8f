"""playbooks/smoke.yml on the local hosts: JUnit XML through the junit callback and the Markdown summary.

One run against two hosts, with the runbook 001 worker stopped on
opskit-agent-framework (put back in a finally block): its test case fails,
the other ones pass.

    .venv/bin/pytest -m integration tests/integration/test_smoke.py
"""
import glob
import importlib.util
import json
import os
import re
import time
import xml.etree.ElementTree as ET

_SPEC = importlib.util.spec_from_file_location(
    "opskit_integration_helpers", os.path.join(os.path.dirname(os.path.abspath(__file__)), "conftest.py"))
_HELPERS = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_HELPERS)
docker_exec, host_http = _HELPERS.docker_exec, _HELPERS.host_http

FRAMEWORK, MULTI = "opskit-agent-framework", "opskit-multi-agent"


def _junit_env(directory):
    return {
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.builtin.junit,ansible.posix.profile_tasks",
        "JUNIT_OUTPUT_DIR": str(directory),
        # The role's task names carry the role name: "opskit.ops.healthcheck : Smoke: ...".
        "JUNIT_TEST_CASE_PREFIX": "opskit.ops.healthcheck : Smoke: ",
        "JUNIT_FAIL_ON_IGNORE": "true",
        "JUNIT_HIDE_TASK_ARGUMENTS": "true",
    }


def test_smoke_writes_junit_and_markdown_and_fails_on_a_down_service(run_playbook, local_hosts, admin_token, tmp_path):
    report_dir = tmp_path / "smoke"
    try:
        docker_exec(FRAMEWORK, "systemctl", "stop", "agent-framework-worker")
        result = run_playbook("playbooks/smoke.yml", "--limit", "%s,%s" % (FRAMEWORK, MULTI),
                              "-e", "healthcheck_smoke_report_dir=%s" % report_dir, extra_env=_junit_env(report_dir))
    finally:
        docker_exec(FRAMEWORK, "systemctl", "start", "agent-framework-worker", check=False)
        deadline = time.monotonic() + 60
        while host_http(FRAMEWORK, "GET", "/health", port=8001)[0] != 200:
            assert time.monotonic() < deadline, "agent-framework-worker did not come back"
            time.sleep(1)

    assert result.rc != 0, result
    assert admin_token not in result.output
    (xml_file,) = glob.glob(str(report_dir / "smoke-*.xml"))
    with open(xml_file) as handle:
        assert admin_token not in handle.read()
    cases = {}
    for case in ET.parse(xml_file).getroot().iter("testcase"):
        # ansible-core 2.19 reports a failed task as <error> (it carries an exception), older ones as <failure>.
        failure = case.find("failure") if case.find("failure") is not None else case.find("error")
        cases[case.get("name")] = None if failure is None else (failure.get("message") or "")

    def case(host, name):
        (key,) = [k for k in cases if k.startswith("[%s]" % host) and k.endswith(name)]
        return cases[key]

    worker_health = case(FRAMEWORK, "Smoke: every service answers /health")
    assert worker_health is not None
    assert "agent-framework-worker: GET /health: connection refused" in worker_health
    assert "agent-framework-api" not in worker_health
    assert case(FRAMEWORK, "Smoke: the SQLite store passes its checks") is None
    assert case(MULTI, "Smoke: every service answers /health") is None
    assert case(MULTI, "Smoke: no critical metric rule fails") is None
    assert case(MULTI, "Smoke: PostgreSQL and Redis answer") is None
    root = ET.parse(xml_file).getroot()
    assert int(root.get("failures")) + int(root.get("errors")) == 3  # health, metrics scrape, the final summary
    # Only the Smoke: tasks are test cases, plus the final failure.
    assert all("Smoke: " in name or "Fail when any check failed" in name for name in cases), sorted(cases)

    with open(report_dir / "summary.md") as handle:
        markdown = handle.read()
    assert markdown.startswith("# Smoke test summary")
    assert "**Status: FAILED**" in markdown
    assert "| opskit-agent-framework | agent-framework-worker: GET /health | - |" in markdown
    with open(report_dir / "summary.json") as handle:
        summary = json.load(handle)
    assert set(summary["hosts"]) == {FRAMEWORK, MULTI}
    assert summary["hosts"][MULTI]["failed"] == 0
    assert "Smoke test failed: " in result.output
    assert "- opskit-agent-framework: agent-framework-worker: GET /health = n/a" in result.output
    # The summary printed first: counts per host, and only the checks that are not ok.
    compact = result.output[result.output.index("SUMMARY - checks by status"):]
    compact = compact[:compact.index("TASK [")]
    assert "Smoke test: " in compact
    assert re.search(r"opskit-multi-agent\s+\d+ checks: \d+ ok, \d+ warning, 0 failed", compact), compact
    assert re.search(r"opskit-agent-framework\s+\d+ checks: \d+ ok, \d+ warning, [1-9]\d* failed", compact), compact
    assert "agent-framework-worker: GET /health" in compact
    assert "agent-framework-api: GET /health" not in compact  # ok rows stay in the report files only
    assert "| opskit-agent-framework | agent-framework-api: GET /health |" in markdown
    assert os.path.exists(report_dir / "table.txt")
