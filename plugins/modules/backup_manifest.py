#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: backup_manifest
short_description: Create, complete, verify and find dated backup sets
version_added: 0.1.0
description:
  - A backup set is the directory C(<root>/<host>/<YYYYmmddTHHMMSSZ>/) holding
    the items of one backup run and a C(manifest.json) that lists each item
    (store, kind, service, source, created_at, size, sha256, row or key
    counts, tool versions) and the opskit version.
  - V(start) creates a new set directory (never an existing one) with an
    in-progress record; V(add) hashes an item file of the set and records it;
    V(complete) hashes every item again and writes C(manifest.json) last,
    atomically (temporary file, fsync, rename). A set without it is
    incomplete whatever else it holds, so a backup killed halfway is never
    taken for a complete one.
  - V(verify) hashes every file of a complete set again and compares it with
    the manifest; each mismatch is reported by file name with the expected and
    the actual checksum, and the task fails unless O(fail_on_mismatch=false).
  - V(find) returns the newest complete set of a host (O(name=latest)) or the
    named one, with its manifest; V(list) returns every set of a host.
author: opskit maintainers (@opskit)
attributes:
  check_mode:
    description: >-
      V(start), V(add) and V(complete) report what they would do and write
      nothing; V(verify), V(find) and V(list) only read and run as usual.
    support: full
  diff_mode:
    description: No diff is shown.
    support: none
options:
  action:
    description: What to do.
    type: str
    choices: [start, add, complete, verify, find, list]
    required: true
  root:
    description: Directory that holds the sets of every host (V(start), V(find), V(list)).
    type: path
    default: /var/backups/opskit
  host:
    description: Host the sets belong to; the directory under O(root) (V(start), V(find), V(list)).
    type: str
  name:
    description:
      - Name (UTC time stamp C(YYYYmmddTHHMMSSZ)) of the set to create (V(start),
        default now) or to find (V(find), default V(latest), the newest complete set).
    type: str
  path:
    description: Directory of the set (V(add), V(complete), V(verify)).
    type: path
  file:
    description: Item file to record (V(add)), absolute or relative to O(path); it must be inside the set.
    type: path
  store:
    description: Kind of data of the item (V(add)); the key of the retention policies.
    type: str
    choices: [sqlite, postgres, redis, env, config, tools, files]
  kind:
    description: How the item was made, for example V(sqlite-backup-api), V(pg_dump-custom), V(redis-rdb), V(tar.gz), V(ansible-vault).
    type: str
  service:
    description: The service (from C(opskit_services)) the item belongs to (V(add)).
    type: str
  source:
    description: Where the item came from - a path, a database name (V(add)).
    type: str
  counts:
    description: Row counts per table, key counts per Redis database, file counts (V(add)).
    type: dict
    default: {}
  sha256:
    description: SHA-256 the producer computed (V(add)); the recorded hash must equal it.
    type: str
  extra:
    description: More facts to record in the item (V(add)), for example C(tool_versions), C(encrypted).
    type: dict
    default: {}
  meta:
    description: Facts recorded at the top of the manifest (V(start)), for example C(opskit_version), C(tool_versions).
    type: dict
    default: {}
  stores:
    description: Verify only the items of these stores (V(verify)).
    type: list
    elements: str
  services:
    description: Verify only the items of these services and the host-wide ones (V(verify)).
    type: list
    elements: str
  fail_on_mismatch:
    description: Fail V(verify) when a file is missing or its checksum differs.
    type: bool
    default: true
seealso:
  - module: opskit.ops.backup_retention
  - module: opskit.ops.sqlite_backup
"""

EXAMPLES = r"""
- name: Start today's backup set
  opskit.ops.backup_manifest:
    action: start
    root: /var/backups/opskit
    host: "{{ inventory_hostname }}"
    meta:
      opskit_version: 0.1.0
  register: __backup_set

- name: Record the SQLite copy in the manifest
  opskit.ops.backup_manifest:
    action: add
    path: "{{ __backup_set.path }}"
    file: el-bot/el_sessions.db
    store: sqlite
    kind: sqlite-backup-api
    service: el-bot
    source: /var/lib/el-bot/data/el_sessions.db
    sha256: "{{ __backup_sqlite.sha256 }}"
    counts: "{{ __backup_sqlite.tables }}"

- name: Mark the set complete (manifest.json is written last)
  opskit.ops.backup_manifest:
    action: complete
    path: "{{ __backup_set.path }}"

- name: Verify the newest complete set before a restore touches anything
  opskit.ops.backup_manifest:
    action: verify
    path: "{{ __restore_set.path }}"
"""

RETURN = r"""
path:
  description: Directory of the set.
  returned: start, find, complete, verify
  type: str
  sample: /var/backups/opskit/opskit-el-bot/20250115T103000Z
name:
  description: Name of the set.
  returned: start, find
  type: str
  sample: 20250115T103000Z
item:
  description: The recorded item.
  returned: add
  type: dict
  sample: {"file": "el-bot/el_sessions.db", "store": "sqlite", "size": 8192, "sha256": "9f86...", "counts": {"sessions": 3}}
manifest:
  description: The manifest of the set.
  returned: complete, find
  type: dict
  sample: {"complete": true, "host": "opskit-el-bot", "name": "20250115T103000Z", "items": []}
ok:
  description: Whether every checked file matches the manifest.
  returned: verify
  type: bool
  sample: true
checked:
  description: Files that were hashed.
  returned: verify
  type: list
  elements: str
  sample: [el-bot/el_sessions.db]
mismatches:
  description: Files whose checksum differs, with C(expected) and C(actual) SHA-256.
  returned: verify
  type: list
  elements: dict
  sample: [{"file": "el-bot/el_sessions.db", "expected": "9f86...", "actual": "60303..."}]
missing:
  description: Files the manifest lists that are not there.
  returned: verify
  type: list
  elements: str
  sample: []
unlisted:
  description: Files in the set that the manifest does not list (ignored by the check).
  returned: verify
  type: list
  elements: str
  sample: []
sets:
  description: Every set of the host, oldest first, with C(complete), C(stores), C(size).
  returned: list
  type: list
  elements: dict
  sample: [{"name": "20250115T103000Z", "complete": true, "stores": ["sqlite"]}]
newest_complete:
  description: Name of the newest complete set, or null.
  returned: list
  type: str
  sample: 20250115T103000Z
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opskit.ops.plugins.module_utils._backup_common import format_stamp, parse_stamp
from ansible_collections.opskit.ops.plugins.module_utils._backup_manifest import (
    ManifestError,
    add_item,
    complete_set,
    find_set,
    list_sets,
    load_inprogress,
    start_set,
    verify_set,
)


def _require(module, *names):
    missing = [n for n in names if not module.params.get(n)]
    if missing:
        module.fail_json(msg="action %s needs %s" % (module.params["action"], ", ".join(missing)))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            action=dict(type="str", required=True, choices=["start", "add", "complete", "verify", "find", "list"]),
            root=dict(type="path", default="/var/backups/opskit"),
            host=dict(type="str"),
            name=dict(type="str"),
            path=dict(type="path"),
            file=dict(type="path"),
            store=dict(type="str", choices=["sqlite", "postgres", "redis", "env", "config", "tools", "files"]),
            kind=dict(type="str"),
            service=dict(type="str"),
            source=dict(type="str"),
            counts=dict(type="dict", default={}),
            sha256=dict(type="str"),
            extra=dict(type="dict", default={}),
            meta=dict(type="dict", default={}),
            stores=dict(type="list", elements="str"),
            services=dict(type="list", elements="str"),
            fail_on_mismatch=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    action = p["action"]
    try:
        if action == "start":
            _require(module, "host")
            name = p["name"] or format_stamp()
            if parse_stamp(name) is None:
                module.fail_json(msg="invalid backup set name %s (expected YYYYmmddTHHMMSSZ)" % name)
            path = os.path.join(p["root"], p["host"], name)
            if module.check_mode:
                module.exit_json(changed=True, path=path, name=name, msg="would create backup set %s" % path)
            start_set(p["root"], p["host"], name, meta=p["meta"])
            module.exit_json(changed=True, path=path, name=name)

        if action == "add":
            _require(module, "path", "file", "store")
            if module.check_mode:
                module.exit_json(changed=True, path=p["path"], item={"file": p["file"], "store": p["store"]},
                                 msg="would record %s in %s" % (p["file"], p["path"]))
            item = add_item(p["path"], p["file"], p["store"], kind=p["kind"], service=p["service"],
                            source=p["source"], counts=p["counts"], extra=p["extra"], expected_sha256=p["sha256"])
            module.exit_json(changed=True, path=p["path"], item=item)

        if action == "complete":
            _require(module, "path")
            if module.check_mode:
                record = load_inprogress(p["path"]) if os.path.isdir(p["path"]) else {"items": []}
                module.exit_json(changed=True, path=p["path"], manifest=record,
                                 msg="would write %s/manifest.json" % p["path"])
            manifest = complete_set(p["path"])
            module.exit_json(changed=True, path=p["path"], manifest=manifest)

        if action == "verify":
            _require(module, "path")
            result = verify_set(p["path"], stores=p["stores"], services=p["services"])
            if not result["ok"] and p["fail_on_mismatch"]:
                module.fail_json(**result)
            module.exit_json(changed=False, **result)

        if action == "find":
            _require(module, "host")
            chosen, manifest = find_set(p["root"], p["host"], p["name"])
            module.exit_json(changed=False, path=chosen["path"], name=chosen["name"], manifest=manifest)

        if action == "list":
            _require(module, "host")
            sets = list_sets(p["root"], p["host"])
            complete = [s["name"] for s in sets if s["complete"]]
            module.exit_json(changed=False, sets=sets, newest_complete=complete[-1] if complete else None)
    except ManifestError as exc:
        module.fail_json(msg=str(exc))
    except (OSError, ValueError) as exc:
        module.fail_json(msg="%s failed: %s" % (action, exc))


if __name__ == "__main__":
    main()
