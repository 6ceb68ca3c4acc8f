# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""opskit.ops.azure_search_index with fake clients (the SDK boundary); the round trip through the real
SDK runs in tests/integration/test_azure_search_roundtrip.py against the stand-in."""

from __future__ import absolute_import, division, print_function

import json
import os
import sys

import pytest
from azure.core.exceptions import HttpResponseError

from ansible_collections.opskit.ops.plugins.modules import azure_search_index as module

from _module_harness import run_main

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "module_utils"))
from test_azure_search import DOCS, SCHEMA, FakeIndexClient, FakeSearchClient  # noqa: E402


@pytest.fixture
def run(monkeypatch):
    def runner(args, index_client, search_client, check_mode=False):
        seen = {}

        def clients(endpoint, index, credential, api_version=None):
            seen.update(endpoint=endpoint, index=index, credential=credential)
            return index_client, search_client
        monkeypatch.setattr(module, "clients", clients)
        params = {"endpoint": "https://agent-search-prd.search.windows.net", "index": "kb", "api_key": "k3y-s3cret"}
        params.update(args)
        return run_main(monkeypatch, module.main, params, check_mode=check_mode), seen
    return runner


def test_export_then_import_unchanged_and_check_mode(run, tmp_path):
    dest = str(tmp_path / "x")
    done, seen = run({"action": "export", "dest": dest}, FakeIndexClient(SCHEMA), FakeSearchClient(DOCS))
    assert (done.failed, done.result["changed"], done.result["count"]) == (False, True, 3)
    assert seen["credential"].key == "k3y-s3cret"
    src = done.result["files"]["jsonl"]
    target = FakeSearchClient(DOCS)
    done, _seen = run({"action": "import", "src": src}, FakeIndexClient(SCHEMA), target)
    assert (done.result["changed"], done.result["uploaded"]) == (False, 0)
    changed = FakeSearchClient(DOCS[:1])
    done, _seen = run({"action": "import", "src": src}, FakeIndexClient(SCHEMA), changed, check_mode=True)
    assert (done.result["changed"], done.result["uploaded"], changed.uploads) == (True, 2, [])


def test_export_check_mode_writes_nothing(run, tmp_path):
    dest = str(tmp_path / "x")
    done, _seen = run({"action": "export", "dest": dest}, FakeIndexClient(SCHEMA), FakeSearchClient(DOCS),
                      check_mode=True)
    assert (done.result["changed"], os.path.exists(dest)) == (True, False)


def test_throttling_is_named_and_the_key_is_never_returned(run, tmp_path):
    busy = HttpResponseError(message="ServiceUnavailable: request rate too high")
    busy.status_code = 503
    dest = str(tmp_path / "x")
    done, _seen = run({"action": "export", "dest": dest}, FakeIndexClient(SCHEMA), FakeSearchClient(DOCS))
    done, _seen = run({"action": "import", "src": done.result["files"]["jsonl"]}, FakeIndexClient(SCHEMA),
                      FakeSearchClient([], upload_error=busy))
    assert (done.failed, done.result["error"]) == (True, "throttled")
    assert "k3y-s3cret" not in json.dumps(done.result)


def test_missing_index_on_export(run, tmp_path):
    done, _seen = run({"action": "export", "dest": str(tmp_path)}, FakeIndexClient(None), FakeSearchClient([]))
    assert (done.failed, done.result["error"]) == (True, "not_found")
    assert done.result["msg"] == "export of kb failed: index kb does not exist"


def test_set_path_must_contain_dest(run, tmp_path):
    from ansible_collections.opskit.ops.plugins.module_utils._backup_manifest import start_set
    set_path = start_set(str(tmp_path / "sets"), "azure", "20250115T103000Z")
    done, _seen = run({"action": "export", "dest": str(tmp_path / "elsewhere"), "set_path": set_path},
                      FakeIndexClient(SCHEMA), FakeSearchClient(DOCS))
    assert done.failed is True and "dest must be inside set_path" in done.result["msg"]
