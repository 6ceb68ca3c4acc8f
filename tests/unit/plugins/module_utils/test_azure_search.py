# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AI Search export/import logic with fake clients: error cases the stand-in does not produce."""

from __future__ import absolute_import, division, print_function

import json
import os

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from ansible_collections.opskit.ops.plugins.module_utils import _azure_search as search

SCHEMA = {"name": "kb", "fields": [{"name": "id", "type": "Edm.String", "key": True},
                                   {"name": "body", "type": "Edm.String"}]}


class Definition(object):
    def __init__(self, data):
        self.data = data

    def serialize(self, keep_readonly=False):
        return json.loads(json.dumps(self.data))


class Paged(object):
    def __init__(self, docs, count):
        self.docs = docs
        self.count = count

    def __iter__(self):
        return iter([dict(d, **{"@search.score": 1.0}) for d in self.docs])

    def get_count(self):
        return self.count


class Outcome(object):
    def __init__(self, key, ok, code=200, message=None):
        self.key, self.succeeded, self.status_code, self.error_message = key, ok, code, message


class FakeIndexClient(object):
    def __init__(self, schema):
        self.schema = schema
        self.created = []

    def get_index(self, name):
        if self.schema is None:
            raise ResourceNotFoundError(message="No index %s" % name)
        return Definition(self.schema)

    def create_index(self, index):
        self.created.append(index)
        self.schema = index.serialize()


class FakeSearchClient(object):
    def __init__(self, docs, count=None, upload_error=None, reject=(), lag=0):
        self.docs = dict((d["id"], d) for d in docs)
        self.count = count
        self.upload_error = upload_error
        self.reject = set(reject)
        self.lag = lag
        self.uploads = []

    def search(self, search_text=None, include_total_count=False):
        if self.lag:
            self.lag -= 1
            return Paged([], 0)
        docs = list(self.docs.values())
        return Paged(docs, self.count if self.count is not None else len(docs))

    def get_document_count(self):
        return len(self.docs)

    def upload_documents(self, documents):
        if self.upload_error is not None:
            raise self.upload_error
        self.uploads.append([d["id"] for d in documents])
        out = []
        for doc in documents:
            if doc["id"] in self.reject:
                out.append(Outcome(doc["id"], False, 400, "field body too long"))
            else:
                self.docs[doc["id"]] = doc
                out.append(Outcome(doc["id"], True))
        return out

    def delete_documents(self, documents):
        for doc in documents:
            self.docs.pop(doc["id"], None)
        return [Outcome(d["id"], True) for d in documents]


DOCS = [{"id": "b", "body": "two"}, {"id": "a", "body": "one"}, {"id": "c", "body": "three"}]


def export(tmp_path, docs=None, **kwargs):
    docs = DOCS if docs is None else docs
    return search.export_index(FakeIndexClient(SCHEMA), FakeSearchClient(docs, **kwargs), "kb", str(tmp_path))


def test_export_orders_by_key_and_is_deterministic(tmp_path):
    result = export(tmp_path)
    with open(result["files"]["jsonl"]) as handle:
        assert handle.read() == '{"body":"one","id":"a"}\n{"body":"two","id":"b"}\n{"body":"three","id":"c"}\n'
    assert (result["manifest"]["count"], result["manifest"]["key"]) == (3, "id")
    again = export(tmp_path, docs=list(reversed(DOCS)))
    assert again["changed"] is False


def test_export_refuses_an_index_that_changed_while_it_was_read(tmp_path):
    with pytest.raises(search.SearchExportError, match="changed during the export"):
        export(tmp_path, count=4)
    assert os.listdir(str(tmp_path)) == []


def test_export_check_mode_writes_nothing(tmp_path):
    result = search.export_index(FakeIndexClient(SCHEMA), FakeSearchClient(DOCS), "kb", str(tmp_path / "d"),
                                 check_mode=True)
    assert (result["changed"], result["count"]) == (True, 3)
    assert not os.path.exists(str(tmp_path / "d"))


def test_hidden_fields_are_listed_recursively():
    fields = [{"name": "v", "retrievable": False},
              {"name": "src", "fields": [{"name": "url"}, {"name": "secret", "retrievable": False}]}]
    assert search.hidden_fields(fields) == ["v", "src/secret"]


def test_import_throttled_upload_raises_the_sdk_error(tmp_path):
    exported = export(tmp_path)
    busy = HttpResponseError(message="Too many requests")
    busy.status_code = 503
    target = FakeSearchClient([], upload_error=busy)
    with pytest.raises(HttpResponseError):
        search.import_index(FakeIndexClient(SCHEMA), target, exported["files"]["jsonl"], "kb")


def test_import_names_the_documents_the_service_rejected(tmp_path):
    exported = export(tmp_path)
    target = FakeSearchClient([], reject=["b"])
    with pytest.raises(search.SearchExportError, match=r"1 documents were not written to kb: b \(400 field body too long\)"):
        search.import_index(FakeIndexClient(SCHEMA), target, exported["files"]["jsonl"], "kb")


def test_import_waits_for_the_near_real_time_index(tmp_path):
    exported = export(tmp_path)
    target = FakeSearchClient([], lag=0)
    naps = []
    original = target.search

    def lagging(**kwargs):
        if target.uploads and len(naps) < 2:
            return Paged([], 0)
        return original(**kwargs)
    target.search = lagging
    result = search.import_index(FakeIndexClient(SCHEMA), target, exported["files"]["jsonl"], "kb",
                                 sleep=naps.append)
    assert (result["verified"], naps) == (True, [1, 1])


def test_import_gives_up_after_verify_timeout(tmp_path):
    exported = export(tmp_path)
    target = FakeSearchClient([])
    target.search = lambda **kwargs: Paged([], 0)
    with pytest.raises(search.SearchExportError, match="does not hold the export 0s after the import: 3 documents"):
        search.import_index(FakeIndexClient(SCHEMA), target, exported["files"]["jsonl"], "kb", verify_timeout=0,
                            sleep=lambda s: None)


def test_import_into_a_missing_index_without_create_is_refused(tmp_path):
    exported = export(tmp_path)
    with pytest.raises(search.AzureCallError) as info:
        search.import_index(FakeIndexClient(None), FakeSearchClient([]), exported["files"]["jsonl"], "kb",
                            create_index=False)
    assert info.value.kind == "not_found"


def test_import_creates_the_index_from_the_schema_under_the_new_name(tmp_path):
    exported = export(tmp_path)
    index_client = FakeIndexClient(None)
    target = FakeSearchClient([])
    result = search.import_index(index_client, target, exported["files"]["jsonl"], "kb-drill")
    assert (result["created"], result["uploaded"]) == (True, 3)
    assert index_client.schema["name"] == "kb-drill"


def test_load_export_checks_count_and_schema(tmp_path):
    exported = export(tmp_path)
    with open(exported["files"]["schema"], "a") as handle:
        handle.write(" ")
    with pytest.raises(search.SearchExportError, match="schema.json is missing or does not match"):
        search.load_export(exported["files"]["jsonl"])
    with pytest.raises(search.SearchExportError, match="must be the .jsonl file"):
        search.load_export(exported["files"]["manifest"])


def test_plan_import():
    upload, delete, extra = search.plan_import({"a": "1", "b": "2"}, {"a": "1", "b": "x", "z": "9"})
    assert (upload, delete, extra) == (["b"], [], ["z"])
    assert search.plan_import({"a": "1"}, {"z": "9"}, delete_extra=True)[1] == ["z"]
