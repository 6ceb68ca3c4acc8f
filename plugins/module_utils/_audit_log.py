# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One streaming pass over the runbook 004 audit log (``dynamic-tools-audit.jsonl``).

``analyze()`` reads the log (and, when asked, its rotated and gzipped archives)
once, in binary, in large chunks, and returns every figure of the runbook's
daily and weekly procedures. Memory stays flat: only counters, bounded
deques and the current chunk are held, whatever the size of the log.

How a line is judged (the same verdict as ``json.loads(line)`` on that line):

* blank (only spaces, tabs, CR): counted in ``blank_lines``, not an entry;
* valid: one JSON object and nothing but whitespace around it (CRLF line ends
  are fine, text must be UTF-8, a UTF-8 BOM on line 1 is ignored);
* anything else, including a valid JSON value that is not an object and a
  truncated last line, is *corrupted*: counted, its line number recorded (the
  list is capped, the count never is). Nothing is skipped silently.

Speed: the file is read in 1 MB chunks and each line is parsed on its own,
by ``orjson`` when it is importable, else by the C scanner of the standard
``json`` module (in place: a value that runs past its line's newline is
rejected). A line orjson refuses is judged again by the standard library, so
the verdict is always the one of ``json.loads`` on the line alone. Each parsed
line is dropped at once, which keeps memory flat and the allocator's memory hot.
The runbook's grep words are found by a substring search over the whole chunk,
not line by line. With several CPUs, a large plain file is split at line
boundaries and the parts are scanned by forked processes (each byte is still
read once).

Timestamps: entries written by the service carry JavaScript's
``toISOString()`` form, ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (24 characters, UTC).
For that form the window test, the hour and the day are plain string
operations (ISO timestamps of one fixed width in one time zone sort as
strings). Any other form (offsets, no fraction, a space instead of ``T``,
naive = UTC) is parsed with ``datetime`` and turned into that form first.
A timestamp that cannot be parsed makes the entry undatable: it is counted in
``undated`` (with line numbers) and left out of any time window.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import bisect
import collections
import datetime
import gzip
import json
import math
import operator
import os
import pickle
import re
import signal
import zlib

try:
    from json.scanner import c_make_scanner as _make_scanner
except ImportError:  # pragma: no cover - CPython always has it
    from json.scanner import py_make_scanner as _make_scanner

_SCAN = _make_scanner(json.JSONDecoder())

try:
    import orjson
except ImportError:
    orjson = None

CHUNK_SIZE = 1024 * 1024
MAX_LINE = 16 * 1024 * 1024
OTHER = '(other)'
WINDOWS = ('all', 'last_24h', 'last_7d', 'custom')
BUCKETS = ('< 100ms', '100-500ms', '500ms-1s', '1-5s', '5-10s', '> 10s')
_PARSE_ERRORS = (ValueError, StopIteration, RecursionError)
_FIELDS = operator.itemgetter('timestamp', 'action', 'toolName', 'success', 'details')
_UTC = datetime.timezone.utc


# ---------------------------------------------------------------------------
# timestamps


def format_ts(dt):
    """Canonical form of an aware or naive (= UTC) datetime: ``2024-01-15T10:30:00.000Z``."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(_UTC)
    # not strftime: its %Y does not zero-pad years before 1000, and the form must keep its width to sort
    fields = (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.microsecond // 1000)
    return '%04d-%02d-%02dT%02d:%02d:%02d.%03dZ' % fields


_ISO_LOOSE = re.compile(r'^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|z|[+-]\d{2}:?\d{2})?$', re.ASCII)


def parse_ts(value):
    """Canonical timestamp string for an ISO 8601 value, or None when it is not one."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) == 24 and text[10] == 'T' and text[23] == 'Z' and _CANON.match(text):
        return text if _real_ts(text) else None
    if not _ISO_LOOSE.match(text):
        return None
    if text[-1] in 'Zz':
        text = text[:-1] + '+00:00'
    # fromisoformat (3.11) takes any fraction length, offsets with or without colon.
    try:
        dt = datetime.datetime.fromisoformat(text)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=_UTC)
        return format_ts(dt)
    except (ValueError, OverflowError):
        # not a date (month 13, year 0), or its UTC form falls outside years 1-9999
        # (0001-01-01T00:00:00+01:00): undatable, like any other timestamp that cannot be read
        return None


_CANON = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$', re.ASCII)


def _real_ts(ts):
    """Whether a string of the canonical shape (24 characters, T, Z) is a real moment in ASCII digits."""
    if not _CANON.match(ts):
        return False
    try:
        datetime.datetime(int(ts[:4]), int(ts[5:7]), int(ts[8:10]), int(ts[11:13]), int(ts[14:16]), int(ts[17:19]))
    except ValueError:
        return False
    return True


def _norm_key(value):
    """Counter key for a non-string JSON value, as ``jq -r`` prints it (None for null/false)."""
    if value is None or value is False:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(',', ':'), ensure_ascii=False, sort_keys=True)


def _jq_text(value):
    """How ``jq -r`` prints a value: strings raw, null as ``null``, others as JSON."""
    if value is None:
        return 'null'
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(',', ':'), ensure_ascii=False)


# An execution time beyond this many milliseconds (about 31,700 years), NaN or infinite (1e400
# parses as inf) is no duration: counted in ``invalid``, never summed (a sum would turn inf or overflow).
MS_CAP = 1e15


def _coerce_ms(value):
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return value if -MS_CAP < value < MS_CAP else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        if math.isnan(number) or math.isinf(number) or not -MS_CAP < number < MS_CAP:
            return None
        return number
    return None


def resolve_window(window='all', since=None, until=None, now=None):
    """(since, until, now) as canonical strings (None = open end) for a window name."""
    if window not in WINDOWS:
        raise ValueError('window must be one of %s' % ', '.join(WINDOWS))
    if now is None:
        now_dt = datetime.datetime.now(_UTC)
    else:
        canon = parse_ts(now)
        if canon is None:
            raise ValueError('now: not an ISO 8601 timestamp (years 1-9999 in UTC): %r' % (now,))
        try:
            now_dt = datetime.datetime.strptime(canon, '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=_UTC)
        except ValueError:
            raise ValueError('now: not a valid date and time: %r' % (now,))
    now_s = format_ts(now_dt)
    if window == 'all':
        return None, None, now_s
    if window in ('last_24h', 'last_7d'):
        try:
            start = now_dt - (datetime.timedelta(hours=24) if window == 'last_24h' else datetime.timedelta(days=7))
        except OverflowError:
            # the window starts before 0001-01-01: every dated entry up to now is in it
            start = datetime.datetime.min.replace(tzinfo=_UTC)
        return format_ts(start), None, now_s
    out = []
    for label, value in (('since', since), ('until', until)):
        if value in (None, ''):
            out.append(None)
            continue
        canon = parse_ts(value)
        if canon is None:
            raise ValueError('%s: not an ISO 8601 timestamp (years 1-9999 in UTC): %r' % (label, value))
        out.append(canon)
    if out[0] is None and out[1] is None:
        raise ValueError('window custom needs since and/or until')
    return out[0], out[1], now_s


# ---------------------------------------------------------------------------
# files

def archive_files(path):
    """Rotated and archived siblings of ``path``, oldest first.

    Recognised names (``dynamic-tools-audit.jsonl`` as example):
    ``dynamic-tools-audit-20240115.jsonl.gz`` and ``...-20240115-2.jsonl.gz``
    (the runbook's and ``opskit.ops.jsonl_archive``'s archives, also
    uncompressed), ``dynamic-tools-audit.jsonl.1`` / ``.2.gz`` (logrotate) and
    ``dynamic-tools-audit.jsonl-20240115[.gz]`` (logrotate dateext). Quarantine
    files and temporary files are never included.
    """
    directory = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    stem = name[:-len('.jsonl')] if name.endswith('.jsonl') else name
    patterns = [
        re.compile(r'^%s-\d{8}(?:-\d+)?\.jsonl(?:\.gz)?$' % re.escape(stem)),
        re.compile(r'^%s\.\d+(?:\.gz)?$' % re.escape(name)),
        re.compile(r'^%s-\d{8,10}(?:\.gz)?$' % re.escape(name)),
    ]
    found = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    for entry in entries:
        if entry.name == name or not entry.is_file():
            continue
        if any(p.match(entry.name) for p in patterns):
            found.append(entry)

    def order(entry):
        # logrotate numbers count backwards (.1 is the newest); dates forwards.
        match = re.search(r'\.(\d+)(?:\.gz)?$', entry.name)
        if match and entry.name.startswith(name + '.'):
            return (1, -int(match.group(1)), entry.name)
        match = re.search(r'(\d{8,10})(?:-(\d+))?', entry.name[len(stem):])
        if match:
            return (0, int(match.group(1)[:8]), int(match.group(2) or 0), entry.name)
        return (2, 0, entry.name)
    return [e.path for e in sorted(found, key=order)]


def is_gzip(path):
    try:
        with open(path, 'rb') as fh:
            return fh.read(2) == b'\x1f\x8b'
    except OSError:
        return False


# ---------------------------------------------------------------------------
# the scanning pass


_NOT_JSON = object()


def _loads_line(raw):
    """``json.loads`` of one line (bytes): the value, or ValueError as json.loads would raise.

    The C scanner parses the value in place and only whitespace may follow it
    on the line (the hot loop of ``_Acc.feed`` does the same inline).
    """
    text = raw.decode('utf-8')
    try:
        obj, end = _SCAN(text, 0)
    except StopIteration:
        # leading whitespace, a blank line or no JSON value at all
        text = text.lstrip(' \t\r')
        try:
            obj, end = _SCAN(text, 0)
        except StopIteration:
            raise ValueError('not JSON')
    if end != len(text) and text[end:].strip(' \t\r'):
        raise ValueError('extra data after the JSON value')
    return obj


def _exact_line(raw):
    """The standard library's verdict on a line: its value, or _NOT_JSON."""
    try:
        return _loads_line(raw)
    except _PARSE_ERRORS:
        return _NOT_JSON


class _Acc(object):
    """Counters of one scanned segment.

    The hot loop updates few dictionaries: ``runs`` counts tool.run entries by
    (toolName, success), ``combos`` every other entry by (action, toolName,
    success); ``run_dh`` / ``other_dh`` count tool.run and other entries by
    ``YYYY-MM-DDTHH``; ``ms_hist`` counts execution times by value and
    ``run_ms`` sums them by tool. Every per-action, per-tool, per-hour and
    per-day figure is derived from them once at the end (``derive``).
    """

    # counters keyed by values from the log: bounded by ``max_distinct``
    DATA_COUNTERS = ('runs', 'run_ms', 'run_untimed', 'combos', 'last_run', 'err_msgs', 'verif_actions',
                     'verif_reasons', 'warn_by')
    # counters keyed by hour or day: bounded by HOURS_CAP (about 5 years of hours)
    TIME_COUNTERS = ('run_dh', 'other_dh', 'err_dh', 'create_days')
    SCALARS = ('blank', 'corrupted', 'entries_total', 'entries', 'outside', 'undated', 'critical', 'verif', 'warn',
               'exec_invalid')

    def __init__(self, opts):
        self.opts = opts
        self.lines = 0
        self.corrupted_lines = []
        self.undated_lines = []
        self.last_truncated = False
        self.unterminated = False
        self.last_bad = 0
        self.top = ''   # newest timestamp seen: while entries come in order, last_run needs no lookup
        self.ms_hist = {}
        # execution times folded out of ms_hist: [count, sum, max, over_30s, bucket counts x 6]
        self.ms_folded = [0, 0, None, 0, 0, 0, 0, 0, 0, 0]
        for name in self.SCALARS:
            setattr(self, name, 0)
        for name in self.DATA_COUNTERS + self.TIME_COUNTERS:
            setattr(self, name, {})
        self.overflow = set()
        for name, opt in _NEWEST_OPT.items():
            setattr(self, name, collections.deque(maxlen=max(opts[opt], 0)))

    # -- bounded counters -------------------------------------------------

    def compact(self):
        """Fold the rarest keys of a counter grown past its cap into '(other)'."""
        if len(self.ms_hist) > HIST_CAP:
            _fold_hist(self.ms_hist, self.ms_folded)
            self.ms_hist = {}
        for name in self.DATA_COUNTERS + self.TIME_COUNTERS:
            counter = getattr(self, name)
            cap = self.opts['max_distinct'] if name in self.DATA_COUNTERS else HOURS_CAP
            if len(counter) > cap:
                self.overflow.add(name)
                setattr(self, name, _fold(name, counter, cap))

    def _corrupt(self, line_no):
        self.corrupted += 1
        self.last_bad = line_no
        if len(self.corrupted_lines) < self.opts['corrupted_lines_max']:
            self.corrupted_lines.append(line_no)

    def _undated(self, line_no):
        self.undated += 1
        if len(self.undated_lines) < self.opts['corrupted_lines_max']:
            self.undated_lines.append(line_no)

    # -- cold paths (a few per cent of the lines) ---------------------------

    def _error(self, obj, dh, action, tool, line_no):
        msg = obj.get('errorMessage')
        if msg is None or msg is False:
            msg = action
        elif not isinstance(msg, str):
            msg = _norm_key(msg)
        d = self.err_msgs
        d[msg] = d.get(msg, 0) + 1
        d = self.err_dh
        d[dh] = d.get(dh, 0) + 1
        if self.err_newest.maxlen:
            self.err_newest.append((line_no, obj.get('timestamp'), action, tool, obj.get('errorMessage')))

    def _create(self, dh):
        day = dh[:10] if dh is not None else None
        d = self.create_days
        d[day] = d.get(day, 0) + 1

    def _add_hour(self, hour, runs, other):
        """Add the entries counted for one hour (None: undated) to run_dh and other_dh."""
        if runs:
            self.run_dh[hour] = self.run_dh.get(hour, 0) + runs
        if other:
            self.other_dh[hour] = self.other_dh.get(hour, 0) + other

    def _text_checks(self, raw, obj, action, tool, line_no, flags):
        """The runbook's greps on the raw line; ``flags`` from _line_hits."""
        if flags & 1:
            self.verif += 1
            d = self.verif_actions
            d[action] = d.get(action, 0) + 1
            details = obj.get('details')
            reason = details.get('reason') if isinstance(details, dict) else None
            if reason is not None and reason is not False:
                reason_key = reason if isinstance(reason, str) else _norm_key(reason)
                d = self.verif_reasons
                d[reason_key] = d.get(reason_key, 0) + 1
            if self.verif_newest.maxlen:
                self.verif_newest.append((line_no, obj.get('timestamp'), action, reason))
        if flags & 6:
            self.critical += 1
            if self.crit_newest.maxlen:
                text = raw.decode('utf-8').rstrip(' \t\r')
                self.crit_newest.append((line_no, obj.get('timestamp'), action, tool, text[:2000]))

    def _warning(self, obj, warning, action, tool, line_no):
        self.warn += 1
        key = warning if isinstance(warning, str) else _norm_key(warning)
        d = self.warn_by
        d[key] = d.get(key, 0) + 1
        if self.warn_newest.maxlen:
            self.warn_newest.append((line_no, obj.get('timestamp'), action, tool, warning))

    # -- the hot loop --------------------------------------------------------

    def feed(self, data, line_no, carry=b'', final=False, bom=False):
        """Scan the lines of the bytes ``data``; returns (number of the last line seen, rest).

        ``carry`` is the start of the first line (the rest of the previous
        chunk); joining it to the first line alone, not to the whole chunk, saves
        copying the chunk. The rest is what follows the last newline: the start
        of a line the next chunk completes. With ``final`` (the end of the file)
        the rest is scanned as an unterminated last line and b'' is returned.
        ``bom``: ``data`` starts the file (a UTF-8 BOM there is ignored).
        """
        opts = self.opts
        since = opts['since']
        until = opts['until']
        windowed = since is not None or until is not None
        fast = opts['parser'] != 'json' and orjson is not None
        loads = orjson.loads if fast else None
        decode = bytes.decode
        scan = _SCAN
        if bom:
            if carry:
                if carry.startswith(b'\xef\xbb\xbf'):
                    carry = carry[3:]
            elif data.startswith(b'\xef\xbb\xbf'):
                data = data[3:]
        lines = data.split(b'\n')
        rest = lines.pop()         # b'' when data ends with a newline
        unterminated = False
        if final and rest:
            lines.append(rest)
            rest = b''
            unterminated = True
        hits = _line_hits(data, line_no)
        if carry and lines:
            # a grep word may straddle the chunk boundary: search the joined line too
            lines[0] = carry + lines[0]
            first = _line_hits(lines[0], line_no)
            if first:
                hits = hits or {}
                for number, flags in first.items():
                    hits[number] = hits.get(number, 0) | flags
        combos = self.combos
        runs = self.runs
        run_ms = self.run_ms
        run_untimed = self.run_untimed
        ms_hist = self.ms_hist
        last_run = self.last_run
        top = self.top
        outside = exec_invalid = blank = undated_out = 0
        corrupted_before = self.corrupted
        first_line = line_no
        fields = _FIELDS
        # Entries of one hour (YYYY-MM-DDTHH) come together in a log written in time
        # order: they are counted in hour_runs / hour_other and added to run_dh /
        # other_dh once, when the hour changes. [hour_lo, hour_hi) holds exactly the
        # timestamps that start with ``hour``; None is the hour of undated entries.
        hour = None
        hour_lo = hour_hi = ''
        hour_runs = hour_other = 0
        for line_no, raw in enumerate(lines, first_line + 1):
            try:
                if fast:
                    obj = loads(raw)
                else:
                    text = decode(raw)
                    obj, end = scan(text, 0)
                    if end != len(text) and text[end:].strip(' \t\r'):
                        raise ValueError('extra data after the JSON value')
            except _PARSE_ERRORS:
                # the standard library judges again: a line with leading whitespace
                # is fine, and orjson refuses a little more than json.loads (NaN,
                # lone surrogates, numbers out of double range)
                obj = _exact_line(raw)
                if obj is _NOT_JSON:
                    if raw.strip(b' \t\r'):
                        self._corrupt(line_no)
                    else:
                        blank += 1
                    continue
            try:
                ts, action, tool, success, details = fields(obj)
            except (KeyError, TypeError):
                ts = None
            if not (ts.__class__ is str and len(ts) == 24 and ts[23] == 'Z' and ts[10] == 'T' and
                    action.__class__ is str and tool.__class__ is str and success.__class__ is bool):
                # any other shape: missing keys, null/odd values, other timestamp forms
                if obj.__class__ is not dict:
                    self._corrupt(line_no)
                    continue
                ts, action, tool, success, details = _normalize(obj)
                if ts is None:
                    self._undated(line_no)
                    if windowed:
                        undated_out += 1
                        continue
            if ts is not None and (ts >= hour_hi or ts < hour_lo) and not _real_ts(ts):
                # the service's form but no real moment (2024-13-01T25:00:00.000Z, letters):
                # undatable. Checked when the hour changes: entries of an hour already seen
                # share its valid date and hour (their minutes and seconds are taken as written)
                ts = None
                self._undated(line_no)
                if windowed:
                    undated_out += 1
                    continue
            is_run = action == 'tool.run'
            if ts is not None:
                if is_run:
                    if ts >= top:
                        top = ts
                        last_run[tool] = ts
                    else:
                        last = last_run.get(tool)
                        if last is None or ts > last:
                            last_run[tool] = ts
                if windowed and ((since is not None and ts < since) or (until is not None and ts >= until)):
                    outside += 1
                    continue
                if ts >= hour_hi or ts < hour_lo:
                    self._add_hour(hour, hour_runs, hour_other)
                    hour_runs = hour_other = 0
                    hour = hour_lo = ts[:13]
                    hour_hi = hour + '\U0010ffff'
            elif hour is not None:
                self._add_hour(hour, hour_runs, hour_other)
                hour_runs = hour_other = 0
                hour = None
                hour_lo = hour_hi = ''
            if is_run:
                hour_runs += 1
                key = (tool, success)
                runs[key] = runs.get(key, 0) + 1
            else:
                hour_other += 1
                combo = (action, tool, success)
                combos[combo] = combos.get(combo, 0) + 1
                if action == 'tool.create':
                    self._create(hour)
            if success is False:
                self._error(obj, hour, action, tool, line_no)
            if details.__class__ is dict:
                ms = details.get('executionTimeMs')
                if (ms.__class__ is int or ms.__class__ is float) and -MS_CAP < ms < MS_CAP:
                    # a histogram of the values: count, sum, maximum and the runbook's
                    # buckets all follow from it exactly (see _fold_hist)
                    ms_hist[ms] = ms_hist.get(ms, 0) + 1
                    if is_run:
                        run_ms[tool] = run_ms.get(tool, 0) + ms
                elif ms is None:
                    if is_run:
                        run_untimed[tool] = run_untimed.get(tool, 0) + 1
                else:
                    ms = _coerce_ms(ms)
                    if ms is None:
                        exec_invalid += 1
                        if is_run:
                            run_untimed[tool] = run_untimed.get(tool, 0) + 1
                    else:
                        ms_hist[ms] = ms_hist.get(ms, 0) + 1
                        if is_run:
                            run_ms[tool] = run_ms.get(tool, 0) + ms
                if 'warning' in details:
                    warning = details['warning']
                    if warning is not None:
                        self._warning(obj, warning, action, tool, line_no)
            elif is_run:
                run_untimed[tool] = run_untimed.get(tool, 0) + 1
            if hits and line_no in hits:
                self._text_checks(raw, obj, action, tool, line_no, hits[line_no])
        self._add_hour(hour, hour_runs, hour_other)
        line_no = first_line + len(lines)
        if final and unterminated:
            self.unterminated = True
            self.last_truncated = self.last_bad == line_no
        self.lines = line_no
        self.blank += blank
        # every line is blank, corrupted or an entry; an entry is in the window unless counted outside
        entries_total = line_no - first_line - blank - (self.corrupted - corrupted_before)
        self.entries_total += entries_total
        self.entries += entries_total - outside - undated_out
        self.outside += outside
        self.exec_invalid += exec_invalid
        self.top = top
        return line_no, rest


HOURS_CAP = 50000
HIST_CAP = 100000
_BOUNDS = (100, 500, 1000, 5000, 10000)


def _fold_hist(hist, folded):
    """Add a histogram of execution times into [count, sum, max, over_30s, 6 buckets] - exactly."""
    for ms, cnt in hist.items():
        folded[0] += cnt
        folded[1] += ms * cnt
        if folded[2] is None or ms > folded[2]:
            folded[2] = ms
        if ms >= 30000:
            folded[3] += cnt
        folded[4 + bisect.bisect_right(_BOUNDS, ms)] += cnt
    return folded


def _normalize(obj):
    """(timestamp, action, toolName, success, details) of an entry of any shape.

    The timestamp in canonical form or None; action and toolName as ``jq -r``
    would print them (None for null/false); success True, False or None.
    """
    get = obj.get
    ts = parse_ts(get('timestamp'))
    action = get('action')
    if action.__class__ is not str:
        action = _norm_key(action)
    tool = get('toolName')
    if tool.__class__ is not str:
        tool = _norm_key(tool)
    success = get('success')
    if success.__class__ is not bool:
        success = None
    return ts, action, tool, success, get('details')


_WORDS = ((b'verification', 1), (b'critical', 2), (b'security', 2))


def _utf8_len(lead):
    """Bytes of the UTF-8 character starting with the byte ``lead``."""
    if lead < 0xc0:
        return 1
    if lead < 0xe0:
        return 2
    return 3 if lead < 0xf0 else 4


def _line_hits(data, line_no):
    """{line number: flags} for the lines of ``data`` holding the runbook's grep words.

    Flag 1: 'verification' (runbook 004 weekly 2.2); flag 2: 'critical' or
    'security', flag 4: 'verification.fail' with "." any one character (both
    daily 2.3). Each word is searched over the whole chunk (a substring search
    in C, a few GB/s); only the hits, a few per cent of the lines, are mapped to
    line numbers. ``line_no``: number of the line before ``data``.
    """
    found = []
    find = data.find
    starts = data.startswith
    end = len(data)
    for word, flag in _WORDS:
        pos = find(word)
        while pos >= 0:
            if flag == 1:
                nxt = pos + 12
                if nxt < end and data[nxt] != 10 and starts(b'fail', nxt + _utf8_len(data[nxt])):
                    found.append((pos, 5))
                else:
                    found.append((pos, 1))
            else:
                found.append((pos, flag))
            pos = find(word, pos + 1)
    if not found:
        return None
    found.sort()
    hits = {}
    count = data.count
    prev = 0
    for pos, flag in found:
        line_no += count(b'\n', prev, pos)
        prev = pos
        hits[line_no + 1] = hits.get(line_no + 1, 0) | flag
    return hits


def _fold(name, counter, cap):
    """Keep the ``cap - 1`` largest keys of a counter, add the rest into one '(other)' key."""
    if name == 'last_run':
        return dict(sorted(counter.items(), key=lambda kv: kv[1], reverse=True)[:cap])
    other = (OTHER, OTHER, None) if name == 'combos' else OTHER
    if name == 'runs':
        # keyed (tool, success): fold the rarest tools, keeping success apart
        items = sorted(counter.items(), key=lambda kv: kv[1], reverse=True)
        kept = dict(items[:cap - 3])
        for (dummy, success), cnt in items[cap - 3:]:
            kept[(OTHER, success)] = kept.get((OTHER, success), 0) + cnt
        return kept
    items = sorted(counter.items(), key=lambda kv: kv[1], reverse=True)
    kept = dict(items[:cap - 1])
    kept[other] = kept.get(other, 0) + sum(v for dummy, v in items[cap - 1:])
    return kept


def _scan_task(task, opts):
    """Scan one (path, start, end, gz) segment; returns a picklable state dict."""
    path, start, end, gz = task
    acc = _Acc(opts)
    line_no = 0
    error = None
    carry = b''
    skipping = False   # inside a line longer than MAX_LINE (corrupted, not held in memory)
    try:
        if gz:
            fh = gzip.open(path, 'rb')
        else:
            fh = open(path, 'rb', buffering=0)
            fh.seek(start)
        with fh:
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                data = fh.read(CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining))
                if not data:
                    break
                if remaining is not None:
                    remaining -= len(data)
                if skipping:
                    cut = data.find(b'\n')
                    if cut < 0:
                        continue
                    skipping = False
                    data = data[cut + 1:]
                    if not data:
                        continue
                if data.find(b'\n') < 0:
                    carry += data
                    if len(carry) > MAX_LINE:
                        line_no += 1
                        acc._corrupt(line_no)
                        carry = b''
                        skipping = True
                    continue
                line_no, carry = acc.feed(data, line_no, carry, bom=start == 0 and line_no == 0)
                acc.compact()
    except (OSError, EOFError, zlib.error) as exc:
        error = '%s: %s' % (type(exc).__name__, exc)
    if carry:
        line_no, carry = acc.feed(carry, line_no, final=True, bom=start == 0 and line_no == 0)
    elif skipping:
        acc.unterminated = acc.last_truncated = True
    acc.lines = line_no
    acc.compact()
    state = dict((k, v) for k, v in acc.__dict__.items() if k != 'opts')
    for name in _NEWEST:
        state[name] = list(state[name])
    state['read_error'] = error
    return state


_NEWEST = ('err_newest', 'crit_newest', 'verif_newest', 'warn_newest')
_NEWEST_OPT = {'err_newest': 'newest_errors', 'crit_newest': 'newest_critical',
               'verif_newest': 'newest_verification', 'warn_newest': 'newest_warnings'}


def _segments(path, size, workers):
    """Split a plain file of ``size`` bytes into up to ``workers`` parts at line starts."""
    if workers <= 1 or size < 8 * CHUNK_SIZE:
        return [(path, 0, size, False)]
    bounds = [0]
    with open(path, 'rb') as fh:
        for k in range(1, workers):
            fh.seek(size * k // workers)
            fh.readline()
            pos = fh.tell()
            if pos >= size or pos <= bounds[-1]:
                continue
            bounds.append(pos)
    bounds.append(size)
    return [(path, bounds[i], bounds[i + 1], False) for i in range(len(bounds) - 1)]


def _run_parallel(tasks, opts, workers):
    """Run tasks; with workers > 1 the extra ones in forked children (results by pipe)."""
    if workers <= 1 or len(tasks) <= 1 or not hasattr(os, 'fork'):
        return [_scan_task(t, opts) for t in tasks]
    results = [None] * len(tasks)
    pending = list(range(len(tasks)))
    while pending:
        batch, pending = pending[:workers], pending[workers:]
        children = []
        for idx in batch[1:]:
            rfd, wfd = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child
                os.close(rfd)
                code = 0
                try:
                    payload = pickle.dumps(('ok', _scan_task(tasks[idx], opts)), protocol=pickle.HIGHEST_PROTOCOL)
                except BaseException as exc:  # report anything to the parent
                    payload = pickle.dumps(('error', '%s: %s' % (type(exc).__name__, exc)))
                    code = 1
                try:
                    view = memoryview(payload)
                    while view:
                        written = os.write(wfd, view)
                        view = view[written:]
                finally:
                    os._exit(code)
            os.close(wfd)
            children.append((idx, pid, rfd))
        try:
            results[batch[0]] = _scan_task(tasks[batch[0]], opts)
            while children:
                idx, pid, rfd = children[0]
                parts = []
                while True:
                    data = os.read(rfd, 1 << 20)
                    if not data:
                        break
                    parts.append(data)
                children.pop(0)
                os.close(rfd)
                os.waitpid(pid, 0)
                try:
                    status, value = pickle.loads(b''.join(parts))
                except Exception as exc:
                    raise RuntimeError('audit log worker died: %s' % exc)
                if status != 'ok':
                    raise RuntimeError('audit log worker failed: %s' % value)
                results[idx] = value
        finally:
            for idx, pid, rfd in children:   # only after an error: stop and reap the others
                os.close(rfd)
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
                os.waitpid(pid, 0)
    return results


def _merge(states, opts, files=None):
    """Merge segment states in order into one state.

    Without ``files`` the states are consecutive parts of one file: their line
    numbers are made absolute. With ``files`` (one state per file, same order)
    line numbers stay per file and each newest-N record gets the file's name.
    """
    merged = dict((k, v) for k, v in _Acc(opts).__dict__.items() if k != 'opts')
    cap = opts['corrupted_lines_max']
    merged['read_error'] = None
    offset = 0
    for i, st in enumerate(states):
        for name in _Acc.SCALARS:
            merged[name] += st[name]
        merged['top'] = max(merged['top'], st['top'])
        _fold_hist(st['ms_hist'], merged['ms_folded'])
        folded = st['ms_folded']
        mf = merged['ms_folded']
        mf[0] += folded[0]
        mf[1] += folded[1]
        if folded[2] is not None and (mf[2] is None or folded[2] > mf[2]):
            mf[2] = folded[2]
        for slot in range(3, 10):
            mf[slot] += folded[slot]
        for name in _Acc.DATA_COUNTERS + _Acc.TIME_COUNTERS:
            dst = merged[name]
            if name == 'last_run':
                for k, v in st[name].items():
                    if k not in dst or v > dst[k]:
                        dst[k] = v
            else:
                for k, v in st[name].items():
                    dst[k] = dst.get(k, 0) + v
        merged['overflow'] |= set(st['overflow'])
        if files is None:
            for name in ('corrupted_lines', 'undated_lines'):
                for line in st[name]:
                    if len(merged[name]) < cap:
                        merged[name].append(line + offset)
            for name in _NEWEST:
                for rec in st[name]:
                    merged[name].append((rec[0] + offset,) + tuple(rec[1:]))
            merged['last_truncated'] = st['last_truncated']
            merged['unterminated'] = st['unterminated']
            merged['read_error'] = merged['read_error'] or st.get('read_error')
        else:
            base = os.path.basename(files[i]['path'])
            for name in _NEWEST:
                for rec in st[name]:
                    merged[name].append((rec[0], base) + tuple(rec[1:]))
        offset += st['lines']
    merged['lines'] = offset
    for name in _NEWEST:
        merged[name] = list(merged[name])
    # compaction again: the merged counters may exceed the caps
    acc = _Acc(opts)
    for name in _Acc.DATA_COUNTERS + _Acc.TIME_COUNTERS:
        setattr(acc, name, merged[name])
    acc.compact()
    for name in _Acc.DATA_COUNTERS + _Acc.TIME_COUNTERS:
        merged[name] = getattr(acc, name)
    merged['overflow'] = sorted(set(merged['overflow']) | acc.overflow)
    return merged


def derive(st):
    """The named counters of the runbook from the compact counters of a state."""
    out = {
        'actions': {}, 'tool_entries': {}, 'runs_by_tool': {}, 'err_tools': {}, 'runs': 0, 'runs_ok': 0,
        'errors': 0, 'creates': 0, 'deletes': 0, 'hours': {}, 'days': {}, 'run_hours': {}, 'run_days': {},
        'err_hours': {}, 'err_days': {}, 'exec_n': 0, 'exec_sum': 0, 'exec_max': None,
        'run_ms': {},
    }

    def add(d, k, v):
        d[k] = d.get(k, 0) + v
    for (action, tool, success), cnt in st['combos'].items():
        add(out['actions'], action, cnt)
        add(out['tool_entries'], tool, cnt)
        if action == 'tool.create':
            out['creates'] += cnt
        elif action == 'tool.delete':
            out['deletes'] += cnt
        if success is False:
            out['errors'] += cnt
            add(out['err_tools'], tool, cnt)
    for (tool, success), cnt in st['runs'].items():
        add(out['actions'], 'tool.run', cnt)
        add(out['tool_entries'], tool, cnt)
        add(out['runs_by_tool'], tool, cnt)
        out['runs'] += cnt
        if success is True:
            out['runs_ok'] += cnt
        elif success is False:
            out['errors'] += cnt
            add(out['err_tools'], tool, cnt)
    for tool, total in st['run_ms'].items():
        timed = out['runs_by_tool'].get(tool, 0) - st['run_untimed'].get(tool, 0)
        if timed > 0:
            out['run_ms'][tool] = (timed, total)
    folded = _fold_hist(st['ms_hist'], list(st['ms_folded']))
    out['exec_n'], out['exec_sum'], out['exec_max'], out['over_30s'] = folded[:4]
    out['buckets'] = folded[4:]
    for src, hours, days in (('run_dh', ('hours', 'run_hours'), ('days', 'run_days')),
                             ('other_dh', ('hours',), ('days',)),
                             ('err_dh', ('err_hours',), ('err_days',))):
        for dh, cnt in st[src].items():
            if dh is None or dh == OTHER:
                hour = day = dh
            else:
                hour, day = dh[11:13], dh[:10]
            for name in hours:
                add(out[name], hour, cnt)
            for name in days:
                add(out[name], day, cnt)
    return out


# ---------------------------------------------------------------------------
# public entry point


def default_options(**kwargs):
    opts = {
        'since': None,
        'until': None,
        'newest_errors': 50,
        'newest_critical': 20,
        'newest_verification': 50,
        'newest_warnings': 50,
        'max_creates_per_day': 10,
        'max_failures_per_tool': 5,
        'slow_ms': 5000.0,
        'corrupted_lines_max': 1000,
        'max_distinct': 10000,
        'parser': 'auto',
    }
    unknown = set(kwargs) - set(opts)
    if unknown:
        raise TypeError('unknown options: %s' % ', '.join(sorted(unknown)))
    opts.update(kwargs)
    return opts


def parser_name(opts):
    """The JSON parser a scan with these options uses: 'orjson <version>' or 'json'."""
    if opts['parser'] != 'json' and orjson is not None:
        return 'orjson %s' % getattr(orjson, '__version__', '')
    return 'json'


def auto_workers(total_bytes):
    """Forked scanners worth using for this much plain text (1 below 64 MB)."""
    if total_bytes < 64 * 1024 * 1024:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


def scan_files(paths, opts, workers=0):
    """Scan ``paths`` (oldest first, the live log last). Returns (merged state, per-file info)."""
    tasks = []
    files = []
    for path in paths:
        gz = is_gzip(path)
        st = os.stat(path)
        files.append({'path': path, 'size': st.st_size, 'compressed': gz, 'mtime': st.st_mtime})
    plain_total = sum(f['size'] for f in files if not f['compressed'])
    if not workers:
        workers = auto_workers(plain_total)
    owner = []
    for i, info in enumerate(files):
        if info['compressed']:
            parts = [(info['path'], 0, None, True)]
        else:
            parts = _segments(info['path'], info['size'], workers)
        for part in parts:
            tasks.append(part)
            owner.append(i)
    states = _run_parallel(tasks, opts, workers)
    per_file = []
    for i in range(len(files)):
        per_file.append(_merge([s for s, o in zip(states, owner) if o == i], opts))
    return per_file, files, workers


def analyze(path, window='all', since=None, until=None, now=None, include_archives=False, tool_names=None,
            top=None, workers=0, **options):
    """All runbook 004 daily + weekly figures of the audit log at ``path`` (one pass).

    ``tool_names``: names of the defined tools (for ``tools_without_runs``).
    ``top``: length of the ranking lists (None = all). Other keyword options: see
    ``default_options`` (``slow_ms`` is the slow-tool threshold in milliseconds).
    """
    w_since, w_until, now_s = resolve_window(window, since, until, now)
    opts = default_options(**options)
    opts['since'] = w_since
    opts['until'] = w_until
    paths = []
    if include_archives:
        paths.extend(archive_files(path))
    exists = os.path.isfile(path)
    if exists:
        paths.append(path)
    per_file, files, used_workers = scan_files(paths, opts, workers) if paths else ([], [], 1)
    state = _merge(per_file, opts, files)
    figures = _figures(state, per_file, files, path, opts, top, tool_names)
    figures['exists'] = exists
    figures['window'] = {'name': window, 'since': w_since, 'until': w_until, 'now': now_s}
    figures['workers'] = used_workers
    figures['parser'] = parser_name(opts)
    return figures


def _ranking(counter, top, key_name, value_name, none_as='unknown'):
    items = sorted(((none_as if k is None else k), v) for k, v in counter.items())
    items.sort(key=lambda kv: kv[1], reverse=True)
    if top is not None:
        items = items[:top]
    return [{key_name: k, value_name: v} for k, v in items]


def _keyed(counter, none_as='unknown'):
    out = {}
    for k, v in counter.items():
        k = none_as if k is None else k
        out[k] = out.get(k, 0) + v
    return dict(sorted(out.items()))


def _figures(st, per_file, files, path, opts, top, tool_names):
    d = derive(st)
    runs = d['runs']
    rate = None
    if runs:
        rate = round(d['runs_ok'] * 100.0 / runs, 2)
    exec_avg = None
    if d['exec_n']:
        exec_avg = d['exec_sum'] / float(d['exec_n'])
    slow = []
    avg_by_tool = {}
    for tool, (cnt, total) in d['run_ms'].items():
        name = 'null' if tool is None else tool
        avg = total / float(cnt)
        avg_by_tool[name] = round(avg, 1)
        if avg > opts['slow_ms']:
            slow.append({'tool': name, 'avg_ms': round(avg, 1), 'runs': cnt, 'total_ms': total})
    slow.sort(key=lambda r: (-r['avg_ms'], r['tool']))
    creates_anom = [{'day': day, 'creates': c} for day, c in sorted(st['create_days'].items(), key=lambda kv: str(kv[0]))
                    if c > opts['max_creates_per_day']]
    fail_anom = [{'tool': 'unknown' if t is None else t, 'failures': c}
                 for t, c in sorted(d['err_tools'].items(), key=lambda kv: (-kv[1], str(kv[0])))
                 if c > opts['max_failures_per_tool']]
    tools_without_runs = None
    if tool_names is not None:
        tools_without_runs = sorted(set(n for n in tool_names if not d['runs_by_tool'].get(n)))
    by_file = {}
    live = None
    for info, fst in zip(files, per_file):
        if info['path'] == path:
            live = fst
        if fst['corrupted'] or fst.get('read_error'):
            by_file[info['path']] = {
                'count': fst['corrupted'],
                'lines': fst['corrupted_lines'],
                'last_line_truncated': fst['last_truncated'],
                'read_error': fst.get('read_error'),
            }
    verif_fail = sum(v for k, v in st['verif_actions'].items() if k and 'fail' in k)
    created, deleted = {}, {}
    for (action, tool, success), cnt in st['combos'].items():
        if success is True and action in ('tool.create', 'tool.delete') and tool is not None:
            target = created if action == 'tool.create' else deleted
            target[tool] = target.get(tool, 0) + cnt
    return {
        'path': path,
        'files': [{'path': f['path'], 'size': f['size'], 'compressed': f['compressed'],
                   'lines': fst['lines']} for f, fst in zip(files, per_file)],
        'size': live and files[per_file.index(live)]['size'] or 0,
        'lines': st['lines'],
        'blank_lines': st['blank'],
        'entries_total': st['entries_total'],
        'entries': st['entries'],
        'outside_window': st['outside'],
        'undated': {'count': st['undated'], 'lines': live['undated_lines'] if live else []},
        'corrupted': {
            'count': st['corrupted'],
            'lines': live['corrupted_lines'] if live else [],
            'lines_capped': any(f['corrupted'] > len(f['corrupted_lines']) for f in per_file),
            'last_line_truncated': bool(live and live['last_truncated']),
            'last_line_unterminated': bool(live and live['unterminated']),
            'by_file': by_file,
        },
        'actions': _keyed(d['actions'], 'null'),
        'creates': d['creates'],
        'deletes': d['deletes'],
        'changes': {'created': sorted(created), 'deleted': sorted(deleted)},
        'entries_by_hour': _keyed(d['hours']),
        'entries_by_day': _keyed(d['days']),
        'runs': {
            'total': runs,
            'success': d['runs_ok'],
            'failed': runs - d['runs_ok'],
            'success_rate': rate,
            'by_hour': _keyed(d['run_hours']),
            'by_day': _keyed(d['run_days']),
        },
        'usage': {
            'ranking': _ranking(d['runs_by_tool'], top, 'tool', 'runs', 'null'),
            'runs_by_tool': _keyed(d['runs_by_tool'], 'null'),
            'entries_by_tool': _keyed(d['tool_entries'], 'null'),
            'tools_without_runs': tools_without_runs,
            'last_run_by_tool': dict(sorted((('null' if k is None else k), v) for k, v in st['last_run'].items())),
        },
        'errors': {
            'count': d['errors'],
            'newest': [{'line': r[0], 'file': r[1], 'timestamp': r[2], 'action': r[3], 'toolName': r[4],
                        'errorMessage': r[5]} for r in st['err_newest']],
            'by_message': _ranking(st['err_msgs'], top, 'message', 'count', 'null'),
            'by_hour': _keyed(d['err_hours']),
            'by_day': _keyed(d['err_days']),
            'by_tool': _ranking(d['err_tools'], top, 'tool', 'count', 'unknown'),
        },
        'critical': {
            'count': st['critical'],
            'newest': [{'line': r[0], 'file': r[1], 'timestamp': r[2], 'action': r[3], 'toolName': r[4],
                        'text': r[5]} for r in st['crit_newest']],
        },
        'verification': {
            'count': st['verif'],
            'failures': verif_fail,
            'by_action': _keyed(st['verif_actions'], 'null'),
            'by_reason': _ranking(st['verif_reasons'], top, 'reason', 'count'),
            'newest': [{'line': r[0], 'file': r[1], 'timestamp': r[2], 'action': r[3], 'reason': r[4]}
                       for r in st['verif_newest']],
        },
        'high_risk': {
            'count': st['warn'],
            'by_warning': _ranking(st['warn_by'], top, 'warning', 'count'),
            'newest': [{'line': r[0], 'file': r[1], 'timestamp': r[2], 'action': r[3], 'toolName': r[4],
                        'warning': r[5]} for r in st['warn_newest']],
        },
        'anomalies': {
            'count': len(creates_anom) + len(fail_anom),
            'creates_per_day': creates_anom,
            'failures_per_tool': fail_anom,
            'max_creates_per_day': opts['max_creates_per_day'],
            'max_failures_per_tool': opts['max_failures_per_tool'],
        },
        'execution_time': {
            'count': d['exec_n'],
            'avg_ms': None if exec_avg is None else round(exec_avg, 3),
            'max_ms': d['exec_max'],
            'distribution': dict(zip(BUCKETS, d['buckets'])),
            'over_30s': d['over_30s'],
            'invalid': st['exec_invalid'],
            'avg_ms_by_tool': dict(sorted(avg_by_tool.items())),
            'slow_tools': slow,
            'slow_threshold_ms': opts['slow_ms'],
        },
        'truncated_counters': list(st['overflow']),
        'read_errors': dict((f['path'], s['read_error']) for f, s in zip(files, per_file) if s.get('read_error')),
    }


def filesystem_usage(path):
    """Disk use of the filesystem holding ``path`` (like ``df``)."""
    probe = path
    while probe and not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    try:
        vfs = os.statvfs(probe or '/')
    except OSError:
        return None
    total = vfs.f_blocks * vfs.f_frsize
    free = vfs.f_bavail * vfs.f_frsize
    used = (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize
    pct = None
    if used + free:
        pct = round(used * 100.0 / (used + free), 1)
    return {'path': probe, 'total_bytes': total, 'used_bytes': used, 'available_bytes': free, 'used_percent': pct}


def tree_usage(path):
    """Bytes used on disk by a directory tree (like ``du -s``); None when missing."""
    if not os.path.isdir(path):
        return None
    total = 0
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            total += st.st_blocks * 512 if hasattr(st, 'st_blocks') else st.st_size
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
    return total


__all__ = ['analyze', 'archive_files', 'parse_ts', 'format_ts', 'resolve_window', 'filesystem_usage',
           'tree_usage', 'default_options', 'BUCKETS', 'WINDOWS']
