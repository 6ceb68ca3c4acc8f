"""Unit tests of the runbook 003 filters (plugins/filter/runtime_fallback.py)."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.opskit.ops.plugins.filter.runtime_fallback import runtime_fallback

TOKEN = "s3cret-token"
STATUS = {"fallbackEnabled": True, "fallbackReason": "3 consecutive runtime_orchestrator errors",
          "triggeredAt": "2026-01-01T00:00:00.000Z", "resetAt": None, "triggerCount": 1,
          "currentMode": "direct_llm", "consecutiveErrors": 3, "recentErrorRate": 0.3, "recentSamples": 10,
          "thresholds": {"errorRate": 0.5, "consecutiveErrors": 3, "window": 20, "minSamples": 10}}


def _uri(status, data=None, msg="OK (unknown bytes)", name="semibot-runtime"):
    result = {"status": status, "msg": msg, "item": {"name": name, "base_url": "http://127.0.0.1:8000"},
              "ansible_loop_var": "item",
              "invocation": {"module_args": {"headers": {"Authorization": "Bearer " + TOKEN}}}}
    if data is not None:
        result["json"] = {"data": data}
    return result


def test_enabled_status_is_readable_and_carries_nothing_of_the_request():
    (status,) = runtime_fallback({"results": [_uri(200, STATUS)]})
    assert status["ok"] is True
    assert status["fallback_enabled"] is True
    assert status["http_status"] == 200
    assert status["lines"] == [
        "semibot-runtime: fallback ENABLED since 2026-01-01T00:00:00.000Z, executions run in direct_llm mode; "
        "reason: 3 consecutive runtime_orchestrator errors",
        "  triggered 1 time(s) since the state was created; last trigger 2026-01-01T00:00:00.000Z; last reset never",
        "  consecutive errors 3; recent error rate 0.3 over 10 runtime_orchestrator executions",
        "  auto-fallback when the error rate of the last 20 (at least 10) exceeds 0.5, or after 3 errors in a row",
    ]
    assert TOKEN not in repr(status)


def test_disabled_status_and_a_reset_answer():
    data = dict(STATUS, fallbackEnabled=False, currentMode="runtime_orchestrator", resetAt="2026-01-02T00:00:00Z",
                previous={"fallbackEnabled": True, "fallbackReason": "3 consecutive runtime_orchestrator errors"})
    (status,) = runtime_fallback([_uri(200, data)])
    assert status["fallback_enabled"] is False
    assert status["previous_enabled"] is True
    assert status["lines"][0] == "semibot-runtime: fallback disabled, executions run in runtime_orchestrator mode"
    assert "last reset 2026-01-02T00:00:00Z" in status["lines"][1]
    assert status["lines"][-1] == "  reset: fallback was enabled (reason: 3 consecutive runtime_orchestrator errors)"


@pytest.mark.parametrize("status, msg, problem", [
    (401, "HTTP Error 401: Unauthorized", "answered 401: the admin token (opskit_admin_token) is not the ADMIN_TOKEN"),
    (503, "HTTP Error 503", "answered 503: ADMIN_TOKEN is not set on the service"),
    (404, "HTTP Error 404", "answered 404: no fallback API here"),
    (-1, "Request failed: <urlopen error [Errno 111] Connection refused>",
     "no answer (Request failed: <urlopen error [Errno 111] Connection refused>)"),
    (500, "HTTP Error 500", "answered 500: HTTP Error 500"),
])
def test_failed_requests_say_why(status, msg, problem):
    (result,) = runtime_fallback([_uri(status, msg=msg)])
    assert result["ok"] is False
    assert result["fallback_enabled"] is None
    assert result["problem"].startswith(problem)
    assert result["lines"] == ["semibot-runtime: " + result["problem"]]


def test_an_answer_without_data_is_a_problem_and_a_skipped_request_is_not():
    assert runtime_fallback([_uri(200, None)])[0]["problem"] == "answered 200 without a data object"
    (skipped,) = runtime_fallback([{"skipped": True, "item": {"name": "semibot-runtime"}}])
    assert skipped["ok"] is None
    assert skipped["lines"] == ["semibot-runtime: request not sent (check mode, or skipped)"]


@pytest.mark.parametrize("bad", [None, "x", 3, {"results": None}])
def test_runtime_fallback_needs_loop_results(bad):
    with pytest.raises(AnsibleFilterError, match="registered results of a uri loop"):
        runtime_fallback(bad)
