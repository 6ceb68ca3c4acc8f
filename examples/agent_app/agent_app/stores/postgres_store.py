"""PostgreSQL (pgvector) + Redis store (runbook 002).

PostgreSQL holds sessions, messages (with an ``embedding vector(8)`` derived
deterministically from the text), slots, ``unified_memories`` and jobs; the
pgvector extension must already exist (``CREATE EXTENSION vector`` is an
operator's step in runbook 002), otherwise :meth:`init` fails with
:class:`StoreSetupError`. Redis is the short-term memory: every turn writes
``session:<thread>:last_turn`` (JSON, with a TTL), increments
``session:<thread>:turns`` and ``agent:turns_total``, inside the PostgreSQL
transaction so a Redis failure rolls the turn back.
"""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Dict, Iterator, List, Optional

from ..pipeline import embedding
from .base import (DEFAULT_QUEUE, PlanFn, Store, StoreError, StoreSetupError, TurnResult,
                   session_view, iso, job_payload, month_start)

try:  # imported lazily so the SQLite store works without these packages
    import psycopg
    from psycopg.rows import dict_row
except ImportError:  # pragma: no cover - reported by PostgresStore()
    psycopg = None
try:
    import redis as redis_lib
except ImportError:  # pragma: no cover
    redis_lib = None

SCHEMA_LOCK_ID = 7_274_720_001
PGVECTOR_MISSING = "pgvector extension missing: CREATE EXTENSION vector"

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS sessions (
        id            BIGSERIAL PRIMARY KEY,
        thread_id     TEXT        NOT NULL UNIQUE,
        org_id        TEXT        NOT NULL DEFAULT 'default',
        user_name     TEXT,
        last_question TEXT,
        turn_count    INTEGER     NOT NULL DEFAULT 0,
        created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at    TIMESTAMPTZ NOT NULL DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS messages (
        id         BIGSERIAL PRIMARY KEY,
        session_id BIGINT      NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        role       TEXT        NOT NULL CHECK (role IN ('user', 'assistant')),
        content    TEXT        NOT NULL,
        mode       TEXT,
        embedding  vector(8),
        created_at TIMESTAMPTZ NOT NULL DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS slots (
        session_id     BIGINT      NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        pipeline_stage TEXT        NOT NULL,
        name           TEXT        NOT NULL,
        value          TEXT        NOT NULL,
        updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (session_id, pipeline_stage, name))""",
    """CREATE TABLE IF NOT EXISTS unified_memories (
        id         BIGSERIAL PRIMARY KEY,
        session_id BIGINT      REFERENCES sessions(id) ON DELETE CASCADE,
        content    TEXT        NOT NULL,
        embedding  vector(8),
        timestamp  TIMESTAMPTZ NOT NULL DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS jobs (
        id           BIGSERIAL PRIMARY KEY,
        queue        TEXT        NOT NULL DEFAULT 'agent-jobs',
        kind         TEXT        NOT NULL DEFAULT 'task',
        payload      JSONB       NOT NULL DEFAULT '{}'::jsonb,
        status       TEXT        NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'done', 'dead_letter', 'cancelled')),
        attempts     INTEGER     NOT NULL DEFAULT 0,
        tokens       INTEGER     NOT NULL DEFAULT 0,
        last_error   TEXT,
        available_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
        finished_at  TIMESTAMPTZ)""",
    "CREATE INDEX IF NOT EXISTS idx_jobs_status ON jobs(status, available_at)",
]
TABLES = ("sessions", "messages", "slots", "unified_memories", "jobs")


def vector_literal(values: List[float]) -> str:
    return "[" + ",".join(repr(float(v)) for v in values) + "]"


def parse_vector(text: Optional[str]) -> Optional[List[float]]:
    if text is None:
        return None
    return [float(v) for v in text.strip("[]").split(",") if v.strip()]


class _Pool:
    """A tiny thread-safe pool of autocommit connections (no psycopg_pool needed)."""

    def __init__(self, url: str, size: int = 4):
        self.url = url
        self.size = size
        self._idle: list = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def connection(self) -> Iterator["psycopg.Connection"]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None or conn.closed:
            try:
                conn = psycopg.connect(self.url, autocommit=True, connect_timeout=3,
                                       row_factory=dict_row, application_name="agent-app")
            except psycopg.Error as exc:
                raise StoreError(f"postgresql: {exc}".strip()) from exc
        keep = False
        try:
            yield conn
            keep = not conn.closed and not conn.broken \
                and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        except psycopg.Error as exc:
            raise StoreError(f"postgresql: {exc}".strip()) from exc
        finally:
            if keep:
                with self._lock:
                    if len(self._idle) < self.size:
                        self._idle.append(conn)
                        conn = None
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()


class PostgresStore(Store):
    kind = "postgres"

    def __init__(self, postgresql_url: str, redis_url: str, session_ttl: int = 86400):
        if psycopg is None:
            raise StoreSetupError("AGENT_STORE=postgres needs psycopg 3 (Debian: python3-psycopg)")
        if redis_lib is None:
            raise StoreSetupError("AGENT_STORE=postgres needs redis-py (Debian: python3-redis)")
        self.pool = _Pool(postgresql_url)
        self.redis = redis_lib.Redis.from_url(redis_url, socket_timeout=3, socket_connect_timeout=3,
                                              decode_responses=True)
        self.session_ttl = session_ttl

    @contextlib.contextmanager
    def _tx(self):
        with self.pool.connection() as conn:
            with conn.transaction():
                yield conn

    # -- lifecycle -----------------------------------------------------------
    def init(self) -> None:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
            if row is None:
                raise StoreSetupError(PGVECTOR_MISSING)
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_ID,))
                for statement in SCHEMA:
                    conn.execute(statement)

    def close(self) -> None:
        self.pool.close()
        with contextlib.suppress(Exception):
            self.redis.close()

    def health(self) -> Dict[str, str]:
        out = {}
        try:
            with self.pool.connection() as conn:
                conn.execute("SELECT 1 FROM sessions LIMIT 1").fetchall()
            out["store"] = "ok"
        except StoreError as exc:
            out["store"] = f"error: {exc}"
        try:
            self.redis.ping()
            out["redis"] = "ok"
        except redis_lib.RedisError as exc:
            out["redis"] = f"error: redis: {exc}"
        return out

    # -- turns ---------------------------------------------------------------
    def process_turn(self, thread_id, text, mode, user, created_at, plan_fn: PlanFn) -> TurnResult:
        with self._tx() as conn:
            inserted = conn.execute(
                "INSERT INTO sessions (thread_id, user_name, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (thread_id) DO NOTHING RETURNING id",
                (thread_id, user, created_at, created_at)).fetchone()
            row = conn.execute(
                "SELECT id, last_question, turn_count FROM sessions WHERE thread_id = %s FOR UPDATE",
                (thread_id,)).fetchone()
            session_id = row["id"]
            slots: Dict[str, Dict[str, str]] = {}
            for srow in conn.execute(
                    "SELECT pipeline_stage, name, value FROM slots WHERE session_id = %s", (session_id,)):
                slots.setdefault(srow["pipeline_stage"], {})[srow["name"]] = srow["value"]
            plan = plan_fn(slots, row["last_question"])
            user_id = conn.execute(
                "INSERT INTO messages (session_id, role, content, mode, embedding, created_at) "
                "VALUES (%s, 'user', %s, %s, %s::vector, %s) RETURNING id",
                (session_id, text, mode, vector_literal(embedding(text)), created_at)).fetchone()["id"]
            reply_id = conn.execute(
                "INSERT INTO messages (session_id, role, content, mode, embedding, created_at) "
                "VALUES (%s, 'assistant', %s, %s, %s::vector, %s) RETURNING id",
                (session_id, plan.reply, mode, vector_literal(embedding(plan.reply)), created_at)
            ).fetchone()["id"]
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO slots (session_id, pipeline_stage, name, value, updated_at) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (session_id, pipeline_stage, name) "
                    "DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at",
                    [(session_id, stage, name, value, created_at)
                     for (stage, name), value in sorted(plan.slot_updates.items())])
            conn.execute(
                "UPDATE sessions SET last_question = %s, turn_count = turn_count + 1, updated_at = %s, "
                "user_name = COALESCE(user_name, %s) WHERE id = %s",
                (plan.last_question, created_at, user, session_id))
            conn.execute(
                "INSERT INTO unified_memories (session_id, content, embedding, timestamp) "
                "VALUES (%s, %s, %s::vector, %s)",
                (session_id, text, vector_literal(embedding(text)), created_at))
            turn = row["turn_count"] + 1
            last_turn = json.dumps({
                "turn": turn, "user_message_id": user_id, "reply_message_id": reply_id,
                "text": text, "reply": plan.reply, "mode": mode, "at": iso(created_at),
            }, ensure_ascii=False, sort_keys=True)
            try:
                pipe = self.redis.pipeline(transaction=True)
                pipe.set(f"session:{thread_id}:last_turn", last_turn, ex=self.session_ttl)
                pipe.incr(f"session:{thread_id}:turns")
                pipe.expire(f"session:{thread_id}:turns", self.session_ttl)
                pipe.incr("agent:turns_total")
                pipe.execute()
            except redis_lib.RedisError as exc:
                raise StoreError(f"redis: {exc}") from exc
        return TurnResult(session_id, thread_id, turn, user_id, reply_id, plan, inserted is not None)

    def get_session(self, thread_id: str) -> Optional[dict]:
        with self.pool.connection() as conn:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                row = conn.execute("SELECT * FROM sessions WHERE thread_id = %s", (thread_id,)).fetchone()
                if row is None:
                    return None
                messages = [
                    {"id": m["id"], "role": m["role"], "content": m["content"], "mode": m["mode"],
                     "created_at": iso(m["created_at"]), "embedding": parse_vector(m["embedding"])}
                    for m in conn.execute(
                        "SELECT id, role, content, mode, created_at, embedding::text AS embedding "
                        "FROM messages WHERE session_id = %s ORDER BY id", (row["id"],))
                ]
                slots: Dict[str, Dict[str, str]] = {}
                for s in conn.execute(
                        "SELECT pipeline_stage, name, value FROM slots WHERE session_id = %s "
                        "ORDER BY pipeline_stage, name", (row["id"],)):
                    slots.setdefault(s["pipeline_stage"], {})[s["name"]] = s["value"]
        try:
            raw_last = self.redis.get(f"session:{thread_id}:last_turn")
            turns = self.redis.get(f"session:{thread_id}:turns")
            cache = {"last_turn": json.loads(raw_last) if raw_last else None,
                     "turns": int(turns) if turns is not None else None}
        except (redis_lib.RedisError, ValueError) as exc:
            cache = {"error": str(exc)}
        return dict(session_view(row, messages, slots), cache=cache)

    def stats(self) -> Dict[str, int]:
        with self.pool.connection() as conn:
            return {t: conn.execute(f"SELECT count(*) AS n FROM {t}").fetchone()["n"] for t in TABLES}

    # -- jobs ------------------------------------------------------------------
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
        with self._tx() as conn:
            row = conn.execute(
                "INSERT INTO jobs (queue, kind, payload, tokens) VALUES (%s, %s, %s::jsonb, %s) RETURNING *",
                (queue or DEFAULT_QUEUE, kind, json.dumps(payload, sort_keys=True), tokens)).fetchone()
        return self._job(row)

    def get_job(self, job_id) -> Optional[dict]:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE id = %s", (job_id,)).fetchone()
        return self._job(row) if row else None

    def recover_running(self) -> int:
        with self._tx() as conn:
            return conn.execute("UPDATE jobs SET status = 'queued', updated_at = now() "
                                "WHERE status = 'running'").rowcount

    def claim_job(self) -> Optional[dict]:
        with self._tx() as conn:
            row = conn.execute(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, updated_at = now() "
                "WHERE id = (SELECT id FROM jobs WHERE status = 'queued' AND available_at <= now() "
                "ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING *").fetchone()
        return self._job(row) if row else None

    def finish_job(self, job_id, ok, error, max_attempts, retry_delay) -> str:
        with self._tx() as conn:
            row = conn.execute("SELECT attempts FROM jobs WHERE id = %s FOR UPDATE", (job_id,)).fetchone()
            if row is None:
                return "missing"
            if ok:
                conn.execute("UPDATE jobs SET status = 'done', last_error = NULL, updated_at = now(), "
                             "finished_at = now() WHERE id = %s", (job_id,))
                return "done"
            if row["attempts"] >= max_attempts:
                conn.execute("UPDATE jobs SET status = 'dead_letter', last_error = %s, updated_at = now(), "
                             "finished_at = now() WHERE id = %s", (error, job_id))
                return "dead_letter"
            conn.execute("UPDATE jobs SET status = 'queued', last_error = %s, updated_at = now(), "
                         "available_at = now() + make_interval(secs => %s) WHERE id = %s",
                         (error, float(retry_delay * row["attempts"]), job_id))
            return "queued"

    def _change_job(self, sql: str, job_id) -> Optional[dict]:
        with self._tx() as conn:
            changed = conn.execute(sql, (job_id,)).rowcount == 1
            row = conn.execute("SELECT * FROM jobs WHERE id = %s", (job_id,)).fetchone()
        if row is None:
            return None
        job = self._job(row)
        job["changed"] = changed
        return job

    def requeue_job(self, job_id) -> Optional[dict]:
        return self._change_job(
            "UPDATE jobs SET status = 'queued', attempts = 0, last_error = NULL, finished_at = NULL, "
            "available_at = now(), updated_at = now() WHERE id = %s "
            "AND status IN ('dead_letter', 'cancelled', 'done')", job_id)

    def cancel_job(self, job_id) -> Optional[dict]:
        return self._change_job(
            "UPDATE jobs SET status = 'cancelled', updated_at = now(), finished_at = now() "
            "WHERE id = %s AND status = 'queued'", job_id)

    def queue_stats(self) -> Dict[str, Dict[str, int]]:
        out = {DEFAULT_QUEUE: {"active": 0, "dead_letter": 0}}
        with self.pool.connection() as conn:
            for row in conn.execute("SELECT queue, status, count(*) AS n FROM jobs "
                                    "WHERE status IN ('queued', 'running', 'dead_letter') "
                                    "GROUP BY queue, status"):
                entry = out.setdefault(row["queue"], {"active": 0, "dead_letter": 0})
                entry["dead_letter" if row["status"] == "dead_letter" else "active"] += row["n"]
        return out

    def tokens_used_this_month(self) -> int:
        with self.pool.connection() as conn:
            row = conn.execute("SELECT COALESCE(SUM(tokens), 0) AS n FROM jobs WHERE status = 'done' "
                               "AND finished_at >= %s", (month_start(),)).fetchone()
        return int(row["n"])
