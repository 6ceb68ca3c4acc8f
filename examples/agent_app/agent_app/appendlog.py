"""Append-only JSON-lines files written with one ``write()`` of a complete line.

Each append opens the file with ``O_APPEND`` and writes the whole line in a
single system call, then closes it. Concurrent writers (uvicorn workers) never
interleave inside a line, a reader or an archiver never sees half a line, and
a file that was rotated, truncated or replaced by another tool is picked up by
the next append without any reopen signal.
"""

from __future__ import annotations

import json
import os


def json_line(entry: dict) -> bytes:
    """Compact JSON (``"success":false``, no spaces: what runbook 004's greps expect)."""
    return (json.dumps(entry, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")


def append_line(path: str, data: bytes, mode: int = 0o640) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), mode)
    try:
        written = os.write(fd, data)
    finally:
        os.close(fd)
    if written != len(data):
        raise OSError(f"short write to {path}: {written} of {len(data)} bytes")
