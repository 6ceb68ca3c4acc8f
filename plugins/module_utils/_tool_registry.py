# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Runbook 004 tool definitions (``.pi/tools/*.json``): scan, repair, backup, delete.

Layout (runbook 004 and the reference service ``examples/agent_app``):

* definitions ``<tools_dir>/dt_<id>.json``: a JSON object with at least
  ``name``; the service also writes ``id``, ``safetyScore``, ``createdAt``,
  ``lastUsedAt``;
* backups ``<tools_dir>/backup/YYYYMMDD/dt_<id>.json`` (runbook "ツールのバック
  アップ", 90 days) and single-file copies ``<tools_dir>/dt_<id>.json.bak``;
* the service's lock ``<tools_dir>/../.tools.lock`` (flock, exclusive while it
  writes a definition). It is taken, when it exists, around every change made
  here; it is never created here (a root-owned lock file would lock the
  service out).

A definition is *corrupted* when it is not a JSON object with a string
``name`` (the service's own test, which then leaves the tool out of its list).
Nothing is ever deleted without a copy: corrupted files are moved to a
quarantine directory, deleted tools are first copied into today's backup.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import datetime
import errno
import fcntl
import json
import math
import os
import re
import shutil
import tempfile
import uuid

from ansible_collections.opskit.ops.plugins.module_utils._backup_common import fsync_dir, sha256_file

_UTC = datetime.timezone.utc
BACKUP_DIR_RE = re.compile(r'^(?:tools-)?(\d{8})(?:[-_T]?(\d{4,6}))?$')
REASONS = ('unused', 'low_safety', 'superseded')


def utcnow():
    return datetime.datetime.now(_UTC)


def iso_ms(moment):
    moment = moment.astimezone(_UTC)
    return '%s.%03dZ' % (_fmt(moment, '%Y-%m-%dT%H:%M:%S'), moment.microsecond // 1000)


def _fmt(moment, form):
    """strftime with the year always four digits (glibc's %Y does not pad years before 1000)."""
    return moment.strftime(form.replace('%Y', '%04d' % moment.year))


def parse_time(value):
    """Aware datetime from an ISO 8601 string (Z, offsets, date only; naive = UTC), else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text[-1] in 'Zz':
        text = text[:-1] + '+00:00'
    try:
        moment = datetime.datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_UTC)
        return moment.astimezone(_UTC)
    except (ValueError, OverflowError):
        # not a date, or its UTC form falls outside years 1-9999 (0001-01-01T00:00:00+01:00)
        return None


_MIN = datetime.datetime.min.replace(tzinfo=_UTC)
_MAX = datetime.datetime.max.replace(tzinfo=_UTC)


def days_before(moment, days):
    """``moment - days`` clamped to the calendar (0001-01-01 for a limit before it)."""
    try:
        return moment - datetime.timedelta(days=days)
    except OverflowError:
        return _MIN if days > 0 else _MAX


def from_mtime(mtime):
    """Aware datetime of a file time; a time outside the calendar is clamped to its edge."""
    try:
        return datetime.datetime.fromtimestamp(mtime, _UTC)
    except (OverflowError, OSError, ValueError):
        return _MIN if mtime < 0 else _MAX


def compile_pattern(pattern):
    """The compiled file name pattern (anchored at both ends); ValueError naming the option when invalid."""
    try:
        return re.compile('(?:%s)\\Z' % pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise ValueError('pattern: not a valid regular expression %r: %s' % (pattern, exc))


# ---------------------------------------------------------------------------
# reading


def list_definitions(tools_dir, pattern=r'.*\.json'):
    """(files, skipped) for the names in ``tools_dir`` that match ``pattern`` (not hidden), sorted.

    Like the service (``glob`` + ``os.path.isfile``) a symbolic link to a file
    counts as a definition. What matches but is no file - a directory, a
    dangling link, a socket - is returned in ``skipped`` with the reason, never
    dropped silently. A missing ``tools_dir`` gives ([], []); one that cannot be
    listed raises OSError.
    """
    regex = compile_pattern(pattern)
    try:
        entries = list(os.scandir(tools_dir))
    except FileNotFoundError:
        return [], []
    files, skipped = [], []
    for entry in entries:
        if entry.name.startswith('.') or not regex.match(entry.name):
            continue
        try:
            is_file = entry.is_file()
            is_link = entry.is_symlink()
        except OSError as exc:
            skipped.append({'path': entry.path, 'file': entry.name, 'reason': 'unreadable: %s' % exc.strerror})
            continue
        if is_file:
            files.append(entry.path)
        elif is_link:
            skipped.append({'path': entry.path, 'file': entry.name,
                            'reason': 'symbolic link to a missing file or a non-file: %s' % _readlink(entry.path)})
        elif entry.is_dir(follow_symlinks=False):
            skipped.append({'path': entry.path, 'file': entry.name, 'reason': 'a directory, not a file'})
        else:
            skipped.append({'path': entry.path, 'file': entry.name, 'reason': 'not a regular file'})
    files.sort()
    skipped.sort(key=lambda item: item['file'])
    return files, skipped


def _readlink(path):
    try:
        return os.readlink(path)
    except OSError as exc:
        return '<%s>' % exc.strerror


def definition_files(tools_dir, pattern=r'.*\.json'):
    """Definition files directly in ``tools_dir`` (not hidden, not in sub-directories; links followed), sorted."""
    try:
        return list_definitions(tools_dir, pattern)[0]
    except OSError:
        return []


MAX_DEFINITION = 16 * 1024 * 1024
# errors that say nothing about the content: such a file is skipped (reported), never repaired
SKIP_ERRORS = ('unreadable', 'too large')


def read_definition(path):
    """(definition, None) or (None, error): a definition is a JSON object with a string name."""
    try:
        with open(path, 'rb') as fh:
            if os.fstat(fh.fileno()).st_size > MAX_DEFINITION:
                return None, 'too large to be a definition (over %d MiB), not read' % (MAX_DEFINITION >> 20)
            raw = fh.read(MAX_DEFINITION + 1)
    except OSError as exc:
        return None, 'unreadable: %s' % exc.strerror
    if len(raw) > MAX_DEFINITION:
        return None, 'too large to be a definition (over %d MiB), not read' % (MAX_DEFINITION >> 20)
    try:
        data = json.loads(raw.decode('utf-8'))
    except UnicodeDecodeError as exc:
        return None, 'not UTF-8 text (byte %d)' % exc.start
    except ValueError as exc:
        return None, 'invalid JSON: %s' % exc
    except RecursionError:
        return None, 'invalid JSON: nested too deeply to parse'
    if not isinstance(data, dict):
        return None, 'not a JSON object'
    if not isinstance(data.get('name'), str) or not data.get('name'):
        return None, 'no tool name'
    return data, None


def get_path(data, dotted):
    """``data['a']['b']`` for ``'a.b'`` (None when missing)."""
    for part in dotted.split('.'):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def load_definitions(tools_dir, pattern=r'.*\.json', score_key='safetyScore'):
    """Every definition file of ``tools_dir``: valid, corrupted, or skipped (with the reason).

    ``count`` is every name that matches (the runbook's ``ls *.json | wc -l``),
    so count == valid + corrupted + skipped. ``symlinks``: the definitions that
    are symbolic links (followed, like the service does). A file that cannot be
    read (permission denied) or vanishes while it is read is *skipped*, not
    corrupted: nothing is known about its content, so repair never touches it.
    Raises OSError when ``tools_dir`` exists but cannot be listed.
    """
    files, skipped = list_definitions(tools_dir, pattern)
    out = {'dir': tools_dir, 'exists': os.path.isdir(tools_dir), 'valid': [], 'corrupted': [], 'count': 0,
           'bytes': 0, 'skipped': list(skipped), 'symlinks': []}
    out['count'] = len(files) + len(skipped)
    for path in files:
        if os.path.islink(path):
            out['symlinks'].append({'file': os.path.basename(path), 'target': os.path.realpath(path)})
        try:
            st = os.stat(path)
        except OSError as exc:
            out['skipped'].append({'path': path, 'file': os.path.basename(path),
                                   'reason': 'vanished or unreadable while read: %s' % exc.strerror})
            continue
        out['bytes'] += st.st_size
        data, error = read_definition(path)
        if error and error.startswith(SKIP_ERRORS):
            out['skipped'].append({'path': path, 'file': os.path.basename(path), 'reason': error})
            continue
        if error:
            out['corrupted'].append({'path': path, 'file': os.path.basename(path), 'error': error,
                                     'size': st.st_size})
            continue
        score = get_path(data, score_key)
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            # a string, a boolean, 1e400 (inf) or NaN: no score (never "low safety" by accident)
            score = None
        out['valid'].append({
            'path': path,
            'file': os.path.basename(path),
            'name': data['name'],
            'id': data.get('id'),
            'safety_score': score,
            'created_at': data.get('createdAt') if isinstance(data.get('createdAt'), str) else None,
            'last_used_at': data.get('lastUsedAt') if isinstance(data.get('lastUsedAt'), str) else None,
            'mtime': st.st_mtime,
            'size': st.st_size,
        })
    return out


# ---------------------------------------------------------------------------
# backups


def backup_dirs(backup_dir):
    """Dated backup directories, newest first: [(YYYYMMDD[HHMMSS] key, date, path)]."""
    found = []
    try:
        entries = list(os.scandir(backup_dir))
    except OSError:
        return []
    for entry in entries:
        match = BACKUP_DIR_RE.match(entry.name)
        if not match or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            day = datetime.datetime.strptime(match.group(1), '%Y%m%d').replace(tzinfo=_UTC)
        except ValueError:
            continue
        key = match.group(1) + (match.group(2) or '').ljust(6, '0')
        found.append((key, day, entry.path))
    found.sort(reverse=True)
    return found


def restore_candidates(file_name, tools_dir, backup_dir):
    """Copies of one definition, newest first: dated backups, then ``<file>.bak`` by its mtime."""
    out = []
    for key, day, path in backup_dirs(backup_dir):
        candidate = os.path.join(path, file_name)
        if os.path.isfile(candidate):
            out.append((key, candidate))
    bak = os.path.join(tools_dir, file_name + '.bak')
    if os.path.isfile(bak):
        moment = from_mtime(os.stat(bak).st_mtime)
        stamp = '%04d%02d%02d%02d%02d%02d' % (moment.year, moment.month, moment.day, moment.hour, moment.minute,
                                              moment.second)
        out.append((stamp, bak))
    out.sort(key=lambda kv: kv[0], reverse=True)
    return [path for dummy, path in out]


def newest_valid_backup(file_name, tools_dir, backup_dir):
    """(path, skipped) - the newest copy that parses as a definition, and the newer ones that did not."""
    skipped = []
    for path in restore_candidates(file_name, tools_dir, backup_dir):
        data, error = read_definition(path)
        if error is None:
            return path, skipped
        skipped.append({'path': path, 'error': error})
    return None, skipped


# ---------------------------------------------------------------------------
# deletion candidates


def deletion_candidates(valid, now, last_used=None, unused_days=30, min_safety_score=0.3):
    """Runbook 004 "ツールの削除基準": unused 30 days, safety score < 0.3, superseded by a newer same-name tool.

    ``last_used``: {tool name: ISO timestamp of the last tool.run} (from
    ``opskit.ops.audit_log``'s ``usage.last_run_by_tool``). The newer of that and
    the definition's own ``lastUsedAt`` counts. A tool never run counts from
    its ``createdAt`` (else the file's modification time).
    """
    last_used = last_used or {}
    limit = days_before(now, unused_days)
    by_name = {}
    for tool in valid:
        by_name.setdefault(tool['name'], []).append(tool)
    out = []
    for tool in valid:
        reasons = []
        details = {}
        seen = [t for t in (parse_time(last_used.get(tool['name'])), parse_time(tool['last_used_at'])) if t]
        last = max(seen) if seen else None
        created = parse_time(tool['created_at']) or from_mtime(tool['mtime'])
        if last is not None:
            details['last_used'] = iso_ms(last)
            if last < limit:
                reasons.append('unused')
                details['unused_days'] = (now - last).days
        else:
            details['last_used'] = None
            if created < limit:
                reasons.append('unused')
                details['unused_days'] = (now - created).days
        score = tool['safety_score']
        if score is not None and score < min_safety_score:
            reasons.append('low_safety')
        twins = by_name[tool['name']]
        if len(twins) > 1:
            def age(t):
                return (parse_time(t['created_at']) or from_mtime(t['mtime']), t['file'])
            newest = max(twins, key=age)
            if newest is not tool:
                reasons.append('superseded')
                details['superseded_by'] = newest['file']
        if reasons:
            entry = {'file': tool['file'], 'name': tool['name'], 'id': tool['id'], 'reasons': reasons,
                     'safety_score': score, 'created_at': iso_ms(created)}
            entry.update(details)
            out.append(entry)
    return out


# ---------------------------------------------------------------------------
# changing files


@contextlib.contextmanager
def service_lock(lock_file):
    """Hold the service's exclusive flock when the lock file exists (never create it)."""
    if not lock_file or not os.path.exists(lock_file):
        yield False
        return
    fd = os.open(lock_file, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield True
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _copy_stat_owner(src_stat, path):
    os.chmod(path, src_stat.st_mode & 0o7777)
    if os.geteuid() == 0:
        os.chown(path, src_stat.st_uid, src_stat.st_gid)


def copy_verified(src, dst_dir, dst_name=None, like=None):
    """Copy ``src`` into ``dst_dir`` atomically (temp + fsync + rename) and verify the bytes.

    ``like``: a stat result whose mode and owner the copy gets (default: the source's).
    Returns the destination path. The destination directory inherits the owner of its parent.
    """
    _makedirs_like(dst_dir)
    dst = os.path.join(dst_dir, dst_name or os.path.basename(src))
    src_stat = os.stat(src)
    want = sha256_file(src)
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(dst) + '.', suffix='.tmp', dir=dst_dir)
    try:
        with os.fdopen(fd, 'wb') as out, open(src, 'rb') as inp:
            shutil.copyfileobj(inp, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        _copy_stat_owner(like or src_stat, tmp)
        if sha256_file(tmp) != want:
            raise OSError(errno.EIO, 'copy of %s does not match the original' % src)
        os.rename(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(dst_dir)
    return dst


def _makedirs_like(path):
    """mkdir -p, each new directory owned like its parent (0750 for new ones)."""
    missing = []
    probe = os.path.abspath(path)
    while not os.path.isdir(probe):
        missing.append(probe)
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    for directory in reversed(missing):
        parent_stat = os.stat(os.path.dirname(directory))
        try:
            os.mkdir(directory, 0o750)
        except FileExistsError:
            continue
        if os.geteuid() == 0:
            os.chown(directory, parent_stat.st_uid, parent_stat.st_gid)


def quarantine_link(path, quarantine_dir, stamp):
    """Put a second name for ``path`` into the quarantine directory (hard link, else a verified copy).

    The caller then replaces or unlinks ``path``: together a move that never
    leaves a moment without either name, and never loses the bytes.
    """
    _makedirs_like(quarantine_dir)
    base = os.path.basename(path)
    dst = os.path.join(quarantine_dir, '%s.%s.corrupt' % (base, stamp))
    n = 1
    while os.path.lexists(dst):
        n += 1
        dst = os.path.join(quarantine_dir, '%s.%s-%d.corrupt' % (base, stamp, n))
    try:
        os.link(path, dst)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
        copy_verified(path, quarantine_dir, os.path.basename(dst))
    fsync_dir(quarantine_dir)
    return dst


def append_audit(audit_log, action, tool_id, tool_name, details, success=True, error=None, now=None):
    """Append one runbook 004 audit entry (compact JSON, one O_APPEND write, like the service)."""
    if not audit_log or not os.path.isdir(os.path.dirname(audit_log)):
        return None
    entry = {
        'id': 'audit_' + uuid.uuid4().hex[:12],
        'timestamp': iso_ms(now or utcnow()),
        'action': action,
        'toolId': tool_id,
        'toolName': tool_name,
        'actor': 'opskit.ops.tool_registry',
        'details': details,
        'success': success,
        'errorMessage': error,
    }
    data = (json.dumps(entry, separators=(',', ':'), ensure_ascii=False) + '\n').encode('utf-8')
    existed = os.path.exists(audit_log)
    fd = os.open(audit_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    if not existed and os.geteuid() == 0:
        parent = os.stat(os.path.dirname(audit_log))
        os.chown(audit_log, parent.st_uid, parent.st_gid)
    return entry


# ---------------------------------------------------------------------------
# the four actions


class Registry(object):
    """One run of ``opskit.ops.tool_registry`` (see the module for the options)."""

    def __init__(self, tools_dir, backup_dir=None, quarantine_dir=None, lock_file=None, audit_log=None,
                 pattern=r'.*\.json', score_key='safetyScore', now=None, check_mode=False):
        self.tools_dir = os.path.abspath(tools_dir)
        pi_dir = os.path.dirname(self.tools_dir)
        self.backup_dir = backup_dir or os.path.join(self.tools_dir, 'backup')
        self.quarantine_dir = quarantine_dir or os.path.join(pi_dir, 'quarantine', 'tools')
        self.lock_file = lock_file if lock_file is not None else os.path.join(pi_dir, '.tools.lock')
        self.audit_log = audit_log
        self.pattern = pattern
        self.score_key = score_key
        self.now = now or utcnow()
        self.stamp = _fmt(self.now, '%Y%m%dT%H%M%SZ')
        self.check_mode = check_mode
        self.diff = []
        self.changed = False

    def load(self):
        return load_definitions(self.tools_dir, self.pattern, self.score_key)

    def scan(self, last_used=None, unused_days=30, min_safety_score=0.3):
        defs = self.load()
        corrupted = []
        for item in defs['corrupted']:
            source, skipped = newest_valid_backup(item['file'], self.tools_dir, self.backup_dir)
            corrupted.append({'file': item['file'], 'error': item['error'], 'restore_from': source,
                              'restorable': source is not None, 'unusable_backups': skipped})
        backups = [{'dir': path, 'date': _fmt(day, '%Y-%m-%d'),
                    'files': len(definition_files(path, self.pattern))}
                   for dummy, day, path in backup_dirs(self.backup_dir)]
        return {
            'tools_dir': self.tools_dir,
            'exists': defs['exists'],
            'count': defs['count'],
            'valid': len(defs['valid']),
            'bytes': defs['bytes'],
            'tools': [{'file': t['file'], 'name': t['name'], 'id': t['id'], 'safety_score': t['safety_score'],
                       'created_at': t['created_at'], 'last_used_at': t['last_used_at']} for t in defs['valid']],
            'corrupted': corrupted,
            'skipped': [{'file': item['file'], 'reason': item['reason']} for item in defs['skipped']],
            'symlinks': defs['symlinks'],
            'candidates': deletion_candidates(defs['valid'], self.now, last_used, unused_days, min_safety_score),
            'backups': backups,
            'backup_dir': self.backup_dir,
            'quarantine_dir': self.quarantine_dir,
        }

    # -- repair -------------------------------------------------------------

    def repair(self, quarantine_unrestorable=True):
        """Quarantine corrupted definitions and restore each from its newest parsable backup."""
        restored, unrestorable = [], []
        with service_lock(None if self.check_mode else self.lock_file):
            for item in self.load()['corrupted']:
                path = os.path.join(self.tools_dir, item['file'])
                source, skipped = newest_valid_backup(item['file'], self.tools_dir, self.backup_dir)
                record = {'file': item['file'], 'error': item['error'], 'restore_from': source,
                          'unusable_backups': skipped, 'quarantined_to': None}
                (restored if source else unrestorable).append(record)
                if source is None and not quarantine_unrestorable:
                    continue
                self.changed = True
                self.diff.append({'before_header': path, 'after_header': path,
                                  'before': _preview(path), 'after': _preview(source) if source else ''})
                if self.check_mode:
                    continue
                st = os.stat(path)
                staged = None
                if source is not None:
                    staged = copy_verified(source, self.tools_dir, '.%s.restore-%s' % (item['file'], self.stamp),
                                           like=st)
                record['quarantined_to'] = quarantine_link(path, self.quarantine_dir, self.stamp)
                if staged:
                    os.rename(staged, path)      # atomic: the service sees the old or the restored file
                else:
                    os.unlink(path)              # the quarantine keeps the bytes
                fsync_dir(self.tools_dir)
                data = read_definition(path)[0] if staged else None
                append_audit(self.audit_log, 'tool.restore' if staged else 'tool.quarantine',
                             data.get('id') if data else None, data.get('name') if data else None,
                             {'file': item['file'], 'error': item['error'], 'restoredFrom': source,
                              'quarantinedTo': record['quarantined_to']}, now=self.now)
        return {'restored': restored, 'unrestorable': unrestorable,
                'quarantined': [r['file'] for r in restored + unrestorable if self._moved(r, quarantine_unrestorable)]}

    def _moved(self, record, quarantine_unrestorable):
        """Whether a corrupted file was (or, in check mode, would be) moved to the quarantine."""
        if record['quarantined_to']:
            return True
        return self.check_mode and bool(record['restore_from'] or quarantine_unrestorable)

    # -- backup -------------------------------------------------------------

    def backup(self, retention_days=90):
        """Copy every valid definition into ``<backup_dir>/YYYYMMDD/``; drop dated backups past retention."""
        target = os.path.join(self.backup_dir, _fmt(self.now, '%Y%m%d'))
        copied, unchanged, skipped, removed = [], [], [], []
        defs = self.load()
        for item in defs['corrupted']:
            skipped.append({'file': item['file'], 'error': item['error']})
        for tool in defs['valid']:
            dst = os.path.join(target, tool['file'])
            if os.path.isfile(dst) and sha256_file(dst) == sha256_file(tool['path']):
                unchanged.append(tool['file'])
                continue
            copied.append(tool['file'])
            if not self.check_mode:
                copy_verified(tool['path'], target)
        # retention: dated backups older than retention_days go, the newest one always stays
        today_key = _fmt(self.now, '%Y%m%d') + '000000'
        dirs = backup_dirs(self.backup_dir)
        keys = [entry[0] for entry in dirs]
        if copied or unchanged:
            keys.append(today_key)
        newest_key = max(keys) if keys else None
        limit = days_before(self.now, retention_days)
        for key, day, path in dirs:
            if key == newest_key or path == target:
                continue
            if days_before(day, -1) <= limit:
                removed.append(path)
                if not self.check_mode:
                    shutil.rmtree(path)
        if copied or removed:
            self.changed = True
            self.diff.append({'before_header': target, 'after_header': target,
                              'before': ''.join('%s\n' % f for f in sorted(unchanged)),
                              'after': ''.join('%s\n' % f for f in sorted(unchanged + copied))})
            if removed:
                self.diff.append({'before_header': self.backup_dir, 'after_header': self.backup_dir,
                                  'before': ''.join('%s\n' % p for p in removed), 'after': ''})
        return {'backup_path': target, 'copied': copied, 'unchanged': unchanged, 'skipped_corrupted': skipped,
                'removed_backups': removed}

    # -- delete -------------------------------------------------------------

    def delete(self, candidates, reasons, confirm):
        """Delete the candidates with one of ``reasons`` (only with ``confirm``), each after a verified backup."""
        chosen = [c for c in candidates if set(c['reasons']) & set(reasons)]
        deleted = []
        target = os.path.join(self.backup_dir, _fmt(self.now, '%Y%m%d'))
        if not confirm or not chosen:
            return {'deleted': [], 'would_delete': [c['file'] for c in chosen], 'backup_path': target}
        with service_lock(None if self.check_mode else self.lock_file):
            for cand in chosen:
                path = os.path.join(self.tools_dir, cand['file'])
                if not os.path.isfile(path):
                    continue
                self.changed = True
                self.diff.append({'before_header': path, 'after_header': path, 'before': _preview(path),
                                  'after': ''})
                record = {'file': cand['file'], 'name': cand['name'], 'reasons': cand['reasons'], 'backup': None}
                if not self.check_mode:
                    backup = os.path.join(target, cand['file'])
                    if not (os.path.isfile(backup) and sha256_file(backup) == sha256_file(path)):
                        backup = copy_verified(path, target)
                    record['backup'] = backup
                    os.unlink(path)
                    fsync_dir(self.tools_dir)
                    append_audit(self.audit_log, 'tool.delete', cand['id'], cand['name'],
                                 {'reason': ', '.join(cand['reasons']), 'backup': backup,
                                  'file': cand['file'], 'safetyScore': cand['safety_score']}, now=self.now)
                deleted.append(record)
        return {'deleted': deleted, 'would_delete': [c['file'] for c in chosen], 'backup_path': target}


def _preview(path, limit=4000):
    if not path:
        return ''
    try:
        with open(path, 'rb') as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        return '<unreadable: %s>\n' % exc
    text = data[:limit].decode('utf-8', 'replace')
    if len(data) > limit:
        text += '\n... (truncated)'
    return text if text.endswith('\n') else text + '\n'
