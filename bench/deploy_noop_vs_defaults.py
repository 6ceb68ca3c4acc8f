# -*- coding: utf-8 -*-
# Copyright (c) 2026, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: a no-op deploy and a health check, opskit's settings vs plain defaults, and fan-out.

In one run, on the same hosts:

  1. the local inventory (the six containers of `make hosts`), converged
     first (untimed), then timed:
       deploy.yml       with the ansible.cfg opskit ships, and with plain
                        defaults (no pipelining, no fact cache, default forks);
       healthcheck.yml  likewise;
     each with its wall time, the number of tasks on the busiest host, the
     seconds per task, the number of changes (0 for a no-op) and the ratio;
  2. fan-out: N containers of one service group (default 20, created here as
     opskit-bench-<n> on the network opskit-bench, converged untimed), then
     the no-op deploy on 5 of them (--limit) and on all N, and the ratio.

Goals (issue 13, on a 2-core machine): no-op deploy <= 30 s, healthcheck
<= 15 s, N hosts <= 1.5x the time of 5. This script reports; it is never a
timed test.

Run from the repository root after `make hosts` (it converges by itself):
    .venv/bin/python bench/deploy_noop_vs_defaults.py [--hosts 20] [--skip-local] [--skip-fanout] [--keep]
"""

from __future__ import absolute_import, division, print_function

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
BIN = os.path.join(ROOT, '.venv', 'bin')
IMAGE = os.environ.get('OPSKIT_HOST_IMAGE', 'opskit/host:trixie')
NETWORK = 'opskit-bench'
RECAP = re.compile(r'^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)',
                   re.M)

PLAIN_CFG = """[defaults]
collections_path = {root}/collections
roles_path = {root}/roles
inventory = {inventory}
host_key_checking = False
retry_files_enabled = False
"""


def log(message):
    print(message, flush=True)


def secrets_env():
    env = dict(os.environ)
    path = os.path.join(ROOT, '.cache', 'secrets.env')
    if not os.path.exists(path):
        subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'secrets.sh'), path], check=True)
    with open(path) as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith('#') and '=' in line:
                key, value = line.split('=', 1)
                env[key] = value.strip('"\'')
    env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
    env['OPSKIT_WORK_DIR'] = ROOT
    env['ANSIBLE_FORCE_COLOR'] = '0'
    env['ANSIBLE_NOCOLOR'] = '1'
    return env


def run_playbook(playbook, env, config, inventory, extra=()):
    """Run one playbook; return wall seconds, tasks on the busiest host, changes, failures."""
    env = dict(env, ANSIBLE_CONFIG=config)
    cmd = [os.path.join(BIN, 'ansible-playbook'), '-i', inventory, playbook] + list(extra)
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    wall = time.monotonic() - start
    hosts = RECAP.findall(proc.stdout)
    if not hosts:
        sys.stdout.write(proc.stdout[-3000:])
        raise SystemExit('%s produced no PLAY RECAP (rc=%d)' % (playbook, proc.returncode))
    # RECAP groups: host, ok, changed, unreachable, failed, skipped
    tasks = max(int(row[1]) + int(row[5]) + int(row[4]) for row in hosts)
    changed = sum(int(row[2]) for row in hosts)
    failed = sum(int(row[4]) + int(row[3]) for row in hosts)
    if proc.returncode != 0 or failed:
        sys.stdout.write(proc.stdout[-4000:])
    return {'wall': wall, 'tasks': tasks, 'changed': changed, 'failed': failed, 'rc': proc.returncode,
            'hosts': len(hosts)}


def plain_config(tmp, inventory):
    path = os.path.join(tmp, 'plain.cfg')
    with open(path, 'w') as handle:
        handle.write(PLAIN_CFG.format(root=ROOT, inventory=inventory))
    return path


def row(label, result):
    per_task = result['wall'] / result['tasks'] if result['tasks'] else 0.0
    return '%-44s %8.1f s %6d %9.2f s %8d %6d' % (label, result['wall'], result['tasks'], per_task,
                                                  result['changed'], result['failed'])


HEADER = '%-44s %10s %6s %11s %8s %6s' % ('run', 'wall', 'tasks', 's/task', 'changed', 'failed')


def docker(*args, check=True):
    return subprocess.run(['docker'] + list(args), check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)


def raise_inotify_limit():
    """Each systemd container takes inotify instances; Debian's default of 128
    per user stops the 20th or so from booting (it exits with 255)."""
    path = '/proc/sys/fs/inotify/max_user_instances'
    try:
        with open(path) as handle:
            current = int(handle.read())
        if current < 4096 and os.geteuid() == 0:
            with open(path, 'w') as handle:
                handle.write('4096')
            log('raised fs.inotify.max_user_instances from %d to 4096 (systemd in many containers)' % current)
    except (OSError, ValueError) as exc:
        log('could not check fs.inotify.max_user_instances: %s' % exc)


def bench_hosts_up(count):
    raise_inotify_limit()
    names = ['opskit-bench-%d' % n for n in range(1, count + 1)]
    if docker('network', 'inspect', NETWORK, check=False).returncode != 0:
        docker('network', 'create', NETWORK)
    for name in names:
        state = docker('inspect', '-f', '{{.State.Running}}', name, check=False).stdout.strip()
        if state == 'true':
            continue
        docker('rm', '-f', name, check=False)
        docker('run', '-d', '--name', name, '--hostname', name, '--network', NETWORK, '--cap-add', 'SYS_ADMIN',
               '--stop-signal', 'SIGRTMIN+3', '-v', '/sys/fs/cgroup:/sys/fs/cgroup:ro', '--tmpfs', '/run',
               '--tmpfs', '/run/lock', '--tmpfs', '/tmp:exec', '--label', 'opskit.bench=1', IMAGE, '/sbin/init')
    for name in names:
        for dummy in range(90):
            state = docker('exec', name, 'systemctl', 'is-system-running', check=False).stdout.strip()
            if state in ('running', 'degraded'):
                break
            time.sleep(1)
        else:
            raise SystemExit('%s: systemd did not finish booting' % name)
    return names


def bench_hosts_down(count):
    for n in range(1, count + 1):
        docker('rm', '-f', 'opskit-bench-%d' % n, check=False)
    docker('network', 'rm', NETWORK, check=False)


def bench_inventory(tmp, names):
    """An inventory of N el_bot hosts that shares the local inventory's group_vars."""
    inv_dir = os.path.join(tmp, 'inventory')
    os.makedirs(inv_dir)
    os.symlink(os.path.join(ROOT, 'inventories', 'local', 'group_vars'), os.path.join(inv_dir, 'group_vars'))
    lines = ['all:', '  vars:', '    ansible_connection: docker',
             '    ansible_python_interpreter: /usr/bin/python3', '    ansible_user: root', '  children:',
             '    agent_services:', '      children:', '        el_bot:', '          hosts:']
    lines += ['            %s:' % name for name in names]
    path = os.path.join(inv_dir, 'hosts.yml')
    with open(path, 'w') as handle:
        handle.write('\n'.join(lines) + '\n')
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--hosts', type=int, default=20, help='hosts of the fan-out run (default 20)')
    parser.add_argument('--small', type=int, default=5, help='hosts of the small fan-out run (default 5)')
    parser.add_argument('--skip-local', action='store_true', help='skip the local inventory runs')
    parser.add_argument('--skip-fanout', action='store_true', help='skip the fan-out runs')
    parser.add_argument('--keep', action='store_true', help='keep the fan-out containers')
    args = parser.parse_args()

    env = secrets_env()
    shipped = os.path.join(ROOT, 'ansible.cfg')
    deploy = os.path.join(ROOT, 'playbooks', 'deploy.yml')
    health = os.path.join(ROOT, 'playbooks', 'healthcheck.yml')
    results = []
    with tempfile.TemporaryDirectory(prefix='opskit-bench-') as tmp:
        if not args.skip_local:
            local = os.path.join(ROOT, 'inventories', 'local', 'hosts.yml')
            subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'local_hosts.sh'), 'up'], check=True)
            plain = plain_config(tmp, local)
            log('converging the local hosts (untimed) ...')
            converge = run_playbook(deploy, env, shipped, local)
            if converge['failed']:
                raise SystemExit('the converge run failed; fix the deploy first')
            for label, playbook in (('deploy.yml no-op', deploy), ('healthcheck.yml', health)):
                log('timing %s ...' % label)
                ours = run_playbook(playbook, env, shipped, local)
                base = run_playbook(playbook, env, plain, local)
                results.append((label + ', opskit settings', ours))
                results.append((label + ', plain defaults', base))
                results.append(('ratio ' + label, base['wall'] / ours['wall']))
        if not args.skip_fanout:
            log('creating %d fan-out hosts ...' % args.hosts)
            names = bench_hosts_up(args.hosts)
            try:
                inventory = bench_inventory(tmp, names)
                log('converging %d hosts (untimed) ...' % args.hosts)
                converge = run_playbook(deploy, env, shipped, inventory)
                if converge['failed']:
                    raise SystemExit('the fan-out converge run failed')
                small = run_playbook(deploy, env, shipped, inventory, ['--limit', ','.join(names[:args.small])])
                large = run_playbook(deploy, env, shipped, inventory)
                results.append(('deploy.yml no-op on %d hosts' % args.small, small))
                results.append(('deploy.yml no-op on %d hosts' % args.hosts, large))
                results.append(('ratio %d hosts / %d hosts' % (args.hosts, args.small), large['wall'] / small['wall']))
            finally:
                if not args.keep:
                    bench_hosts_down(args.hosts)

    log('')
    log('machine: %d CPU, %s' % (os.cpu_count() or 0, os.uname().release))
    log(HEADER)
    for label, result in results:
        if isinstance(result, float):
            log('%-44s %8.2fx' % (label, result))
        else:
            log(row(label, result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
