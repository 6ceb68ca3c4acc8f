# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Retention of backup sets as data: pure logic, no file system access.

A policy per store (``sqlite``, ``postgres``, ``redis``, ``env``, ``config``,
``tools``; ``default`` for the others) has keep-counts and a maximum age:

``keep_last``
    the N newest sets that hold the store;
``daily`` / ``weekly`` / ``monthly``
    the newest set of each of the N most recent days / ISO weeks / months
    (UTC) that have a set holding the store;
``max_age_days``
    sets older than this lose the store even when a keep-count would keep it.
    Without keep-counts (all 0), every set younger than the age keeps it:
    runbook 004's "tool definitions are kept 90 days".

A complete set is deleted when no store in it is kept; when only some of its
stores expire, their files are pruned from it and the manifest says so. The
newest complete set is always kept whole, and so are the sets named in
``protect``. Incomplete sets (no manifest: killed, failed, or still running)
are deleted only once they are older than ``incomplete_max_age_hours``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

from ansible_collections.opskit.ops.plugins.module_utils._backup_common import parse_stamp

POLICY_KEYS = ("keep_last", "daily", "weekly", "monthly", "max_age_days")
DEFAULT_POLICY = {"keep_last": 3, "daily": 7, "weekly": 4, "monthly": 6, "max_age_days": None}
# Runbook 004: tool definition backups are kept 90 days.
DEFAULT_STORE_POLICIES = {
    "tools": {"keep_last": 0, "daily": 0, "weekly": 0, "monthly": 0, "max_age_days": 90},
}


class RetentionError(Exception):
    """A policy is malformed."""


def _as_time(value):
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    when = parse_stamp(value)
    if when is None and isinstance(value, str):
        try:
            when = datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            when = None
    if when is None:
        raise RetentionError("cannot read the time %r" % (value,))
    return when


def _before(now, delta, **amount):
    """``now - delta(**amount)``; an age beyond the calendar (10**12 hours) reaches back to its start."""
    try:
        return now - delta(**amount)
    except OverflowError:
        return datetime.datetime.min.replace(tzinfo=now.tzinfo)


def normalise_policy(policy, base=None):
    merged = dict(base or DEFAULT_POLICY)
    if policy is not None and not isinstance(policy, dict):
        raise RetentionError("a retention policy must be a mapping of %s, got %r" % (", ".join(POLICY_KEYS), policy))
    for key, value in (policy or {}).items():
        if key not in POLICY_KEYS:
            raise RetentionError("unknown retention key %r (known: %s)" % (key, ", ".join(POLICY_KEYS)))
        if value is None:
            merged[key] = None
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise RetentionError("retention %s must be a number, got %r" % (key, value))
        if number < 0:
            raise RetentionError("retention %s must not be negative, got %r" % (key, value))
        merged[key] = number
    if merged.get("max_age_days") == 0:
        merged["max_age_days"] = None
    return merged


def policy_for(store, policies):
    policies = policies or {}
    base = normalise_policy(policies.get("default"), DEFAULT_POLICY)
    if store in policies:
        return normalise_policy(policies[store], base)
    if store in DEFAULT_STORE_POLICIES:
        return normalise_policy(DEFAULT_STORE_POLICIES[store], base)
    return base


def _buckets(when):
    iso = when.isocalendar()
    return {
        "daily": when.strftime("%Y-%m-%d"),
        "weekly": "%04d-W%02d" % (iso[0], iso[1]),
        "monthly": when.strftime("%Y-%m"),
    }


def keep_for_store(candidates, policy, now):
    """Names of the sets (newest first in ``candidates``) that keep this store, with reasons."""
    reasons = {}
    counted = any(policy.get(k) for k in ("keep_last", "daily", "weekly", "monthly"))
    if counted:
        for index, cand in enumerate(candidates):
            if index < (policy.get("keep_last") or 0):
                reasons.setdefault(cand["name"], []).append("keep_last %d" % policy["keep_last"])
        for rule in ("daily", "weekly", "monthly"):
            wanted = policy.get(rule) or 0
            seen = []
            for cand in candidates:
                bucket = _buckets(cand["_time"])[rule]
                if bucket in seen:
                    continue
                if len(seen) >= wanted:
                    break
                seen.append(bucket)
                reasons.setdefault(cand["name"], []).append("%s %s" % (rule, bucket))
    else:
        for cand in candidates:
            reasons[cand["name"]] = ["no keep-counts"]
    max_age = policy.get("max_age_days")
    if max_age:
        limit = _before(now, datetime.timedelta, days=max_age)
        for cand in candidates:
            if cand["_time"] < limit and cand["name"] in reasons:
                del reasons[cand["name"]]
    return reasons


def plan(sets, policies=None, now=None, incomplete_max_age_hours=24, protect=None):
    """Decide what retention does with ``sets``.

    ``sets``: [{name, time (datetime or stamp; defaults to the name), complete, stores}].
    Returns {keep: [...], delete: [...], prune: {name: [stores]}, reasons: {name: text}}.
    """
    now = _as_time(now) if now is not None else datetime.datetime.now(datetime.timezone.utc)
    protect = set(protect or [])
    prepared = []
    for entry in sets:
        item = dict(entry)
        item["_time"] = _as_time(entry.get("time") or entry["name"])
        item["stores"] = sorted(set(entry.get("stores") or []))
        prepared.append(item)
    prepared.sort(key=lambda s: (s["_time"], s["name"]))
    complete = [s for s in prepared if s.get("complete")]
    newest = complete[-1]["name"] if complete else None

    kept_stores = dict((s["name"], {}) for s in complete)
    for store in sorted(set(st for s in complete for st in s["stores"])):
        policy = policy_for(store, policies)
        candidates = [s for s in reversed(complete) if store in s["stores"]]
        for name, why in keep_for_store(candidates, policy, now).items():
            kept_stores[name][store] = why

    result = {"keep": [], "delete": [], "prune": {}, "reasons": {}, "newest_complete": newest}
    incomplete_limit = _before(now, datetime.timedelta, hours=incomplete_max_age_hours)
    for entry in prepared:
        name = entry["name"]
        if not entry.get("complete"):
            if entry["_time"] < incomplete_limit and name not in protect:
                result["delete"].append(name)
                result["reasons"][name] = "incomplete and older than %d hours" % incomplete_max_age_hours
            else:
                result["keep"].append(name)
                result["reasons"][name] = "incomplete, younger than %d hours (may still be running)" % incomplete_max_age_hours
            continue
        kept = kept_stores.get(name, {})
        if name == newest or name in protect:
            result["keep"].append(name)
            result["reasons"][name] = "newest complete set" if name == newest else "protected"
            continue
        if not kept:
            result["delete"].append(name)
            result["reasons"][name] = "no store of the set is kept by its policy"
            continue
        result["keep"].append(name)
        expired = [st for st in entry["stores"] if st not in kept]
        if expired:
            result["prune"][name] = expired
        result["reasons"][name] = "; ".join("%s: %s" % (st, ", ".join(why)) for st, why in sorted(kept.items()))
    return result
