# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""opskit.ops.tool_registry: corrupted definitions, restore from the newest parsable backup, backups, deletion."""

import datetime
import json
import os

import pytest

from ansible_collections.opskit.ops.plugins.module_utils import _tool_registry as tr

UTC = datetime.timezone.utc
NOW = datetime.datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def definition(name, tool_id, score=0.9, created='2024-01-01T00:00:00.000Z', last_used=None):
    return {'id': tool_id, 'name': name, 'description': name, 'code': 'async function execute(p) {}',
            'parameters': {}, 'safetyScore': score, 'createdAt': created, 'lastUsedAt': last_used}


def write(path, data):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(str(path), 'w', encoding='utf-8') as fh:
        if isinstance(data, (dict, list)):
            json.dump(data, fh, ensure_ascii=False, indent=2)
        else:
            fh.write(data)


@pytest.fixture
def pi(tmp_path):
    tools = tmp_path / '.pi' / 'tools'
    write(tools / 'dt_aaa.json', definition('json_formatter', 'dt_aaa', last_used='2024-02-28T10:00:00.000Z'))
    write(tools / 'dt_bbb.json', '{"id": "dt_bbb", "name": "csv_pa')                   # corrupted
    write(tools / 'dt_ccc.json', definition('risky_tool', 'dt_ccc', score=0.2, last_used='2024-02-29T00:00:00.000Z'))
    write(tools / 'dt_ddd.json', definition('old_tool', 'dt_ddd', created='2023-11-01T00:00:00.000Z'))
    write(tools / 'dt_eee.json', '[]')                                                  # corrupted, no backup
    write(tools / 'backup' / '20240220' / 'dt_bbb.json', definition('csv_parser', 'dt_bbb', created='2024-02-20T00:00:00Z'))
    write(tools / 'backup' / '20240225' / 'dt_bbb.json', '{broken')                    # newer but unusable
    write(tools / 'backup' / '20240210' / 'dt_bbb.json', definition('csv_parser_old', 'dt_bbb'))
    write(tools / 'backup' / 'README.txt', 'not a backup dir')
    return tmp_path / '.pi'


def test_scan_counts_corrupted_and_restore_sources(pi):
    out = tr.Registry(str(pi / 'tools'), now=NOW).scan()
    assert out['count'] == 5
    assert out['valid'] == 3
    by_file = dict((c['file'], c) for c in out['corrupted'])
    assert sorted(by_file) == ['dt_bbb.json', 'dt_eee.json']
    assert by_file['dt_bbb.json']['restore_from'] == str(pi / 'tools' / 'backup' / '20240220' / 'dt_bbb.json')
    assert by_file['dt_bbb.json']['unusable_backups'][0]['path'].endswith('20240225/dt_bbb.json')
    assert by_file['dt_eee.json']['error'] == 'not a JSON object'
    assert by_file['dt_eee.json']['restorable'] is False
    assert [b['date'] for b in out['backups']] == ['2024-02-25', '2024-02-20', '2024-02-10']


def test_repair_restores_from_newest_parsable_backup(pi):
    reg = tr.Registry(str(pi / 'tools'), now=NOW, audit_log=str(pi / 'logs' / 'audit.jsonl'))
    os.makedirs(str(pi / 'logs'))
    broken = open(str(pi / 'tools' / 'dt_bbb.json'), 'rb').read()
    out = reg.repair()
    assert reg.changed is True
    assert [r['file'] for r in out['restored']] == ['dt_bbb.json']
    assert [r['file'] for r in out['unrestorable']] == ['dt_eee.json']
    assert sorted(out['quarantined']) == ['dt_bbb.json', 'dt_eee.json']
    restored = json.load(open(str(pi / 'tools' / 'dt_bbb.json')))
    assert restored['name'] == 'csv_parser'
    quarantined = out['restored'][0]['quarantined_to']
    assert quarantined.startswith(str(pi / 'quarantine' / 'tools' / 'dt_bbb.json.'))
    assert open(quarantined, 'rb').read() == broken                   # moved, never deleted
    assert not os.path.exists(str(pi / 'tools' / 'dt_eee.json'))
    assert open(out['unrestorable'][0]['quarantined_to']).read() == '[]'
    audit = [json.loads(x) for x in open(str(pi / 'logs' / 'audit.jsonl'))]
    assert [a['action'] for a in audit] == ['tool.restore', 'tool.quarantine']
    assert audit[0]['toolName'] == 'csv_parser'
    assert reg.diff[0]['after'].startswith('{')
    # nothing corrupted any more: a second run changes nothing
    again = tr.Registry(str(pi / 'tools'), now=NOW)
    assert again.repair()['restored'] == []
    assert again.changed is False


def test_repair_keeps_owner_mode_of_the_broken_file(pi):
    os.chmod(str(pi / 'tools' / 'dt_bbb.json'), 0o640)
    tr.Registry(str(pi / 'tools'), now=NOW).repair()
    assert oct(os.stat(str(pi / 'tools' / 'dt_bbb.json')).st_mode & 0o777) == oct(0o640)


def test_repair_check_mode_changes_nothing(pi):
    before = sorted(os.listdir(str(pi / 'tools')))
    reg = tr.Registry(str(pi / 'tools'), now=NOW, check_mode=True)
    out = reg.repair()
    assert reg.changed is True
    assert [r['file'] for r in out['restored']] == ['dt_bbb.json']
    assert sorted(os.listdir(str(pi / 'tools'))) == before
    assert not os.path.exists(str(pi / 'quarantine'))


def test_repair_without_quarantining_unrestorable(pi):
    out = tr.Registry(str(pi / 'tools'), now=NOW).repair(quarantine_unrestorable=False)
    assert out['quarantined'] == ['dt_bbb.json']
    assert os.path.exists(str(pi / 'tools' / 'dt_eee.json'))


def test_bak_file_counts_as_a_backup(tmp_path):
    tools = tmp_path / 'tools'
    write(tools / 'dt_x.json', 'garbage')
    write(tools / 'dt_x.json.bak', definition('x_tool', 'dt_x'))
    out = tr.Registry(str(tools), now=NOW).repair()
    assert out['restored'][0]['restore_from'] == str(tools / 'dt_x.json.bak')
    assert json.load(open(str(tools / 'dt_x.json')))['name'] == 'x_tool'


def test_deletion_candidates(pi):
    out = tr.Registry(str(pi / 'tools'), now=NOW).scan(last_used={'json_formatter': '2024-01-01T00:00:00.000Z'})
    cands = dict((c['name'], c) for c in out['candidates'])
    # json_formatter: the audit log says January, its lastUsedAt says 2024-02-28: the newer counts
    assert 'json_formatter' not in cands
    assert cands['risky_tool']['reasons'] == ['low_safety']
    assert cands['old_tool']['reasons'] == ['unused']
    assert cands['old_tool']['last_used'] is None
    assert cands['old_tool']['unused_days'] == 121


def test_superseded_by_a_newer_definition_of_the_same_name(tmp_path):
    tools = tmp_path / 'tools'
    write(tools / 'dt_1.json', definition('same', 'dt_1', created='2024-02-01T00:00:00Z', last_used='2024-02-29T00:00:00Z'))
    write(tools / 'dt_2.json', definition('same', 'dt_2', created='2024-02-20T00:00:00Z', last_used='2024-02-29T00:00:00Z'))
    cands = tr.Registry(str(tools), now=NOW).scan()['candidates']
    assert cands == [{'file': 'dt_1.json', 'name': 'same', 'id': 'dt_1', 'reasons': ['superseded'],
                      'safety_score': 0.9, 'created_at': '2024-02-01T00:00:00.000Z',
                      'last_used': '2024-02-29T00:00:00.000Z', 'superseded_by': 'dt_2.json'}]


def test_delete_needs_confirmation_and_backs_up_first(pi):
    reg = tr.Registry(str(pi / 'tools'), now=NOW)
    cands = reg.scan()['candidates']
    out = reg.delete(cands, ['unused'], confirm=False)
    assert out['would_delete'] == ['dt_ddd.json']
    assert out['deleted'] == []
    assert reg.changed is False
    assert os.path.exists(str(pi / 'tools' / 'dt_ddd.json'))
    original = open(str(pi / 'tools' / 'dt_ddd.json'), 'rb').read()
    out = reg.delete(cands, ['unused'], confirm=True)
    assert reg.changed is True
    assert [d['file'] for d in out['deleted']] == ['dt_ddd.json']
    assert not os.path.exists(str(pi / 'tools' / 'dt_ddd.json'))
    backup = out['deleted'][0]['backup']
    assert backup == str(pi / 'tools' / 'backup' / '20240301' / 'dt_ddd.json')
    assert open(backup, 'rb').read() == original
    # low-safety tools are only deleted when asked for
    assert os.path.exists(str(pi / 'tools' / 'dt_ccc.json'))


def test_delete_check_mode(pi):
    reg = tr.Registry(str(pi / 'tools'), now=NOW, check_mode=True)
    out = reg.delete(reg.scan()['candidates'], ['unused', 'low_safety'], confirm=True)
    assert sorted(d['file'] for d in out['deleted']) == ['dt_ccc.json', 'dt_ddd.json']
    assert reg.changed is True
    assert os.path.exists(str(pi / 'tools' / 'dt_ddd.json'))
    assert not os.path.exists(str(pi / 'tools' / 'backup' / '20240301'))


def test_backup_is_dated_idempotent_and_keeps_90_days(pi):
    tools = pi / 'tools'
    write(tools / 'backup' / '20231101' / 'dt_aaa.json', definition('json_formatter', 'dt_aaa'))
    reg = tr.Registry(str(tools), now=NOW)
    out = reg.backup(retention_days=90)
    assert reg.changed is True
    assert out['backup_path'] == str(tools / 'backup' / '20240301')
    assert sorted(out['copied']) == ['dt_aaa.json', 'dt_ccc.json', 'dt_ddd.json']
    assert sorted(s['file'] for s in out['skipped_corrupted']) == ['dt_bbb.json', 'dt_eee.json']
    assert out['removed_backups'] == [str(tools / 'backup' / '20231101')]
    assert sorted(os.listdir(str(tools / 'backup' / '20240301'))) == ['dt_aaa.json', 'dt_ccc.json', 'dt_ddd.json']
    again = tr.Registry(str(tools), now=NOW)
    out = again.backup(retention_days=90)
    assert again.changed is False
    assert sorted(out['unchanged']) == ['dt_aaa.json', 'dt_ccc.json', 'dt_ddd.json']


def test_backup_retention_keeps_the_newest_even_when_old(tmp_path):
    tools = tmp_path / 'tools'
    os.makedirs(str(tools))
    write(tools / 'backup' / '20230101' / 'dt_a.json', definition('a', 'dt_a'))
    write(tools / 'backup' / '20230201' / 'dt_a.json', definition('a', 'dt_a'))
    reg = tr.Registry(str(tools), now=NOW)
    out = reg.backup(retention_days=90)
    assert out['copied'] == []
    assert out['removed_backups'] == [str(tools / 'backup' / '20230101')]
    assert os.path.isdir(str(tools / 'backup' / '20230201'))


def test_service_lock_is_taken_when_present_and_never_created(tmp_path):
    lock = tmp_path / '.tools.lock'
    with tr.service_lock(str(lock)) as held:
        assert held is False
    assert not lock.exists()
    lock.write_bytes(b'')
    with tr.service_lock(str(lock)) as held:
        assert held is True


def test_read_definition_errors(tmp_path):
    cases = {'a.json': b'{"name": 1}', 'b.json': b'\xff', 'c.json': b'{"name": "ok"}', 'd.json': b'{'}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    assert tr.read_definition(str(tmp_path / 'a.json'))[1] == 'no tool name'
    assert tr.read_definition(str(tmp_path / 'b.json'))[1] == 'not UTF-8 text (byte 0)'
    assert tr.read_definition(str(tmp_path / 'c.json')) == ({'name': 'ok'}, None)
    assert tr.read_definition(str(tmp_path / 'd.json'))[1].startswith('invalid JSON')
