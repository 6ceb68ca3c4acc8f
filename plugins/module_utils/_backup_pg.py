# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read a PostgreSQL custom-format dump: its TOC and the rows of each table.

Row counts are taken from the dump itself (``pg_restore --data-only`` to
stdout, one line per row inside each COPY block), so they are the counts of
pg_dump's snapshot, whatever the service wrote meanwhile, and reading every
data block proves the archive is restorable.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

_HEADER = re.compile(r"^;\s+([A-Za-z][A-Za-z ]*):\s*(.*)$")
_TOC = re.compile(r"^\d+;\s+\d+\s+\d+\s+(.+)$")
_COPY = re.compile(r"^COPY\s+(.+?)\s*(\(.*\))?\s+FROM stdin;$")


def unquote_name(name):
    """public."Weird Name" -> public.Weird Name (for comparison with information_schema)."""
    parts = re.findall(r'"((?:[^"]|"")*)"|([^."]+)', name)
    return ".".join(q.replace('""', '"') if q else p for q, p in parts)


def parse_toc(text):
    """``pg_restore --list`` output -> {header: {...}, tables: [...], extensions: [...], entries: n}."""
    header, tables, extensions, entries = {}, [], [], 0
    for line in (text or "").splitlines():
        match = _HEADER.match(line)
        if match and not _TOC.match(line):
            header[match.group(1).strip().lower().replace(" ", "_")] = match.group(2).strip()
            continue
        match = _TOC.match(line)
        if not match:
            continue
        entries += 1
        desc = match.group(1)
        if desc.startswith("TABLE DATA "):
            fields = desc[len("TABLE DATA "):].split()
            if len(fields) >= 2:
                tables.append("%s.%s" % (fields[0], fields[1]))
        elif desc.startswith("EXTENSION - "):
            extensions.append(desc[len("EXTENSION - "):].split()[0])
    return {"header": header, "tables": tables, "extensions": extensions, "entries": entries}


def count_copy_rows(lines):
    """Count the rows of each COPY block of a plain SQL data stream (iterable of str lines)."""
    counts = {}
    current = None
    for raw in lines:
        line = raw.rstrip("\n").rstrip("\r")
        if current is None:
            if line.startswith("COPY ") and line.endswith("FROM stdin;"):
                match = _COPY.match(line)
                current = unquote_name(match.group(1) if match else line.split()[1])
                counts.setdefault(current, 0)
            continue
        if line == "\\.":
            current = None
            continue
        counts[current] += 1
    if current is not None:
        raise ValueError("the data of %s ends without its terminator: the dump is truncated" % current)
    return counts


# Runs after ``pg_restore --data-only --file=-`` in a pipe: keeps each COPY
# header and replaces its rows by their number, so only a few lines per table
# reach the module whatever the size of the dump.
AWK_COUNT = (
    'inb && $0 == "\\." { print "ROWS " n; inb = 0; next } '
    'inb { n++; next } '
    '/^COPY .* FROM stdin;$/ { print; n = 0; inb = 1 } '
    'END { if (inb) print "TRUNCATED" }'
)


def parse_copy_summary(text):
    """Output of pg_restore | awk AWK_COUNT -> rows per table."""
    counts = {}
    current = None
    for line in (text or "").splitlines():
        if line.startswith("COPY "):
            match = _COPY.match(line)
            current = unquote_name(match.group(1) if match else (line[5:].split() or ["?"])[0])
        elif line.startswith("ROWS ") and current is not None:
            try:
                counts[current] = int(line[5:].strip())
            except ValueError:
                raise ValueError("row count of %s is not a number: %r" % (current, line))
            current = None
        elif line == "TRUNCATED":
            raise ValueError("the data of %s ends without its terminator: the dump is truncated" % current)
    return counts
