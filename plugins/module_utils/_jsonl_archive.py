# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Archive old entries of a live JSON-lines log into gzip, and repair it, without losing a line.

The procedure (runbook 004 "ログのアーカイブ", done safely):

1. Take an exclusive flock on the log's directory (one archive run at a time)
   and, when ``lock_file`` is given, note it for step 5.
2. Open the live log and remember its size S. Lines up to the last newline
   before S are the *snapshot*; everything after (a line being written, lines
   appended while this runs) is the *tail* and is never judged.
3. One pass over the snapshot: entries older than the cutoff go to a gzip
   temp file in the archive directory (their exact bytes, with a running
   SHA-256 and count); with ``repair``, corrupted lines go to a quarantine temp
   file as ``<line number>TAB<original bytes>``; every other line goes, in
   order, to a temp copy of the live log in the log's directory. Temp files are
   only started when there is something to change, so a run with nothing to do
   writes nothing.
4. The archive temp file is flushed, fsynced, re-read through gzip and its line
   count and SHA-256 compared; the quarantine file is fsynced and re-counted.
5. The tail is copied into the live temp file (read to end of file, under
   ``lock_file`` when given), which is fsynced and gets the live log's owner and
   mode.
6. Commit: the archive and the quarantine file get their final names (never
   overwriting an existing file), then the live temp file is renamed over the
   live log (atomic), and the directories are fsynced.
7. After the rename, the old file (still open here) is watched for
   ``settle_seconds``: bytes a writer appended to it after the tail copy, by a
   file descriptor opened before the rename, are appended to the new live log.

Any error before step 6 (ENOSPC included) removes the temp files and leaves
the live log byte-for-byte untouched. If the live rename itself fails, the
just-committed archive is removed again, so no line is ever in both places.

Guarantee towards the writer: no line is lost when the writer opens the file
for each entry (``O_APPEND``, one ``write()`` of the whole line, close) - as
the reference service's ``appendlog.append_line`` does - and either takes a
shared flock on ``lock_file`` around open+write (then the guarantee is strict)
or finishes each open+write within ``settle_seconds`` (step 7). A writer that
keeps one descriptor open for days would keep writing into the replaced file:
such a writer must reopen on inode change (like ``WatchedFileHandler``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import datetime
import errno
import fcntl
import gzip
import hashlib
import json
import os
import re
import time
import zlib

from ansible_collections.opskit.ops.plugins.module_utils._audit_log import parse_ts, format_ts
from ansible_collections.opskit.ops.plugins.module_utils._backup_common import fsync_dir, sha256_file

_UTC = datetime.timezone.utc
READ_SIZE = 1024 * 1024


class ArchiveError(Exception):
    """The archive failed cleanly: temp files removed, live log untouched."""


# ---------------------------------------------------------------------------
# line classification (the same verdict as opskit.ops.audit_log)

BLANK, CORRUPT, ENTRY = 'blank', 'corrupt', 'entry'


def classify(raw, first=False):
    """(kind, canonical timestamp or None) of one line (bytes without its newline)."""
    if first and raw.startswith(b'\xef\xbb\xbf'):
        raw = raw[3:]       # before the blank test: a first line of only a BOM is blank, as in audit_log
    if not raw.strip(b' \t\r'):
        return BLANK, None
    try:
        obj = json.loads(raw.decode('utf-8'))
    except (ValueError, RecursionError):
        return CORRUPT, None
    if not isinstance(obj, dict):
        return CORRUPT, None
    return ENTRY, parse_ts(obj.get('timestamp'))


# ---------------------------------------------------------------------------
# writing: every byte of every temp file goes through _write_all (tests patch it)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class _TempFile(object):
    """A new file opened O_EXCL, written only through ``_write_all``, fsynced on ``sync()``."""

    def __init__(self, path):
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_CLOEXEC', 0), 0o600)
        self.closed = False
        self.size = 0

    def write(self, data):
        _write_all(self.fd, data)
        self.size += len(data)
        return len(data)

    def flush(self):
        pass

    def sync(self):
        os.fsync(self.fd)

    def close(self):
        if not self.closed:
            self.closed = True
            os.close(self.fd)

    def discard(self):
        self.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


@contextlib.contextmanager
def _flock(path, shared=False, create=False):
    """flock on an existing file or directory (``create`` makes a missing lock file)."""
    if not path:
        yield None
        return
    flags = os.O_RDONLY
    if create and not os.path.exists(path):
        flags = os.O_RDWR | os.O_CREAT
    fd = os.open(path, flags, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield fd
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# ---------------------------------------------------------------------------
# names


def stem_of(path):
    name = os.path.basename(path)
    return name[:-len('.jsonl')] if name.endswith('.jsonl') else name


def archive_regex(path):
    return re.compile(r'^%s-(\d{8})(?:-(\d+))?\.jsonl\.gz$' % re.escape(stem_of(path)))


def list_archives(path, archive_dir):
    """This module's archives of ``path``: [(YYYYMMDD, n, full path)], oldest first."""
    regex = archive_regex(path)
    out = []
    try:
        names = os.listdir(archive_dir)
    except OSError:
        return []
    for name in names:
        match = regex.match(name)
        if match:
            out.append((match.group(1), int(match.group(2) or 1), os.path.join(archive_dir, name)))
    out.sort()
    return out


def _free_archive_name(path, archive_dir, day):
    base = '%s-%s' % (stem_of(path), day)
    candidate = os.path.join(archive_dir, base + '.jsonl.gz')
    n = 1
    while os.path.lexists(candidate):
        n += 1
        candidate = os.path.join(archive_dir, '%s-%d.jsonl.gz' % (base, n))
    return candidate


def _link_no_clobber(tmp, final_path, pick_again):
    """Give ``tmp`` the name ``final_path`` without ever replacing a file; returns the name used."""
    for dummy in range(100):
        try:
            os.link(tmp, final_path)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                final_path = pick_again()
                continue
            if exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP) and not os.path.lexists(final_path):
                os.rename(tmp, final_path)
                return final_path
            raise
        os.unlink(tmp)
        return final_path
    raise ArchiveError('no free archive name for %s' % final_path)


def verify_gzip(path):
    """(lines, sha256 of the uncompressed bytes) of a gzip file, read back from disk."""
    digest = hashlib.sha256()
    lines = 0
    with gzip.open(path, 'rb') as fh:
        for block in iter(lambda: fh.read(READ_SIZE), b''):
            digest.update(block)
            lines += block.count(b'\n')
    return lines, digest.hexdigest()


# ---------------------------------------------------------------------------
# the run


def cutoff_for(now, days):
    """Start (00:00 UTC) of the day ``days`` days before ``now``: entries before it are archived."""
    try:
        day = (now.astimezone(_UTC) - datetime.timedelta(days=days)).date()
    except OverflowError:
        # before 0001-01-01: no entry is that old, nothing is archived
        return datetime.datetime.min.replace(tzinfo=_UTC)
    return datetime.datetime(day.year, day.month, day.day, tzinfo=_UTC)


class Archiver(object):
    def __init__(self, path, days=30, now=None, archive_dir=None, quarantine_dir=None, archive=True, repair=False,
                 retention_days=365, lock_file=None, settle_seconds=0.3, check_mode=False, compresslevel=6):
        self.path = os.path.realpath(path)
        self.log_dir = os.path.dirname(self.path)
        self.name = os.path.basename(self.path)
        self.days = days
        self.now = (now or datetime.datetime.now(_UTC)).astimezone(_UTC)
        self.archive_dir = archive_dir or self.log_dir
        self.quarantine_dir = quarantine_dir or self.log_dir
        self.do_archive = archive
        self.repair = repair
        self.retention_days = retention_days
        self.lock_file = lock_file
        self.settle_seconds = settle_seconds
        self.check_mode = check_mode
        self.compresslevel = compresslevel
        self.cutoff_dt = cutoff_for(self.now, days)
        self.cutoff = format_ts(self.cutoff_dt)
        self.stamp = '%04d%s' % (self.now.year, self.now.strftime('%m%dT%H%M%SZ'))
        self.temps = []

    # -- helpers ------------------------------------------------------------

    def _temp(self, directory, name):
        tmp = _TempFile(os.path.join(directory, '.%s.%s.%d.tmp' % (name, self.stamp, os.getpid())))
        self.temps.append(tmp)
        return tmp

    def _discard_temps(self):
        for tmp in self.temps:
            tmp.discard()
        self.temps = []

    def stale_temps(self):
        """Temp files left by an interrupted earlier run (never live data)."""
        out = []
        patterns = [re.compile(r'^\.%s\..*\.tmp$' % re.escape(n)) for n in (self.name, stem_of(self.path))]
        for directory in sorted(set([self.log_dir, self.archive_dir, self.quarantine_dir])):
            try:
                names = os.listdir(directory)
            except OSError:
                continue
            out.extend(os.path.join(directory, n) for n in names if any(p.match(n) for p in patterns))
        return out

    # -- main ---------------------------------------------------------------

    def run(self):
        result = {
            'path': self.path, 'exists': os.path.isfile(self.path), 'changed': False, 'cutoff': self.cutoff,
            'lines_before': 0, 'archived': 0, 'kept': 0, 'quarantined': 0, 'blank_removed': 0, 'undated': 0,
            'corrupted': 0, 'archive_path': None, 'sha256': None, 'archive_sha256': None, 'archive_bytes': 0,
            'quarantine_path': None, 'tail_bytes': 0, 'late_bytes': 0, 'unterminated_tail': False,
            'removed_archives': [], 'stale_temps_removed': [],
        }
        if not result['exists']:
            result['removed_archives'] = self.retention()
            result['changed'] = bool(result['removed_archives'])
            return result
        with _flock(self.log_dir):
            stale = self.stale_temps()
            if stale and not self.check_mode:
                for tmp in stale:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
            result['stale_temps_removed'] = stale
            try:
                self._archive(result)
            except BaseException:
                self._discard_temps()
                raise
            result['removed_archives'] = self.retention()
        result['changed'] = bool(result['archived'] or result['quarantined'] or result['blank_removed'] or
                                 result['removed_archives'] or (stale and not self.check_mode))
        return result

    def _archive(self, result):
        live_fd = os.open(self.path, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
        try:
            self._pass(live_fd, result)
        finally:
            os.close(live_fd)

    def _pass(self, live_fd, result):
        st = os.fstat(live_fd)
        size = st.st_size
        arch_digest = hashlib.sha256()
        arch = arch_raw = live = quar = None
        quar_lines = 0
        line_no = 0
        offset = 0          # file offset of the next unread line
        carry = b''
        started = False     # temp copies begun (something to change was found)

        def start(at_offset):
            """Begin the temp copy of the live log: copy the untouched bytes before ``at_offset``."""
            nonlocal live
            live = self._temp(self.log_dir, self.name)
            pos = 0
            while pos < at_offset:
                chunk = os.pread(live_fd, min(READ_SIZE, at_offset - pos), pos)
                if not chunk:
                    raise ArchiveError('%s shrank while it was archived' % self.path)
                live.write(chunk)
                pos += len(chunk)

        pos = 0
        while pos < size:
            data = os.pread(live_fd, min(READ_SIZE, size - pos), pos)
            if not data:
                break
            pos += len(data)
            buf = carry + data if carry else data
            cut = buf.rfind(b'\n') + 1
            carry = buf[cut:]
            if not cut:
                continue
            lines = buf[:cut].split(b'\n')
            lines.pop()
            for raw in lines:
                line_no += 1
                line_start = offset
                offset += len(raw) + 1
                kind, ts = classify(raw, first=line_no == 1)
                target = 'live'
                if kind == ENTRY:
                    if ts is None:
                        result['undated'] += 1
                    elif self.do_archive and ts < self.cutoff:
                        target = 'archive'
                elif kind == CORRUPT:
                    result['corrupted'] += 1
                    if self.repair:
                        target = 'quarantine'
                elif self.repair:
                    target = 'drop'
                if target == 'live':
                    result['kept'] += 1
                    if started and not self.check_mode:
                        live.write(raw + b'\n')
                    continue
                if not started:
                    started = True
                    if not self.check_mode:
                        start(line_start)
                if target == 'archive':
                    result['archived'] += 1
                    arch_digest.update(raw + b'\n')
                    if not self.check_mode:
                        if arch is None:
                            arch_raw = self._temp(self.archive_dir, self.name + '.archive')
                            arch = gzip.GzipFile(filename='', mode='wb', fileobj=arch_raw, mtime=0,
                                                 compresslevel=self.compresslevel)
                        arch.write(raw + b'\n')
                elif target == 'quarantine':
                    result['quarantined'] += 1
                    if not self.check_mode:
                        if quar is None:
                            quar = self._temp(self.quarantine_dir, stem_of(self.path) + '.quarantine')
                        quar.write(b'%d\t%s\n' % (line_no, raw))
                        quar_lines += 1
                else:
                    result['blank_removed'] += 1
        snapshot_end = offset
        # the bytes at both ends of the snapshot, compared again right before the commit: a log
        # truncated and written again meanwhile (copytruncate) has other bytes there
        marks = self._marks(live_fd, snapshot_end)
        result['lines_before'] = line_no
        result['unterminated_tail'] = bool(carry)
        if result['archived']:
            result['sha256'] = arch_digest.hexdigest()
        if not started or self.check_mode:
            return

        # 4. archive and quarantine: flush, fsync, verify
        if arch is not None:
            arch.close()
            arch_raw.sync()
            arch_raw.close()
            lines, digest = verify_gzip(arch_raw.path)
            if lines != result['archived'] or digest != result['sha256']:
                raise ArchiveError('archive verification failed: %d lines / %s read back, %d / %s written'
                                   % (lines, digest, result['archived'], result['sha256']))
            result['archive_bytes'] = os.path.getsize(arch_raw.path)
            result['archive_sha256'] = sha256_file(arch_raw.path)
        if quar is not None:
            quar.sync()
            quar.close()
            with open(quar.path, 'rb') as fh:
                counted = sum(block.count(b'\n') for block in iter(lambda: fh.read(READ_SIZE), b''))
            if counted != quar_lines:
                raise ArchiveError('quarantine verification failed: %d lines read back, %d written'
                                   % (counted, quar_lines))

        # 5. the tail (bytes after the snapshot), up to the end of the file, then fsync
        copied = snapshot_end
        with _flock(self.lock_file, create=False) if self.lock_file and os.path.exists(self.lock_file) \
                else contextlib.nullcontext():
            while True:
                chunk = os.pread(live_fd, READ_SIZE, copied)
                if not chunk:
                    break
                live.write(chunk)
                copied += len(chunk)
            result['tail_bytes'] = copied - snapshot_end
            live.sync()
            if os.geteuid() == 0:
                os.fchown(live.fd, st.st_uid, st.st_gid)
            os.fchmod(live.fd, st.st_mode & 0o7777)
            live.close()

            # the live log must still be the file read, at least as long as read: a log
            # replaced (rotated) or truncated meanwhile is left alone, nothing is committed
            self._check_unchanged(live_fd, st, copied, snapshot_end, marks)

            # 6. commit: archive, quarantine, then the live log
            committed = []
            try:
                if arch is not None:
                    day = '%04d%02d%02d' % (self.cutoff_dt.year, self.cutoff_dt.month, self.cutoff_dt.day)
                    final = _free_archive_name(self.path, self.archive_dir, day)
                    final = _link_no_clobber(arch_raw.path, final,
                                             lambda: _free_archive_name(self.path, self.archive_dir, day))
                    self._own_like(final, st)
                    committed.append(final)
                    result['archive_path'] = final
                    fsync_dir(self.archive_dir)
                if quar is not None:
                    qname = os.path.join(self.quarantine_dir, '%s.quarantine-%s.txt' % (stem_of(self.path), self.stamp))
                    qfinal = _link_no_clobber(quar.path, qname, lambda: qname.replace('.txt', '-%d.txt' % time.time_ns()))
                    self._own_like(qfinal, st)
                    committed.append(qfinal)
                    result['quarantine_path'] = qfinal
                    fsync_dir(self.quarantine_dir)
                os.rename(live.path, self.path)
            except BaseException:
                for path in committed:     # the live log still holds these lines: undo
                    with contextlib.suppress(OSError):
                        os.unlink(path)
                raise
            self.temps = [t for t in self.temps if t is not live and t is not arch_raw and t is not quar]
            fsync_dir(self.log_dir)

        # 7. late appends to the old file by descriptors opened before the rename
        result['late_bytes'] = self._settle(live_fd, copied)
        result['tail_bytes'] += result['late_bytes']

    @staticmethod
    def _marks(fd, end, width=4096):
        return os.pread(fd, min(width, end), 0), os.pread(fd, min(width, end), max(0, end - width))

    def _check_unchanged(self, live_fd, st, copied, snapshot_end=0, marks=None):
        try:
            now_st = os.stat(self.path)
        except OSError as exc:
            raise ArchiveError('%s disappeared while it was archived (%s); nothing changed'
                               % (self.path, exc.strerror))
        if (now_st.st_dev, now_st.st_ino) != (st.st_dev, st.st_ino):
            raise ArchiveError('%s was replaced while it was archived; nothing changed, run again' % self.path)
        if os.fstat(live_fd).st_size < copied or (marks is not None and self._marks(live_fd, snapshot_end) != marks):
            raise ArchiveError('%s was truncated while it was archived; nothing changed, run again' % self.path)

    def _settle(self, old_fd, copied):
        late = 0
        deadline = time.monotonic() + self.settle_seconds
        while True:
            size = os.fstat(old_fd).st_size
            if size > copied:
                out = os.open(self.path, os.O_WRONLY | os.O_APPEND)
                try:
                    while copied < size:
                        chunk = os.pread(old_fd, min(READ_SIZE, size - copied), copied)
                        if not chunk:
                            break
                        _write_all(out, chunk)
                        copied += len(chunk)
                        late += len(chunk)
                    os.fsync(out)
                finally:
                    os.close(out)
                deadline = time.monotonic() + self.settle_seconds
            if time.monotonic() >= deadline:
                return late
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def _own_like(self, path, st):
        try:
            if os.geteuid() == 0:
                os.chown(path, st.st_uid, st.st_gid)
            os.chmod(path, st.st_mode & 0o7777 & ~0o111)
        except OSError:
            pass

    # -- retention ------------------------------------------------------------

    def retention(self):
        """Archives of this log older than ``retention_days`` - only when a newer archive exists."""
        archives = list_archives(self.path, self.archive_dir)
        if len(archives) < 2:
            return []
        try:
            moment = self.now - datetime.timedelta(days=self.retention_days)
        except OverflowError:
            return []   # the limit is before 0001-01-01: no archive is that old
        limit = '%04d%02d%02d' % (moment.year, moment.month, moment.day)
        newest = archives[-1][0]
        removed = []
        for day, dummy, path in archives:
            if day < limit and day < newest:
                removed.append(path)
                if not self.check_mode:
                    os.unlink(path)
        if removed and not self.check_mode:
            fsync_dir(self.archive_dir)
        return removed


def describe_error(exc):
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return 'no space left on device (%s); temp files removed, the live log is untouched' % (exc.filename or exc)
    if isinstance(exc, (zlib.error, EOFError)):
        return 'archive verification failed: %s' % exc
    return str(exc)
