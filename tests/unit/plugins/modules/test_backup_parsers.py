"""Redis INFO / redis-check-rdb and pg_restore output parsers."""
import pytest

import subprocess

from ansible_collections.opskit.ops.plugins.module_utils._backup_pg import (
    AWK_COUNT,
    count_copy_rows,
    parse_copy_summary,
    parse_toc,
    unquote_name,
)
from ansible_collections.opskit.ops.plugins.module_utils._backup_redis import (
    bgsave_finished,
    parse_check_rdb,
    parse_info,
    parse_keyspace,
    save_state,
)

CHECK_RDB = """[offset 0] Checking RDB file /tmp/dump.rdb
[offset 26] AUX FIELD redis-ver = '8.0.2'
[offset 108] Checksum OK
[offset 108] \\o/ RDB looks OK! \\o/
[info] 2 keys read
[info] 0 expires
"""

TOC = """;
; Archive created at 2025-01-15 10:30:00 UTC
;     dbname: discord_agent
;     TOC Entries: 12
;     Format: CUSTOM
;     Dumped from database version: 17.5 (Debian 17.5-1)
;
; Selected TOC Entries:
;
2; 3079 16385 EXTENSION - vector
4321; 0 0 COMMENT - EXTENSION vector
216; 1259 16706 TABLE public memories discord_agent
3300; 0 16706 TABLE DATA public memories discord_agent
3301; 0 16710 TABLE DATA public empty discord_agent
"""


def test_redis_info_and_keyspace():
    info = parse_info("# Persistence\r\nrdb_bgsave_in_progress:0\r\nrdb_last_save_time:100\r\nrdb_saves:3\r\n"
                      "rdb_last_bgsave_status:ok\r\n")
    assert save_state(info) == (100, 3, False, "ok")
    assert parse_keyspace("# Keyspace\ndb0:keys=10,expires=0,avg_ttl=0\ndb2:keys=1,expires=0\n") == {"db0": 10, "db2": 1}


def test_check_rdb_output():
    assert parse_check_rdb(CHECK_RDB) == (True, 2)
    assert parse_check_rdb("--- RDB ERROR DETECTED ---") == (False, None)


def test_bgsave_finished_only_when_lastsave_moved_and_idle():
    before = (100, 3, False, "ok")
    assert bgsave_finished(before, (100, 3, True, "ok")) is False
    assert bgsave_finished(before, (100, 3, False, "ok")) is False  # not started yet
    assert bgsave_finished(before, (101, 4, False, "ok")) is True
    assert bgsave_finished(before, (100, 4, False, "ok")) is True   # same second, counter moved
    with pytest.raises(ValueError, match="rdb_last_bgsave_status:err"):
        bgsave_finished(before, (101, 4, False, "err"))


def test_pg_toc():
    toc = parse_toc(TOC)
    assert toc["extensions"] == ["vector"]
    assert toc["tables"] == ["public.memories", "public.empty"]
    assert toc["header"]["dbname"] == "discord_agent"
    assert toc["header"]["format"] == "CUSTOM"
    assert toc["entries"] == 5


# A plain-format pg_dump: two tables, one empty, an escaped newline in a row, a quoted name.
DUMP_LINES = [
    "SET statement_timeout = 0;\n",
    "COPY public.memories (id, embedding, body) FROM stdin;\n",
    "1\t[0.1,0.2,0.3]\tline one\\nstill one\n",
    "2\t[0.4,0.5,0.6]\ttwo\n",
    "\\.\n",
    'COPY public."Weird ""Name""" (id) FROM stdin;\n',
    "\\.\n",
]


def test_copy_row_counts():
    stream = list(DUMP_LINES)
    assert count_copy_rows(stream) == {"public.memories": 2, 'public.Weird "Name"': 0}
    with pytest.raises(ValueError, match="truncated"):
        count_copy_rows(stream[:3])
    assert unquote_name('"s".t') == "s.t"


def test_awk_summary_counts_like_the_python_counter():
    stream = "".join(DUMP_LINES)
    out = subprocess.run(["awk", AWK_COUNT], input=stream, capture_output=True, text=True, check=True).stdout
    assert parse_copy_summary(out) == count_copy_rows(stream.splitlines(True)) == {
        "public.memories": 2, 'public.Weird "Name"': 0}
    cut = subprocess.run(["awk", AWK_COUNT], input=stream[:120], capture_output=True, text=True, check=True).stdout
    with pytest.raises(ValueError, match="truncated"):
        parse_copy_summary(cut)
