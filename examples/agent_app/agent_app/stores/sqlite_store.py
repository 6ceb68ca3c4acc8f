"""SQLite session store (runbook 000): tables sessions / messages / slots (+ jobs),
``journal_mode=WAL`` and ``foreign_keys=ON``.

Every operation opens its own short-lived connection (``busy_timeout`` 5 s) and
keeps its transaction short, so an online backup (``sqlite3 .backup`` or the
backup API) can run at any time; a database file that was removed or whose
directory vanished is reported as unreachable instead of being silently
re-created empty (only :meth:`init` creates it).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import sqlite3
from typing import Dict, Iterator, Optional
from urllib.parse import quote

from .base import (DEFAULT_QUEUE, PlanFn, Store, StoreError, TurnResult, session_view, iso,
                   job_payload, month_start)

BUSY_TIMEOUT_MS = 5000

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id     TEXT    NOT NULL UNIQUE,
    org_id        TEXT    NOT NULL DEFAULT 'default',
    user_name     TEXT,
    last_question TEXT,
    turn_count    INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('user', 'assistant')),
    content    TEXT    NOT NULL,
    mode       TEXT,
    created_at TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS slots (
    session_id     INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    pipeline_stage TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    value          TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL,
    PRIMARY KEY (session_id, pipeline_stage, name)
);
CREATE TABLE IF NOT EXISTS jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    queue        TEXT    NOT NULL DEFAULT 'agent-jobs',
    kind         TEXT    NOT NULL DEFAULT 'task',
    payload      TEXT    NOT NULL DEFAULT '{}',
    status       TEXT    NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'running', 'done', 'dead_letter', 'cancelled')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    tokens       INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    available_at TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    finished_at  TEXT
);
CREATE INDEX IF NOT EXISTS idx_jobs_status ON jobs(status, available_at);
"""

TABLES = ("sessions", "messages", "slots", "jobs")


def db_ts(moment: Optional[_dt.datetime] = None) -> str:
    """UTC text that sorts and compares like SQLite's own datetime()."""
    moment = (moment or _dt.datetime.now(_dt.timezone.utc)).astimezone(_dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


class SqliteStore(Store):
    kind = "sqlite"

    def __init__(self, path: str):
        self.path = os.path.abspath(path)

    # -- connections -------------------------------------------------------
    def _connect(self, create: bool = False) -> sqlite3.Connection:
        uri = f"file:{quote(self.path)}?mode={'rwc' if create else 'rw'}"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite {self.path}: {exc}") from exc
        return conn

    @contextlib.contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        try:
            yield conn
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite {self.path}: {exc}") from exc
        finally:
            conn.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction (BEGIN IMMEDIATE: no lock upgrade deadlocks)."""
        with self._conn() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # -- lifecycle -----------------------------------------------------------
    def init(self) -> None:
        parent = os.path.dirname(self.path)
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create directory {parent}: {exc}") from exc
        conn = self._connect(create=True)
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"sqlite {self.path}: journal_mode is {mode}, WAL could not be set")
            conn.execute("BEGIN IMMEDIATE")
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite {self.path}: {exc}") from exc
        finally:
            conn.close()

    def health(self) -> Dict[str, str]:
        try:
            with self._conn() as conn:
                names = {row[0] for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'")}
                missing = [t for t in ("sessions", "messages", "slots") if t not in names]
                if missing:
                    return {"store": f"error: tables missing: {', '.join(missing)}"}
                conn.execute("SELECT count(*) FROM sessions").fetchone()
        except StoreError as exc:
            return {"store": f"error: {exc}"}
        return {"store": "ok"}

    # -- turns ---------------------------------------------------------------
    def process_turn(self, thread_id, text, mode, user, created_at, plan_fn: PlanFn) -> TurnResult:
        ts = db_ts(created_at)
        with self._tx() as conn:
            row = conn.execute(
                "SELECT id, last_question, turn_count FROM sessions WHERE thread_id = ?",
                (thread_id,)).fetchone()
            created = row is None
            if created:
                cur = conn.execute(
                    "INSERT INTO sessions (thread_id, user_name, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?)", (thread_id, user, ts, ts))
                session_id, last_question, turn_count = cur.lastrowid, None, 0
            else:
                session_id, last_question, turn_count = row["id"], row["last_question"], row["turn_count"]
            slots: Dict[str, Dict[str, str]] = {}
            for srow in conn.execute(
                    "SELECT pipeline_stage, name, value FROM slots WHERE session_id = ?",
                    (session_id,)):
                slots.setdefault(srow["pipeline_stage"], {})[srow["name"]] = srow["value"]
            plan = plan_fn(slots, last_question)
            user_id = conn.execute(
                "INSERT INTO messages (session_id, role, content, mode, created_at) "
                "VALUES (?, 'user', ?, ?, ?)", (session_id, text, mode, ts)).lastrowid
            reply_id = conn.execute(
                "INSERT INTO messages (session_id, role, content, mode, created_at) "
                "VALUES (?, 'assistant', ?, ?, ?)", (session_id, plan.reply, mode, ts)).lastrowid
            conn.executemany(
                "INSERT INTO slots (session_id, pipeline_stage, name, value, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id, pipeline_stage, name) "
                "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                [(session_id, stage, name, value, ts)
                 for (stage, name), value in sorted(plan.slot_updates.items())])
            conn.execute(
                "UPDATE sessions SET last_question = ?, turn_count = turn_count + 1, "
                "updated_at = ?, user_name = COALESCE(user_name, ?) WHERE id = ?",
                (plan.last_question, ts, user, session_id))
        return TurnResult(session_id, thread_id, turn_count + 1, user_id, reply_id, plan, created)

    def get_session(self, thread_id: str) -> Optional[dict]:
        with self._conn() as conn:
            conn.execute("BEGIN")
            row = conn.execute("SELECT * FROM sessions WHERE thread_id = ?", (thread_id,)).fetchone()
            if row is None:
                conn.execute("COMMIT")
                return None
            messages = [
                {"id": m["id"], "role": m["role"], "content": m["content"], "mode": m["mode"],
                 "created_at": iso(m["created_at"])}
                for m in conn.execute(
                    "SELECT id, role, content, mode, created_at FROM messages "
                    "WHERE session_id = ? ORDER BY id", (row["id"],))
            ]
            slots: Dict[str, Dict[str, str]] = {}
            for s in conn.execute(
                    "SELECT pipeline_stage, name, value FROM slots WHERE session_id = ? "
                    "ORDER BY pipeline_stage, name", (row["id"],)):
                slots.setdefault(s["pipeline_stage"], {})[s["name"]] = s["value"]
            conn.execute("COMMIT")
        return session_view(row, messages, slots)

    def stats(self) -> Dict[str, int]:
        with self._conn() as conn:
            conn.execute("BEGIN")
            out = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
            conn.execute("COMMIT")
        return out

    # -- jobs (runbook 001) ------------------------------------------------------
    @staticmethod
    def _job(row) -> dict:
        return {
            "id": row["id"], "queue": row["queue"], "kind": row["kind"],
            "payload": job_payload(row["payload"]), "status": row["status"],
            "attempts": row["attempts"], "tokens": row["tokens"], "last_error": row["last_error"],
            "available_at": iso(row["available_at"]), "created_at": iso(row["created_at"]),
            "updated_at": iso(row["updated_at"]), "finished_at": iso(row["finished_at"]),
        }

    def enqueue_job(self, queue, kind, payload, tokens) -> dict:
        ts = db_ts()
        with self._tx() as conn:
            job_id = conn.execute(
                "INSERT INTO jobs (queue, kind, payload, tokens, available_at, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (queue or DEFAULT_QUEUE, kind, json.dumps(payload, sort_keys=True), tokens, ts, ts, ts),
            ).lastrowid
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._job(row)

    def get_job(self, job_id) -> Optional[dict]:
        with self._conn() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._job(row) if row else None

    def recover_running(self) -> int:
        with self._tx() as conn:
            return conn.execute(
                "UPDATE jobs SET status = 'queued', updated_at = ? WHERE status = 'running'",
                (db_ts(),)).rowcount

    def claim_job(self) -> Optional[dict]:
        now = db_ts()
        with self._tx() as conn:
            row = conn.execute(
                "SELECT id FROM jobs WHERE status = 'queued' AND available_at <= ? "
                "ORDER BY id LIMIT 1", (now,)).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, updated_at = ? "
                "WHERE id = ?", (now, row["id"]))
            job = conn.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone()
        return self._job(job)

    def finish_job(self, job_id, ok, error, max_attempts, retry_delay) -> str:
        now = _dt.datetime.now(_dt.timezone.utc)
        with self._tx() as conn:
            row = conn.execute("SELECT attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return "missing"
            if ok:
                status = "done"
                conn.execute("UPDATE jobs SET status = 'done', last_error = NULL, updated_at = ?, "
                             "finished_at = ? WHERE id = ?", (db_ts(now), db_ts(now), job_id))
            elif row["attempts"] >= max_attempts:
                status = "dead_letter"
                conn.execute("UPDATE jobs SET status = 'dead_letter', last_error = ?, updated_at = ?, "
                             "finished_at = ? WHERE id = ?", (error, db_ts(now), db_ts(now), job_id))
            else:
                status = "queued"
                later = now + _dt.timedelta(seconds=retry_delay * row["attempts"])
                conn.execute("UPDATE jobs SET status = 'queued', last_error = ?, updated_at = ?, "
                             "available_at = ? WHERE id = ?", (error, db_ts(now), db_ts(later), job_id))
        return status

    def requeue_job(self, job_id) -> Optional[dict]:
        ts = db_ts()
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE jobs SET status = 'queued', attempts = 0, last_error = NULL, finished_at = NULL, "
                "available_at = ?, updated_at = ? WHERE id = ? AND status IN ('dead_letter', 'cancelled', 'done')",
                (ts, ts, job_id))
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        job = self._job(row)
        job["changed"] = cur.rowcount == 1
        return job

    def cancel_job(self, job_id) -> Optional[dict]:
        ts = db_ts()
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE jobs SET status = 'cancelled', updated_at = ?, finished_at = ? "
                "WHERE id = ? AND status = 'queued'", (ts, ts, job_id))
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        job = self._job(row)
        job["changed"] = cur.rowcount == 1
        return job

    def queue_stats(self) -> Dict[str, Dict[str, int]]:
        out = {DEFAULT_QUEUE: {"active": 0, "dead_letter": 0}}
        with self._conn() as conn:
            for row in conn.execute("SELECT queue, status, count(*) AS n FROM jobs "
                                    "WHERE status IN ('queued', 'running', 'dead_letter') "
                                    "GROUP BY queue, status"):
                entry = out.setdefault(row["queue"], {"active": 0, "dead_letter": 0})
                key = "dead_letter" if row["status"] == "dead_letter" else "active"
                entry[key] += row["n"]
        return out

    def tokens_used_this_month(self) -> int:
        with self._conn() as conn:
            row = conn.execute("SELECT COALESCE(SUM(tokens), 0) FROM jobs WHERE status = 'done' "
                               "AND finished_at >= ?", (db_ts(month_start()),)).fetchone()
        return int(row[0])
