# -*- coding: utf-8 -*-
# Copyright (c) 2026, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The opskit service model: ``opskit_services`` of one host, normalized once.

This is the only place that knows the inventory contract's defaults and the
on-host layout of a service (where its environment file, data, store, state,
logs, trace logs, tool definitions and audit log live, and the URLs of its
health and metrics endpoints). The shared first play of every playbook
(``playbooks/preflight.yml``) stores the result as the host fact
``opskit_model``; roles and playbooks read its fields and never rebuild a path.

Controller-side only (a filter calls it), hence ``plugin_utils``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import posixpath
import re

from collections.abc import Mapping, Sequence

MODEL_VERSION = 1

RUNBOOKS = ('000', '001', '002', '003', '004')
ROLES = ('api', 'worker')
ENVIRONMENTS = ('test', 'production')
STORES = ('sqlite', 'postgres')
SUPERVISORS = ('systemd', 'pm2')

# Keys a service entry may carry, with their defaults (None: derived).
DEFAULTS = {
    'name': None,
    'runbook': '',
    'role': 'api',
    'user': None,
    'shares_store_of': '',
    'port': None,
    'environment': 'production',
    'store': 'sqlite',
    'workers': 1,
    'trace': False,
    'dynamic_tools': False,
    # Scaling on the host (runbooks 001, 002, 003): instances of the service,
    # each on its own port (port, port + 1, ...), optionally behind HAProxy.
    'instances': 1,
    'min_instances': 1,
    'max_instances': None,
    'balancer_port': 0,
}

MAX_INSTANCES = 32
HAPROXY_SOCKET = '/run/haproxy/admin.sock'

# Where things live on a host; a test inventory may move the roots.
DEFAULT_ROOTS = {
    'data_root': '/var/lib',
    'log_root': '/var/log',
    'config_root': '/etc',
    'install_root': '/opt',
}

SQLITE_FILE = 'el_sessions.db'
AUDIT_LOG_FILE = 'dynamic-tools-audit.jsonl'
NAME_RE = re.compile(r'^[a-z][a-z0-9-]{0,62}$')


class ServiceModelError(ValueError):
    """An inventory entry the model cannot accept; the message names it."""


def _is_list(value):
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _as_bool(where, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ('true', 'yes', 'on', '1', 'false', 'no', 'off', '0'):
        return value.lower() in ('true', 'yes', 'on', '1')
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ServiceModelError('%s: expected a boolean (true/false), got %r' % (where, value))


def _as_int(where, value, low, high):
    if isinstance(value, bool):
        raise ServiceModelError('%s: expected an integer %d-%d, got %r' % (where, low, high, value))
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ServiceModelError('%s: expected an integer %d-%d, got %r' % (where, low, high, value))
    if not low <= number <= high:
        raise ServiceModelError('%s: expected an integer %d-%d, got %r' % (where, low, high, value))
    return number


def _choice(where, value, choices):
    text = str(value)
    if text not in choices:
        raise ServiceModelError('%s: expected one of %s, got %r' % (where, ', '.join(choices), value))
    return text


def _roots(roots):
    merged = dict(DEFAULT_ROOTS)
    for key, value in (roots or {}).items():
        if key not in DEFAULT_ROOTS:
            raise ServiceModelError('opskit_model roots: unknown key %r (known: %s)'
                                    % (key, ', '.join(sorted(DEFAULT_ROOTS))))
        if not isinstance(value, str) or not value.startswith('/'):
            raise ServiceModelError('opskit_model roots.%s: expected an absolute path, got %r' % (key, value))
        merged[key] = value.rstrip('/') or '/'
    return merged


def _normalize_entry(index, entry):
    if not isinstance(entry, Mapping):
        raise ServiceModelError('opskit_services[%d]: expected a dict with at least name and port, got %r'
                                % (index, entry))
    unknown = sorted(set(entry) - set(DEFAULTS))
    label = 'opskit_services[%s]' % (entry.get('name') or index)
    if unknown:
        raise ServiceModelError('%s: unknown key(s) %s (known: %s)'
                                % (label, ', '.join(map(str, unknown)), ', '.join(sorted(DEFAULTS))))
    name = entry.get('name')
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ServiceModelError('opskit_services[%d].name: expected a lower-case name of letters, digits and '
                                'dashes starting with a letter (it names the unit, user and directories), got %r'
                                % (index, name))
    label = 'opskit_services[%s]' % name
    if entry.get('port') in (None, ''):
        raise ServiceModelError('%s.port: required, expected a TCP port 1-65535' % label)
    svc = {
        'name': name,
        'runbook': str(entry.get('runbook') or ''),
        'role': _choice(label + '.role', entry.get('role') or 'api', ROLES),
        'user': entry.get('user') or name,
        'shares_store_of': entry.get('shares_store_of') or '',
        'port': _as_int(label + '.port', entry.get('port'), 1, 65535),
        'environment': _choice(label + '.environment', entry.get('environment') or 'production', ENVIRONMENTS),
        'store': _choice(label + '.store', entry.get('store') or 'sqlite', STORES),
        'workers': _as_int(label + '.workers', entry.get('workers', 1), 1, 64),
        'trace': _as_bool(label + '.trace', entry.get('trace', False)),
        'dynamic_tools': _as_bool(label + '.dynamic_tools', entry.get('dynamic_tools', False)),
        'instances': _as_int(label + '.instances', entry.get('instances', 1), 1, MAX_INSTANCES),
        'min_instances': _as_int(label + '.min_instances', entry.get('min_instances', 1), 1, MAX_INSTANCES),
        'balancer_port': _as_int(label + '.balancer_port', entry.get('balancer_port') or 0, 0, 65535),
    }
    max_instances = entry.get('max_instances')
    svc['max_instances'] = (svc['instances'] if max_instances in (None, '')
                            else _as_int(label + '.max_instances', max_instances, 1, MAX_INSTANCES))
    if not svc['min_instances'] <= svc['instances'] <= svc['max_instances']:
        raise ServiceModelError('%s.instances: expected min_instances <= instances <= max_instances, got %d <= %d <= %d'
                                % (label, svc['min_instances'], svc['instances'], svc['max_instances']))
    if svc['max_instances'] + svc['port'] - 1 > 65535:
        raise ServiceModelError('%s.max_instances: ports %d-%d go beyond 65535'
                                % (label, svc['port'], svc['port'] + svc['max_instances'] - 1))
    if svc['runbook'] and svc['runbook'] not in RUNBOOKS:
        raise ServiceModelError('%s.runbook: expected one of %s, got %r' % (label, ', '.join(RUNBOOKS), svc['runbook']))
    if not isinstance(svc['user'], str) or not NAME_RE.match(svc['user']):
        raise ServiceModelError('%s.user: expected a system user name, got %r' % (label, svc['user']))
    return svc


def _paths(svc, store_owner, roots):
    join = posixpath.join
    home = join(roots['data_root'], store_owner)
    own_data = join(roots['data_root'], svc['name'])
    log_dir = join(roots['log_root'], svc['name'])
    config_dir = join(roots['config_root'], svc['name'])
    pi_dir = join(own_data, '.pi')
    paths = {
        # The service user's home: services that share a store share it.
        'home': home,
        'own_data_dir': own_data,
        'data_dir': join(home, 'data'),
        'config_dir': config_dir,
        'env_file': join(config_dir, svc['name'] + '.env'),
        'install_dir': join(roots['install_root'], svc['name']),
        'state_dir': join(own_data, 'state'),
        'log_dir': log_dir,
        'log_file': join(log_dir, 'agent.log'),
        'trace_dir': join(log_dir, 'wal') if svc['trace'] else None,
        'database': join(home, 'data', SQLITE_FILE) if svc['store'] == 'sqlite' else None,
        'pi_dir': pi_dir if svc['dynamic_tools'] else None,
        'tools_dir': join(pi_dir, 'tools') if svc['dynamic_tools'] else None,
        'tools_backup_dir': join(pi_dir, 'tools', 'backup') if svc['dynamic_tools'] else None,
        'audit_log': join(pi_dir, 'logs', AUDIT_LOG_FILE) if svc['dynamic_tools'] else None,
        'quarantine_dir': join(pi_dir, 'quarantine') if svc['dynamic_tools'] else None,
    }
    # Directories whose disk use the health check watches.
    paths['watched'] = [own_data, log_dir]
    return paths


def _instance(svc, index, address):
    """Instance ``index`` (1-based) of a service.

    Instance 1 is the service's own unit (``<name>.service``, port, release
    link ``current``, log file): a service that never scales looks exactly as
    before. Instances 2..n run from the template unit ``<name>@.service`` as
    ``<name>@<index>.service`` on ``port + index - 1``, each with its own
    release link (so a rolling update switches one instance at a time) and
    log file. All instances share the environment file, the store and the
    state directory (the fault switch and the fallback state are the
    service's, not one process's); each has an instance environment file
    (its port, log file, workers) read after the shared one.
    """
    join = posixpath.join
    paths = svc['paths']
    port = svc['port'] + index - 1
    base = 'http://%s:%d' % (address, port)
    first = index == 1
    return {
        'index': index,
        'name': svc['name'] if first else '%s@%d' % (svc['name'], index),
        'unit': svc['unit'] if first else '%s@%d.service' % (svc['name'], index),
        'port': port,
        'server': '%s-%d' % (svc['name'], index),
        'current_link': join(paths['install_dir'], 'current' if first else 'current@%d' % index),
        'env_file': join(paths['config_dir'], 'instance-%d.env' % index),
        'log_file': paths['log_file'] if first else join(paths['log_dir'], 'agent@%d.log' % index),
        'urls': {'base': base, 'health': base + '/health', 'metrics': base + '/metrics'},
    }


def _balancer(svc, address):
    base = 'http://%s:%d' % (address, svc['balancer_port'])
    return {
        'port': svc['balancer_port'],
        'frontend': svc['name'],
        'backend': svc['name'],
        'socket': HAPROXY_SOCKET,
        'urls': {'base': base, 'health': base + '/health'},
    }


def service_model(services, address='127.0.0.1', roots=None, host=None):
    """Normalize one host's ``opskit_services``.

    Returns ``{'version', 'host', 'address', 'roots', 'services': [...],
    'by_name': {name: service}, 'stores': [...], 'names': [...]}``; each
    service has every default applied, its resolved ``store_owner``, ``unit``,
    ``paths`` and ``urls``. Raises ServiceModelError naming the entry and
    what is expected.
    """
    if services is None:
        services = []
    if not _is_list(services):
        raise ServiceModelError('opskit_services: expected a list of services, got %s' % type(services).__name__)
    if not isinstance(address, str) or not address:
        raise ServiceModelError('opskit_model address: expected a host name or IP address, got %r' % (address,))
    roots = _roots(roots)
    normalized = [_normalize_entry(index, entry) for index, entry in enumerate(services)]

    by_name, ports = {}, {}
    for svc in normalized:
        if svc['name'] in by_name:
            raise ServiceModelError('opskit_services[%s]: the name is used twice on this host' % svc['name'])
        by_name[svc['name']] = svc
        # Every port an instance may take (up to max_instances) and the balancer's.
        wanted = [('port', svc['port'] + offset, '' if not offset else ' (instance %d)' % (offset + 1))
                  for offset in range(svc['max_instances'])]
        if svc['balancer_port']:
            wanted.append(('balancer_port', svc['balancer_port'], ' (balancer)'))
        for key, port, what in wanted:
            if port in ports:
                raise ServiceModelError('opskit_services[%s].%s: port %d%s is already used by %s (instances take '
                                        'port .. port + max_instances - 1)'
                                        % (svc['name'], key, port, what, ports[port]))
            ports[port] = svc['name'] + what

    for svc in normalized:
        owner = svc['shares_store_of']
        label = 'opskit_services[%s].shares_store_of' % svc['name']
        if owner:
            if owner == svc['name']:
                raise ServiceModelError('%s: a service cannot share its own store' % label)
            if owner not in by_name:
                raise ServiceModelError('%s: %r is not a service on this host (services: %s)'
                                        % (label, owner, ', '.join(sorted(by_name))))
            target = by_name[owner]
            if target['shares_store_of']:
                raise ServiceModelError('%s: %r itself shares the store of %r; point at the owner directly'
                                        % (label, owner, target['shares_store_of']))
            if target['user'] != svc['user']:
                raise ServiceModelError('%s: %r runs as user %r and this service as %r; services sharing a '
                                        'store must run as the same user' % (label, owner, target['user'], svc['user']))
            if target['store'] != svc['store']:
                raise ServiceModelError('%s: %r uses store %s and this service %s; a shared store must be the same'
                                        % (label, owner, target['store'], svc['store']))
        svc['store_owner'] = owner or svc['name']
        svc['unit'] = svc['name'] + '.service'
        svc['group'] = svc['user']
        svc['paths'] = _paths(svc, svc['store_owner'], roots)
        base = 'http://%s:%d' % (address, svc['port'])
        svc['urls'] = {'base': base, 'health': base + '/health', 'metrics': base + '/metrics'}
        svc['shared_by'] = []
        svc['paths']['scale_file'] = posixpath.join(svc['paths']['config_dir'], 'scale.json')
        svc['paths']['releases_dir'] = posixpath.join(svc['paths']['install_dir'], 'releases')
        svc['instance_slots'] = [_instance(svc, index, address) for index in range(1, svc['max_instances'] + 1)]
        svc['instance_list'] = svc['instance_slots'][:svc['instances']]
        svc['balancer'] = _balancer(svc, address) if svc['balancer_port'] else None
        # Deployed by the service_instances role (rolling update) rather than as one unit.
        svc['scaled'] = svc['max_instances'] > 1 or bool(svc['balancer'])

    for svc in normalized:
        if svc['shares_store_of']:
            by_name[svc['shares_store_of']]['shared_by'].append(svc['name'])

    stores = []
    for svc in normalized:
        if svc['store'] == 'sqlite' and not svc['shares_store_of']:
            stores.append({'owner': svc['name'], 'kind': 'sqlite', 'path': svc['paths']['database'],
                           'data_dir': svc['paths']['data_dir'], 'user': svc['user'],
                           'services': [svc['name']] + svc['shared_by']})
        elif svc['store'] == 'postgres' and not svc['shares_store_of']:
            stores.append({'owner': svc['name'], 'kind': 'postgres', 'path': None, 'data_dir': None,
                           'user': svc['user'], 'services': [svc['name']] + svc['shared_by']})

    return {
        'version': MODEL_VERSION,
        'host': host,
        'address': address,
        'roots': roots,
        'services': normalized,
        'names': [svc['name'] for svc in normalized],
        'by_name': by_name,
        'stores': stores,
    }
