# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opskit maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters for versioned release directories."""

from __future__ import annotations

DOCUMENTATION = r"""
name: releases_to_prune
short_description: Release directories to delete, keeping the newest and the protected ones
version_added: 0.1.0
author: opskit maintainers (@opskit)
description:
  - Takes the C(files) list of M(ansible.builtin.find) over a releases directory and returns the
    paths beyond the I(keep) newest (by modification time). Paths in I(protect) (the active and the
    previous release) are never returned and count towards I(keep).
positional: keep, protect
options:
  _input:
    description: C(files) from M(ansible.builtin.find); each item needs C(path) and C(mtime).
    type: list
    elements: dict
    required: true
  keep:
    description: How many releases to keep in total.
    type: int
    required: true
  protect:
    description: Paths that must never be pruned.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Remove old releases
  ansible.builtin.file:
    path: "{{ item }}"
    state: absent
  loop: "{{ found.files | opskit.ops.releases_to_prune(3, [current_release]) }}"
"""

RETURN = r"""
_value:
  description: Paths to delete, oldest first.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError


def releases_to_prune(files, keep, protect=None):
    try:
        keep = int(keep)
    except (TypeError, ValueError):
        raise AnsibleFilterError("releases_to_prune: keep must be an integer, got %r" % (keep,))
    if keep < 1:
        raise AnsibleFilterError("releases_to_prune: keep must be at least 1, got %d" % keep)
    protected = {p.rstrip("/") for p in (protect or []) if p}
    newest_first = sorted(files, key=lambda f: float(f["mtime"]), reverse=True)
    kept = [f["path"] for f in newest_first if f["path"].rstrip("/") in protected]
    prune = []
    for item in newest_first:
        path = item["path"]
        if path.rstrip("/") in protected:
            continue
        if len(kept) < keep:
            kept.append(path)
        else:
            prune.append(path)
    return list(reversed(prune))


class FilterModule(object):
    def filters(self):
        return {"releases_to_prune": releases_to_prune}
