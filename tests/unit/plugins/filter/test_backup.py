import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.opskit.ops.plugins.filter.backup import (
    backup_counts_diff,
    backup_items,
    backup_pg_counts,
    backup_redis_keys,
    backup_redis_loaded,
)

MANIFEST = {"items": [
    {"file": "el-bot/el_sessions.db", "store": "sqlite", "service": "el-bot"},
    {"file": "x/el_sessions.db", "store": "sqlite", "service": "x"},
    {"file": "postgres/db.pgc", "store": "postgres", "service": None},
]}


def test_counts_diff():
    assert backup_counts_diff({"a": 1, "b": "2"}, {"a": "1", "b": 2}) == []
    assert backup_counts_diff({"a": 1}, {"a": 2, "c": 0}) == [
        {"name": "a", "expected": 2, "actual": 1}, {"name": "c", "expected": 0, "actual": None}]
    with pytest.raises(AnsibleFilterError):
        backup_counts_diff([], {})
    with pytest.raises(AnsibleFilterError, match="not a count"):
        backup_counts_diff({"a": "many"}, {})


def test_items():
    assert [i["file"] for i in backup_items(MANIFEST, ["sqlite"], ["el-bot"])] == ["el-bot/el_sessions.db"]
    assert [i["file"] for i in backup_items(MANIFEST, None, ["el-bot"])] == ["el-bot/el_sessions.db", "postgres/db.pgc"]
    assert len(backup_items(MANIFEST)) == 3


def test_pg_counts_and_redis_keys():
    assert backup_pg_counts([{"t": "public.m", "n": "3"}, {"t": "public.e", "n": 0}]) == {"public.m": 3, "public.e": 0}
    assert backup_pg_counts(None) == {}
    assert backup_redis_keys("# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\ndb1:keys=1,expires=0\r\n") == 4
    assert backup_redis_keys("") == 0


def test_redis_loaded():
    text = "# Persistence\r\nloading:0\r\nrdb_last_load_keys_expired:2\r\nrdb_last_load_keys_loaded:40\r\n"
    assert backup_redis_loaded(text) == 42
    assert backup_redis_loaded("loading:0\n") is None
