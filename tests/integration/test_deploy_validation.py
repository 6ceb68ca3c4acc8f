"""A bad inventory value stops deploy.yml in its first play, before any host changes."""
import json

import pytest


@pytest.mark.parametrize(
    "services, expected",
    [
        ([{"name": "el-bot", "port": "eighty"}], "cannot be converted to an int"),
        ([{"name": "el-bot", "port": 8000, "environment": "staging"}],
         "value of environment must be one of: test, production, got: staging"),
        ([{"name": "el-bot", "port": 8000, "store": "mysql"}], "value of store must be one of: sqlite, postgres"),
        ([{"name": "a", "port": 8000}, {"name": "b", "port": 8000}], "port 8000 is already used by a"),
    ],
)
def test_bad_service_definition_stops_before_any_change(run_playbook, services, expected):
    # -e sets opskit_services on every host; --limit keeps it to the service hosts (on the observability
    # host inventory_check would first refuse services outside the group agent_services).
    result = run_playbook("playbooks/deploy.yml", "--limit", "agent_services", "-e", json.dumps({"opskit_services": services}))
    assert result.rc != 0, result
    assert expected in result.output, result
    assert "opskit_services" in result.output, result
    # Nothing after the preflight play ran: no task of any deployment role started.
    assert "python_service :" not in result.output, result
    assert "postgresql :" not in result.output, result


def test_missing_secret_is_named(run_playbook):
    result = run_playbook("playbooks/deploy.yml", "--limit", "multi_agent", extra_env={"OPSKIT_DB_PASSWORD": ""})
    assert result.rc != 0, result
    assert "opskit_db_password is empty" in result.output, result
    assert "postgresql :" not in result.output, result


def test_check_diff_on_the_converged_hosts_reports_no_change(local_hosts, run_playbook):
    result = run_playbook("playbooks/deploy.yml", "--check", "--diff")
    assert result.rc == 0, result
    recap = result.output[result.output.index("PLAY RECAP"):]
    for host in local_hosts.values():
        line = next(l for l in recap.splitlines() if l.startswith(host))
        assert "changed=0" in line and "failed=0" in line, line
