"""redis_snapshot with redis-cli replaced by a fake Redis that saves on BGSAVE."""
import os

from ansible.module_utils import basic

from ansible_collections.opskit.ops.plugins.modules import redis_snapshot

from _module_harness import run_module


class FakeRedis(object):
    def __init__(self, rdb, lastsave):
        self.rdb, self.lastsave, self.saves, self.polls = rdb, lastsave, 3, 0
        self.calls = []
        self.env = []

    def run_command(self, args, environ_update=None, **kwargs):
        self.env.append(environ_update)
        if args[0].endswith("redis-check-rdb"):
            return 0, "[offset 0] Checking RDB file\n\\o/ RDB looks OK! \\o/\n[info] 7 keys read\n", ""
        cmd = args[6:]
        self.calls.append(" ".join(cmd))
        if cmd == ["INFO", "server"]:
            return 0, "# Server\r\nredis_version:8.0.2\r\n", ""
        if cmd[:2] == ["CONFIG", "GET"]:
            value = os.path.dirname(self.rdb) if cmd[2] == "dir" else os.path.basename(self.rdb)
            return 0, "%s\n%s\n" % (cmd[2], value), ""
        if cmd == ["INFO", "persistence"]:
            self.polls += 1
            in_progress = 1 if self.polls == 3 else 0
            return 0, ("rdb_bgsave_in_progress:%d\r\nrdb_last_save_time:%d\r\nrdb_saves:%d\r\n"
                       "rdb_last_bgsave_status:ok\r\n" % (in_progress, self.lastsave, self.saves)), ""
        if cmd == ["BGSAVE", "SCHEDULE"]:
            with open(self.rdb, "wb") as handle:
                handle.write(b"REDIS0012 new snapshot")
            self.lastsave += 1000
            self.saves += 1
            return 0, "Background saving started\n", ""
        if cmd == ["INFO", "keyspace"]:
            return 0, "# Keyspace\r\ndb0:keys=6,expires=0\r\ndb1:keys=1,expires=0\r\n", ""
        raise AssertionError(cmd)


def patch(monkeypatch, fake, with_checker=True):
    def get_bin_path(self, name, required=False, opt_dirs=None):
        return "/usr/bin/" + name if name == "redis-cli" or with_checker else None

    monkeypatch.setattr(basic.AnsibleModule, "run_command", fake.run_command)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", get_bin_path)


def test_waits_for_lastsave_then_copies_and_counts(monkeypatch, tmp_path):
    rdb = tmp_path / "dump.rdb"
    rdb.write_bytes(b"REDIS0012 old snapshot")
    fake = FakeRedis(str(rdb), lastsave=1000)
    patch(monkeypatch, fake)
    args = {"dest": str(tmp_path / "copy.rdb"), "login_password": "s3cret"}
    out, failed = run_module(monkeypatch, redis_snapshot.main, args)
    assert failed is False, out
    assert (tmp_path / "copy.rdb").read_bytes() == b"REDIS0012 new snapshot"  # never the old one
    assert (out["key_count"], out["keys_source"], out["keyspace"]) == (7, "redis-check-rdb", {"db0": 6, "db1": 1})
    assert (out["lastsave_before"], out["lastsave"]) == (1000, 2000)
    assert fake.calls.count("BGSAVE SCHEDULE") == 1
    # The password travels in the environment, never on the command line.
    assert {"REDISCLI_AUTH": "s3cret"} in fake.env
    assert not any("s3cret" in c for c in fake.calls)


def test_keys_from_info_without_redis_check_rdb(monkeypatch, tmp_path):
    rdb = tmp_path / "dump.rdb"
    rdb.write_bytes(b"x")
    patch(monkeypatch, FakeRedis(str(rdb), lastsave=1000), with_checker=False)
    out, failed = run_module(monkeypatch, redis_snapshot.main, {"dest": str(tmp_path / "copy.rdb")})
    assert (failed, out["key_count"], out["keys_source"]) == (False, 7, "info")


def test_check_mode_saves_nothing(monkeypatch, tmp_path):
    rdb = tmp_path / "dump.rdb"
    rdb.write_bytes(b"x")
    fake = FakeRedis(str(rdb), lastsave=1000)
    patch(monkeypatch, fake)
    out, failed = run_module(monkeypatch, redis_snapshot.main, {"dest": str(tmp_path / "copy.rdb")}, check_mode=True)
    assert (failed, out["changed"], out["source"]) == (False, True, str(rdb))
    assert "BGSAVE SCHEDULE" not in fake.calls
    assert not (tmp_path / "copy.rdb").exists()
