# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Export and import of an Azure AI Search index (runbook 001 leaves it to "a custom script").

Export writes three files into a directory, named after the index:

* ``<index>.jsonl``: every document, one JSON object a line (the keys of each
  sorted, ``@search.*`` annotations removed), lines ordered by the document key,
  so the same content always gives the same file and the same SHA-256;
* ``<index>.schema.json``: the index definition as the REST API returns it;
* ``<index>.manifest.json``, written last: index, key field, document count,
  SHA-256 and size of the JSONL file and of the schema.

Import checks the files against the manifest before anything is written,
creates the index from the schema when it does not exist, uploads the
documents that differ from what the index holds (``upload`` replaces a whole
document), optionally deletes the documents the export does not have, and
reads the index back until it holds exactly the exported documents.
Documents are read with ``search("*")`` and the SDK's paging, which the
service limits to 100,000 results per query: a bigger index is refused.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import time

from ansible_collections.opskit.ops.plugins.module_utils._azure_common import AzureCallError
from ansible_collections.opskit.ops.plugins.module_utils._backup_common import (
    atomic_write_bytes,
    atomic_write_json,
    isoformat,
    read_json,
    sha256_file,
)

try:
    from azure.core.credentials import AzureKeyCredential
    from azure.core.exceptions import ResourceNotFoundError
    from azure.search.documents import SearchClient
    from azure.search.documents.indexes import SearchIndexClient
    from azure.search.documents.indexes.models import SearchIndex
    HAS_SEARCH = True
    SEARCH_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - reported by the module
    HAS_SEARCH = False
    SEARCH_IMPORT_ERROR = _exc
    AzureKeyCredential = SearchClient = SearchIndexClient = SearchIndex = None

    class ResourceNotFoundError(Exception):
        pass

MAX_DOCUMENTS = 100000
BATCH_MAX = 1000


class SearchExportError(Exception):
    """The export or import cannot be done or verified."""


def file_names(directory, index):
    base = os.path.join(directory, index)
    return {'jsonl': base + '.jsonl', 'schema': base + '.schema.json', 'manifest': base + '.manifest.json'}


def clients(endpoint, index, credential, api_version=None):
    """(SearchIndexClient, SearchClient) for one index."""
    kwargs = {'api_version': api_version} if api_version else {}
    return (SearchIndexClient(endpoint, credential, **kwargs),
            SearchClient(endpoint, index, credential, **kwargs))


def key_credential(api_key):
    return AzureKeyCredential(api_key)


def read_schema(index_client, index):
    """The index definition as REST JSON, or None when the index does not exist."""
    try:
        definition = index_client.get_index(index)
    except ResourceNotFoundError:
        return None
    data = definition.serialize(keep_readonly=True) if hasattr(definition, 'serialize') else dict(definition)
    data.pop('@odata.etag', None)
    data.pop('@odata.context', None)
    return data


def key_field(schema):
    for field in schema.get('fields') or []:
        if field.get('key'):
            return field['name']
    raise SearchExportError('index %s has no key field in its definition' % schema.get('name'))


def hidden_fields(fields, prefix=''):
    """Dotted names of fields that are not retrievable (their values cannot be exported)."""
    hidden = []
    for field in fields or []:
        name = prefix + field['name']
        if field.get('retrievable') is False:
            hidden.append(name)
        hidden.extend(hidden_fields(field.get('fields'), name + '/'))
    return hidden


def clean_document(doc):
    return dict((k, v) for k, v in doc.items() if not k.startswith('@search.') and not k.startswith('@odata.'))


def canonical(doc):
    return json.dumps(doc, sort_keys=True, separators=(',', ':'), ensure_ascii=False)


def read_documents(search_client, key):
    """{key: canonical line} of every document, and the total count the service reported."""
    results = search_client.search(search_text='*', include_total_count=True)
    docs = {}
    for doc in results:
        doc = clean_document(doc)
        if key not in doc:
            raise SearchExportError('a document has no value for the key field %s' % key)
        docs[str(doc[key])] = canonical(doc)
        if len(docs) > MAX_DOCUMENTS:
            raise SearchExportError('the index holds more than %d documents, the most one search query pages '
                                    'through; export it in parts with filters' % MAX_DOCUMENTS)
    total = results.get_count()
    return docs, total


def _sorted_lines(docs):
    return ''.join(docs[k] + '\n' for k in sorted(docs)).encode('utf-8')


def read_manifest(path):
    try:
        manifest = read_json(path)
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get('complete') is True else None


def export_index(index_client, search_client, index, dest, allow_hidden=False, check_mode=False):
    """Write the three export files of ``index`` into ``dest``; returns a result dict."""
    schema = read_schema(index_client, index)
    if schema is None:
        raise AzureCallError('not_found', 'index %s does not exist' % index)
    key = key_field(schema)
    hidden = hidden_fields(schema.get('fields'))
    if hidden and not allow_hidden:
        raise SearchExportError('index %s has fields that are not retrievable, so an export cannot hold them: %s '
                                '(make them retrievable, or set allow_hidden to export without them)'
                                % (index, ', '.join(hidden)))
    names = file_names(dest, index)
    if check_mode:
        count = search_client.get_document_count()
        return {'changed': True, 'index': index, 'key': key, 'count': count, 'files': names, 'hidden_fields': hidden,
                'msg': 'would export about %d documents of %s to %s' % (count, index, names['jsonl'])}
    docs, total = read_documents(search_client, key)
    if total is not None and total != len(docs):
        raise SearchExportError('index %s changed during the export (%d documents read, the service counted %d); '
                                'run it again' % (index, len(docs), total))
    data = _sorted_lines(docs)
    digest = hashlib.sha256(data).hexdigest()
    schema_data = (json.dumps(schema, indent=2, sort_keys=True) + '\n').encode('utf-8')
    schema_digest = hashlib.sha256(schema_data).hexdigest()
    old = read_manifest(names['manifest'])
    if old and old.get('sha256') == digest and old.get('schema_sha256') == schema_digest and \
            os.path.isfile(names['jsonl']) and sha256_file(names['jsonl']) == digest:
        return {'changed': False, 'index': index, 'key': key, 'count': len(docs), 'files': names,
                'manifest': old, 'hidden_fields': hidden,
                'msg': '%s already holds this export of %s (%d documents)' % (dest, index, len(docs))}
    os.makedirs(dest, mode=0o700, exist_ok=True)
    atomic_write_bytes(names['jsonl'], data)
    atomic_write_bytes(names['schema'], schema_data)
    manifest = {'complete': True, 'kind': 'azure-search-index', 'index': index, 'key': key, 'count': len(docs),
                'sha256': digest, 'size': len(data), 'schema_sha256': schema_digest, 'hidden_fields': hidden,
                'exported_at': isoformat(), 'file': os.path.basename(names['jsonl'])}
    atomic_write_json(names['manifest'], manifest)
    return {'changed': True, 'index': index, 'key': key, 'count': len(docs), 'files': names, 'manifest': manifest,
            'hidden_fields': hidden, 'msg': 'exported %d documents of %s to %s' % (len(docs), index, names['jsonl'])}


def load_export(src):
    """(manifest, schema, {key: line}) of an export, verified against its manifest; ``src`` is the .jsonl file."""
    if not src.endswith('.jsonl'):
        raise SearchExportError('src must be the .jsonl file of an export, got %s' % src)
    base = src[:-len('.jsonl')]
    manifest = read_manifest(base + '.manifest.json')
    if manifest is None:
        raise SearchExportError('%s.manifest.json is missing or incomplete: the export is not usable' % base)
    if not os.path.isfile(src):
        raise SearchExportError('%s is listed in the manifest but missing' % src)
    actual = sha256_file(src)
    if actual != manifest.get('sha256'):
        raise SearchExportError('%s: checksum mismatch, expected sha256 %s, actual %s'
                                % (src, manifest.get('sha256'), actual))
    schema_path = base + '.schema.json'
    if not os.path.isfile(schema_path) or sha256_file(schema_path) != manifest.get('schema_sha256'):
        raise SearchExportError('%s is missing or does not match the manifest' % schema_path)
    schema = read_json(schema_path)
    key = manifest['key']
    docs = {}
    with open(src, 'rb') as handle:
        for number, raw in enumerate(handle, 1):
            line = raw.decode('utf-8').rstrip('\n')
            try:
                doc = json.loads(line)
            except ValueError as exc:
                raise SearchExportError('%s line %d is not JSON: %s' % (src, number, exc))
            docs[str(doc[key])] = line
    if len(docs) != manifest.get('count'):
        raise SearchExportError('%s holds %d documents, the manifest says %s' % (src, len(docs), manifest.get('count')))
    return manifest, schema, docs


def plan_import(wanted, current, delete_extra=False):
    """Keys to upload (missing or different) and keys to delete (only with delete_extra)."""
    upload = sorted(k for k, line in wanted.items() if current.get(k) != line)
    extra = sorted(k for k in current if k not in wanted)
    return upload, extra if delete_extra else [], extra


def _batches(items, size):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _failed(results):
    return ['%s (%s %s)' % (r.key, getattr(r, 'status_code', '?'), getattr(r, 'error_message', '') or '')
            for r in results if not r.succeeded]


def import_index(index_client, search_client, src, index, create_index=True, delete_extra=False, batch_size=500,
                 verify_timeout=60, check_mode=False, sleep=time.sleep):
    """Make ``index`` hold exactly the documents of the export ``src`` (a .jsonl file)."""
    manifest, schema, wanted = load_export(src)
    key = manifest['key']
    batch_size = max(1, min(int(batch_size), BATCH_MAX))
    created = False
    if read_schema(index_client, index) is None:
        if not create_index:
            raise AzureCallError('not_found', 'index %s does not exist (create_index is false)' % index)
        created = True
        current = {}
    else:
        current, _total = read_documents(search_client, key)
    upload, delete, extra = plan_import(wanted, current, delete_extra)
    result = {'index': index, 'key': key, 'count': len(wanted), 'created': created, 'uploaded': len(upload),
              'deleted': len(delete), 'extra': extra[:20], 'extra_count': len(extra),
              'manifest': manifest}
    if not created and not upload and not delete:
        result.update(changed=False, verified=True,
                      msg='index %s already holds the %d documents of the export' % (index, len(wanted)))
        return result
    if check_mode:
        result.update(changed=True, verified=False,
                      msg='would %supload %d and delete %d documents of %s' % (
                          'create the index, ' if created else '', len(upload), len(delete), index))
        return result
    if created:
        definition = dict(schema, name=index)
        index_client.create_index(SearchIndex.deserialize(definition))
    failures = []
    for batch in _batches(upload, batch_size):
        failures += _failed(search_client.upload_documents(documents=[json.loads(wanted[k]) for k in batch]))
    for batch in _batches(delete, batch_size):
        failures += _failed(search_client.delete_documents(documents=[{key: k} for k in batch]))
    if failures:
        raise SearchExportError('%d documents were not written to %s: %s' % (
            len(failures), index, ', '.join(failures[:10])))
    # The index is near real time: read it back until it holds exactly the export.
    deadline = time.time() + verify_timeout
    while True:
        current, _total = read_documents(search_client, key)
        missing, _none, extra_now = plan_import(wanted, current, True)
        if not missing and (not delete_extra or not extra_now):
            break
        if time.time() >= deadline:
            raise SearchExportError('index %s does not hold the export %ds after the import: %d documents differ '
                                    'or are missing (%s)' % (index, verify_timeout, len(missing),
                                                             ', '.join(missing[:10])))
        sleep(1)
    result.update(changed=True, verified=True,
                  msg='%s%d documents uploaded, %d deleted; %s holds the %d documents of the export' % (
                      'index created, ' if created else '', len(upload), len(delete), index, len(wanted)))
    return result
