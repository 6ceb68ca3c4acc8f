# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""opskit.ops.azure_appinsights_query with a fake LogsQueryClient (the SDK boundary)."""

from __future__ import absolute_import, division, print_function

import datetime

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.monitor.query import LogsQueryStatus

from ansible_collections.opskit.ops.plugins.modules import azure_appinsights_query as module
from ansible_collections.opskit.ops.plugins.module_utils import _azure_monitor as monitor

from _module_harness import run_main

WORKSPACE = "5b9d0c3e-0000-0000-0000-000000000000"


class Table(object):
    def __init__(self, columns, rows):
        self.columns = columns
        self.rows = rows


class Result(object):
    status = LogsQueryStatus.SUCCESS

    def __init__(self, columns, rows):
        self.tables = [Table(columns, rows)]


class Partial(object):
    status = LogsQueryStatus.PARTIAL

    def __init__(self, columns, rows, message):
        self.partial_data = [Table(columns, rows)]
        self.partial_error = type("Err", (), {"message": message})()


class FakeLogs(object):
    """Answers by the first line of the query (traces / requests / customMetrics)."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def _answer(self, query, timespan):
        self.calls.append((query.splitlines()[0], timespan))
        for needle, answer in self.answers:
            if needle in query:
                if isinstance(answer, Exception):
                    raise answer
                return answer
        raise AssertionError("no answer for %s" % query)

    def query_workspace(self, workspace_id, query, timespan=None):
        assert workspace_id == WORKSPACE
        return self._answer(query, timespan)

    def query_resource(self, resource_id, query, timespan=None):
        return self._answer(query, timespan)


NOW = datetime.datetime(2025, 1, 15, 10, 30, tzinfo=datetime.timezone.utc)
QUIET = [
    ("severityLevel >= 3", Result(["timestamp", "message"], [])),
    ("customDimensions.job_id", Result(["timestamp", "message", "customDimensions_job_id"], [])),
    ("requests", Result(["error_rate_percent", "total", "failed"], [[1.25, 400, 5]])),
    ("customMetrics", Result(["budget_used_percent", "used"], [[40.0, 400000]])),
]


@pytest.fixture
def run(monkeypatch):
    def runner(answers, args=None, check_mode=False):
        fake = FakeLogs(answers)
        monkeypatch.setattr(module, "logs_client", lambda credential, endpoint=None: fake)
        monkeypatch.setattr(module, "credential_from_params", lambda params: object())
        params = {"workspace_id": WORKSPACE}
        params.update(args or {})
        return run_main(monkeypatch, module.main, params, check_mode=check_mode), fake
    return runner


def rows(done):
    return [(r["check"], r["value"], r["status"]) for r in done.result["checks"]]


def test_runbook_checks_on_a_quiet_hour(run):
    done, fake = run(QUIET, {"token_budget": 1000000})
    assert done.failed is False and done.result["changed"] is False
    assert rows(done) == [("appinsights error traces (1h)", 0, "ok"), ("appinsights job errors (1h)", 0, "ok"),
                          ("appinsights error rate % (5 min)", 1.25, "ok"),
                          ("appinsights token budget used %", 40, "ok")]
    # The runbook's queries are sent as written, bounded by the check's timespan.
    assert fake.calls[0] == ("traces", datetime.timedelta(hours=1))
    assert fake.calls[2] == ("requests", datetime.timedelta(minutes=10))
    assert fake.calls[3] == ("customMetrics", datetime.timedelta(days=31))


def test_error_rate_over_five_percent_fails_and_budget_over_80_warns(run):
    answers = [QUIET[0], QUIET[1], ("requests", Result(["error_rate_percent", "total", "failed"], [[7.5, 400, 30]])),
               ("customMetrics", Result(["budget_used_percent", "used"], [[85.0, 850000]]))]
    done, _fake = run(answers, {"token_budget": 1000000})
    assert done.failed is True
    assert rows(done)[2:] == [("appinsights error rate % (5 min)", 7.5, "failed"),
                              ("appinsights token budget used %", 85, "warning")]
    assert done.result["checks"][2]["message"] == "error_rate_percent = 7.5, outside <= 5"
    assert done.result["checks"][2]["threshold"] == "<= 5"


def test_error_traces_warn_and_name_the_first_messages(run):
    traces = Result(["timestamp", "message"], [[NOW, "tool timeout"], [NOW, "LLM 429"]])
    done, _fake = run([("severityLevel >= 3", traces)] + QUIET[1:])
    assert rows(done)[0] == ("appinsights error traces (1h)", 2, "warning")
    assert done.result["checks"][0]["message"] == "2 rows, outside <= 0; first: tool timeout, LLM 429"
    assert done.result["results"][0]["sample"][0]["timestamp"] == "2025-01-15T10:30:00+00:00"
    assert done.failed is False  # warnings do not fail the task


def test_no_requests_is_no_data_not_ok(run):
    answers = QUIET[:2] + [("requests", Result(["error_rate_percent", "total", "failed"], [[None, 0, 0]]))]
    done, _fake = run(answers)
    assert rows(done)[2] == ("appinsights error rate % (5 min)", None, "no_data")
    assert "null in error_rate_percent" in done.result["checks"][2]["message"]
    assert len(done.result["checks"]) == 3  # no token_budget: no budget check


def test_partial_result_is_never_better_than_a_warning(run):
    partial = Partial(["error_rate_percent", "total", "failed"], [[2.0, 100, 2]], "query exceeded the row limit")
    bad = Partial(["error_rate_percent", "total", "failed"], [[9.0, 100, 9]], "timeout")
    done, _fake = run(QUIET[:2] + [("requests", partial)])
    assert rows(done)[2] == ("appinsights error rate % (5 min)", 2, "warning")
    assert "partial result" in done.result["checks"][2]["message"]
    assert done.result["results"][2]["partial"] is True
    done, _fake = run(QUIET[:2] + [("requests", bad)], {"fail_on_error": False})
    assert rows(done)[2] == ("appinsights error rate % (5 min)", 9, "failed")


def test_throttling_auth_and_missing_workspace_become_failed_rows(run):
    throttled = HttpResponseError(message="Too many requests")
    throttled.status_code = 429
    answers = [("severityLevel >= 3", ClientAuthenticationError(message="AADSTS7000215: Invalid client secret")),
               ("customDimensions.job_id", ResourceNotFoundError(message="Workspace not found")),
               ("requests", throttled)]
    done, _fake = run(answers, {"fail_on_error": False})
    assert [r["status"] for r in done.result["checks"]] == ["failed", "failed", "failed"]
    assert done.result["errors"] == {"appinsights error traces (1h)": "auth", "appinsights job errors (1h)": "not_found",
                                     "appinsights error rate % (5 min)": "throttled"}
    assert done.result["checks"][2]["message"].startswith("query did not run: throttled by Azure (HTTP 429)")


def test_check_mode_runs_the_queries(run):
    done, fake = run(QUIET, check_mode=True)
    assert len(fake.calls) == 3 and done.result["changed"] is False


def test_own_checks_with_preset_none(run):
    answers = [("duration", Result(["p95"], [[6200.0]]))]
    done, fake = run(answers, {"preset": "none", "checks": [{
        "name": "slow requests", "query": "requests | summarize p95 = percentile(duration, 95)",
        "measure": "column", "column": "p95", "op": "<=", "threshold": 5000, "timespan": "PT15M"}]})
    assert rows(done) == [("slow requests", 6200, "failed")]
    assert fake.calls == [("requests | summarize p95 = percentile(duration, 95)", datetime.timedelta(minutes=15))]


@pytest.mark.parametrize("args, words", [
    ({"preset": "none"}, "nothing to check"),
    ({"token_budget": 0}, "token_budget: expected a positive number"),
    ({"token_budget": 10, "token_metric": 'x" | take 1'}, "token_metric"),
    ({"checks": [{"name": "c", "query": "q", "measure": "column"}]}, "measure column needs column"),
    ({"checks": [{"name": "c", "query": "q", "timespan": "one hour"}]}, "ISO 8601 duration"),
])
def test_bad_input_names_the_option(run, args, words):
    done, fake = run(QUIET, args)
    assert done.failed is True and words in done.result["msg"]
    assert fake.calls == []


@pytest.mark.parametrize("text, expected", [
    ("PT1H", datetime.timedelta(hours=1)), ("P31D", datetime.timedelta(days=31)),
    ("P1DT2H30M", datetime.timedelta(days=1, hours=2, minutes=30)), ("90", datetime.timedelta(seconds=90)),
    (None, None)])
def test_parse_timespan(text, expected):
    assert monitor.parse_timespan(text) == expected


def test_the_real_client_takes_another_endpoint():
    from azure.core.credentials import AccessToken

    class Token(object):
        def get_token(self, *scopes, **kwargs):
            return AccessToken("t", 0)
    client = monitor.logs_client(Token(), "https://api.loganalytics.azure.cn/v1")
    assert client._endpoint == "https://api.loganalytics.azure.cn/v1"
