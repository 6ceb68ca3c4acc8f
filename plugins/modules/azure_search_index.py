#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: azure_search_index
short_description: Export an Azure AI Search index to JSONL with a manifest, and import it back
version_added: 0.2.0
description:
  - Backs up and restores the documents of an Azure AI Search index with
    C(azure-search-documents), the step runbook 001 leaves to "a custom script".
  - V(export) writes C(<index>.jsonl) (every document, one JSON object a line,
    ordered by the key, C(@search.*) annotations removed), C(<index>.schema.json)
    (the index definition) and, last, C(<index>.manifest.json) (key field,
    document count, SHA-256 and size of both files) into O(dest). The same
    content gives the same files, so exporting an unchanged index into the same
    O(dest) changes nothing. With O(set_path) the files are also recorded as
    items (store C(search)) of an opskit backup set in progress (see
    M(opskit.ops.backup_manifest)).
  - V(import) checks the files against the manifest before anything is
    written, creates the index from the schema when it is missing
    (O(create_index)), uploads only the documents that differ from what the
    index holds (an upload replaces the whole document), deletes the documents
    the export lacks when O(delete_extra) is set, and reads the index back until
    it holds exactly the exported documents (O(verify_timeout)).
  - Fields that are not retrievable cannot be exported; the export refuses such
    an index unless O(allow_hidden) is set. The service pages one query through
    at most 100,000 documents; a bigger index is refused.
  - Azure AI Search cannot run on the machines opskit is tested on. The
    export/import round trip is tested end to end through this SDK against a
    small local stand-in of the few REST calls it makes (kept under C(tests/)),
    and with fake clients for the error cases.
author: opskit maintainers (@opskit)
requirements:
  - azure-search-documents (Python library)
  - azure-identity (Python library; only without O(api_key))
attributes:
  check_mode:
    description: V(export) reads the definition and the document count; V(import) verifies the files and reports what it would upload, create and delete.
    support: full
  diff_mode:
    description: No diff.
    support: none
options:
  action:
    description: What to do.
    type: str
    choices: [export, import]
    required: true
  endpoint:
    description: Search service endpoint, C(https://<service>.search.windows.net). Defaults to E(AZURE_SEARCH_ENDPOINT).
    type: str
    required: true
  index:
    description: Index to export, or to import into (it may differ from the exported index, for a restore drill).
    type: str
    required: true
  api_key:
    description: Admin API key. Defaults to E(AZURE_SEARCH_API_KEY); without it the service principal options are used. Never logged.
    type: str
  client_id:
    description: Service principal application ID; defaults to E(AZURE_CLIENT_ID). Never logged.
    type: str
  secret:
    description: Service principal secret; defaults to E(AZURE_CLIENT_SECRET). Never logged.
    type: str
  tenant:
    description: Tenant ID; defaults to E(AZURE_TENANT_ID). Without all three, C(DefaultAzureCredential) is used.
    type: str
  api_version:
    description: REST API version to request (the SDK's default when not set).
    type: str
  dest:
    description: Directory the export files are written to (V(export)).
    type: path
  set_path:
    description: An opskit backup set in progress; the export files (inside it) are recorded as its items.
    type: path
  src:
    description: The C(.jsonl) file of an export (V(import)); its manifest and schema lie beside it.
    type: path
  allow_hidden:
    description: Export an index that has non-retrievable fields, without their values.
    type: bool
    default: false
  create_index:
    description: Create the index from the exported definition when it does not exist (V(import)).
    type: bool
    default: true
  delete_extra:
    description: Delete documents the export does not hold (V(import)); otherwise they are only counted.
    type: bool
    default: false
  batch_size:
    description: Documents per indexing request (at most 1000).
    type: int
    default: 500
  verify_timeout:
    description: Seconds to wait for the index to hold exactly the exported documents after an import.
    type: int
    default: 60
notes:
  - 'Azure AI Search cannot run here; see the README section "Azure: what runs here and what stands in".'
seealso:
  - module: opskit.ops.backup_manifest
  - module: opskit.ops.backup_blob
"""

EXAMPLES = r"""
- name: Export the agents' search index into the backup set
  opskit.ops.azure_search_index:
    action: export
    endpoint: https://agent-search-prd.search.windows.net
    index: agent-knowledge
    dest: "{{ __azure_set.path }}/search"
    set_path: "{{ __azure_set.path }}"
  delegate_to: localhost

- name: Import it into a scratch index (restore drill)
  opskit.ops.azure_search_index:
    action: import
    endpoint: https://agent-search-prd.search.windows.net
    index: agent-knowledge-drill
    src: /srv/backups/azure-agent-framework/20250115T103000Z/search/agent-knowledge.jsonl
  delegate_to: localhost
"""

RETURN = r"""
index:
  description: The index exported or imported into.
  returned: always
  type: str
  sample: agent-knowledge
key:
  description: Key field of the index.
  returned: success
  type: str
  sample: id
count:
  description: Documents exported, or documents in the export (V(import)).
  returned: success
  type: int
  sample: 1520
files:
  description: Paths of the export files (V(export)).
  returned: export
  type: dict
  sample: {"jsonl": "/srv/b/search/agent-knowledge.jsonl", "schema": "/srv/b/search/agent-knowledge.schema.json",
           "manifest": "/srv/b/search/agent-knowledge.manifest.json"}
manifest:
  description: The export's manifest.
  returned: success, except export in check mode
  type: dict
  sample: {"complete": true, "index": "agent-knowledge", "key": "id", "count": 1520, "sha256": "9f2c...", "size": 734002}
hidden_fields:
  description: Fields whose values are not in the export (non-retrievable).
  returned: export
  type: list
  elements: str
  sample: []
created:
  description: Whether the index was created from the exported definition (V(import)).
  returned: import
  type: bool
  sample: false
uploaded:
  description: Documents uploaded (missing or different), or that would be in check mode.
  returned: import
  type: int
  sample: 12
deleted:
  description: Documents deleted (O(delete_extra)).
  returned: import
  type: int
  sample: 0
extra_count:
  description: Documents in the index that the export does not hold.
  returned: import
  type: int
  sample: 0
verified:
  description: Whether the index was read back and holds exactly the exported documents.
  returned: import
  type: bool
  sample: true
error:
  description: Kind of a failure (auth, not_found, throttled, error, invalid).
  returned: failure
  type: str
  sample: auth
"""

import os

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.opskit.ops.plugins.module_utils._azure_common import (
    AzureCallError,
    classify,
    credential_argument_spec,
    credential_from_params,
    record_items,
)
from ansible_collections.opskit.ops.plugins.module_utils._azure_search import (
    HAS_SEARCH,
    SEARCH_IMPORT_ERROR,
    SearchExportError,
    clients,
    export_index,
    import_index,
    key_credential,
)
from ansible_collections.opskit.ops.plugins.module_utils._backup_common import sha256_file


def argument_spec():
    spec = dict(
        action=dict(type='str', required=True, choices=['export', 'import']),
        endpoint=dict(type='str', required=True, fallback=(env_fallback, ['AZURE_SEARCH_ENDPOINT'])),
        index=dict(type='str', required=True),
        api_key=dict(type='str', no_log=True, fallback=(env_fallback, ['AZURE_SEARCH_API_KEY'])),
        api_version=dict(type='str'),
        dest=dict(type='path'),
        set_path=dict(type='path'),
        src=dict(type='path'),
        allow_hidden=dict(type='bool', default=False),
        create_index=dict(type='bool', default=True),
        delete_extra=dict(type='bool', default=False),
        batch_size=dict(type='int', default=500),
        verify_timeout=dict(type='int', default=60),
    )
    spec.update(credential_argument_spec())
    return spec


def record_export(set_path, result):
    """Record the export files as items (store search) of the backup set in progress."""
    items = []
    for role in ('jsonl', 'schema', 'manifest'):
        path = result['files'][role]
        rel = os.path.relpath(path, set_path)
        if rel.startswith('..'):
            raise SearchExportError('dest must be inside set_path (%s is not inside %s)' % (path, set_path))
        items.append({'file': rel, 'store': 'search', 'kind': 'azure-search-%s' % role, 'size': os.path.getsize(path),
                      'sha256': sha256_file(path), 'source': result['index'],
                      'counts': {'documents': result['count']} if role == 'jsonl' else {}})
    return record_items(set_path, items)


def main():
    module = AnsibleModule(argument_spec=argument_spec(),
                           required_if=[('action', 'export', ('dest',)), ('action', 'import', ('src',))],
                           supports_check_mode=True)
    if not HAS_SEARCH:
        module.fail_json(msg=missing_required_lib('azure-search-documents'), exception=str(SEARCH_IMPORT_ERROR))
    p = module.params
    try:
        credential = key_credential(p['api_key']) if p['api_key'] else credential_from_params(p)
        index_client, search_client = clients(p['endpoint'], p['index'], credential, p['api_version'])
        if p['action'] == 'export':
            result = export_index(index_client, search_client, p['index'], p['dest'],
                                  allow_hidden=p['allow_hidden'], check_mode=module.check_mode)
            if p['set_path'] and not module.check_mode:
                result['items'] = [i['file'] for i in record_export(p['set_path'], result)]
        else:
            result = import_index(index_client, search_client, p['src'], p['index'],
                                  create_index=p['create_index'], delete_extra=p['delete_extra'],
                                  batch_size=p['batch_size'], verify_timeout=p['verify_timeout'],
                                  check_mode=module.check_mode)
    except SearchExportError as exc:
        module.fail_json(msg=str(exc), index=p['index'], error='invalid')
    except AzureCallError as exc:
        if exc.kind == 'missing':
            module.fail_json(msg=missing_required_lib('azure-identity'))
        module.fail_json(msg='%s of %s failed: %s' % (p['action'], p['index'], classify(exc)[1]), index=p['index'],
                         error=exc.kind)
    except Exception as exc:  # azure.core errors: named by kind, secrets scrubbed
        kind, message = classify(exc)
        module.fail_json(msg='%s of %s failed: %s' % (p['action'], p['index'], message), index=p['index'],
                         error=kind)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
