# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Keep live data aside during a restore, and put it back on failure.

An aside directory holds the saved files and ``ledger.json``: for every path,
whether it existed, where its saved copy is and how it was saved (moved or
copied). A path is saved once per aside directory - a second save of the same
path (a re-run) never overwrites the first copy with data that may already
be restored. ``put_back`` walks the ledger backwards: it removes what is at
each path now and moves the saved copy back, or leaves the path absent when
it did not exist before.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil

from ansible_collections.opskit.ops.plugins.module_utils._backup_common import (
    atomic_write_json,
    fsync_dir,
    isoformat,
    read_json,
)

LEDGER = "ledger.json"


class AsideError(Exception):
    """Saving or putting back failed."""


def _ledger_path(aside_dir):
    return os.path.join(aside_dir, LEDGER)


def load_ledger(aside_dir):
    path = _ledger_path(aside_dir)
    if not os.path.exists(path):
        return {"entries": []}
    return read_json(path)


def _remove(path):
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def _copy_preserving(src, dst):
    """Copy a file or tree keeping modes, times and (as root) owners."""
    if os.path.isdir(src) and not os.path.islink(src):
        shutil.copytree(src, dst, symlinks=True, copy_function=shutil.copy2)
        walker = [(dst, src)]
        for dirpath, dirnames, filenames in os.walk(src):
            rel = os.path.relpath(dirpath, src)
            for name in dirnames + filenames:
                walker.append((os.path.normpath(os.path.join(dst, rel, name)), os.path.join(dirpath, name)))
    else:
        shutil.copy2(src, dst, follow_symlinks=False)
        walker = [(dst, src)]
    if os.geteuid() == 0:
        for target, origin in walker:
            st = os.lstat(origin)
            os.lchown(target, st.st_uid, st.st_gid)


def save(aside_dir, paths, mode="move", label=None):
    """Save ``paths`` into ``aside_dir``; return the new ledger entries (already saved paths are skipped)."""
    if mode not in ("move", "copy"):
        raise AsideError("mode must be move or copy, not %r" % mode)
    os.makedirs(aside_dir, mode=0o700, exist_ok=True)
    ledger = load_ledger(aside_dir)
    known = set(e["path"] for e in ledger["entries"])
    added = []
    for path in paths:
        path = os.path.abspath(path)
        if path in known:
            continue
        existed = os.path.lexists(path)
        saved = None
        if existed:
            saved = os.path.join(aside_dir, "%03d_%s" % (len(ledger["entries"]), os.path.basename(path) or "root"))
            if os.path.lexists(saved):
                raise AsideError("%s already exists in the aside directory" % saved)
            if mode == "move":
                shutil.move(path, saved)
                fsync_dir(os.path.dirname(path))
            else:
                _copy_preserving(path, saved)
        entry = {"path": path, "existed": existed, "saved": saved, "mode": mode, "label": label,
                 "saved_at": isoformat(), "restored": False}
        ledger["entries"].append(entry)
        known.add(path)
        added.append(entry)
        # The ledger is rewritten after every path: a crash never loses track of a moved file.
        atomic_write_json(_ledger_path(aside_dir), ledger)
    return added


def put_back(aside_dir, labels=None):
    """Undo the saves of ``aside_dir`` (newest first); return the paths handled."""
    ledger = load_ledger(aside_dir)
    handled = []
    for entry in reversed(ledger["entries"]):
        if entry.get("restored") or (labels and entry.get("label") not in labels):
            continue
        path = entry["path"]
        if entry["existed"]:
            if entry["saved"] is None or not os.path.lexists(entry["saved"]):
                raise AsideError("the saved copy of %s is missing from %s" % (path, aside_dir))
            if os.path.lexists(path):
                _remove(path)
            parent = os.path.dirname(path)
            if not os.path.isdir(parent):
                os.makedirs(parent)
            shutil.move(entry["saved"], path)
            fsync_dir(parent)
        elif os.path.lexists(path):
            _remove(path)
        entry["restored"] = True
        entry["restored_at"] = isoformat()
        handled.append(path)
        atomic_write_json(_ledger_path(aside_dir), ledger)
    return handled
