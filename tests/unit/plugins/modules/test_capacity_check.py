# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""opskit.ops.capacity_check on a fixture /proc, and once on the real one."""

from __future__ import absolute_import, division, print_function

import os
import sys

import pytest


from ansible_collections.opskit.ops.plugins.module_utils import _capacity
from ansible_collections.opskit.ops.plugins.modules import capacity_check

from _module_harness import run_main


@pytest.fixture
def run(monkeypatch):
    def runner(args, check_mode=False):
        return run_main(monkeypatch, capacity_check.main, args, check_mode=check_mode)
    return runner


STAT_IDLE = ('cpu  100 0 50 800 50 0 0 0 0 0\n', 'cpu  110 0 60 1700 130 0 0 0 0 0\n')   # 20 / 1000 = 2 %
STAT_BUSY = ('cpu  100 0 50 800 50 0 0 0 0 0\n', 'cpu  800 0 200 950 50 0 0 0 0 0\n')     # 850 / 1000 = 85 %


@pytest.fixture
def fake_proc(tmp_path, monkeypatch):
    """A /proc with the multi-agent unit (2 processes) and a controllable /proc/stat."""
    root = tmp_path / 'proc'
    root.mkdir()
    (root / 'meminfo').write_text('MemTotal: 4000000 kB\nMemAvailable: 2000000 kB\n')
    for pid, rss in ((41, 300000), (42, 200000)):
        directory = root / str(pid)
        directory.mkdir()
        (directory / 'cgroup').write_text('0::/system.slice/multi-agent.service\n')
        (directory / 'cmdline').write_bytes(b'python3\x00main.py\x00')
        (directory / 'status').write_text('Name:\tpython3\nPPid:\t1\nVmRSS:\t%d kB\n' % rss)
    cgroup = tmp_path / 'cgroup'
    cgroup.mkdir()
    monkeypatch.setattr(_capacity, 'PROC', str(root))
    monkeypatch.setattr(_capacity, 'CGROUP', str(cgroup))
    sleeps = []

    def use_stat(samples):
        (root / 'stat').write_text(samples[0])

        def sleep(seconds):
            sleeps.append(seconds)
            (root / 'stat').write_text(samples[1])
        monkeypatch.setattr(capacity_check.time, 'sleep', sleep)

    use_stat(STAT_IDLE)
    return dict(root=root, use_stat=use_stat, sleeps=sleeps)


def rows_by_check(result):
    return dict((row['check'], row) for row in result.result['checks'])


def test_healthy_host_is_unchanged(run, fake_proc, tmp_path):
    result = run({'processes': [{'unit': 'multi-agent'}], 'paths': [str(tmp_path)], 'disk_max_percent': 100})
    assert result.failed is False
    assert result.result['changed'] is False
    rows = rows_by_check(result)
    assert (rows['memory multi-agent']['value'], rows['memory multi-agent']['status']) == (488.3, 'ok')
    assert rows['memory multi-agent']['threshold'] == '<= 1536 MiB'
    assert (rows['host cpu']['value'], rows['host cpu']['status']) == (2.0, 'ok')
    assert (rows['host memory']['value'], rows['host memory']['status']) == (50.0, 'ok')
    assert rows['disk %s' % tmp_path]['status'] == 'ok'
    assert result.result['host'] == {'cpu_percent': 2.0, 'memory_percent': 50.0,
                                     'memory_total_bytes': 4000000 * 1024, 'memory_available_bytes': 2000000 * 1024}
    assert result.result['processes'][0]['pids'] == [41, 42]
    assert fake_proc['sleeps'] == [1.0]


def test_check_mode_runs_the_same_checks(run, fake_proc):
    result = run({'processes': [{'unit': 'multi-agent'}], 'cpu_interval': 0.5}, check_mode=True)
    assert result.failed is False
    assert result.result['changed'] is False
    assert [row['check'] for row in result.result['checks']] == ['memory multi-agent', 'host cpu', 'host memory']
    assert fake_proc['sleeps'] == [0.5]


def test_process_memory_over_the_limit_fails(run, fake_proc):
    result = run({'processes': [{'unit': 'multi-agent', 'max_memory': '400M'}], 'host': False})
    assert result.failed is True
    assert result.result['msg'] == (
        '1 of 1 checks failed: memory multi-agent (multi-agent.service): RSS 488.3 MiB over 400 MiB: '
        '2 processes, RSS 488.3 MiB (pids 41, 42)')


def test_stopped_service_fails(run, fake_proc):
    result = run({'processes': [{'unit': 'el-bot'}, {'pattern': r'main\.py', 'name': 'by pattern'}], 'host': False})
    assert result.failed is True
    assert result.result['msg'] == ('1 of 2 checks failed: memory el-bot (el-bot.service): '
                                    'no running process found for el-bot.service')
    assert rows_by_check(result)['memory by pattern']['status'] == 'ok'


def test_busy_cpu_is_a_warning_by_default(run, fake_proc):
    fake_proc['use_stat'](STAT_BUSY)
    result = run({})
    assert result.failed is False
    row = rows_by_check(result)['host cpu']
    assert (row['value'], row['status'], row['threshold']) == (85.0, 'warning', '<= 70 %')
    assert result.result['summary'] == {'total': 2, 'passed': 1, 'failed': 0, 'warning': 1, 'no_data': 0}


def test_busy_cpu_fails_when_critical(run, fake_proc):
    fake_proc['use_stat'](STAT_BUSY)
    result = run({'host_severity': 'critical', 'memory_max_percent': 40})
    assert result.failed is True
    assert result.result['msg'] == ('2 of 2 checks failed: host cpu (host): CPU use 85 % over 1.0 s (limit 70 %); '
                                    'host memory (host): memory use 50 % (limit 40 %)')


def test_missing_path_fails(run, fake_proc, tmp_path):
    missing = str(tmp_path / 'nope')
    result = run({'paths': [missing], 'host': False})
    assert result.failed is True
    assert result.result['checks'][0]['message'] == 'cannot stat %s: No such file or directory' % missing


def test_disk_over_limit(run, fake_proc, tmp_path):
    result = run({'paths': [str(tmp_path)], 'host': False, 'disk_max_percent': 0, 'fail_on_error': False})
    row = result.result['checks'][0]
    assert row['status'] == ('failed' if row['value'] > 0 else 'ok')
    assert result.result['disks'][0]['path'] == str(tmp_path)


def test_unit_and_pattern_are_mutually_exclusive(run, fake_proc):
    result = run({'processes': [{'unit': 'a', 'pattern': 'b'}]})
    assert result.failed is True
    assert 'mutually exclusive' in result.result['msg']


def test_bad_memory_size(run, fake_proc):
    result = run({'processes': [{'unit': 'multi-agent'}], 'max_process_memory': 'much'})
    assert result.failed is True
    assert result.result['msg'].startswith('max_process_memory: ')


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='reads the real Linux /proc')
def test_real_proc_finds_this_process(run, monkeypatch):
    monkeypatch.setattr(capacity_check.time, 'sleep', lambda seconds: None)
    # this test process is excluded (it is the check itself), so look for the pytest runner's parent chain
    pattern = r'^\S*pytest'
    result = run({'processes': [{'pattern': pattern}], 'paths': ['/'], 'disk_max_percent': 100,
                  'max_process_memory': '100G', 'cpu_interval': 0, 'fail_on_error': False})
    rows = rows_by_check(result)
    assert rows['host memory']['value'] > 0
    assert rows['disk /']['status'] == 'ok'
    assert os.getpid() not in result.result['processes'][0]['pids']
