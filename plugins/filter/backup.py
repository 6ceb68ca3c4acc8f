# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the backup and restore roles (documented in the backup_*.yml files beside this one)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.opskit.ops.plugins.module_utils._backup_manifest import select_items
from ansible_collections.opskit.ops.plugins.module_utils._backup_redis import parse_info, parse_keyspace


def _as_int(value, what):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError("%s: %r is not a count" % (what, value))


def backup_counts_diff(actual, expected):
    """Differences between two count maps: [{name, expected, actual}], empty when equal."""
    if not isinstance(actual, dict) or not isinstance(expected, dict):
        raise AnsibleFilterError("backup_counts_diff: both sides must be dictionaries of counts")
    exp = dict((str(k), _as_int(v, "backup_counts_diff")) for k, v in expected.items())
    act = dict((str(k), _as_int(v, "backup_counts_diff")) for k, v in actual.items())
    return [{"name": k, "expected": exp.get(k), "actual": act.get(k)}
            for k in sorted(set(exp) | set(act)) if exp.get(k) != act.get(k)]


def backup_items(manifest, stores=None, services=None):
    """Items of a manifest, only of ``stores`` and of ``services`` (host-wide items always)."""
    if not isinstance(manifest, dict):
        raise AnsibleFilterError("backup_items: expected a manifest (dictionary)")
    return select_items(manifest, stores, services)


def backup_pg_counts(rows, name_key="t", count_key="n"):
    """Rows of a per-table count query ({t: schema.table, n: count}) -> {schema.table: count}."""
    if rows is None:
        return {}
    return dict((row[name_key], _as_int(row[count_key], "backup_pg_counts")) for row in rows)


def backup_redis_keys(info_keyspace):
    """Total keys of all databases from the text of ``INFO keyspace``."""
    return sum(parse_keyspace(info_keyspace or "").values())


def backup_redis_loaded(info_persistence):
    """Keys read from the RDB at the last load, ``rdb_last_load_keys_loaded`` plus
    ``rdb_last_load_keys_expired`` (keys whose TTL ran out since the snapshot are
    read but not kept). None when Redis does not report them (before 7.0)."""
    info = parse_info(info_persistence or "")
    if "rdb_last_load_keys_loaded" not in info:
        return None
    return int(info["rdb_last_load_keys_loaded"]) + int(info.get("rdb_last_load_keys_expired", "0") or 0)


class FilterModule(object):
    def filters(self):
        return {
            "backup_counts_diff": backup_counts_diff,
            "backup_items": backup_items,
            "backup_pg_counts": backup_pg_counts,
            "backup_redis_keys": backup_redis_keys,
            "backup_redis_loaded": backup_redis_loaded,
        }
