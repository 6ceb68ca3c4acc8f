#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: backup_retention
short_description: Apply per-store retention policies to the backup sets of a host
version_added: 0.1.0
description:
  - Reads the sets under C(<root>/<host>/) (see M(opskit.ops.backup_manifest))
    and applies O(policies), one per store, with keep-counts V(keep_last),
    V(daily), V(weekly), V(monthly) and a V(max_age_days).
  - A complete set is deleted when none of its stores is kept; when only some
    of its stores expire, their files are pruned from it and its manifest
    lists them under C(pruned). The newest complete set is always kept whole.
  - Incomplete sets (no manifest, from a failed or killed run) are deleted
    once older than O(incomplete_max_age_hours); younger ones may still be
    running and are left alone.
  - Retention runs only after a successful backup - O(after_set) names the set
    just made, and the module refuses to delete anything unless that set is
    complete.
  - Defaults - every store V(keep_last=3), V(daily=7), V(weekly=4),
    V(monthly=6); tool definitions (store V(tools), runbook 004) V(max_age_days=90)
    and no keep-counts.
author: opskit maintainers (@opskit)
attributes:
  check_mode:
    description: Computes and returns the plan; deletes nothing.
    support: full
  diff_mode:
    description: No diff; RV(plan) lists what is deleted and pruned.
    support: none
options:
  root:
    description: Directory that holds the sets of every host.
    type: path
    default: /var/backups/opskit
  host:
    description: Host whose sets are retained (directory under O(root)).
    type: str
    required: true
  policies:
    description:
      - "Retention per store, for example C({tools: {max_age_days: 90}, default: {daily: 7}}).
        Keys of each policy - V(keep_last), V(daily), V(weekly), V(monthly),
        V(max_age_days). V(default) applies to stores without their own policy;
        missing keys come from the built-in defaults."
    type: dict
    default: {}
  incomplete_max_age_hours:
    description: Incomplete sets older than this many hours are deleted.
    type: int
    default: 24
  after_set:
    description:
      - Name of the set the current run has just completed; retention refuses
        to run unless it exists and is complete. Leave it out only to apply
        retention on its own (it then still never deletes the newest complete set).
    type: str
  protect:
    description: Names of sets never to delete or prune.
    type: list
    elements: str
    default: []
seealso:
  - module: opskit.ops.backup_manifest
"""

EXAMPLES = r"""
- name: Apply retention after a successful backup
  opskit.ops.backup_retention:
    root: /var/backups/opskit
    host: "{{ inventory_hostname }}"
    after_set: "{{ __backup_set.name }}"
    policies:
      default: {keep_last: 3, daily: 7, weekly: 4, monthly: 6}
      tools: {max_age_days: 90, keep_last: 0, daily: 0, weekly: 0, monthly: 0}
"""

RETURN = r"""
plan:
  description: The decision for every set - C(keep), C(delete), C(prune) (set name to stores) and C(reasons).
  returned: always
  type: dict
  sample: {"keep": ["20250115T030000Z"], "delete": ["20241001T030000Z"], "prune": {}, "reasons": {}}
deleted:
  description: Paths of the deleted sets.
  returned: always
  type: list
  elements: str
  sample: [/var/backups/opskit/opskit-el-bot/20241001T030000Z]
pruned:
  description: Files removed from kept sets, per set.
  returned: always
  type: dict
  sample: {"20250101T030000Z": ["dynamic-tools/tools.tar.gz"]}
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opskit.ops.plugins.module_utils._backup_manifest import (
    ManifestError,
    delete_set,
    list_sets,
    prune_stores,
)
from ansible_collections.opskit.ops.plugins.module_utils._backup_retention import RetentionError, plan


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type="path", default="/var/backups/opskit"),
            host=dict(type="str", required=True),
            policies=dict(type="dict", default={}),
            incomplete_max_age_hours=dict(type="int", default=24),
            after_set=dict(type="str"),
            protect=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        sets = list_sets(p["root"], p["host"])
        if p["after_set"]:
            match = [s for s in sets if s["name"] == p["after_set"]]
            if not match or not match[0]["complete"]:
                module.fail_json(msg="backup set %s of %s is not complete; retention runs only after a successful backup"
                                 % (p["after_set"], p["host"]), plan={}, deleted=[], pruned={})
        protect = list(p["protect"]) + ([p["after_set"]] if p["after_set"] else [])
        decision = plan(sets, p["policies"], incomplete_max_age_hours=p["incomplete_max_age_hours"], protect=protect)
    except (RetentionError, ManifestError) as exc:
        module.fail_json(msg=str(exc), plan={}, deleted=[], pruned={})

    deleted, pruned = [], {}
    changed = bool(decision["delete"] or decision["prune"])
    if not module.check_mode:
        by_name = dict((s["name"], s) for s in sets)
        for name in decision["delete"]:
            delete_set(by_name[name]["path"])
            deleted.append(by_name[name]["path"])
        for name, stores in decision["prune"].items():
            files = prune_stores(by_name[name]["path"], stores)
            if files:
                pruned[name] = files
    else:
        deleted = [os.path.join(p["root"], p["host"], n) for n in decision["delete"]]
    module.exit_json(changed=changed, plan=decision, deleted=deleted, pruned=pruned)


if __name__ == "__main__":
    main()
