# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Process memory, host CPU/memory and disk use from Linux /proc (``opskit.ops.capacity_check``).

No psutil: targets may not have it. Every reader takes ``proc_root`` /
``cgroup_root`` so the calculations are tested on fixture files.

Processes of a systemd unit are found through ``/proc/<pid>/cgroup``: each
line is ``hierarchy-id:controllers:path``; a process belongs to ``el-bot.service``
when a component of a path is that unit. This works with the unified
hierarchy (cgroup v2, ``0::/system.slice/el-bot.service``), with cgroup v1 and
hybrid setups (``1:name=systemd:/system.slice/el-bot.service``) and inside
containers, where the path may carry a prefix (``/docker/<id>/system.slice/...``),
and it needs neither ``systemctl`` nor a mounted ``/sys/fs/cgroup``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible_collections.opskit.ops.plugins.module_utils._check_rows import (
    STATUS_FAILED,
    STATUS_OK,
    STATUS_WARNING,
    fmt_number,
    make_row,
)

PROC = '/proc'
CGROUP = '/sys/fs/cgroup'
MIB = 1024.0 * 1024.0


# ---------------------------------------------------------------------------
# Host CPU and memory
# ---------------------------------------------------------------------------

def parse_proc_stat(text):
    """(busy, total) jiffies of the aggregate ``cpu`` line of /proc/stat.

    Fields: user nice system idle iowait irq softirq steal guest guest_nice.
    guest and guest_nice are already counted in user and nice, so they are
    left out of the total. Idle time is idle + iowait.
    """
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == 'cpu':
            try:
                values = [int(v) for v in fields[1:]]
            except ValueError:
                raise ValueError('the cpu line of /proc/stat holds a field that is not a number: %r' % line[:200])
            values += [0] * (8 - len(values))
            user, nice, system, idle, iowait, irq, softirq, steal = values[:8]
            idle_all = idle + iowait
            total = user + nice + system + idle + iowait + irq + softirq + steal
            return total - idle_all, total
    raise ValueError('no aggregate cpu line in /proc/stat')


def cpu_percent(first, second):
    """CPU use in percent between two (busy, total) samples; None if no time passed."""
    busy = second[0] - first[0]
    total = second[1] - first[1]
    if total <= 0:
        return None
    return max(0.0, min(100.0, 100.0 * busy / total))


def parse_meminfo(text):
    """/proc/meminfo as {field: bytes}."""
    result = {}
    for line in text.splitlines():
        if ':' not in line:
            continue
        key, rest = line.split(':', 1)
        parts = rest.split()
        if not parts:
            continue
        try:
            value = int(parts[0])
        except ValueError:
            continue
        if len(parts) > 1 and parts[1].lower() == 'kb':
            value *= 1024
        result[key.strip()] = value
    return result


def memory_percent(meminfo):
    """Used memory in percent: (MemTotal - MemAvailable) / MemTotal.

    Without MemAvailable (kernels before 3.14) MemFree + Buffers + Cached is
    taken as available.
    """
    total = meminfo.get('MemTotal')
    if not total:
        raise ValueError('MemTotal missing from /proc/meminfo')
    available = meminfo.get('MemAvailable')
    if available is None:
        available = meminfo.get('MemFree', 0) + meminfo.get('Buffers', 0) + meminfo.get('Cached', 0)
    return 100.0 * (total - available) / total


def read_file(path):
    with open(path) as handle:
        return handle.read()


def sample_cpu(proc_root=PROC):
    return parse_proc_stat(read_file(os.path.join(proc_root, 'stat')))


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

def list_pids(proc_root=PROC):
    try:
        names = os.listdir(proc_root)
    except OSError:
        return []
    return sorted(int(name) for name in names if name.isdigit())


def unit_name(unit):
    """'el-bot' -> 'el-bot.service'; names with a unit suffix are kept."""
    if re.search(r'\.(service|scope|slice|socket|target|timer|mount)$', unit):
        return unit
    return unit + '.service'


def parse_cgroup(text):
    """[(controllers, path)] of a /proc/<pid>/cgroup file."""
    entries = []
    for line in text.splitlines():
        parts = line.split(':', 2)
        if len(parts) == 3:
            entries.append((parts[1], parts[2]))
    return entries


def cgroup_of_unit(entries, unit):
    """The cgroup path (of the systemd or unified hierarchy) containing ``unit``, or None.

    Prefers the unified hierarchy (``0::``), then ``name=systemd``, then any
    controller hierarchy.
    """
    ranked = sorted(entries, key=lambda e: 0 if e[0] == '' else 1 if e[0] == 'name=systemd' else 2)
    for _controllers, path in ranked:
        components = path.split('/')
        if unit in components:
            return '/'.join(components[:components.index(unit) + 1])
    return None


def unit_processes(unit, proc_root=PROC):
    """({pid: cgroup path}) of the processes in the cgroup of systemd ``unit``."""
    unit = unit_name(unit)
    found = {}
    for pid in list_pids(proc_root):
        try:
            entries = parse_cgroup(read_file(os.path.join(proc_root, str(pid), 'cgroup')))
        except (IOError, OSError):
            continue  # the process ended
        path = cgroup_of_unit(entries, unit)
        if path is not None:
            found[pid] = path
    return found


def read_cmdline(pid, proc_root=PROC):
    try:
        with open(os.path.join(proc_root, str(pid), 'cmdline'), 'rb') as handle:
            raw = handle.read()
    except (IOError, OSError):
        return None
    return raw.replace(b'\x00', b' ').decode('utf-8', 'replace').strip()


def pattern_processes(pattern, proc_root=PROC, exclude=()):
    """[pid] whose command line matches regex ``pattern`` (kernel threads and ``exclude`` left out)."""
    regex = re.compile(pattern)
    found = []
    for pid in list_pids(proc_root):
        if pid in exclude:
            continue
        cmdline = read_cmdline(pid, proc_root)
        if cmdline and regex.search(cmdline):
            found.append(pid)
    return found


def parse_status(text):
    """/proc/<pid>/status as {field: text}."""
    result = {}
    for line in text.splitlines():
        if ':' in line:
            key, value = line.split(':', 1)
            result[key.strip()] = value.strip()
    return result


def rss_bytes(pid, proc_root=PROC):
    """Resident set size of ``pid`` (VmRSS), None for a kernel thread or a process gone."""
    try:
        status = parse_status(read_file(os.path.join(proc_root, str(pid), 'status')))
    except (IOError, OSError):
        return None
    value = status.get('VmRSS')
    if not value:
        return None
    parts = value.split()
    amount = int(parts[0])
    return amount * 1024 if len(parts) > 1 and parts[1].lower() == 'kb' else amount


def ancestors(pid, proc_root=PROC):
    """``pid`` and its parents (the check itself, its shell, ansible...)."""
    seen = set()
    while pid and pid not in seen:
        seen.add(pid)
        try:
            status = parse_status(read_file(os.path.join(proc_root, str(pid), 'status')))
            pid = int(status.get('PPid', '0'))
        except (IOError, OSError, ValueError):
            break
    return seen


def cgroup_memory_bytes(path, cgroup_root=CGROUP):
    """memory.current (v2) or memory.usage_in_bytes (v1) of a cgroup path, or None."""
    relative = path.lstrip('/')
    candidates = [
        os.path.join(cgroup_root, relative, 'memory.current'),
        os.path.join(cgroup_root, 'unified', relative, 'memory.current'),
        os.path.join(cgroup_root, 'memory', relative, 'memory.usage_in_bytes'),
    ]
    for candidate in candidates:
        try:
            return int(read_file(candidate).strip())
        except (IOError, OSError, ValueError):
            continue
    return None


def process_memory(spec, proc_root=PROC, cgroup_root=CGROUP, exclude=()):
    """Memory of the processes of one ``spec`` {name, unit, pattern}.

    Returns dict(name, unit, pattern, pids, rss_bytes, cgroup, cgroup_memory_bytes).
    """
    pids = []
    cgroup = None
    if spec.get('unit'):
        members = unit_processes(spec['unit'], proc_root)
        pids = sorted(pid for pid in members if pid not in exclude)
        if members:
            cgroup = sorted(members.values(), key=len)[0]
    else:
        pids = pattern_processes(spec['pattern'], proc_root, exclude)
    total = 0
    counted = []
    for pid in pids:
        rss = rss_bytes(pid, proc_root)
        if rss is None:
            continue
        total += rss
        counted.append(pid)
    return dict(
        name=spec.get('name') or spec.get('unit') or spec.get('pattern'),
        unit=unit_name(spec['unit']) if spec.get('unit') else None,
        pattern=spec.get('pattern'),
        pids=counted,
        rss_bytes=total,
        cgroup=cgroup,
        cgroup_memory_bytes=cgroup_memory_bytes(cgroup, cgroup_root) if cgroup else None,
    )


# ---------------------------------------------------------------------------
# Disks
# ---------------------------------------------------------------------------

def disk_usage(path):
    """(used percent, used bytes, size bytes) of the file system of ``path``, as df shows it.

    df divides the used blocks by used + available to unprivileged users
    (the blocks reserved for root are left out) and rounds up.
    """
    stats = os.statvfs(path)
    used = (stats.f_blocks - stats.f_bfree) * stats.f_frsize
    available = stats.f_bavail * stats.f_frsize
    size = stats.f_blocks * stats.f_frsize
    denominator = used + available
    percent = 100.0 * used / denominator if denominator else 0.0
    return percent, used, size


# ---------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------

def _status(ok, severity):
    if ok:
        return STATUS_OK
    return STATUS_FAILED if severity == 'critical' else STATUS_WARNING


def mib(value):
    return round(value / MIB, 1)


def process_row(result, max_bytes):
    target = result['unit'] or 'pattern %s' % result['pattern']
    threshold = '<= %s MiB' % fmt_number(mib(max_bytes)) if max_bytes is not None else 'none'
    if not result['pids']:
        return make_row('memory %s' % result['name'], target, 0, threshold, STATUS_FAILED,
                        'no running process found for %s' % target)
    value = mib(result['rss_bytes'])
    ok = max_bytes is None or result['rss_bytes'] <= max_bytes
    count = len(result['pids'])
    message = '%d process%s, RSS %s MiB (pid%s %s)' % (
        count, '' if count == 1 else 'es', fmt_number(value), '' if count == 1 else 's',
        ', '.join(str(p) for p in result['pids'][:10]))
    if len(result['pids']) > 10:
        message += ', ...'
    if result.get('cgroup_memory_bytes') is not None:
        message += '; cgroup memory %s MiB' % fmt_number(mib(result['cgroup_memory_bytes']))
    if not ok:
        message = 'RSS %s MiB over %s MiB: %s' % (fmt_number(value), fmt_number(mib(max_bytes)), message)
    return make_row('memory %s' % result['name'], target, value, threshold, _status(ok, 'critical'), message)


def percent_threshold(limit):
    return '<= %s %%' % fmt_number(float(limit))


def percent_row(check, target, value, limit, severity, what, suffix=''):
    shown = round(value, 1)
    ok = value <= limit
    message = '%s %s %%%s (limit %s %%)' % (what, fmt_number(shown), suffix, fmt_number(float(limit)))
    return make_row(check, target, shown, percent_threshold(limit), _status(ok, severity), message)
