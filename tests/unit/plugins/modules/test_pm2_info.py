"""Unit tests of opskit.ops.pm2_info and module_utils/_pm2.py (pm2 itself is mocked here;
tests/integration/test_pm2_info.py runs the real pm2 from npm)."""
import json

import pytest
from ansible.module_utils import basic

from ansible_collections.opskit.ops.plugins.module_utils import _pm2
from ansible_collections.opskit.ops.plugins.modules import pm2_info

from _module_harness import run_module

# The shape of a real `pm2 jlist` entry (pm2 7.0.4), trimmed to the keys read.
JLIST = [
    {"pid": 4242, "name": "semibot-runtime", "pm_id": 0, "monit": {"memory": 61865984, "cpu": 0.3},
     "pm2_env": {"status": "online", "restart_time": 2, "unstable_restarts": 0, "pm_uptime": 1000000,
                 "exec_mode": "fork_mode"}},
    {"pid": 0, "name": "worker", "pm_id": 1, "monit": {"memory": 0, "cpu": 0},
     "pm2_env": {"status": "errored", "restart_time": 15, "unstable_restarts": 15, "pm_uptime": 900000,
                 "exec_mode": "fork_mode"}},
]


def test_parse_jlist_with_a_warning_before_the_json():
    text = "[PM2] Spawning PM2 daemon\n" + json.dumps(JLIST)
    found = _pm2.parse_jlist(text, now_ms=1081500)
    assert found[0] == {"name": "semibot-runtime", "pm_id": 0, "pid": 4242, "status": "online", "restarts": 2,
                        "unstable_restarts": 0, "uptime_seconds": 81.5, "memory_bytes": 61865984,
                        "cpu_percent": 0.3, "exec_mode": "fork_mode"}
    assert found[1]["pid"] is None and found[1]["uptime_seconds"] is None and found[1]["status"] == "errored"


@pytest.mark.parametrize("text", ["", "not json", "[{", '{"a": 1}'])
def test_parse_jlist_refuses_what_is_not_a_list(text):
    with pytest.raises(_pm2.Pm2Error):
        _pm2.parse_jlist(text, 0)


def test_check_rows():
    found = _pm2.parse_jlist(json.dumps(JLIST), 1081500)
    rows = _pm2.check_rows(found, ["semibot-runtime", "worker", "missing"])
    assert [r["status"] for r in rows] == ["ok", "failed", "failed"]
    assert rows[0]["value"] == "1/1 online"
    assert rows[0]["message"] == "semibot-runtime: online (pid 4242), 2 restart(s)"
    assert rows[1]["message"] == "worker: errored (pid None), 15 restart(s)"
    assert rows[2]["message"] == "pm2 has no process named missing"
    assert [r["target"] for r in _pm2.check_rows(found, [])] == ["semibot-runtime", "worker"]


def _fake_pm2(monkeypatch, rc=0, out=None, err=""):
    calls = []

    def run_command(self, args, environ_update=None, **kw):
        calls.append((args, environ_update or {}))
        return rc, json.dumps(JLIST) if out is None else out, err
    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, required=False: "/usr/bin/" + name)
    return calls


def test_module_reports_and_fails_only_when_asked(monkeypatch):
    calls = _fake_pm2(monkeypatch)
    result, failed = run_module(monkeypatch, pm2_info.main, {"names": ["semibot-runtime", "worker"],
                                                             "pm2_home": "/var/lib/x/.pm2"}, check_mode=True)
    assert failed is False and result["changed"] is False
    assert result["summary"] == {"total": 2, "passed": 1, "failed": 1}
    assert calls[0][0] == ["/usr/bin/pm2", "jlist"]
    assert calls[0][1]["PM2_HOME"] == "/var/lib/x/.pm2"
    result, failed = run_module(monkeypatch, pm2_info.main, {"names": ["worker"], "fail_on_error": True})
    assert failed is True
    assert result["msg"] == "worker: errored (pid None), 15 restart(s)"


def test_module_fails_when_pm2_fails(monkeypatch):
    _fake_pm2(monkeypatch, rc=1, out="", err="pm2: command not found")
    result, failed = run_module(monkeypatch, pm2_info.main, {})
    assert failed is True
    assert result["msg"] == "pm2 jlist failed (rc 1): pm2: command not found"
