# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Property tests: every parser of the collection takes any input and ends in a value or its own error."""

import datetime
import json
import os
import tempfile

from hypothesis import example, given, strategies as st

from ansible_collections.opskit.ops.plugins.module_utils import (_audit_log, _backup_pg, _backup_redis, _capacity,
                                                                 _jsonl_archive, _tool_registry)

# text built from the pieces the parsers look for, plus hostile bytes
PIECES = ['{', '}', '[', ']', '"', ':', ',', ' ', '\t', '\r', '\n', '\\', '\x00', '\ufeff', '\udcff', 'é', '9' * 40,
          '1e400', 'NaN', '-Infinity', 'true', 'null', '"timestamp"', '"2024-01-01T00:00:00.000Z"',
          '"0001-01-01T00:00:00+01:00"', '"9999-12-31T23:59:59-01:00"', '"action"', '"tool.run"', '"toolName"',
          '"success"', '"details"', '"executionTimeMs"', 'verification', 'critical', 'cpu ', 'MemTotal:', ' kB',
          'COPY ', 'FROM stdin;', '\\.', 'ROWS ', 'TRUNCATED', 'db0:keys=', 'VmRSS:', '0::/', '; Format:', '1; 2 3 ']
texts = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=5)), max_size=80).map(''.join)
blobs = st.one_of(texts.map(lambda t: t.encode('utf-8', 'surrogatepass')), st.binary(max_size=300))
TEXT_PARSERS = {
    'parse_toc': _backup_pg.parse_toc,
    'count_copy_rows': lambda t: _backup_pg.count_copy_rows(t.splitlines()),
    'parse_copy_summary': _backup_pg.parse_copy_summary,
    'parse_info': _backup_redis.parse_info,
    'parse_keyspace': _backup_redis.parse_keyspace,
    'parse_check_rdb': _backup_redis.parse_check_rdb,
    'parse_proc_stat': _capacity.parse_proc_stat,
    'parse_meminfo': _capacity.parse_meminfo,
    'parse_cgroup': _capacity.parse_cgroup,
    'parse_status': _capacity.parse_status,
}


@given(name=st.sampled_from(sorted(TEXT_PARSERS)), text=texts)
def test_text_parsers_return_or_raise_value_error(name, text):
    try:
        TEXT_PARSERS[name](text)
    except ValueError as exc:      # the documented failure: a message, caught by the module
        assert str(exc)


@given(value=st.one_of(texts, st.none(), st.integers(), st.floats(), st.booleans()))
def test_timestamps_parse_to_the_canonical_form_or_none(value):
    canon = _audit_log.parse_ts(value)
    moment = _tool_registry.parse_time(value)
    if canon is not None:
        assert len(canon) == 24 and canon[10] == 'T' and canon.endswith('Z')
    if moment is not None:
        assert moment.tzinfo is not None


@given(moment=st.datetimes(min_value=datetime.datetime(1, 1, 1), max_value=datetime.datetime(9999, 12, 31, 23, 59)),
       offset=st.integers(min_value=-23 * 60, max_value=23 * 60))
def test_canonical_timestamps_sort_like_the_moments(moment, offset):
    zone = datetime.timezone(datetime.timedelta(minutes=offset))
    text = moment.replace(tzinfo=zone).isoformat()
    canon = _audit_log.parse_ts(text)
    try:
        utc = moment.replace(tzinfo=zone).astimezone(datetime.timezone.utc)
    except OverflowError:
        assert canon is None      # outside years 1-9999 in UTC: undatable, never a crash
        return
    fields = (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond // 1000)
    assert canon == '%04d-%02d-%02dT%02d:%02d:%02d.%03dZ' % fields


@given(raw=blobs)
def test_definition_reader_never_raises(raw):
    with tempfile.NamedTemporaryFile(delete=False) as fh:
        fh.write(raw)
    try:
        data, error = _tool_registry.read_definition(fh.name)
    finally:
        os.unlink(fh.name)
    assert (data is None) != (error is None)
    if data is not None:
        assert isinstance(data, dict) and isinstance(data['name'], str) and data['name']


@given(pattern=texts)
def test_pattern_compiles_or_names_the_option(pattern):
    try:
        _tool_registry.compile_pattern(pattern)
    except ValueError as exc:
        assert str(exc).startswith('pattern: not a valid regular expression')


def _reference_verdict(raw, first):
    """What json.loads says of one line, written independently of both modules."""
    if first and raw.startswith(b'\xef\xbb\xbf'):
        raw = raw[3:]
    if not raw.strip(b' \t\r'):
        return 'blank'
    try:
        value = json.loads(raw.decode('utf-8'))
    except (ValueError, RecursionError):
        return 'corrupt'
    return 'entry' if isinstance(value, dict) else 'corrupt'


@given(raw=st.one_of(blobs, texts.map(lambda t: ('{' + t + '}').encode('utf-8', 'surrogatepass'))))
@example(raw=b'\xef\xbb\xbf')        # found by make fuzz: a first line of only a BOM is blank
def test_archive_classifies_a_line_like_json_loads(raw):
    raw = raw.replace(b'\n', b'')
    kind, ts = _jsonl_archive.classify(raw, first=True)
    assert kind == _reference_verdict(raw, True)
