# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runbook 004 daily + weekly figures: the opskit.ops.audit_log module vs the runbook's grep/jq/awk pipelines.

One run, side by side, on the same generated audit log (default 1,000,000
lines, about 300 MB, made by bench/gen_audit_log.py with a fixed seed):

1. the file is read once (page cache warm for both contenders);
2. the module (plugins/modules/audit_log.py, run as Ansible runs it on a host,
   without the controller) computes every daily and weekly figure in ONE pass, in a
   subprocess (wall time, CPU time and peak RSS of that process and of the
   scanner processes it forks);
3. bench/runbook004_pipelines.sh runs the runbook's own pipelines one after
   the other (wall and CPU time of all their processes);
4. both times, the ratio and the peak memory are printed, then every figure
   the pipelines print is compared with the module's (on the undamaged log
   they must be equal; any mismatch is listed).

    .venv/bin/python bench/audit_log_vs_pipelines.py                 # 1,000,000 lines
    .venv/bin/python bench/audit_log_vs_pipelines.py --lines 100000  # quicker
    .venv/bin/python bench/audit_log_vs_pipelines.py --python /usr/bin/python3   # the target hosts' interpreter
    .venv/bin/python bench/audit_log_vs_pipelines.py --parser json   # the standard library's json alone

The module parses with orjson when the interpreter has it (the agent_app role
installs python3-orjson on dynamic-tools hosts) and falls back to the standard
library's json; the benchmark times both and checks they give the same figures.

Targets (issue 5): at least 30x faster, under 100 MB peak memory, same figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LOG = os.path.join('.pi', 'logs', 'dynamic-tools-audit.jsonl')

# Runs the module file itself, as Ansible does on a host (``python audit_log.py
# args.json`` is how a module reads its arguments without the controller), in
# this process, so that its wall time, CPU time and peak RSS are its own.
CHILD = r'''
import contextlib, io, json, resource, runpy, sys, time
module, args_file, out = sys.argv[1], sys.argv[2], sys.argv[3]
t0 = time.perf_counter()
sys.argv = [module, args_file]
buf = io.StringIO()
code = 0
with contextlib.redirect_stdout(buf):
    try:
        runpy.run_path(module, run_name='__main__')
    except SystemExit as exc:
        code = exc.code or 0
elapsed = time.perf_counter() - t0
result = json.loads(buf.getvalue())
if code or result.get('failed'):
    sys.exit('the module failed: %s' % result.get('msg'))
result['_bench'] = {'inner_seconds': elapsed,
                    'maxrss_self_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                    'maxrss_workers_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}
with open(out, 'w', encoding='utf-8') as fh:
    json.dump(result, fh, ensure_ascii=False)
'''


def log(msg):
    print(msg, flush=True)


def ensure_tree(args):
    base = args.dir or os.path.join(args.workdir, 'lines-%d-seed-%d' % (args.lines, args.seed))
    path = os.path.join(base, LOG)
    stamp = os.path.join(base, '.generated')
    want = '%d %d' % (args.lines, args.seed)
    if args.dir:
        if not os.path.isfile(path):
            sys.exit('%s: no %s' % (base, LOG))
        return base
    if os.path.isfile(stamp) and open(stamp).read() == want and os.path.isfile(path):
        log('using the log generated earlier in %s' % base)
        return base
    shutil.rmtree(base, ignore_errors=True)
    log('generating %d lines into %s ...' % (args.lines, base))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, os.path.join(HERE, 'gen_audit_log.py'), '--out', base, '--lines',
                    str(args.lines), '--seed', str(args.seed)], check=True)
    with open(stamp, 'w') as fh:
        fh.write(want)
    log('generated in %.1f s' % (time.perf_counter() - t0))
    return base


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def module_pythonpath(python):
    """PYTHONPATH for the module: the collection, and Ansible's module_utils when ``python`` lacks them.

    Only the ``ansible`` package of this venv is added (through a directory
    holding a link to it), so an interpreter without orjson stays without it.
    """
    paths = [os.path.join(ROOT, 'collections')]
    probe = subprocess.run([python, '-c', 'import ansible.module_utils.basic'], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
    if probe.returncode != 0:
        import ansible
        link_dir = os.path.join('/tmp', 'opskit-bench-ansible-%d' % os.getuid())
        os.makedirs(link_dir, exist_ok=True)
        link = os.path.join(link_dir, 'ansible')
        if not os.path.islink(link):
            os.symlink(os.path.dirname(ansible.__file__), link)
        paths.append(link_dir)
    return os.pathsep.join(paths)


def run_module(base, python, workers, out, parser='auto'):
    args = {'ANSIBLE_MODULE_ARGS': {
        'path': os.path.join(base, LOG), 'tools_dir': os.path.join(base, '.pi', 'tools'), 'window': 'all',
        'top': 1000, 'newest_errors': 50, 'newest_critical': 20, 'newest_verification': 50, 'newest_warnings': 50,
        'workers': workers, 'json_parser': parser}}
    args_file = out + '.args.json'
    with open(args_file, 'w', encoding='utf-8') as fh:
        json.dump(args, fh)
    env = dict(os.environ, PYTHONPATH=module_pythonpath(python))
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    subprocess.run([python, '-c', CHILD, os.path.join(ROOT, 'plugins', 'modules', 'audit_log.py'), args_file, out],
                   env=env, check=True)
    wall = time.perf_counter() - t0
    cpu = children_cpu() - cpu0
    with open(out, encoding='utf-8') as fh:
        figures = json.load(fh)
    return wall, cpu, figures


def run_pipelines(base):
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(['bash', os.path.join(HERE, 'runbook004_pipelines.sh'), base], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - t0
    cpu = children_cpu() - cpu0
    return wall, cpu, proc.stdout.decode('utf-8', 'replace'), proc.stderr.decode('utf-8', 'replace')


def sections(text):
    out, times, name = {}, {}, None
    for line in text.split('\n'):
        if line.startswith('=== '):
            name = line[4:].strip()
            out[name] = []
        elif line.startswith('--- seconds ') and name:
            try:
                times[name] = float(line.split()[-1])
            except ValueError:
                pass
        elif name is not None:
            out[name].append(line)
    for name in out:
        while out[name] and out[name][-1] == '':
            out[name].pop()
    return out, times


_UNIQ = re.compile(r'^\s*(\d+) (.*)$')


def uniq_counts(lines):
    out = {}
    for line in lines:
        m = _UNIQ.match(line)
        if m:
            out[m.group(2)] = int(m.group(1))
    return out


def dash(value):
    if value is None or value is False:
        return '-'
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(',', ':'))


def compare(sec, fig):
    """[(figure, ok, detail)] for every figure the pipelines print."""
    res = []

    def check(name, ok, detail=''):
        res.append((name, bool(ok), detail))

    # daily 1.1
    n = int(sec['daily_1.1_tool_count'][0].strip())
    check('tool count (ls .pi/tools/*.json | wc -l)', n == fig['tools']['count'], '%d vs %d' % (n, fig['tools']['count']))
    size = int(sec['daily_1.1_log_exists'][0].split()[4])
    check('log size (ls -la)', size == fig['size'], '%d vs %d' % (size, fig['size']))
    # daily 2.1
    mine = ['\t'.join([e['timestamp'], e['action'], dash(e['toolName']), dash(e['errorMessage'])])
            for e in fig['errors']['newest']]
    theirs = sec['daily_2.1_errors_newest']
    check('errors: newest 50 (tail -50)', mine == theirs, '' if mine == theirs else 'first difference at %s' % next(
        (i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b), min(len(mine), len(theirs))))
    mine = dict((r['message'], r['count']) for r in fig['errors']['by_message'])
    theirs = uniq_counts(sec['daily_2.1_errors_by_message'])
    check('errors by message', mine == theirs, _dict_diff(mine, theirs))
    # daily 2.2
    theirs = uniq_counts(sec['daily_2.2_errors_by_hour'])
    check('errors by hour', fig['errors']['by_hour'] == theirs, _dict_diff(fig['errors']['by_hour'], theirs))
    theirs = uniq_counts(sec['daily_2.2_errors_by_tool'])
    mine = dict((r['tool'], r['count']) for r in fig['errors']['by_tool'])
    ok = all(mine.get(k) == v for k, v in theirs.items()) and \
        sorted(theirs.values(), reverse=True) == [r['count'] for r in fig['errors']['by_tool'][:len(theirs)]]
    check('errors by tool (top 10)', ok, _dict_diff(dict((k, mine.get(k)) for k in theirs), theirs))
    # daily 2.3
    mine = [c['text'] for c in fig['critical']['newest']]
    theirs = sec['daily_2.3_critical']
    check('critical/security entries (tail -20)', mine == theirs, '%d vs %d lines' % (len(mine), len(theirs)))
    # weekly 1.1
    theirs = uniq_counts(sec['weekly_1.1_ranking'])
    mine = fig['usage']['runs_by_tool']
    ok = all(mine.get(k) == v for k, v in theirs.items()) and \
        sorted(theirs.values(), reverse=True) == [r['runs'] for r in fig['usage']['ranking'][:len(theirs)]]
    check('usage ranking (top 20)', ok, _dict_diff(dict((k, mine.get(k)) for k in theirs), theirs))
    zero = {}
    for line in sec['weekly_1.1_zero_runs']:
        m = re.match(r'^(.+): (\d+)(?:回)?$', line)
        if m:
            zero[m.group(1)] = int(m.group(2))
    mine = dict((k, fig['usage']['entries_by_tool'].get(k, 0)) for k in zero)
    check('entries per defined tool (grep -c loop, 20 lowest)', mine == zero, _dict_diff(mine, zero))
    # weekly 1.3
    vals = {}
    for line in sec['weekly_1.3_success_rate']:
        key, _unused, value = line.partition(': ')
        vals[key] = value
    runs = fig['runs']
    ok = (int(vals['総実行回数']) == runs['total'] and int(vals['成功']) == runs['success'] and
          int(vals['失敗']) == runs['failed'] and
          abs(float(vals['成功率'].rstrip('%')) - int(runs['success'] * 10000 // runs['total']) / 100.0) < 1e-9)
    check('success rate (total, success, fail, %)', ok, '%s vs %s' % (vals, {k: runs[k] for k in (
        'total', 'success', 'failed', 'success_rate')}))
    # weekly 2.1
    theirs = uniq_counts(sec['weekly_2.1_actions'])
    check('counts by action', fig['actions'] == theirs, _dict_diff(fig['actions'], theirs))
    n = int(sec['weekly_2.1_creates'][0].strip())
    check('tool.create count', n == fig['creates'], '%d vs %d' % (n, fig['creates']))
    n = int(sec['weekly_2.1_deletes'][0].strip())
    check('tool.delete count', n == fig['deletes'], '%d vs %d' % (n, fig['deletes']))
    # weekly 2.2
    mine = ['\t'.join([v['timestamp'], v['action'], dash(v['reason'])]) for v in fig['verification']['newest']]
    theirs = sec['weekly_2.2_verification']
    check('verification entries (tail -50)', mine == theirs, '%d vs %d lines' % (len(mine), len(theirs)))
    theirs = sec['weekly_2.2_warnings']
    mine = ['\t'.join([w['timestamp'], dash(w['toolName']), dash(w['warning'])]) for w in fig['high_risk']['newest']]
    check('high-risk (details.warning) count', len(theirs) == fig['high_risk']['count'],
          '%d vs %d' % (len(theirs), fig['high_risk']['count']))
    check('high-risk entries (newest 50)', mine == theirs[-len(mine):] if mine else not theirs, '')
    # weekly 2.3
    theirs = dict((m.group(1), int(m.group(2))) for m in
                  (re.match(r'^警告: (\S+) に (\d+) 件のツール作成$', x) for x in sec['weekly_2.3_create_bursts']) if m)
    mine = dict((a['day'], a['creates']) for a in fig['anomalies']['creates_per_day'])
    check('anomaly: > 10 creates a day', mine == theirs, _dict_diff(mine, theirs))
    theirs = dict((m.group(1), int(m.group(2))) for m in
                  (re.match(r'^警告: (\S+) が (\d+) 回失敗$', x) for x in sec['weekly_2.3_failing_tools']) if m)
    mine = dict((a['tool'], a['failures']) for a in fig['anomalies']['failures_per_tool'])
    check('anomaly: > 5 failures of one tool', mine == theirs, _dict_diff(mine, theirs))
    # statistics
    theirs = uniq_counts(sec['stats_entries_by_hour'])
    check('entries per hour', fig['entries_by_hour'] == theirs, _dict_diff(fig['entries_by_hour'], theirs))
    avg = sec['stats_avg_exec'][0]
    mine = '平均: %s ms' % ('%.6g' % fig['execution_time']['avg_ms'])
    check('average execution time (awk %.6g)', avg == mine, '%r vs %r' % (mine, avg))
    mx = sec['stats_max_exec'][0].strip()
    check('max execution time', mx == str(fig['execution_time']['max_ms']), '%s vs %s' % (fig['execution_time']['max_ms'], mx))
    theirs = {}
    for line in sec['perf_distribution']:
        key, _unused, value = line.rpartition(': ')
        theirs[key] = int(value)
    check('execution time distribution', fig['execution_time']['distribution'] == theirs,
          _dict_diff(fig['execution_time']['distribution'], theirs))
    theirs = sorted(sec['perf_slow_tools'])
    mine = sorted('%s: 平均 %.0f ms (%d 回)' % (s['tool'], s['total_ms'] / float(s['runs']), s['runs'])
                  for s in fig['execution_time']['slow_tools'])
    check('slow tools (avg > 5 s)', mine == theirs, '%s vs %s' % (mine, theirs))
    return res


def _dict_diff(mine, theirs):
    if mine == theirs:
        return ''
    keys = sorted(set(mine) | set(theirs), key=str)
    diff = ['%s: %s vs %s' % (k, mine.get(k), theirs.get(k)) for k in keys if mine.get(k) != theirs.get(k)]
    return '; '.join(diff[:5]) + (' ...' if len(diff) > 5 else '')


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--lines', type=int, default=1000000)
    ap.add_argument('--seed', type=int, default=4004)
    ap.add_argument('--workdir', default='/tmp/opskit-bench-audit')
    ap.add_argument('--dir', help='use an existing tree holding .pi/ (no generation)')
    ap.add_argument('--python', default=sys.executable, help='interpreter for the module')
    ap.add_argument('--workers', type=int, default=0, help='scanner processes (0 = the module default)')
    ap.add_argument('--parser', default='auto', choices=('auto', 'json'),
                    help='auto: orjson when the interpreter has it (what the module does); json: the standard library')
    ap.add_argument('--no-stdlib-run', action='store_true',
                    help='do not also time the module with the standard library json alone')
    ap.add_argument('--json', help='write the numbers here')
    args = ap.parse_args(argv)

    base = ensure_tree(args)
    path = os.path.join(base, LOG)
    size = os.path.getsize(path)
    with open(path, 'rb') as fh:                       # warm the page cache for both
        while fh.read(8 << 20):
            pass
    log('log: %s (%.1f MB)' % (path, size / 1e6))
    log('machine: %d CPUs, load average %s' % (os.cpu_count(), ' '.join('%.2f' % x for x in os.getloadavg())))

    out = os.path.join(base, 'module-figures.json')
    m_wall, m_cpu, fig = run_module(base, args.python, args.workers, out, args.parser)
    log('module (%s, parser %s, %d scanner process(es)): %.2f s wall, %.2f s CPU'
        % (args.python, fig['parser'], fig['workers'], m_wall, m_cpu))
    alt = None
    if fig['parser'] != 'json' and not args.no_stdlib_run:
        # the same logic with the standard library's json alone (a host without orjson)
        alt_wall, alt_cpu, alt_fig = run_module(base, args.python, args.workers, out + '.json-only', 'json')
        alt = (alt_wall, alt_cpu)
        log('module (%s, parser json, %d scanner process(es)): %.2f s wall, %.2f s CPU'
            % (args.python, alt_fig['workers'], alt_wall, alt_cpu))
        # (the clock, the arguments and the file system's free space move between the two runs)
        skip = ('_bench', 'parser', 'window', 'invocation', 'disk')
        same = (dict((k, v) for k, v in alt_fig.items() if k not in skip) ==
                dict((k, v) for k, v in fig.items() if k not in skip))
        log('figures with orjson and with json alone: %s' % ('identical' if same else 'DIFFERENT'))
    p_wall, p_cpu, text, err = run_pipelines(base)
    log('runbook 004 pipelines: %.2f s wall, %.2f s CPU' % (p_wall, p_cpu))
    sec, times = sections(text)

    rss_self = fig['_bench']['maxrss_self_kb'] / 1024.0
    rss_workers = fig['_bench']['maxrss_workers_kb'] / 1024.0
    ratio_wall = p_wall / m_wall
    ratio_cpu = p_cpu / m_cpu if m_cpu else float('inf')
    log('')
    log('%-48s %12s %12s' % ('', 'wall (s)', 'CPU (s)'))
    log('%-48s %12.2f %12.2f' % ('runbook 004 grep/jq/awk pipelines', p_wall, p_cpu))
    log('%-48s %12.2f %12.2f' % ('opskit.ops.audit_log, one pass (%s)' % fig['parser'], m_wall, m_cpu))
    log('%-48s %11.1fx %11.1fx' % ('ratio', ratio_wall, ratio_cpu))
    if alt:
        log('%-48s %12.2f %12.2f' % ('opskit.ops.audit_log, one pass (json alone)', alt[0], alt[1]))
        log('%-48s %11.1fx %11.1fx' % ('ratio without orjson', p_wall / alt[0], p_cpu / alt[1] if alt[1] else 0))
    log('module peak RSS: %.1f MB (main process), %.1f MB (largest forked scanner), %.1f MB summed'
        % (rss_self, rss_workers, rss_self + (rss_workers * (fig['workers'] - 1))))
    log('lines %d, entries %d, corrupted %d' % (fig['lines'], fig['entries'], fig['corrupted']['count']))
    slowest = sorted(times.items(), key=lambda kv: kv[1], reverse=True)[:6]
    log('slowest pipeline steps: ' + ', '.join('%s %.1f s' % kv for kv in slowest))

    results = compare(sec, fig)
    bad = [r for r in results if not r[1]]
    log('')
    log('figures compared with the pipelines: %d, equal: %d, different: %d' % (len(results), len(results) - len(bad), len(bad)))
    for name, ok, detail in results:
        log('  [%s] %s%s' % ('same' if ok else 'DIFF', name, ('  (%s)' % detail) if (detail and not ok) else ''))
    if fig['corrupted']['count']:
        log('note: the log has %d corrupted line(s); jq stops at the first one, so the pipelines\' figures cover '
            'only part of the log there - differences are expected' % fig['corrupted']['count'])
    if err.strip():
        log('pipelines stderr (first lines): ' + ' | '.join(err.strip().split('\n')[:3]))
    targets = [
        ('>= 30x faster (wall)', ratio_wall >= 30),
        ('< 100 MB peak RSS (largest process)', max(rss_self, rss_workers) < 100),
        ('same figures', not bad),
    ]
    log('')
    for name, ok in targets:
        log('target %-40s %s' % (name, 'met' if ok else 'NOT met'))
    if args.json:
        with open(args.json, 'w') as fh:
            json.dump({'lines': fig['lines'], 'bytes': size, 'module_wall': m_wall, 'module_cpu': m_cpu,
                       'pipelines_wall': p_wall, 'pipelines_cpu': p_cpu, 'ratio_wall': ratio_wall,
                       'ratio_cpu': ratio_cpu, 'rss_main_mb': rss_self, 'rss_worker_mb': rss_workers,
                       'workers': fig['workers'], 'python': args.python, 'parser': fig['parser'],
                       'module_json_only_wall': alt[0] if alt else None, 'pipeline_steps': times,
                       'mismatches': [r[0] for r in bad], 'loadavg': os.getloadavg()}, fh, indent=2)
    return 0 if not bad else 1


if __name__ == '__main__':
    sys.exit(main())
