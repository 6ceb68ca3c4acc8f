#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: backup_blob
short_description: Upload, download, list and retain backup sets in Azure Blob Storage
version_added: 0.1.0
description:
  - Copies opskit backup sets (see M(opskit.ops.backup_manifest)) to and from an
    Azure Blob Storage container (runbook 001 restores with
    C(az storage blob download-batch); this module does the same with the
    Azure SDK and verifies every file).
  - Blob names are C([<prefix>/]<host>/<set>/<file>). V(upload) sends every
    item and then C(manifest.json), so an interrupted upload leaves a set that
    is never taken for complete; blobs whose SHA-256 (kept in their metadata)
    already matches are skipped.
  - V(download) reads the manifest first (a set without one is refused), writes
    every item through a temporary file, checks its SHA-256 against the
    manifest, and writes the manifest last. O(name=latest) picks the newest
    complete set.
  - V(list) returns the sets of O(host); V(retain) applies the retention
    policies of M(opskit.ops.backup_retention) to them (whole sets only).
  - V(export) and V(import) copy a whole container of the application (runbook
    001's C(checkpoints), which the runbook restores with
    C(az storage blob download-batch)) to a local directory and back, verified.
    V(export) writes every blob (under O(prefix)) to C(<dest>/blobs/<name>)
    through a temporary file, checks it against the Content-MD5 the service
    holds, and writes C(<dest>/blobs.manifest.json) last (count, total size and,
    per blob, size, SHA-256, MD5, content type, metadata); blobs already there
    with the same MD5 are not downloaded again. With O(set_path) the files are
    also recorded as items (store C(blobs)) of an opskit backup set in progress.
    V(import) re-hashes every file of O(src) against that manifest before it
    writes anything, uploads only the blobs whose Content-MD5 in the container
    differs (with their content type and metadata), reads each one back and
    compares its SHA-256 (O(verify)), and deletes blobs the export lacks only
    with O(delete_extra).
  - Works against Azurite, the Azure Storage emulator (O(api_version) or
    Azurite's C(--skipApiVersionCheck)).
author: opskit maintainers (@opskit)
requirements:
  - azure-storage-blob (Python library, on the host that runs the module - usually the controller).
attributes:
  check_mode:
    description: >-
      V(upload), V(download), V(retain), V(export) and V(import) report what they would transfer or delete;
      V(list) runs.
    support: full
  diff_mode:
    description: No diff.
    support: none
options:
  action:
    description: What to do.
    type: str
    choices: [upload, download, list, retain, export, import]
    required: true
  connection_string:
    description: Storage account connection string (for Azurite, its well-known development string).
    type: str
  account_url:
    description: Blob endpoint, for example C(https://<account>.blob.core.windows.net), with O(account_key) or O(sas_token).
    type: str
  account_key:
    description: Storage account key for O(account_url).
    type: str
  sas_token:
    description: SAS token for O(account_url).
    type: str
  api_version:
    description: Storage service API version to request (Azurite may lag behind the SDK).
    type: str
  container:
    description: Container of the backups, or the container exported or imported (V(export), V(import)).
    type: str
    default: opskit-backups
  create_container:
    description: Create the container when it does not exist (V(upload), V(import)).
    type: bool
    default: true
  prefix:
    description: Folder inside the container above the host folders; for V(export), only blobs whose name starts with it.
    type: str
    default: ""
  host:
    description: Host the set belongs to (required by V(upload), V(download), V(list), V(retain)).
    type: str
  name:
    description: Set name (V(upload), V(download)); V(latest) downloads the newest complete set.
    type: str
    default: latest
  src:
    description: Local directory of the complete set to upload, or of the export to import (V(import)).
    type: path
  dest:
    description:
      - Local root to download into; the set lands in C(<dest>/<host>/<name>/).
      - For V(export), the directory the container is exported to.
    type: path
  set_path:
    description: An opskit backup set in progress; the export (inside it) is recorded as its items (V(export)).
    type: path
  delete_extra:
    description: Delete blobs of the container that the export does not hold (V(import)).
    type: bool
    default: false
  verify:
    description: Read every uploaded blob back and compare its SHA-256 (V(import)).
    type: bool
    default: true
  policies:
    description: Retention policies per store (V(retain)), as in M(opskit.ops.backup_retention).
    type: dict
    default: {}
  incomplete_max_age_hours:
    description: Incomplete remote sets older than this are deleted (V(retain)).
    type: int
    default: 24
  after_set:
    description: The set just uploaded; V(retain) refuses to delete anything unless it is complete in the container.
    type: str
seealso:
  - module: opskit.ops.backup_manifest
  - module: opskit.ops.backup_retention
  - module: azure.azcollection.azure_rm_storageblob
"""

EXAMPLES = r"""
- name: Upload the set fetched to the controller
  opskit.ops.backup_blob:
    action: upload
    connection_string: "{{ backup_azure_connection_string }}"
    container: opskit-backups
    host: "{{ inventory_hostname }}"
    name: "{{ __backup_set.name }}"
    src: "{{ backup_controller_dir }}/{{ inventory_hostname }}/{{ __backup_set.name }}"
  delegate_to: localhost
  no_log: true

- name: Download the newest complete set of a host and verify it
  opskit.ops.backup_blob:
    action: download
    connection_string: "{{ backup_azure_connection_string }}"
    host: opskit-el-bot
    dest: /srv/restore
  delegate_to: localhost

- name: Export the checkpoints container (runbook 001) into a backup set in progress
  opskit.ops.backup_blob:
    action: export
    connection_string: "{{ lookup('ansible.builtin.env', 'AZURE_STORAGE_CONNECTION_STRING') }}"
    container: checkpoints
    dest: "{{ __azure_set.path }}/checkpoints"
    set_path: "{{ __azure_set.path }}"
  delegate_to: localhost

- name: Restore it into a scratch container and verify every blob
  opskit.ops.backup_blob:
    action: import
    connection_string: "{{ lookup('ansible.builtin.env', 'AZURE_STORAGE_CONNECTION_STRING') }}"
    container: checkpoints-drill
    src: "{{ __azure_set.path }}/checkpoints"
  delegate_to: localhost
"""

RETURN = r"""
name:
  description: The set transferred.
  returned: upload, download
  type: str
  sample: 20250115T103000Z
path:
  description: Local directory of the downloaded set.
  returned: download
  type: str
  sample: /srv/restore/opskit-el-bot/20250115T103000Z
uploaded:
  description: Blobs written.
  returned: upload
  type: list
  elements: str
  sample: [opskit-el-bot/20250115T103000Z/el-bot/el_sessions.db, opskit-el-bot/20250115T103000Z/manifest.json]
unchanged:
  description: Blobs already present with the same SHA-256.
  returned: upload
  type: list
  elements: str
  sample: []
files:
  description: Files downloaded and verified.
  returned: download
  type: list
  elements: str
  sample: [el-bot/el_sessions.db]
manifest:
  description: Manifest of the downloaded set.
  returned: download
  type: dict
  sample: {"complete": true, "name": "20250115T103000Z"}
sets:
  description: Remote sets of the host, oldest first, with C(complete) and C(stores).
  returned: list, retain
  type: list
  elements: dict
  sample: [{"name": "20250115T103000Z", "complete": true, "stores": ["sqlite"]}]
plan:
  description: The retention decision (V(retain)).
  returned: retain
  type: dict
  sample: {"keep": [], "delete": [], "prune": {}, "reasons": {}}
deleted:
  description: Remote sets deleted (V(retain)).
  returned: retain
  type: list
  elements: str
  sample: [opskit-el-bot/20241001T030000Z/]
count:
  description: Blobs in the export (V(export), V(import)).
  returned: export, import
  type: int
  sample: 42
total_size:
  description: Bytes of all exported blobs.
  returned: export
  type: int
  sample: 1048576
downloaded:
  description: Blobs downloaded by this export (the others were already there with the same MD5).
  returned: export
  type: list
  elements: str
  sample: [job-1234/state.json]
removed:
  description: Local files of blobs that are no longer in the container, removed from the export.
  returned: export
  type: list
  elements: str
  sample: []
extra:
  description: Blobs in the container that the export does not hold (V(import)).
  returned: import
  type: list
  elements: str
  sample: []
created:
  description: Whether the container was created (V(import)).
  returned: import
  type: bool
  sample: false
verified:
  description: Whether every uploaded blob was read back and matched (V(import)).
  returned: import
  type: bool
  sample: true
items:
  description: Files recorded in the backup set of O(set_path).
  returned: export with set_path
  type: list
  elements: str
  sample: [checkpoints/blobs/job-1234/state.json, checkpoints/blobs.manifest.json]
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.opskit.ops.plugins.module_utils._backup_blob import (
    AZURE_BLOB_IMPORT_ERROR,
    HAS_AZURE_BLOB,
    BlobSetError,
    container_client,
    delete_remote_set,
    download_set,
    list_remote_sets,
    read_remote_manifest,
    service_client,
    set_prefix,
    upload_set,
)
from ansible_collections.opskit.ops.plugins.module_utils._backup_retention import RetentionError, plan
from ansible_collections.opskit.ops.plugins.module_utils._azure_blob import (
    ContainerCopyError,
    export_container,
    export_items,
    import_container,
)
from ansible_collections.opskit.ops.plugins.module_utils._azure_common import AzureCallError, record_items, scrub


def main():
    module = AnsibleModule(
        argument_spec=dict(
            action=dict(type="str", required=True, choices=["upload", "download", "list", "retain", "export", "import"]),
            connection_string=dict(type="str", no_log=True),
            account_url=dict(type="str"),
            account_key=dict(type="str", no_log=True),
            sas_token=dict(type="str", no_log=True),
            api_version=dict(type="str"),
            container=dict(type="str", default="opskit-backups"),
            create_container=dict(type="bool", default=True),
            prefix=dict(type="str", default=""),
            host=dict(type="str"),
            name=dict(type="str", default="latest"),
            src=dict(type="path"),
            dest=dict(type="path"),
            policies=dict(type="dict", default={}),
            incomplete_max_age_hours=dict(type="int", default=24),
            after_set=dict(type="str"),
            set_path=dict(type="path"),
            delete_extra=dict(type="bool", default=False),
            verify=dict(type="bool", default=True),
        ),
        required_one_of=[("connection_string", "account_url")],
        required_if=[("action", "upload", ("src", "host")), ("action", "download", ("dest", "host")),
                     ("action", "list", ("host",)), ("action", "retain", ("host",)),
                     ("action", "export", ("dest",)), ("action", "import", ("src",))],
        supports_check_mode=True,
    )
    if not HAS_AZURE_BLOB:
        module.fail_json(msg=missing_required_lib("azure-storage-blob"), exception=str(AZURE_BLOB_IMPORT_ERROR))
    p = module.params
    action = p["action"]
    try:
        credential = p["account_key"] or p["sas_token"]
        service = service_client(p["connection_string"], p["account_url"], credential, p["api_version"])
        client = container_client(service, p["container"], create=(action == "upload" and p["create_container"]
                                                                   and not module.check_mode))

        if action == "export":
            result = export_container(client, p["container"], p["dest"], prefix=p["prefix"],
                                      check_mode=module.check_mode, account=service.account_name)
            if p["set_path"] and not module.check_mode:
                items = export_items(p["set_path"], p["dest"], result["manifest_path"])
                result["items"] = [i["file"] for i in record_items(p["set_path"], items)]
            module.exit_json(**result)

        if action == "import":
            module.exit_json(**import_container(client, p["container"], p["src"], create=p["create_container"],
                                                delete_extra=p["delete_extra"], verify=p["verify"],
                                                check_mode=module.check_mode))

        if action == "upload":
            name = p["name"] if p["name"] != "latest" else os.path.basename(p["src"].rstrip("/"))
            prefix = set_prefix(p["prefix"], p["host"], name)
            if module.check_mode:
                module.exit_json(changed=True, name=name, uploaded=[], unchanged=[],
                                 msg="would upload %s to %s/%s" % (p["src"], p["container"], prefix))
            uploaded, unchanged = upload_set(client, p["src"], prefix)
            module.exit_json(changed=bool(uploaded), name=name, uploaded=uploaded, unchanged=unchanged)

        sets = list_remote_sets(client, p["prefix"], p["host"], with_stores=(action == "retain"))
        if action == "list":
            complete = [s["name"] for s in sets if s["complete"]]
            module.exit_json(changed=False, sets=sets, newest_complete=complete[-1] if complete else None)

        if action == "download":
            name = p["name"]
            if name in ("latest", "newest", ""):
                complete = [s["name"] for s in sets if s["complete"]]
                if not complete:
                    module.fail_json(msg="no complete backup set of %s in container %s" % (p["host"], p["container"]))
                name = complete[-1]
            prefix = set_prefix(p["prefix"], p["host"], name)
            path = os.path.join(p["dest"], p["host"], name)
            if module.check_mode:
                manifest = read_remote_manifest(client, prefix)
                if manifest is None:
                    module.fail_json(msg="%s has no valid manifest.json: the set is incomplete or missing" % prefix)
                module.exit_json(changed=True, name=name, path=path, files=[], manifest=manifest,
                                 msg="would download %s/%s to %s" % (p["container"], prefix, path))
            files, manifest = download_set(client, prefix, path)
            module.exit_json(changed=True, name=name, path=path, files=files, manifest=manifest)

        if action == "retain":
            if p["after_set"]:
                match = [s for s in sets if s["name"] == p["after_set"]]
                if not match or not match[0]["complete"]:
                    module.fail_json(msg="set %s of %s is not complete in the container; retention runs only after a "
                                     "successful upload" % (p["after_set"], p["host"]))
            decision = plan(sets, p["policies"], incomplete_max_age_hours=p["incomplete_max_age_hours"],
                            protect=[p["after_set"]] if p["after_set"] else [])
            # Blob sets are deleted whole; a set that only some policies still want is kept whole.
            deleted = []
            for name in decision["delete"]:
                prefix = set_prefix(p["prefix"], p["host"], name)
                if not module.check_mode:
                    delete_remote_set(client, prefix)
                deleted.append(prefix)
            module.exit_json(changed=bool(deleted), sets=sets, plan=decision, deleted=deleted)
    except (BlobSetError, RetentionError, ContainerCopyError, AzureCallError) as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # azure.core errors carry the service's message
        module.fail_json(msg="%s of %s failed: %s" % (action, p["container"], scrub(exc)))


if __name__ == "__main__":
    main()
