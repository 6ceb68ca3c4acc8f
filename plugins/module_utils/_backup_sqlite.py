# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Online SQLite backup and verified restore (runbook 000's session store).

The backup uses SQLite's online backup API (``sqlite3.Connection.backup``), a
few pages per step with a pause between steps, never a file copy. Before the
first step the source connection opens a read transaction and keeps it for the
whole copy: in WAL mode a reader never blocks the writer, and because every
step reads the same snapshot the backup is never restarted by the writer's
commits (without the pinned snapshot, SQLite restarts a stepped backup after
each commit of another connection, so under a steady stream of writes it
never finishes). The copy is written to a temporary file, checked with
``PRAGMA integrity_check``, counted, hashed and only then renamed to its name.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import sqlite3
import time

from ansible_collections.opskit.ops.plugins.module_utils._backup_common import (
    fsync_dir,
    fsync_file,
    sha256_file,
)

SIDECARS = ("-wal", "-shm")


class SqliteBackupError(Exception):
    """A backup or restore step failed; the message says which and why."""


def _quote(name):
    return '"' + name.replace('"', '""') + '"'


def _open_readonly(path):
    # immutable=1: no locks, no -wal/-shm sidecars next to a backup file.
    return sqlite3.connect("file:%s?mode=ro&immutable=1" % path.replace("?", "%3f").replace("#", "%23"), uri=True)


def inspect_copy(path, foreign_keys=True):
    """Integrity check, foreign key check and row counts of a database that nobody writes."""
    conn = _open_readonly(path)
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        integrity = "ok" if rows == ["ok"] else "\n".join(str(r) for r in rows)
        fk_violations = len(conn.execute("PRAGMA foreign_key_check").fetchall()) if foreign_keys else 0
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        counts = {}
        for table in tables:
            counts[table] = conn.execute("SELECT count(*) FROM %s" % _quote(table)).fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        page_count = conn.execute("PRAGMA page_count").fetchone()[0]
    finally:
        conn.close()
    return {
        "integrity": integrity,
        "foreign_key_violations": fk_violations,
        "tables": counts,
        "page_size": page_size,
        "page_count": page_count,
    }


def _match_owner(path, reference):
    """Give ``path`` the owner and group of ``reference`` (a root-run backup must
    not leave root-owned -wal/-shm files the service can no longer open)."""
    try:
        ref = os.stat(reference)
        cur = os.stat(path)
    except OSError:
        return
    if (cur.st_uid, cur.st_gid) != (ref.st_uid, ref.st_gid) and os.geteuid() == 0:
        try:
            os.chown(path, ref.st_uid, ref.st_gid)
        except OSError:
            pass


def _start_writeback(fd, offset, length):
    """Ask the kernel to write a range back now, without waiting for it (Linux: fadvise DONTNEED
    starts write-back of dirty pages); elsewhere a no-op."""
    advise = getattr(os, "posix_fadvise", None)
    if advise is not None:
        try:
            advise(fd, offset, length, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass


def online_backup(src, dest, pages=1024, sleep=0.005, busy_timeout=30.0, progress=None, keep_failed=False,
                  sync_every=8 * 1024 * 1024):
    """Copy the live database ``src`` to ``dest`` with the backup API; return facts.

    ``progress(copied_pages, total_pages)`` is called after each step; the copy
    is handed to the disk every ``sync_every`` bytes (0: only by the fsync at the end).
    Raises SqliteBackupError when the source is missing or the copy fails its
    integrity check (the bad copy is then removed unless ``keep_failed``).
    """
    if not os.path.isfile(src):
        raise SqliteBackupError("source database %s does not exist" % src)
    dest_dir = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(dest_dir):
        raise SqliteBackupError("destination directory %s does not exist" % dest_dir)
    tmp = os.path.join(dest_dir, ".%s.partial-%d" % (os.path.basename(dest), os.getpid()))
    for leftover in (tmp,) + tuple(tmp + s for s in SIDECARS + ("-journal",)):
        if os.path.exists(leftover):
            os.unlink(leftover)

    started = time.monotonic()
    state = {"steps": 0, "restarts": 0, "remaining": None, "total": 0, "synced": 0, "fd": None}

    def _progress(status, remaining, total):
        state["steps"] += 1
        if state["remaining"] is not None and remaining > state["remaining"]:
            state["restarts"] += 1
        state["remaining"] = remaining
        state["total"] = total
        # Start the write-back of the copy as it grows (asynchronously): one big
        # flush at the end would stall the service's own commits on the same disk.
        if sync_every and state["fd"] is not None:
            written = os.fstat(state["fd"]).st_size
            if written - state["synced"] >= sync_every:
                _start_writeback(state["fd"], state["synced"], written - state["synced"])
                state["synced"] = written
        if progress is not None:
            progress(total - remaining, total)

    source = sqlite3.connect(src, timeout=busy_timeout, isolation_level=None)
    try:
        source.execute("PRAGMA busy_timeout = %d" % int(busy_timeout * 1000))
        journal_mode = source.execute("PRAGMA journal_mode").fetchone()[0]
        # Pin one snapshot for the whole copy (see the module docstring).
        source.execute("BEGIN")
        source.execute("SELECT count(*) FROM sqlite_master").fetchone()
        target = sqlite3.connect(tmp, isolation_level=None)
        # The temporary copy needs no journal of its own: a crash leaves a partial
        # file that is discarded, and the finished copy is fsynced before its rename.
        target.execute("PRAGMA journal_mode = OFF")
        target.execute("PRAGMA synchronous = OFF")
        state["fd"] = os.open(tmp, os.O_RDONLY)
        try:
            source.backup(target, pages=pages if pages > 0 else -1, progress=_progress, sleep=sleep)
        finally:
            target.close()
            os.close(state["fd"])
            state["fd"] = None
        source.execute("COMMIT")
        if journal_mode == "wal":
            # The pinned snapshot held back the checkpoints: the WAL grew during the copy.
            # Checkpoint it here (PASSIVE never blocks the writer) so that the service's
            # next commit does not pay for it.
            try:
                source.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error:
                pass
    except sqlite3.Error as exc:
        for leftover in (tmp,) + tuple(tmp + s for s in SIDECARS + ("-journal",)):
            if os.path.exists(leftover):
                os.unlink(leftover)
        raise SqliteBackupError("backup of %s failed: %s" % (src, exc))
    finally:
        source.close()
        for suffix in SIDECARS:
            _match_owner(src + suffix, src)
    copy_seconds = time.monotonic() - started

    facts = inspect_copy(tmp)
    if facts["integrity"] != "ok":
        if not keep_failed:
            os.unlink(tmp)
        raise SqliteBackupError("the copy of %s failed PRAGMA integrity_check: %s" % (src, facts["integrity"]))
    fsync_file(tmp)
    size = os.path.getsize(tmp)
    digest = sha256_file(tmp)
    os.rename(tmp, dest)
    fsync_dir(dest_dir)
    duration = time.monotonic() - started
    facts.update({
        "path": dest,
        "source": src,
        "size": size,
        "sha256": digest,
        "journal_mode": journal_mode,
        "duration": round(duration, 3),
        "copy_seconds": round(copy_seconds, 3),
        "throughput_mb_s": round(size / 1e6 / copy_seconds, 1) if copy_seconds > 0 else None,
        "steps": state["steps"],
        "restarts": state["restarts"],
        "pages_per_step": pages,
        "sqlite_version": sqlite3.sqlite_version,
    })
    return facts


def counts_mismatch(expected, actual):
    """List the tables whose row counts differ: [{table, expected, actual}]."""
    expected = dict((k, int(v)) for k, v in (expected or {}).items())
    actual = dict((k, int(v)) for k, v in (actual or {}).items())
    out = []
    for table in sorted(set(expected or {}) | set(actual or {})):
        exp = (expected or {}).get(table)
        act = (actual or {}).get(table)
        if exp != act:
            out.append({"table": table, "expected": exp, "actual": act})
    return out


def verify_backup_file(path, expected_sha256=None, expected_tables=None):
    """Check a backup file before it is used: checksum, integrity, row counts.

    Returns the facts of inspect_copy plus sha256; raises SqliteBackupError
    naming the file and the mismatch.
    """
    if not os.path.isfile(path):
        raise SqliteBackupError("backup file %s does not exist" % path)
    digest = sha256_file(path)
    if expected_sha256 and digest != expected_sha256:
        raise SqliteBackupError("%s: checksum mismatch, expected sha256 %s, actual %s" % (path, expected_sha256, digest))
    facts = inspect_copy(path)
    if facts["integrity"] != "ok":
        raise SqliteBackupError("%s: PRAGMA integrity_check failed: %s" % (path, facts["integrity"]))
    if expected_tables is not None:
        diff = counts_mismatch(expected_tables, facts["tables"])
        if diff:
            raise SqliteBackupError("%s: row counts differ from the manifest: %s" % (
                path, ", ".join("%s expected %s actual %s" % (d["table"], d["expected"], d["actual"]) for d in diff)))
    facts["sha256"] = digest
    facts["size"] = os.path.getsize(path)
    return facts


def restore_file(src, dest, expected_sha256=None, expected_tables=None, journal_mode="wal",
                 aside_dir=None, owner=None, group=None, mode=None):
    """Put the verified backup ``src`` in place of ``dest`` (the service is stopped).

    1. verify ``src`` (checksum, integrity, counts) - nothing is touched before;
    2. copy it beside ``dest``, set the journal mode, verify the copy again;
    3. move the current database and its -wal/-shm into ``aside_dir``;
    4. rename the copy to ``dest`` with the old file's owner and mode.
    Returns a dict with the moved-aside files so that a caller can put them back.
    """
    facts = verify_backup_file(src, expected_sha256, expected_tables)
    dest = os.path.abspath(dest)
    dest_dir = os.path.dirname(dest)
    if not os.path.isdir(dest_dir):
        raise SqliteBackupError("directory %s of the database does not exist" % dest_dir)
    tmp = os.path.join(dest_dir, ".%s.restore-%d" % (os.path.basename(dest), os.getpid()))
    shutil.copyfile(src, tmp)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            if journal_mode:
                conn.execute("PRAGMA journal_mode = %s" % journal_mode.upper()).fetchone()
        finally:
            conn.close()
        check = inspect_copy(tmp)
        if check["integrity"] != "ok" or counts_mismatch(facts["tables"], check["tables"]):
            raise SqliteBackupError("the restored copy %s does not match its backup %s" % (tmp, src))
        ref = dest if os.path.exists(dest) else dest_dir
        st = os.stat(ref)
        uid = owner if owner is not None else st.st_uid
        gid = group if group is not None else st.st_gid
        if os.geteuid() == 0:
            os.chown(tmp, uid, gid)
        os.chmod(tmp, mode if mode is not None else (st.st_mode & 0o777 if os.path.exists(dest) else 0o640))
        fsync_file(tmp)
    except BaseException:
        for leftover in (tmp,) + tuple(tmp + s for s in SIDECARS):
            if os.path.exists(leftover):
                os.unlink(leftover)
        raise

    moved = []
    if aside_dir:
        os.makedirs(aside_dir, mode=0o700, exist_ok=True)
    for suffix in ("",) + SIDECARS:
        current = dest + suffix
        if os.path.exists(current):
            if aside_dir:
                target = os.path.join(aside_dir, os.path.basename(current))
                shutil.move(current, target)
                moved.append({"from": current, "to": target})
            elif suffix:
                # A stale -wal of the old database must never be applied to the new one.
                os.unlink(current)
    os.rename(tmp, dest)
    fsync_dir(dest_dir)
    facts.update({"path": dest, "source": src, "aside": moved})
    return facts
