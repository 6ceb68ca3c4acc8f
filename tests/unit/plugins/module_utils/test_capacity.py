# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_capacity calculations on fixture /proc and /sys/fs/cgroup trees."""

from __future__ import absolute_import, division, print_function

import collections
import os

import pytest

from ansible_collections.opskit.ops.plugins.module_utils import _capacity as cap

STAT_1 = 'cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 100 0 50 800 50 0 0 0 0 0\nintr 1\n'
STAT_2 = 'cpu  200 0 100 1500 100 0 0 0 0 0\ncpu0 200 0 100 1500 100 0 0 0 0 0\nintr 2\n'

MEMINFO = """MemTotal:        8000000 kB
MemFree:          500000 kB
MemAvailable:    1000000 kB
Buffers:          100000 kB
Cached:           300000 kB
"""

# pid: (cgroup file, cmdline, VmRSS or None)
PROCESSES = {
    1: ('0::/init.scope\n', b'/sbin/init\x00', '9000 kB'),
    # cgroup v2 (unified)
    101: ('0::/system.slice/el-bot.service\n', b'/opt/el-bot/current/bin/python\x00-m\x00agent_app\x00serve\x00',
          '102400 kB'),
    102: ('0::/system.slice/el-bot.service\n', b'/opt/el-bot/current/bin/python\x00-c\x00worker\x00', '51200 kB'),
    # a child cgroup of the unit
    103: ('0::/system.slice/el-bot.service/workers\n', b'python\x00w2\x00', '1024 kB'),
    # another unit whose name contains el-bot: must not match
    104: ('0::/system.slice/el-bot-backup.service\n', b'sh\x00backup\x00', '2048 kB'),
    # cgroup v1 / hybrid inside a docker container, with a prefix
    201: ('12:memory:/docker/abc/system.slice/multi-agent.service\n'
          '1:name=systemd:/docker/abc/system.slice/multi-agent.service\n0::/docker/abc\n',
          b'python3\x00main.py\x00', '1048576 kB'),
    202: ('1:name=systemd:/docker/abc/system.slice/multi-agent.service\n', b'python3\x00main.py\x00--worker\x00',
          '1048576 kB'),
    # a kernel thread: no cmdline, no VmRSS
    2: ('0::/\n', b'', None),
    # the check itself (excluded by pid)
    300: ('0::/user.slice\n', b'python3\x00AnsiballZ_capacity_check.py\x00python main.py\x00', '20480 kB'),
}


@pytest.fixture
def proc(tmp_path):
    root = tmp_path / 'proc'
    root.mkdir()
    (root / 'stat').write_text(STAT_1)
    (root / 'meminfo').write_text(MEMINFO)
    (root / 'self').mkdir()  # not a pid: ignored
    for pid, (cgroup, cmdline, rss) in PROCESSES.items():
        directory = root / str(pid)
        directory.mkdir()
        (directory / 'cgroup').write_text(cgroup)
        (directory / 'cmdline').write_bytes(cmdline)
        status = 'Name:\tx\nPPid:\t%d\n' % (1 if pid != 300 else 1)
        if rss:
            status += 'VmRSS:\t%s\n' % rss
        (directory / 'status').write_text(status)
    return str(root)


@pytest.fixture
def cgroup(tmp_path):
    root = tmp_path / 'cgroup'
    unit = root / 'system.slice' / 'el-bot.service'
    unit.mkdir(parents=True)
    (unit / 'memory.current').write_text('209715200\n')
    v1 = root / 'memory' / 'docker' / 'abc' / 'system.slice' / 'multi-agent.service'
    v1.mkdir(parents=True)
    (v1 / 'memory.usage_in_bytes').write_text('3221225472\n')
    return str(root)


def test_parse_proc_stat():
    # busy = user + nice + system + irq + softirq + steal; idle + iowait are idle
    assert cap.parse_proc_stat(STAT_1) == (150, 1000)
    assert cap.parse_proc_stat('cpu  1 2 3 4\n') == (6, 10)  # old kernels: fewer fields
    with pytest.raises(ValueError):
        cap.parse_proc_stat('cpu0 1 2 3 4\n')


def test_parse_proc_stat_leaves_guest_out():
    # guest (9th) and guest_nice (10th) are already counted in user and nice
    assert cap.parse_proc_stat('cpu  10 0 0 10 0 0 0 0 5 5\n') == (10, 20)


def test_cpu_percent():
    # (300 - 150) / (1900 - 1000)
    assert cap.cpu_percent(cap.parse_proc_stat(STAT_1), cap.parse_proc_stat(STAT_2)) == pytest.approx(100.0 / 6.0)
    assert cap.cpu_percent((10, 100), (10, 100)) is None
    assert cap.cpu_percent((0, 0), (50, 50)) == 100.0


def test_memory_percent():
    info = cap.parse_meminfo(MEMINFO)
    assert info['MemTotal'] == 8000000 * 1024
    # (8000000 - 1000000) / 8000000
    assert cap.memory_percent(info) == pytest.approx(87.5)
    del info['MemAvailable']
    # MemFree + Buffers + Cached = 900000
    assert cap.memory_percent(info) == pytest.approx(100.0 * 7100000 / 8000000)
    with pytest.raises(ValueError):
        cap.memory_percent({})


@pytest.mark.parametrize('unit, expected', [
    ('el-bot', 'el-bot.service'), ('el-bot.service', 'el-bot.service'), ('x.scope', 'x.scope'),
    ('a.b', 'a.b.service'),
])
def test_unit_name(unit, expected):
    assert cap.unit_name(unit) == expected


def test_cgroup_of_unit_prefers_unified_then_systemd():
    entries = cap.parse_cgroup(PROCESSES[201][0])
    assert cap.cgroup_of_unit(entries, 'multi-agent.service') == '/docker/abc/system.slice/multi-agent.service'
    assert cap.cgroup_of_unit(cap.parse_cgroup(PROCESSES[103][0]), 'el-bot.service') == \
        '/system.slice/el-bot.service'
    assert cap.cgroup_of_unit(cap.parse_cgroup(PROCESSES[104][0]), 'el-bot.service') is None


def test_unit_processes_cgroup_v2(proc):
    assert cap.unit_processes('el-bot', proc) == {
        101: '/system.slice/el-bot.service', 102: '/system.slice/el-bot.service',
        103: '/system.slice/el-bot.service'}


def test_unit_processes_cgroup_v1_in_container(proc):
    assert sorted(cap.unit_processes('multi-agent.service', proc)) == [201, 202]


def test_process_memory_by_unit(proc, cgroup):
    result = cap.process_memory({'unit': 'el-bot'}, proc, cgroup)
    assert result['pids'] == [101, 102, 103]
    assert result['rss_bytes'] == (102400 + 51200 + 1024) * 1024
    assert result['cgroup'] == '/system.slice/el-bot.service'
    assert result['cgroup_memory_bytes'] == 209715200
    assert result['name'] == 'el-bot'
    assert result['unit'] == 'el-bot.service'


def test_process_memory_cgroup_v1_counter(proc, cgroup):
    result = cap.process_memory({'unit': 'multi-agent'}, proc, cgroup)
    assert result['rss_bytes'] == 2 * 1048576 * 1024
    assert result['cgroup_memory_bytes'] == 3221225472


def test_process_memory_by_pattern_excludes_the_check(proc, cgroup):
    result = cap.process_memory({'pattern': r'python3? main\.py', 'name': 'agent'}, proc, cgroup, exclude={300})
    assert result['pids'] == [201, 202]
    assert result['name'] == 'agent'
    assert result['cgroup'] is None and result['cgroup_memory_bytes'] is None
    with_check = cap.process_memory({'pattern': r'main\.py'}, proc, cgroup)
    assert with_check['pids'] == [201, 202, 300]


def test_kernel_threads_have_no_rss(proc):
    assert cap.rss_bytes(2, proc) is None
    assert cap.rss_bytes(999, proc) is None
    assert cap.rss_bytes(101, proc) == 102400 * 1024


def test_process_row(proc, cgroup):
    result = cap.process_memory({'unit': 'multi-agent'}, proc, cgroup)
    limit = 1536 * 1024 * 1024
    row = cap.process_row(result, limit)
    # 2 GiB of RSS over the 1.5 GiB of runbook 002
    assert row == {'check': 'memory multi-agent', 'target': 'multi-agent.service', 'value': 2048.0,
                   'threshold': '<= 1536 MiB', 'status': 'failed',
                   'message': 'RSS 2048 MiB over 1536 MiB: 2 processes, RSS 2048 MiB (pids 201, 202); '
                              'cgroup memory 3072 MiB'}
    small = cap.process_row(cap.process_memory({'unit': 'el-bot'}, proc, cgroup), limit)
    assert (small['value'], small['status']) == (151.0, 'ok')


def test_process_row_no_process(proc, cgroup):
    row = cap.process_row(cap.process_memory({'unit': 'stopped'}, proc, cgroup), 100)
    assert (row['value'], row['status'], row['message']) == (
        0, 'failed', 'no running process found for stopped.service')


def test_ancestors(proc):
    assert cap.ancestors(300, proc) == set([300, 1])
    assert cap.ancestors(12345, proc) == set([12345])


def test_disk_usage(monkeypatch):
    StatVfs = collections.namedtuple('StatVfs', 'f_blocks f_bfree f_bavail f_frsize')
    monkeypatch.setattr(os, 'statvfs', lambda path: StatVfs(1000, 300, 250, 4096))
    percent, used, size = cap.disk_usage('/data')
    # used 700 blocks, available 250 (50 reserved for root): 700 / 950, as df shows it
    assert percent == pytest.approx(100.0 * 700 / 950)
    assert (used, size) == (700 * 4096, 1000 * 4096)


def test_disk_usage_real_path(tmp_path):
    percent, used, size = cap.disk_usage(str(tmp_path))
    assert 0 <= percent <= 100
    assert 0 < size


def test_percent_row():
    assert cap.percent_row('host cpu', 'host', 72.25, 70, 'warning', 'CPU use', ' over 1 s') == {
        'check': 'host cpu', 'target': 'host', 'value': 72.2, 'threshold': '<= 70 %', 'status': 'warning',
        'message': 'CPU use 72.2 % over 1 s (limit 70 %)'}
    assert cap.percent_row('host memory', 'host', 87.5, 80, 'critical', 'memory use')['status'] == 'failed'
    assert cap.percent_row('disk /', '/', 80, 80, 'critical', 'use')['status'] == 'ok'
