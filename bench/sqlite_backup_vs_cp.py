# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""SQLite backup of a live WAL database: opskit's online backup vs runbook 000's stop-cp-start.

Builds a WAL database of at least 1 GiB (sessions/messages/slots, as runbook
000's store), starts a stand-in service in its own process - a writer that
commits a message every few milliseconds plus an HTTP /health endpoint that
reads the database - and probes /health every 20 ms from the benchmark. Then,
side by side in one run:

* runbook 000: stop the service, ``cp`` the file, start the service again;
* opskit: ``online_backup`` (the code behind opskit.ops.sqlite_backup) while
  the service keeps writing, including ``PRAGMA integrity_check``, row counts
  and SHA-256 of the copy.

It prints the throughput of both (MB = 10^6 bytes per second), the ratio, and
the service's downtime during each: the time /health did not answer 200 and
the longest pause between two commits of the writer. opskit's downtime is 0.

    .venv/bin/python bench/sqlite_backup_vs_cp.py [--size-mb 1100] [--dir /var/tmp] [--keep]
"""

from __future__ import annotations

import argparse
import http.server
import json
import multiprocessing
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "collections"))

from ansible_collections.opskit.ops.plugins.module_utils._backup_common import sha256_file  # noqa: E402
from ansible_collections.opskit.ops.plugins.module_utils._backup_sqlite import (  # noqa: E402
    inspect_copy,
    online_backup,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (id INTEGER PRIMARY KEY, thread_id TEXT UNIQUE, last_question TEXT,
                                     created_at REAL);
CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, session_id INTEGER REFERENCES sessions(id),
                                     role TEXT, content TEXT, created_at REAL);
CREATE TABLE IF NOT EXISTS slots (id INTEGER PRIMARY KEY, session_id INTEGER REFERENCES sessions(id),
                                  stage TEXT, name TEXT, value TEXT);
CREATE INDEX IF NOT EXISTS messages_session ON messages(session_id);
"""


def build_database(path, size_mb):
    """A WAL database of at least size_mb MiB with runbook 000's three tables."""
    target = size_mb * 1024 * 1024
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.executescript(SCHEMA)
    session = 0
    body = os.urandom(1500).hex()  # 3000 characters per message
    started = time.monotonic()
    while os.path.getsize(path) + (os.path.getsize(path + "-wal") if os.path.exists(path + "-wal") else 0) < target:
        conn.execute("BEGIN")
        for _batch in range(200):
            session += 1
            conn.execute("INSERT INTO sessions(thread_id, last_question, created_at) VALUES (?, ?, ?)",
                         ("thread-%d" % session, "question %d" % session, time.time()))
            conn.executemany("INSERT INTO messages(session_id, role, content, created_at) VALUES (?, ?, ?, ?)",
                             [(session, "user" if i % 2 else "assistant", body, time.time()) for i in range(20)])
            conn.executemany("INSERT INTO slots(session_id, stage, name, value) VALUES (?, ?, ?, ?)",
                             [(session, "stage%02d" % i, "slot%d" % i, "v") for i in range(5)])
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.close()
    return time.monotonic() - started


# --------------------------------------------------------------------------- the stand-in service

def _service(db, port, interval, ready, stop, stats):
    """Writer + /health in one process, like the bot: commits a message every `interval` seconds."""
    signal.signal(signal.SIGTERM, lambda *_args: stop.set())
    local = threading.local()

    def conn():
        if not hasattr(local, "c"):
            local.c = sqlite3.connect(db, timeout=30, check_same_thread=False)
        return local.c

    class Health(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            try:
                conn().execute("SELECT id FROM sessions ORDER BY id DESC LIMIT 1").fetchone()
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b'{"status":"ok"}')
            except sqlite3.Error:
                self.send_response(503)
                self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    writer = sqlite3.connect(db, timeout=30)
    writer.execute("PRAGMA journal_mode=WAL")
    commits, errors, worst, last_commit, worst_gap = 0, 0, 0.0, time.monotonic(), 0.0
    times = []
    ready.set()
    while not stop.is_set():
        begin = time.monotonic()
        try:
            writer.execute("INSERT INTO messages(session_id, role, content, created_at) VALUES (1, 'user', 'live', ?)",
                           (time.time(),))
            writer.commit()
            commits += 1
            end = time.monotonic()
            worst = max(worst, end - begin)
            worst_gap = max(worst_gap, end - last_commit)
            last_commit = end
            times.append(end)
        except sqlite3.Error:
            errors += 1
        time.sleep(interval)
    server.shutdown()
    writer.close()  # the last connection checkpoints the WAL, as a clean stop of the bot does
    stats.put({"commits": commits, "errors": errors, "worst_commit": worst, "worst_gap": worst_gap, "times": times})


class Service(object):
    def __init__(self, db, port, interval=0.005):
        self.db, self.port, self.interval = db, port, interval
        self.proc = None
        self.stats = []

    def start(self):
        self.ready = multiprocessing.Event()
        self.stop_evt = multiprocessing.Event()
        self.queue = multiprocessing.Queue()
        args = (self.db, self.port, self.interval, self.ready, self.stop_evt, self.queue)
        self.proc = multiprocessing.Process(target=_service, args=args)
        self.proc.start()
        self.ready.wait(30)

    def stop(self):
        self.proc.terminate()  # SIGTERM, as systemctl stop
        self.stats.append(self.queue.get(timeout=60))
        self.proc.join(60)
        return self.stats[-1]


class Probe(threading.Thread):
    """GET /health every 20 ms; a sample is down when it is not a 200 within 1 s."""

    def __init__(self, port, period=0.02):
        super().__init__(daemon=True)
        self.url = "http://127.0.0.1:%d/health" % port
        self.period = period
        self.samples = []
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            t = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=1) as resp:
                    ok = resp.status == 200
            except Exception:
                ok = False
            self.samples.append((t, ok))
            time.sleep(self.period)

    def downtime(self, start, end):
        """Seconds /health was down between start and end: each failed stretch counts from its
        first failed sample to the next good one."""
        total, down_since = 0.0, None
        for t, ok in self.samples:
            if t < start:
                continue
            if not ok and down_since is None:
                down_since = t
            elif ok and down_since is not None:
                total += t - down_since
                down_since = None
            if t > end and down_since is None:
                break
        return total, sum(1 for t, ok in self.samples if start <= t <= end and not ok), \
            sum(1 for t, ok in self.samples if start <= t <= end)


def worst_gap(times, start, end):
    """Longest pause between two commits of the writer within [start, end] (CLOCK_MONOTONIC is system-wide)."""
    inside = [t for t in times if start <= t <= end]
    before = [t for t in times if t < start][-1:]
    after = [t for t in times if t > end][:1]
    points = before + inside + after
    return max((b - a for a, b in zip(points, points[1:])), default=float("inf")), len(inside)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=1) as resp:
                if resp.status == 200:
                    return
        except Exception:
            time.sleep(0.01)
    raise RuntimeError("the service did not become healthy")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--size-mb", type=int, default=1100, help="database size in MiB (default 1100, >= 1 GiB)")
    parser.add_argument("--dir", default=None, help="work directory (default: a new folder under /var/tmp)")
    parser.add_argument("--pages", type=int, default=1024, help="pages per step of the backup API (module default)")
    parser.add_argument("--sleep", type=float, default=0.005, help="pause between steps (module default)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    work = args.dir or tempfile.mkdtemp(prefix="opskit-bench-", dir="/var/tmp")
    os.makedirs(work, exist_ok=True)
    db = os.path.join(work, "el_sessions.db")
    results = {}
    try:
        if not os.path.exists(db):
            print("building a WAL database of %d MiB in %s ..." % (args.size_mb, work), flush=True)
            took = build_database(db, args.size_mb)
            print("  built in %.1f s" % took)
        size = os.path.getsize(db)
        print("database: %s, %.1f MB (%.2f GiB), SQLite %s, Python %s" % (
            db, size / 1e6, size / 2 ** 30, sqlite3.sqlite_version, sys.version.split()[0]))
        # Bring the file into the page cache once so that both methods read it warm.
        with open(db, "rb") as handle:
            while handle.read(64 * 1024 * 1024):
                pass

        port = free_port()
        service = Service(db, port)
        service.start()
        probe = Probe(port)
        probe.start()
        time.sleep(1.0)

        # --- runbook 000: stop the bot, cp, start the bot --------------------------------------
        cp_dest = os.path.join(work, "cp_copy.db")
        t_stop = time.monotonic()
        stats_before_cp = service.stop()
        t_copy = time.monotonic()
        subprocess.run(["cp", db, cp_dest], check=True)  # runbook 000, literally: no sync
        cp_seconds = time.monotonic() - t_copy
        service.start()
        wait_healthy(port)
        t_up = time.monotonic()
        time.sleep(0.5)
        t_sync = time.monotonic()
        subprocess.run(["sync", cp_dest], check=False)  # not timed: lets the next run start on a quiet disk
        cp_sync_seconds = time.monotonic() - t_sync
        cp_down, cp_failed, cp_samples = probe.downtime(t_stop, t_up + 0.2)
        cp_size = os.path.getsize(cp_dest)
        results["cp"] = {
            "seconds": round(cp_seconds, 3), "bytes": cp_size, "mb_s": round(cp_size / 1e6 / cp_seconds, 1),
            "downtime_s": round(cp_down, 3), "stop_to_healthy_s": round(t_up - t_stop, 3),
            "failed_probes": cp_failed, "probes": cp_samples, "writer_errors": stats_before_cp["errors"],
            "sync_after_s": round(cp_sync_seconds, 3),
        }
        os.unlink(cp_dest)
        time.sleep(1.0)

        # --- opskit: online backup while the service keeps writing ------------------------------
        ok_dest = os.path.join(work, "opskit_copy.db")
        progress = {"last": 0}

        def show(copied, total):
            pct = int(copied * 100 / total) if total else 100
            if pct >= progress["last"] + 25:
                progress["last"] = pct
                print("  opskit backup: %d%%" % pct, flush=True)

        t_start = time.monotonic()
        facts = online_backup(db, ok_dest, pages=args.pages, sleep=args.sleep, progress=show)
        t_end = time.monotonic()
        time.sleep(0.5)
        ok_down, ok_failed, ok_samples = probe.downtime(t_start, t_end)
        stats = service.stop()
        gap_during, commits_during = worst_gap(stats["times"], t_start, t_end)
        t_copied = t_start + facts["copy_seconds"]
        gap_copy, _n = worst_gap(stats["times"], t_start, t_copied)
        gap_verify, _n = worst_gap(stats["times"], t_copied, t_end)
        gap_before, _n = worst_gap(stats["times"], t_start - 1.0, t_start)
        probe.halt.set()
        probe.join()
        ok_size = facts["size"]
        results["opskit"] = {
            "seconds": facts["duration"], "copy_seconds": facts["copy_seconds"], "bytes": ok_size,
            "mb_s": round(ok_size / 1e6 / facts["duration"], 1),
            "copy_mb_s": round(ok_size / 1e6 / facts["copy_seconds"], 1),
            "downtime_s": round(ok_down, 3), "failed_probes": ok_failed, "probes": ok_samples,
            "integrity": facts["integrity"], "restarts": facts["restarts"], "steps": facts["steps"],
            "rows": facts["tables"], "sha256": facts["sha256"],
            "writer_commits_total": stats["commits"], "writer_errors": stats["errors"],
            "writer_worst_commit_s": round(stats["worst_commit"], 4),
            "writer_worst_gap_s": round(gap_during, 4),
            "writer_worst_gap_copy_s": round(gap_copy, 4),
            "writer_worst_gap_verify_s": round(gap_verify, 4),
            "writer_worst_gap_before_s": round(gap_before, 4),
            "writer_commits_during": commits_during,
        }
        # The copy is a sound, self-contained database (checked again independently).
        again = inspect_copy(ok_dest)
        assert again["integrity"] == "ok" and again["tables"] == facts["tables"]
        assert sha256_file(ok_dest) == facts["sha256"]
        os.unlink(ok_dest)
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(work, ignore_errors=True)

    cp, ok = results["cp"], results["opskit"]
    print()
    print("%-44s %14s %14s" % ("", "runbook: cp", "opskit"))
    print("%-44s %14s %14s" % ("method", "stop, cp, start", "backup API"))
    print("%-44s %14.1f %14.1f" % ("copy throughput (MB/s)", cp["mb_s"], ok["copy_mb_s"]))
    print("%-44s %14.1f %14.1f" % ("end-to-end throughput (MB/s)*", cp["mb_s"], ok["mb_s"]))
    print("%-44s %14.2f %14.2f" % ("seconds", cp["seconds"], ok["seconds"]))
    print("%-44s %14.3f %14.3f" % ("service downtime, /health not 200 (s)", cp["downtime_s"], ok["downtime_s"]))
    failed = ("%d/%d" % (cp["failed_probes"], cp["probes"]), "%d/%d" % (ok["failed_probes"], ok["probes"]))
    print("%-44s %14s %14s" % ("failed /health probes", failed[0], failed[1]))
    print("%-44s %14.3f %14s" % ("stop -> healthy again (s)", cp["stop_to_healthy_s"], "-"))
    print("%-44s %14s %14.4f" % ("writer: longest pause between commits (s)", "stopped", ok["writer_worst_gap_s"]))
    print("%-44s %14s %14.4f" % ("  while copying (backup API steps)", "", ok["writer_worst_gap_copy_s"]))
    print("%-44s %14s %14.4f" % ("  while verifying (fsync, integrity, sha256)", "", ok["writer_worst_gap_verify_s"]))
    print("%-44s %14s %14.4f" % ("  in the second before the backup", "", ok["writer_worst_gap_before_s"]))
    print("%-44s %14s %14d" % ("writer commits during the copy", "0", ok["writer_commits_during"]))
    print("%-44s %14s %14d" % ("writer errors", "-", ok["writer_errors"]))
    print("%-44s %14s %14s" % ("verified copy", "no", "integrity ok"))
    print()
    print("ratio opskit/cp throughput: copy phase %.2fx, end-to-end %.2fx" % (
        ok["copy_mb_s"] / cp["mb_s"], ok["mb_s"] / cp["mb_s"]))
    print("* opskit end-to-end includes fsync, PRAGMA integrity_check, row counts and SHA-256 of the copy;")
    print("  cp (as in the runbook) neither syncs nor verifies: its copy reached the disk %.1f s later (sync, untimed)."
          % cp["sync_after_s"])
    print("opskit backup: %d steps of %d pages, %d restarts, rows of the copy %s" % (
        ok["steps"], args.pages, ok["restarts"], json.dumps(ok["rows"])))
    print("downtime: runbook %.3f s, opskit %.3f s" % (cp["downtime_s"], ok["downtime_s"]))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0 if ok["downtime_s"] == 0 and ok["writer_errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
