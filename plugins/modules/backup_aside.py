#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: backup_aside
short_description: Keep live data aside during a restore and put it back on failure
version_added: 0.1.0
description:
  - V(save) moves (or copies) O(paths) into O(aside_dir) and records in
    C(ledger.json) whether each path existed. A path already saved in the same
    O(aside_dir) is left alone, so a re-run never overwrites the saved live
    data with data that may already be restored.
  - V(put_back) undoes the saves, newest first - it removes what is at each
    path now and moves the saved copy back; a path that did not exist before is
    removed. V(discard) deletes O(aside_dir) after a successful restore.
author: opskit maintainers (@opskit)
attributes:
  check_mode:
    description: Reports what would be saved, put back or discarded; changes nothing.
    support: full
  diff_mode:
    description: No diff.
    support: none
options:
  action:
    description: What to do.
    type: str
    choices: [save, put_back, discard]
    required: true
  aside_dir:
    description: Directory that keeps the saved data and its ledger.
    type: path
    required: true
  paths:
    description: Files or directories to save (V(save)).
    type: list
    elements: path
    default: []
  mode:
    description: V(move) the paths away (the restore then writes new ones), or V(copy) them (the restore writes over them).
    type: str
    choices: [move, copy]
    default: move
  label:
    description: Tag of the saved entries (V(save)), for example the store; V(put_back) can be limited to O(labels).
    type: str
  labels:
    description: Put back only entries with these labels (V(put_back)); all by default.
    type: list
    elements: str
seealso:
  - module: opskit.ops.sqlite_backup
"""

EXAMPLES = r"""
- name: Move the live SQLite files aside before the restore
  opskit.ops.backup_aside:
    action: save
    aside_dir: /var/backups/opskit-aside/opskit-el-bot/20250116T080000Z
    paths:
      - /var/lib/el-bot/data/el_sessions.db
      - /var/lib/el-bot/data/el_sessions.db-wal
      - /var/lib/el-bot/data/el_sessions.db-shm
    label: sqlite

- name: Put the live data back after a failed restore
  opskit.ops.backup_aside:
    action: put_back
    aside_dir: /var/backups/opskit-aside/opskit-el-bot/20250116T080000Z
"""

RETURN = r"""
saved:
  description: Entries saved by this call - C(path), C(existed), C(saved).
  returned: save
  type: list
  elements: dict
  sample: [{"path": /var/lib/el-bot/data/el_sessions.db, "existed": true, "saved": /var/backups/opskit-aside/h/x/000_el_sessions.db}]
restored:
  description: Paths put back (or removed, when they did not exist before).
  returned: put_back
  type: list
  elements: str
  sample: [/var/lib/el-bot/data/el_sessions.db]
ledger:
  description: The ledger of O(aside_dir).
  returned: always
  type: dict
  sample: {"entries": []}
"""

import os
import shutil

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opskit.ops.plugins.module_utils._backup_aside import AsideError, load_ledger, put_back, save


def main():
    module = AnsibleModule(
        argument_spec=dict(
            action=dict(type="str", required=True, choices=["save", "put_back", "discard"]),
            aside_dir=dict(type="path", required=True),
            paths=dict(type="list", elements="path", default=[]),
            mode=dict(type="str", choices=["move", "copy"], default="move"),
            label=dict(type="str"),
            labels=dict(type="list", elements="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    aside = p["aside_dir"]
    ledger = {"entries": []}
    try:
        ledger = load_ledger(aside) if os.path.isdir(aside) else {"entries": []}
        if p["action"] == "save":
            known = set(e["path"] for e in ledger["entries"])
            todo = [os.path.abspath(x) for x in p["paths"] if os.path.abspath(x) not in known]
            if module.check_mode or not todo:
                module.exit_json(changed=bool(todo), saved=[{"path": x, "existed": os.path.lexists(x)} for x in todo],
                                 ledger=ledger)
            saved = save(aside, todo, mode=p["mode"], label=p["label"])
            module.exit_json(changed=True, saved=saved, ledger=load_ledger(aside))
        if p["action"] == "put_back":
            pending = [e["path"] for e in ledger["entries"] if not e.get("restored")
                       and (not p["labels"] or e.get("label") in p["labels"])]
            if module.check_mode or not pending:
                module.exit_json(changed=bool(pending), restored=list(reversed(pending)), ledger=ledger)
            restored = put_back(aside, labels=p["labels"])
            module.exit_json(changed=True, restored=restored, ledger=load_ledger(aside))
        # discard
        exists = os.path.isdir(aside)
        if exists and not module.check_mode:
            shutil.rmtree(aside)
        module.exit_json(changed=exists, ledger=ledger)
    except (AsideError, OSError) as exc:
        module.fail_json(msg="%s of %s failed: %s" % (p["action"], aside, exc), ledger=ledger)


if __name__ == "__main__":
    main()
