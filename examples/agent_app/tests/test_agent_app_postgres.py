"""PostgreSQL (pgvector) + Redis store (runbook 002).

Needs real servers: set OPSKIT_TEST_POSTGRESQL_URL (a database where
``CREATE EXTENSION vector`` was run, by a role that may CREATE DATABASE for
the pgvector-missing test) and OPSKIT_TEST_REDIS_URL. Each test uses its own
thread ids and Redis keys, and drops what it created.
"""

import os
import uuid

import pytest

from conftest import AUTH, turn

PG_URL = os.environ.get("OPSKIT_TEST_POSTGRESQL_URL")
REDIS_URL = os.environ.get("OPSKIT_TEST_REDIS_URL")

pytestmark = pytest.mark.skipif(
    not (PG_URL and REDIS_URL),
    reason="no PostgreSQL/Redis given: set OPSKIT_TEST_POSTGRESQL_URL and OPSKIT_TEST_REDIS_URL",
)


@pytest.fixture
def pg_client(make_client):
    return make_client(AGENT_STORE="postgres", POSTGRESQL_URL=PG_URL, REDIS_URL=REDIS_URL)


def test_health_turns_embeddings_and_redis(pg_client):
    import psycopg
    import redis

    health = pg_client.get("/health").json()
    assert health["components"] == {"store": "ok", "redis": "ok"}
    thread = f"pg-{uuid.uuid4().hex[:8]}"
    first = turn(pg_client, thread, "Long term memory for the lounge channel")
    assert first.status_code == 200
    turn(pg_client, thread, "Daily report generation finished early")
    session = pg_client.get(f"/api/v1/sessions/{thread}").json()
    assert session["turn_count"] == 2
    assert len(session["messages"]) == 4
    assert all(len(m["embedding"]) == 8 for m in session["messages"])
    assert session["cache"]["turns"] == 2
    assert session["cache"]["last_turn"]["text"] == "Daily report generation finished early"

    with psycopg.connect(PG_URL) as conn:
        kind = conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'messages'::regclass AND attname = 'embedding'").fetchone()[0]
        assert kind == "vector(8)"
        stored = conn.execute("SELECT embedding::text FROM messages WHERE id = %s",
                              (first.json()["user_message_id"],)).fetchone()[0]
        from agent_app.pipeline import embedding
        assert [round(float(v), 5) for v in stored.strip("[]").split(",")] == \
            [round(v, 5) for v in embedding("Long term memory for the lounge channel")]
        memories = conn.execute("SELECT count(*) FROM unified_memories m JOIN sessions s "
                                "ON s.id = m.session_id WHERE s.thread_id = %s", (thread,)).fetchone()[0]
        assert memories == 2
        conn.execute("DELETE FROM sessions WHERE thread_id = %s", (thread,))
    r = redis.Redis.from_url(REDIS_URL)
    assert r.exists(f"session:{thread}:last_turn") == 1
    r.delete(f"session:{thread}:last_turn", f"session:{thread}:turns")


def test_store_down_fault_and_redis_unreachable(make_client):
    client = make_client(AGENT_STORE="postgres", POSTGRESQL_URL=PG_URL, REDIS_URL="redis://127.0.0.1:1/0",
                         ENVIRONMENT="production")
    health = client.get("/health")
    assert health.status_code == 503
    assert health.json()["components"]["redis"].startswith("error")
    assert turn(client, f"pg-{uuid.uuid4().hex[:8]}").status_code == 503


def test_pgvector_missing_fails_at_start():
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from agent_app.stores import StoreSetupError
    from agent_app.stores.postgres_store import PGVECTOR_MISSING, PostgresStore

    name = f"opskit_novector_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        pytest.skip(f"cannot create a scratch database: {exc}")
    try:
        url = make_conninfo(**dict(conninfo_to_dict(PG_URL), dbname=name))
        store = PostgresStore(url, REDIS_URL)
        with pytest.raises(StoreSetupError) as info:
            store.init()
        assert str(info.value) == PGVECTOR_MISSING == "pgvector extension missing: CREATE EXTENSION vector"
        store.close()
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def test_jobs_in_postgres(pg_client):
    job = pg_client.post("/api/v1/jobs", json={"kind": "pg", "payload": {"a": 1}, "tokens": 5}).json()["job"]
    assert job["status"] == "queued" and job["payload"] == {"a": 1}
    assert pg_client.post(f"/api/v1/admin/jobs/{job['id']}/cancel", headers=AUTH).json()["job"]["status"] == \
        "cancelled"
