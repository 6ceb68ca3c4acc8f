# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared Azure helpers: error kinds, secret scrubbing, credentials, batch recording into a backup set."""

from __future__ import absolute_import, division, print_function

import os

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError, ServiceRequestError
from azure.identity import ClientSecretCredential, DefaultAzureCredential

from ansible_collections.opskit.ops.plugins.module_utils import _azure_common as common
from ansible_collections.opskit.ops.plugins.module_utils._azure_blob import ContainerCopyError, local_path
from ansible_collections.opskit.ops.plugins.module_utils._backup_manifest import add_item, complete_set, start_set


def status_error(code, text="boom"):
    exc = HttpResponseError(message=text)
    exc.status_code = code
    return exc


@pytest.mark.parametrize("exc, kind", [
    (ClientAuthenticationError(message="AADSTS700016"), "auth"),
    (status_error(403, "AuthorizationFailed"), "auth"),
    (ResourceNotFoundError(message="QueueNotFound"), "not_found"),
    (status_error(429), "throttled"),
    (status_error(503, "ServerBusy"), "throttled"),
    (ServiceRequestError(message="Name or service not known"), "error"),
    (status_error(400, "BadArgumentError: syntax error"), "error"),
    (ValueError("x"), "error"),
])
def test_classify(exc, kind):
    assert common.classify(exc)[0] == kind


def test_messages_never_carry_keys_of_connection_strings_or_sas():
    exc = status_error(400, "bad: Endpoint=sb://x/;SharedAccessKey=abc123==;AccountKey=def456 sig=ghi789&se=1")
    message = common.classify(exc)[1]
    assert "abc123" not in message and "def456" not in message and "ghi789" not in message
    assert "SharedAccessKey=***" in message


def test_credentials_all_or_none(monkeypatch):
    assert isinstance(common.credential_from_params({"client_id": "a", "secret": "b", "tenant": "c"}),
                      ClientSecretCredential)
    assert isinstance(common.credential_from_params({}), DefaultAzureCredential)
    with pytest.raises(common.AzureCallError) as info:
        common.credential_from_params({"client_id": "a", "secret": None, "tenant": "c"})
    assert info.value.kind == "auth"


def test_credential_options_are_secret_and_from_the_environment():
    spec = common.credential_argument_spec()
    assert sorted(spec) == ["client_id", "secret", "tenant"]
    assert all(option["no_log"] is True for option in spec.values())
    assert [spec[k]["fallback"][1] for k in ("client_id", "secret", "tenant")] == [
        ["AZURE_CLIENT_ID"], ["AZURE_CLIENT_SECRET"], ["AZURE_TENANT_ID"]]


def test_record_items_adds_many_items_in_one_write_and_the_set_completes(tmp_path):
    set_path = start_set(str(tmp_path), "azure-agent-framework", "20250115T103000Z")
    os.makedirs(os.path.join(set_path, "blobs"))
    items = []
    for index in range(3):
        path = os.path.join(set_path, "blobs", "b%d" % index)
        with open(path, "wb") as handle:
            handle.write(b"x" * index)
        from ansible_collections.opskit.ops.plugins.module_utils._backup_common import sha256_file
        items.append({"file": "blobs/b%d" % index, "store": "blobs", "size": index, "sha256": sha256_file(path)})
    recorded = common.record_items(set_path, items)
    assert [r["kind"] for r in recorded] == ["blobs", "blobs", "blobs"]
    with open(os.path.join(set_path, "extra"), "w") as handle:
        handle.write("e")
    add_item(set_path, "extra", "config")
    manifest = complete_set(set_path)
    assert [i["file"] for i in manifest["items"]] == ["blobs/b0", "blobs/b1", "blobs/b2", "extra"]


def test_record_items_needs_a_set_in_progress(tmp_path):
    with pytest.raises(common.AzureCallError, match="not a backup set in progress"):
        common.record_items(str(tmp_path), [{"file": "a", "store": "blobs", "size": 0, "sha256": "0"}])


@pytest.mark.parametrize("name", ["../escape", "/abs", "a//b", "a/./b", "", "a\\b"])
def test_blob_names_that_would_leave_the_export_are_refused(tmp_path, name):
    with pytest.raises(ContainerCopyError):
        local_path(str(tmp_path), name)


def test_blob_names_map_to_files_under_blobs(tmp_path):
    assert local_path("/x", "job-1/state.json") == os.path.join("/x", "blobs", "job-1", "state.json")
