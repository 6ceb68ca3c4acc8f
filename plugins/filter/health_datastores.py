# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Redis and PostgreSQL checks of the role opskit.ops.healthcheck (runbook 002).

Each filter judges the registered result of its own check task and returns
check rows (the row shape of the opskit check modules):

* ``health_redis``: community.general.redis_info -> ping, memory against
  maxmemory, last BGSAVE.
* ``health_postgresql``: community.postgresql.postgresql_ping (a loop over
  the databases) and, optionally, postgresql_info -> one login per database,
  the databases with their owners, their extensions.

Documented in ``health_redis.yml`` and ``health_postgresql.yml``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.six import string_types

from ansible_collections.opskit.ops.plugins.filter.health_summary import _row, _short, error_text
from ansible_collections.opskit.ops.plugins.module_utils._check_rows import fmt_number

MIB = 1024.0 * 1024.0


def _result(where, result):
    if result is None:
        return {}
    if not isinstance(result, Mapping):
        raise AnsibleFilterError('%s: expected a registered task result, got %s' % (where, type(result).__name__))
    return result


def health_redis(result, memory_max_percent=90, target='127.0.0.1:6379'):
    """Rows of a community.general.redis_info result."""
    result = _result('health_redis', result)
    if result.get('skipped'):
        return []
    try:
        limit = float(memory_max_percent)
    except (TypeError, ValueError):
        raise AnsibleFilterError('health_redis: memory_max_percent must be a number, got %r' % (memory_max_percent,))
    if not isinstance(result.get('info'), Mapping):
        return [_row('redis ping', target, None, 'answers', 'failed', 'Redis did not answer: %s' % error_text(result))]
    info = result['info']
    rows = [_row('redis ping', target, 'redis %s' % info.get('redis_version', '?'), 'answers', 'ok',
                 'Redis %s answers, role %s, up %s s, %s clients' % (
                     info.get('redis_version', '?'), info.get('role', '?'), info.get('uptime_in_seconds', '?'),
                     info.get('connected_clients', '?')))]
    used = info.get('used_memory') or 0
    maxmemory = info.get('maxmemory') or 0
    if maxmemory:
        percent = round(100.0 * used / maxmemory, 1)
        status = 'ok' if percent <= limit else 'warning'
        rows.append(_row('redis memory', target, percent, '<= %s %% of maxmemory' % fmt_number(limit), status,
                         'used_memory %s of maxmemory %s (%s %%, policy %s)' % (
                             info.get('used_memory_human', used), info.get('maxmemory_human', maxmemory),
                             fmt_number(percent), info.get('maxmemory_policy', '?'))))
    else:
        rows.append(_row('redis memory', target, round(used / MIB, 1), 'maxmemory set', 'warning',
                         'used_memory %s MiB and no maxmemory: Redis can take all memory of the host'
                         % fmt_number(round(used / MIB, 1))))
    bgsave = info.get('rdb_last_bgsave_status')
    rows.append(_row('redis rdb_last_bgsave_status', target, bgsave, '== ok', 'ok' if bgsave == 'ok' else 'failed',
                     'last BGSAVE %s (rdb_changes_since_last_save %s)' % (
                         bgsave, info.get('rdb_changes_since_last_save', '?'))))
    return rows


def _ping_rows(result, target):
    item = result.get(result.get('ansible_loop_var') or 'item')
    database = item.get('name') if isinstance(item, Mapping) else (item or '')
    check = 'postgresql ping %s' % database if database else 'postgresql ping'
    if result.get('skipped'):
        return []
    if 'is_available' not in result:
        return [_row(check, target, None, 'available', 'failed', 'postgresql_ping did not run: %s' % error_text(result))]
    version = (result.get('server_version') or {}).get('full')
    if result.get('is_available'):
        return [_row(check, target, 'PostgreSQL %s' % version, 'available', 'ok',
                     'connection to database %s works (SELECT 1), server %s' % (database, version))]
    return [_row(check, target, None, 'available', 'failed',
                 'cannot connect to database %s: %s' % (database, _short(result.get('conn_err_msg') or error_text(result))))]


def _info_rows(result, target, databases):
    if not result or result.get('skipped'):
        return []
    if not isinstance(result.get('databases'), Mapping):
        return [_row('postgresql info', target, None, 'readable', 'failed',
                     'postgresql_info did not run: %s' % error_text(result))]
    found = result['databases']
    rows = []
    for database in databases or []:
        if isinstance(database, string_types):
            database = {'name': database}
        db_name = database.get('name')
        info = found.get(db_name)
        owner = database.get('owner')
        threshold = 'exists' + (', owner %s' % owner if owner else '')
        if not isinstance(info, Mapping):
            rows.append(_row('postgresql database %s' % db_name, target, None, threshold, 'failed',
                             'database %s does not exist (or the login cannot see it)' % db_name))
            continue
        size = info.get('size')
        try:
            size_mib = round(int(size) / MIB, 1)
        except (TypeError, ValueError):
            size_mib = None
        ok = not owner or info.get('owner') == owner
        rows.append(_row('postgresql database %s' % db_name, target, size_mib, threshold, 'ok' if ok else 'failed',
                         'database %s, owner %s, %s MiB' % (db_name, info.get('owner'), fmt_number(size_mib))
                         + ('' if ok else ', expected owner %s' % owner)))
        extensions = info.get('extensions') or {}
        for extension in database.get('extensions') or []:
            ext = extensions.get(extension)
            if isinstance(ext, Mapping):
                version = (ext.get('extversion') or {}).get('raw')
                rows.append(_row('postgresql extension %s in %s' % (extension, db_name), target, version, 'installed',
                                 'ok', 'extension %s %s installed in %s' % (extension, version, db_name)))
            else:
                rows.append(_row('postgresql extension %s in %s' % (extension, db_name), target, None, 'installed',
                                 'failed', 'extension %s missing in %s: CREATE EXTENSION %s' % (extension, db_name, extension)))
    return rows


def health_postgresql(ping, info=None, databases=None, target='127.0.0.1:5432'):
    """Rows of a postgresql_ping loop over the databases and (optionally) a postgresql_info result."""
    ping = _result('health_postgresql', ping)
    info = _result('health_postgresql info', info)
    if databases is not None and (isinstance(databases, (Mapping,) + string_types) or
                                  not isinstance(databases, (list, tuple))):
        raise AnsibleFilterError('health_postgresql: databases must be a list (postgresql_databases), got %s'
                                 % type(databases).__name__)
    rows = []
    results = ping.get('results')
    if isinstance(results, (list, tuple)):
        for one in results:
            if isinstance(one, Mapping):
                rows.extend(_ping_rows(one, target))
    elif ping and not ping.get('skipped'):
        rows.extend(_ping_rows(ping, target))
    rows.extend(_info_rows(info, target, databases))
    return rows


class FilterModule(object):
    def filters(self):
        return {'health_redis': health_redis, 'health_postgresql': health_postgresql}
