# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""opskit.ops.azure_servicebus_queue_info with a fake administration client (the SDK boundary)."""

from __future__ import absolute_import, division, print_function

import json

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

from ansible_collections.opskit.ops.plugins.modules import azure_servicebus_queue_info as module

from _module_harness import run_main

DROP = object()
CONN = "Endpoint=sb://agent-sb-prd.servicebus.windows.net/;SharedAccessKeyName=manage;SharedAccessKey=SeCrEtKeY123="


class Props(object):
    def __init__(self, active, dead, scheduled=0):
        self.active_message_count = active
        self.dead_letter_message_count = dead
        self.scheduled_message_count = scheduled
        self.transfer_message_count = 0
        self.transfer_dead_letter_message_count = 0
        self.total_message_count = active + dead + scheduled
        self.size_in_bytes = 1024


class FakeAdmin(object):
    def __init__(self, queues):
        self.queues = queues
        self.calls = []
        self.closed = False

    def get_queue_runtime_properties(self, name):
        self.calls.append(name)
        value = self.queues[name]
        if isinstance(value, Exception):
            raise value
        return value

    def close(self):
        self.closed = True


def throttled():
    exc = HttpResponseError(message="ServerBusy: the request was throttled")
    exc.status_code = 429
    return exc


@pytest.fixture
def run(monkeypatch):
    def runner(queues, args=None, check_mode=False):
        fake = FakeAdmin(queues)
        seen = {}

        def admin_client(connection_string=None, namespace=None, credential=None):
            seen.update(connection_string=connection_string, namespace=namespace, credential=credential)
            return fake
        monkeypatch.setattr(module, "admin_client", admin_client)
        params = {"connection_string": CONN, "queues": list(queues)}
        params.update(args or {})
        params = dict((k, v) for k, v in params.items() if v is not DROP)
        done = run_main(monkeypatch, module.main, params, check_mode=check_mode)
        return done, fake, seen
    return runner


def test_counts_within_thresholds_are_ok_and_nothing_changes(run):
    done, fake, seen = run({"agent-jobs": Props(12, 0)})
    assert done.failed is False
    assert done.result["changed"] is False
    assert [(r["check"], r["value"], r["threshold"], r["status"]) for r in done.result["checks"]] == [
        ("servicebus agent-jobs active messages", 12, "<= 100", "ok"),
        ("servicebus agent-jobs dead-letter messages", 0, "<= 0", "ok")]
    assert done.result["checks"][0]["target"] == "agent-sb-prd.servicebus.windows.net/agent-jobs"
    assert done.result["queues"]["agent-jobs"]["total_message_count"] == 12
    assert fake.closed is True
    assert seen["connection_string"] == CONN


def test_runbook_alert_queue_over_100_fails_and_dead_letters_warn(run):
    done, _fake, _seen = run({"agent-jobs": Props(101, 3)})
    assert done.failed is True
    statuses = [(r["check"], r["status"]) for r in done.result["checks"]]
    assert statuses == [("servicebus agent-jobs active messages", "failed"),
                        ("servicebus agent-jobs dead-letter messages", "warning")]
    assert "resubmit" in done.result["checks"][1]["message"]
    assert done.result["summary"] == {"total": 2, "passed": 0, "failed": 1, "warning": 1, "no_data": 0}
    assert done.result["msg"].startswith("1 of 2 queue checks failed")


def test_exactly_at_the_threshold_is_ok(run):
    done, _fake, _seen = run({"agent-jobs": Props(100, 0)})
    assert [r["status"] for r in done.result["checks"]] == ["ok", "ok"]


def test_thresholds_and_severities_are_options(run):
    done, _fake, _seen = run({"agent-jobs": Props(30, 2)}, {"active_max": 20, "active_severity": "warning",
                                                            "dead_letter_max": 1, "dead_letter_severity": "failed"})
    assert [r["status"] for r in done.result["checks"]] == ["warning", "failed"]


def test_check_mode_reads_and_judges_the_same(run):
    done, fake, _seen = run({"agent-jobs": Props(150, 0)}, {"fail_on_error": False}, check_mode=True)
    assert done.failed is False
    assert fake.calls == ["agent-jobs"]
    assert [r["status"] for r in done.result["checks"]] == ["failed", "ok"]


@pytest.mark.parametrize("error, kind, words", [
    (ClientAuthenticationError(message="InvalidSignature: the token is invalid"), "auth", "Manage claim"),
    (ResourceNotFoundError(message="The messaging entity could not be found"), "not_found", "does not exist"),
    (throttled(), "throttled", "throttled by Azure (HTTP 429)"),
])
def test_errors_become_one_failed_row_naming_the_cause(run, error, kind, words):
    done, _fake, _seen = run({"agent-jobs": error, "other": Props(1, 0)}, {"fail_on_error": False})
    assert done.failed is False
    rows = done.result["checks"]
    assert [(r["check"], r["status"], r["threshold"]) for r in rows] == [
        ("servicebus agent-jobs", "failed", "readable"),
        ("servicebus other active messages", "ok", "<= 100"),
        ("servicebus other dead-letter messages", "ok", "<= 0")]
    assert words in rows[0]["message"]
    assert done.result["errors"] == {"agent-jobs": kind}
    assert "SeCrEtKeY123" not in json.dumps(done.result)


def test_an_error_fails_the_task_by_default(run):
    done, _fake, _seen = run({"agent-jobs": throttled()})
    assert done.failed is True
    assert "throttled" in done.result["msg"]


def test_namespace_with_a_partial_service_principal_is_refused(run, monkeypatch):
    monkeypatch.setenv("AZURE_CLIENT_ID", "app")
    monkeypatch.delenv("AZURE_CLIENT_SECRET", raising=False)
    monkeypatch.delenv("AZURE_TENANT_ID", raising=False)
    monkeypatch.delenv("AZURE_SERVICEBUS_CONNECTION_STRING", raising=False)
    done, fake, _seen = run({"agent-jobs": Props(0, 0)}, {"connection_string": DROP, "namespace": "agent-sb-prd"})
    assert done.failed is True
    assert fake.calls == []
    assert "must be given together" in done.result["checks"][0]["message"]
    assert done.result["checks"][0]["target"] == "agent-sb-prd.servicebus.windows.net/agent-jobs"


def test_connection_string_comes_from_the_environment(run, monkeypatch):
    monkeypatch.setenv("AZURE_SERVICEBUS_CONNECTION_STRING", CONN)
    done, _fake, seen = run({"agent-jobs": Props(0, 0)}, {"connection_string": DROP})
    assert done.failed is False
    assert seen["connection_string"] == CONN


def test_the_real_client_is_built_from_a_connection_string():
    from ansible_collections.opskit.ops.plugins.module_utils._azure_servicebus import admin_client
    client = admin_client(CONN)
    assert client.fully_qualified_namespace == "agent-sb-prd.servicebus.windows.net"
