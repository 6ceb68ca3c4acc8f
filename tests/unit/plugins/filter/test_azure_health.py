# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of azure_healthcheck.yml and tasks/azure_data_restore.yml."""

from __future__ import absolute_import, division, print_function

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.opskit.ops.plugins.filter.azure_health import azure_health_rows, azure_restore_rows

ROW = {"check": "servicebus agent-jobs active messages", "target": "ns/agent-jobs", "value": 3,
       "threshold": "<= 100", "status": "ok", "message": "3 active messages within (<= 100)"}


def test_rows_of_a_module_result_are_kept_with_exactly_the_row_keys():
    assert azure_health_rows({"checks": [dict(ROW, extra=1)], "changed": False}, "x") == [ROW]


def test_a_skipped_task_is_a_no_data_row_naming_the_setting():
    rows = azure_health_rows({"skipped": True, "changed": False}, "azure_appinsights_query",
                             "azure_data.log_analytics_workspace_id")
    assert [(r["check"], r["status"], r["message"]) for r in rows] == [
        ("azure_appinsights_query", "no_data", "not checked: set azure_data.log_analytics_workspace_id")]
    assert azure_health_rows({}, "x", "k")[0]["status"] == "no_data"


def test_a_task_that_ran_without_rows_is_a_failed_row_with_its_message():
    rows = azure_health_rows({"failed": True, "msg": "Failed to import the required Python library "
                                                     "(azure-servicebus)"}, "azure_servicebus_queue_info")
    assert rows[0]["status"] == "failed"
    assert rows[0]["message"].startswith("azure_servicebus_queue_info could not run: Failed to import")


def test_bad_rows_are_refused():
    with pytest.raises(AnsibleFilterError, match="not a check row"):
        azure_health_rows({"checks": [{"value": 1}]}, "x")
    with pytest.raises(AnsibleFilterError, match="expected a registered task result"):
        azure_health_rows("text", "x")


def test_restore_rows_of_blobs_and_each_index():
    blobs = {"container": "checkpoints-drill", "count": 2, "uploaded": ["a", "b"], "deleted": [], "verified": True}
    search = {"results": [{"index": "kb-drill", "count": 80, "uploaded": 80, "deleted": 0, "verified": True},
                          {"skipped": True},
                          {"index": "kb2", "count": 5, "uploaded": 0, "deleted": 0, "verified": False,
                           "msg": "would upload 5"}]}
    rows = azure_restore_rows(blobs, search)
    assert [(r["part"], r["target"], r["written"], r["verified"]) for r in rows] == [
        ("blobs", "checkpoints-drill", 2, True), ("search", "kb-drill", 80, True), ("search", "kb2", 0, False)]
    assert rows[0]["summary"] == "blobs checkpoints-drill: 2 of 2 written, 0 deleted, read back as exported"
    assert rows[2]["summary"].endswith("would upload 5")
    assert azure_restore_rows({"skipped": True}, {"results": []}) == []
