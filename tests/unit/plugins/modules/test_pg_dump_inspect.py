from ansible.module_utils import basic

from ansible_collections.opskit.ops.plugins.modules import pg_dump_inspect

from _module_harness import run_module

TOC = """;
;     dbname: discord_agent
;     Format: CUSTOM
;
2; 3079 16385 EXTENSION - vector
3300; 0 16706 TABLE DATA public messages discord_agent
3301; 0 16710 TABLE DATA public jobs discord_agent
"""
SUMMARY = "COPY public.messages (id, embedding) FROM stdin;\nROWS 12\n"


def fake(monkeypatch, summary=SUMMARY):
    def run_command(self, args, **kwargs):
        if isinstance(args, list) and args[-1] == "--version":
            return 0, "pg_restore (PostgreSQL) 17.5\n", ""
        if isinstance(args, list) and args[1] == "--list":
            return 0, TOC, ""
        assert kwargs.get("use_unsafe_shell") is True and "--data-only" in args
        return 0, summary, ""
    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: "/usr/bin/" + name)


def test_counts_and_extensions(monkeypatch, tmp_path):
    dump = tmp_path / "db.pgc"
    dump.write_bytes(b"PGDMP")
    fake(monkeypatch)
    out, failed = run_module(monkeypatch, pg_dump_inspect.main, {"path": str(dump), "require_extensions": ["vector"]})
    assert failed is False
    assert out["tables"] == {"public.messages": 12, "public.jobs": 0}
    assert out["extensions"] == ["vector"]
    assert out["header"]["dbname"] == "discord_agent"


def test_missing_extension_and_truncated_dump_fail(monkeypatch, tmp_path):
    dump = tmp_path / "db.pgc"
    dump.write_bytes(b"PGDMP")
    fake(monkeypatch)
    out, failed = run_module(monkeypatch, pg_dump_inspect.main, {"path": str(dump), "require_extensions": ["postgis"]})
    assert failed is True and "lacks the extension(s) postgis" in out["msg"]
    fake(monkeypatch, summary="COPY public.messages (id) FROM stdin;\nTRUNCATED\n")
    out, failed = run_module(monkeypatch, pg_dump_inspect.main, {"path": str(dump)})
    assert failed is True and "truncated" in out["msg"]
