# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Redis snapshot helpers: parse INFO and redis-check-rdb, decide when BGSAVE is done.

Runbook 002 runs ``redis-cli BGSAVE`` and stops there; the RDB it copies may
still be the previous snapshot. opskit waits until LASTSAVE (and the
``rdb_saves`` counter) moved past the values read before BGSAVE, with no
save in progress and the last status ``ok``, and only then copies the file.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

_KEYS_READ = re.compile(r"\[info\]\s+(\d+)\s+keys read")
_KEYSPACE = re.compile(r"^(db\d+):keys=(\d+)")


def parse_info(text):
    """INFO output -> dict of strings (section headers and blank lines skipped)."""
    out = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, _sep, value = line.partition(":")
        out[key] = value
    return out


def parse_keyspace(text):
    """INFO keyspace output -> {"db0": 12, ...}."""
    out = {}
    for line in (text or "").splitlines():
        match = _KEYSPACE.match(line.strip())
        if match:
            out[match.group(1)] = int(match.group(2))
    return out


def parse_check_rdb(text):
    """redis-check-rdb output -> (ok, keys read or None)."""
    text = text or ""
    ok = "RDB looks OK" in text
    match = _KEYS_READ.search(text)
    return ok, (int(match.group(1)) if match else None)


def save_state(info):
    """(lastsave, saves, in_progress, status) from a parsed INFO persistence."""
    return (
        int(info.get("rdb_last_save_time", "0") or 0),
        int(info.get("rdb_saves", "-1") or -1),
        info.get("rdb_bgsave_in_progress", "0") == "1",
        info.get("rdb_last_bgsave_status", "ok"),
    )


def bgsave_finished(before, now):
    """Whether the BGSAVE issued after state ``before`` has completed in state ``now``.

    Returns True (done), False (keep waiting) or raises ValueError when Redis
    reports that the save failed.
    """
    last0, saves0, _prog0, _status0 = before
    last1, saves1, in_progress, status = now
    if in_progress:
        return False
    moved = last1 > last0 or (saves0 >= 0 and saves1 > saves0)
    if not moved:
        return False
    if status != "ok":
        raise ValueError("Redis reports the background save failed (rdb_last_bgsave_status:%s)" % status)
    return True
