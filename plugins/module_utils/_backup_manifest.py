# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Backup sets: dated directories with a manifest that is written last.

Layout::

    <root>/<host>/<YYYYmmddTHHMMSSZ>/
        .inprogress.json          while the set is being written
        <service>/<store files>   the backed-up items
        manifest.json             written last, atomically: the set is complete

A set is complete if and only if ``manifest.json`` exists, parses and says
``"complete": true``. It is written with a temporary file, fsync and rename,
after every item has been hashed a second time, so a backup killed at any
point leaves a set without it, which nothing treats as complete.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil

from ansible_collections.opskit.ops.plugins.module_utils._backup_common import (
    INPROGRESS_NAME,
    MANIFEST_NAME,
    MANIFEST_SCHEMA,
    atomic_write_json,
    format_stamp,
    isoformat,
    parse_stamp,
    read_json,
    sha256_file,
)


class ManifestError(Exception):
    """The set is missing, incomplete, inconsistent or cannot be written."""


def host_dir(root, host):
    if not host or "/" in host or host in (".", ".."):
        raise ManifestError("invalid host name %r for a backup set directory" % (host,))
    return os.path.join(root, host)


def start_set(root, host, stamp=None, meta=None, mode=0o700):
    """Create ``<root>/<host>/<stamp>/`` (never an existing one) and its in-progress record."""
    stamp = stamp or format_stamp()
    if parse_stamp(stamp) is None:
        raise ManifestError("invalid backup set name %r (expected YYYYmmddTHHMMSSZ)" % stamp)
    parent = host_dir(root, host)
    os.makedirs(parent, mode=mode, exist_ok=True)
    path = os.path.join(parent, stamp)
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        raise ManifestError("backup set %s already exists; sets are never reused" % path)
    record = {
        "schema": MANIFEST_SCHEMA,
        "host": host,
        "name": stamp,
        "started_at": isoformat(),
        "items": [],
    }
    record.update(meta or {})
    atomic_write_json(os.path.join(path, INPROGRESS_NAME), record)
    return path


def _inside(set_path, file_path):
    full = os.path.abspath(file_path if os.path.isabs(file_path) else os.path.join(set_path, file_path))
    base = os.path.abspath(set_path)
    if os.path.commonpath([full, base]) != base or full == base:
        raise ManifestError("%s is not inside the backup set %s" % (file_path, set_path))
    rel = os.path.relpath(full, base)
    if rel in (MANIFEST_NAME, INPROGRESS_NAME):
        raise ManifestError("%s is reserved for the manifest" % rel)
    return full, rel


def load_inprogress(set_path):
    path = os.path.join(set_path, INPROGRESS_NAME)
    if not os.path.exists(path):
        if os.path.exists(os.path.join(set_path, MANIFEST_NAME)):
            raise ManifestError("backup set %s is already complete; items cannot be added" % set_path)
        raise ManifestError("%s is not a backup set in progress (no %s)" % (set_path, INPROGRESS_NAME))
    return read_json(path)


def add_item(set_path, file_path, store, kind=None, service=None, source=None, counts=None,
             extra=None, expected_sha256=None):
    """Hash ``file_path`` (inside the set) and record it; an item of the same file is replaced."""
    record = load_inprogress(set_path)
    full, rel = _inside(set_path, file_path)
    if not os.path.isfile(full):
        raise ManifestError("item %s of backup set %s does not exist" % (rel, set_path))
    digest = sha256_file(full)
    if expected_sha256 and expected_sha256 != digest:
        raise ManifestError("%s: checksum changed since it was written, expected sha256 %s, actual %s"
                            % (rel, expected_sha256, digest))
    item = {
        "file": rel,
        "store": store,
        "kind": kind or store,
        "service": service,
        "source": source,
        "created_at": isoformat(),
        "size": os.path.getsize(full),
        "sha256": digest,
        "counts": dict(counts or {}),
    }
    for key, value in (extra or {}).items():
        if key not in item:
            item[key] = value
    record["items"] = [i for i in record["items"] if i["file"] != rel] + [item]
    atomic_write_json(os.path.join(set_path, INPROGRESS_NAME), record)
    return item


def verify_items(set_path, items):
    """Re-hash every item file; return (checked, mismatches, missing)."""
    checked, mismatches, missing = [], [], []
    for item in items:
        full = os.path.join(set_path, item["file"])
        if not os.path.isfile(full):
            missing.append(item["file"])
            continue
        actual = sha256_file(full)
        checked.append(item["file"])
        if actual != item.get("sha256"):
            mismatches.append({"file": item["file"], "expected": item.get("sha256"), "actual": actual,
                               "expected_size": item.get("size"), "actual_size": os.path.getsize(full)})
    return checked, mismatches, missing


def complete_set(set_path, extra=None):
    """Re-verify every item and write manifest.json last, atomically."""
    record = load_inprogress(set_path)
    if not record.get("items"):
        raise ManifestError("backup set %s has no items; it is not marked complete" % set_path)
    _checked, mismatches, missing = verify_items(set_path, record["items"])
    if mismatches or missing:
        raise ManifestError("backup set %s changed while it was written: %s" % (
            set_path, mismatch_message({"mismatches": mismatches, "missing": missing})))
    manifest = dict(record)
    manifest.update(extra or {})
    manifest["complete"] = True
    manifest["completed_at"] = isoformat()
    manifest["total_size"] = sum(i["size"] for i in record["items"])
    manifest.setdefault("pruned", [])
    tools = {}
    for item in record["items"]:
        tools.update(item.get("tool_versions") or {})
    manifest.setdefault("tool_versions", {})
    manifest["tool_versions"] = dict(tools, **manifest["tool_versions"])
    atomic_write_json(os.path.join(set_path, MANIFEST_NAME), manifest, mode=0o600)
    os.unlink(os.path.join(set_path, INPROGRESS_NAME))
    return manifest


def load_manifest(set_path):
    """The manifest of a complete set, or None (missing, unreadable, not complete)."""
    path = os.path.join(set_path, MANIFEST_NAME)
    try:
        manifest = read_json(path)
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(manifest, dict) or manifest.get("complete") is not True:
        return None
    if manifest_problem(set_path, manifest) is not None:
        return None
    return manifest


def manifest_problem(set_path, manifest):
    """Why a complete manifest cannot be trusted (items of the wrong shape, a file outside the set), or None."""
    items = manifest.get("items", [])
    if not isinstance(items, list):
        return "items is not a list"
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict):
            return "item %d is not an object" % number
        for key, kind in (("file", str), ("store", str), ("sha256", str), ("size", int)):
            if not isinstance(item.get(key), kind) or isinstance(item.get(key), bool):
                return "item %d: %s missing or not a %s" % (number, key, kind.__name__)
        try:
            _inside(set_path, item["file"])
        except ManifestError as exc:
            return "item %d: %s" % (number, exc)
    return None


def select_items(manifest, stores=None, services=None):
    """Items of a manifest, only of ``stores`` and of ``services`` (host-wide items always)."""
    items = manifest.get("items", [])
    if stores:
        items = [i for i in items if i.get("store") in stores]
    if services:
        items = [i for i in items if i.get("service") in services or i.get("service") is None]
    return items


def verify_set(set_path, stores=None, services=None):
    """Re-hash the set's files against its manifest; report each mismatch by file."""
    manifest = load_manifest(set_path)
    if manifest is None:
        return {"ok": False, "complete": False, "path": set_path, "checked": [], "mismatches": [], "missing": [],
                "unlisted": [], "msg": "backup set %s is not complete (no valid %s)" % (set_path, MANIFEST_NAME)}
    items = select_items(manifest, stores, services)
    checked, mismatches, missing = verify_items(set_path, items)
    listed = set(i["file"] for i in manifest.get("items", []))
    unlisted = []
    for dirpath, _dirs, files in os.walk(set_path):
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), set_path)
            if rel not in listed and rel != MANIFEST_NAME:
                unlisted.append(rel)
    result = {"ok": not mismatches and not missing, "complete": True, "path": set_path, "checked": checked,
              "mismatches": mismatches, "missing": missing, "unlisted": sorted(unlisted),
              "name": manifest.get("name")}
    result["msg"] = ("backup set %s: %d files verified" % (set_path, len(checked)) if result["ok"]
                     else "backup set %s failed verification: %s" % (set_path, mismatch_message(result)))
    return result


def mismatch_message(result):
    parts = ["%s: checksum mismatch, expected sha256 %s, actual %s" % (m["file"], m["expected"], m["actual"])
             for m in result.get("mismatches", [])]
    parts += ["%s: missing" % f for f in result.get("missing", [])]
    return "; ".join(parts)


def list_sets(root, host):
    """Every set directory of a host, oldest first, with its completeness."""
    parent = host_dir(root, host)
    if not os.path.isdir(parent):
        return []
    sets = []
    for name in sorted(os.listdir(parent)):
        when = parse_stamp(name)
        path = os.path.join(parent, name)
        if when is None or not os.path.isdir(path):
            continue
        manifest = load_manifest(path)
        entry = {"name": name, "path": path, "time": isoformat(when), "complete": manifest is not None}
        if manifest is not None:
            entry["stores"] = sorted(set(i["store"] for i in manifest.get("items", [])))
            entry["services"] = sorted(set(i.get("service") for i in manifest.get("items", []) if i.get("service")))
            entry["size"] = sum(i["size"] for i in manifest.get("items", []))
            entry["items"] = len(manifest.get("items", []))
        else:
            entry["stores"] = []
            entry["in_progress"] = os.path.exists(os.path.join(path, INPROGRESS_NAME))
        sets.append(entry)
    return sets


def find_set(root, host, name="latest"):
    """The newest complete set, or the named one (which must be complete)."""
    sets = list_sets(root, host)
    if name in (None, "", "latest", "newest"):
        complete = [s for s in sets if s["complete"]]
        if not complete:
            raise ManifestError("no complete backup set for %s under %s" % (host, host_dir(root, host)))
        chosen = complete[-1]
    else:
        matches = [s for s in sets if s["name"] == name]
        if not matches:
            raise ManifestError("backup set %s of %s does not exist under %s" % (name, host, host_dir(root, host)))
        chosen = matches[0]
        if not chosen["complete"]:
            raise ManifestError("backup set %s is not complete (no valid %s); it cannot be used"
                                % (chosen["path"], MANIFEST_NAME))
    return chosen, load_manifest(chosen["path"])


def prune_stores(set_path, stores, reason="retention"):
    """Delete the files of ``stores`` from a complete set and record them as pruned."""
    manifest = load_manifest(set_path)
    if manifest is None:
        raise ManifestError("backup set %s is not complete; nothing is pruned from it" % set_path)
    keep, pruned = [], []
    for item in manifest.get("items", []):
        (pruned if item["store"] in stores else keep).append(item)
    if not pruned:
        return []
    manifest["items"] = keep
    manifest["pruned"] = manifest.get("pruned", []) + [
        dict(file=i["file"], store=i["store"], service=i.get("service"), sha256=i["sha256"],
             pruned_at=isoformat(), reason=reason) for i in pruned]
    manifest["total_size"] = sum(i["size"] for i in keep)
    # The manifest shrinks first: a crash in between leaves unlisted files, never a listed file missing.
    atomic_write_json(os.path.join(set_path, MANIFEST_NAME), manifest)
    for item in pruned:
        full = os.path.join(set_path, item["file"])
        if os.path.exists(full):
            os.unlink(full)
    return [i["file"] for i in pruned]


def delete_set(set_path):
    """Remove a set: the manifest first (so a half-deleted set is never complete), then the rest."""
    manifest = os.path.join(set_path, MANIFEST_NAME)
    if os.path.exists(manifest):
        os.unlink(manifest)
    shutil.rmtree(set_path)
