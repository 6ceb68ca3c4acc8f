# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every file-handling module, run as Ansible runs it (the module file, an args file), as a non-root user.

The paths are owned by root and unreadable or unwritable for that user: each
run must end in fail_json (JSON on stdout, ``failed: true``) whose message
names the path - never a Python traceback. The user is created by the fixture
(``useradd``) and removed afterwards; without root the test cannot switch
users and is skipped.
"""

import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
COLLECTIONS = os.path.join(ROOT, 'collections')
MODULES = os.path.join(ROOT, 'plugins', 'modules')
USER = 'opskit-test-nonroot'


@pytest.fixture(scope='module')
def user():
    if os.geteuid() != 0:
        pytest.skip('needs root to create a user and switch to it (setpriv)')
    if not shutil.which('setpriv') or not shutil.which('useradd'):
        pytest.skip('setpriv/useradd are not installed')
    created = False
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(['useradd', '--system', '--no-create-home', '--shell', '/usr/sbin/nologin', USER], check=True)
        created = True
    entry = pwd.getpwnam(USER)
    yield entry
    if created:
        subprocess.run(['userdel', USER], check=False)


@pytest.fixture
def area():
    """A root-owned directory the user can enter: readable things, an unreadable file, unwritable dirs."""
    base = tempfile.mkdtemp(prefix='opskit-nonroot-')
    os.chmod(base, 0o755)
    locked = os.path.join(base, 'locked')               # 0711: enter yes, list/write no
    os.mkdir(locked, 0o711)
    os.chmod(locked, 0o711)
    secret = os.path.join(base, 'secret')               # 0600 root: unreadable
    with open(secret, 'wb') as fh:
        fh.write(b'{"timestamp":"2024-01-01T00:00:00.000Z","action":"tool.run"}\n')
    os.chmod(secret, 0o600)
    ro = os.path.join(base, 'ro')                       # 0755 root: readable, not writable
    os.mkdir(ro, 0o755)
    with open(os.path.join(ro, 'log.jsonl'), 'wb') as fh:
        fh.write(b'{"timestamp":"2020-01-01T00:00:00.000Z","action":"tool.run"}\ngarbage\n')
    os.chmod(os.path.join(ro, 'log.jsonl'), 0o644)
    tools = os.path.join(ro, '.pi', 'tools')
    os.makedirs(tools, 0o755)
    with open(os.path.join(tools, 'dt_bad.json'), 'wb') as fh:
        fh.write(b'{oops')
    with open(os.path.join(tools, 'dt_ok.json'), 'wb') as fh:
        fh.write(b'{"name": "ok"}')
    os.chmod(os.path.join(tools, 'dt_ok.json'), 0o644)
    con = sqlite3.connect(os.path.join(ro, 'db.sqlite'))
    con.execute('CREATE TABLE t (x)')
    con.commit()
    con.close()
    os.chmod(os.path.join(ro, 'db.sqlite'), 0o644)
    for path in (os.path.join(ro, '.pi'), tools):
        os.chmod(path, 0o755)
    os.chmod(os.path.join(tools, 'dt_bad.json'), 0o644)
    yield {'base': base, 'locked': locked, 'secret': secret, 'ro': ro, 'tools': tools}
    shutil.rmtree(base)


def run_as(user, module, args):
    """Run plugins/modules/<module>.py like Ansible: python <module file> <args file>; returns (json, stderr)."""
    fd, args_file = tempfile.mkstemp(prefix='opskit-args-', suffix='.json')
    with os.fdopen(fd, 'w') as fh:
        json.dump({'ANSIBLE_MODULE_ARGS': args}, fh)
    os.chmod(args_file, 0o644)
    try:
        env = {'PATH': '/usr/local/bin:/usr/bin:/bin', 'PYTHONPATH': COLLECTIONS, 'HOME': '/tmp', 'LANG': 'C.UTF-8'}
        proc = subprocess.run(['setpriv', '--reuid=%d' % user.pw_uid, '--regid=%d' % user.pw_gid, '--clear-groups',
                               sys.executable, os.path.join(MODULES, module + '.py'), args_file],
                              capture_output=True, text=True, env=env, timeout=120, cwd='/tmp', check=False)
    finally:
        os.unlink(args_file)
    assert 'Traceback' not in proc.stderr + proc.stdout, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


CASES = [
    # (module, args (with {placeholders}), the path the message must name)
    ('audit_log', {'path': '{secret}'}, '{secret}'),
    ('audit_log', {'path': '{ro}/log.jsonl', 'tools_dir': '{locked}'}, '{locked}'),
    ('jsonl_archive', {'path': '{ro}/log.jsonl', 'days': 1, 'repair': True}, '{ro}'),
    ('jsonl_archive', {'path': '{secret}'}, '{secret}'),
    ('tool_registry', {'tools_dir': '{locked}'}, '{locked}'),
    ('tool_registry', {'tools_dir': '{tools}', 'action': 'repair'}, '{ro}/.pi'),
    ('tool_registry', {'tools_dir': '{tools}', 'action': 'backup'}, '{tools}'),
    ('sqlite_check', {'path': '{secret}'}, '{secret}'),
    ('sqlite_backup', {'src': '{secret}', 'dest': '/tmp/opskit-nonroot-out.db'}, '{secret}'),
    ('sqlite_backup', {'src': '{ro}/db.sqlite', 'dest': '{locked}/out.db'}, '{locked}'),
    ('backup_manifest', {'action': 'start', 'root': '{locked}', 'host': 'h'}, '{locked}'),
    ('backup_manifest', {'action': 'verify', 'path': '{locked}'}, '{locked}'),
    ('backup_retention', {'root': '{locked}', 'host': 'h'}, None),
    ('backup_aside', {'action': 'save', 'aside_dir': '{locked}/aside', 'paths': ['{ro}/db.sqlite']}, '{locked}'),
    ('pg_dump_inspect', {'path': '{secret}'}, '{secret}'),
    ('capacity_check', {'host': False, 'paths': ['{locked}/x']}, '{locked}/x'),
]


@pytest.mark.parametrize('module, args, named', CASES, ids=['%s-%d' % (c[0], i) for i, c in enumerate(CASES)])
def test_module_as_non_root_fails_cleanly(user, area, module, args, named):
    if module == 'pg_dump_inspect' and not shutil.which('pg_restore'):
        pytest.skip('pg_restore is not installed here')
    filled = json.loads(json.dumps(args).replace('{secret}', area['secret']).replace('{locked}', area['locked'])
                        .replace('{tools}', area['tools']).replace('{ro}', area['ro']))
    result, stderr = run_as(user, module, filled)
    if module == 'backup_retention':
        # nothing to list under a root it cannot read: a clean result or a clean failure, never a traceback
        assert result.get('failed', False) in (True, False)
        assert 'exception' not in result
        return
    assert result.get('failed') is True, result
    assert 'exception' not in result, result.get('exception')
    want = named.replace('{secret}', area['secret']).replace('{locked}', area['locked']).replace(
        '{tools}', area['tools']).replace('{ro}', area['ro'])
    assert want in result['msg'], result['msg']
