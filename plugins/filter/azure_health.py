# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter of playbooks/azure_healthcheck.yml (documented in azure_health_rows.yml).

``azure_health_rows``: the registered result of one check task as rows of the
shape of ``_check_rows`` (check, target, value, threshold, status, message):
its ``checks``; a no_data row naming the setting to give when the task was
skipped for want of it; a failed row with the module's message when it could
not run (a missing SDK, bad input).

``azure_restore_rows``: the results of the blob import and of the loop of
AI Search imports of tasks/azure_data_restore.yml as one row per part.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.opskit.ops.plugins.module_utils._check_rows import ROW_KEYS, make_row

MESSAGE_MAX = 400


def azure_health_rows(result, name, setting=None):
    if result is None or (isinstance(result, Mapping) and not result):
        result = {'skipped': True}
    if not isinstance(result, Mapping):
        raise AnsibleFilterError('azure_health_rows: %s: expected a registered task result, got %r' % (name, result))
    checks = result.get('checks')
    if isinstance(checks, list) and checks:
        rows = []
        for check in checks:
            if not isinstance(check, Mapping) or 'check' not in check or 'status' not in check:
                raise AnsibleFilterError('azure_health_rows: %s returned %r, not a check row' % (name, check))
            rows.append(dict((key, check.get(key)) for key in ROW_KEYS))
        return rows
    if result.get('skipped'):
        return [make_row(name, None, None, 'configured', 'no_data',
                         'not checked: set %s' % setting if setting else 'not checked (skipped)')]
    message = ' '.join(str(result.get('msg') or result.get('module_stderr') or 'the task returned no result').split())
    if len(message) > MESSAGE_MAX:
        message = message[:MESSAGE_MAX - 3] + '...'
    return [make_row(name, None, None, 'module runs', 'failed', '%s could not run: %s' % (name, message))]


def _restore_row(part, result):
    target = result.get('container') if part == 'blobs' else result.get('index')
    written = result.get('uploaded')
    written = len(written) if isinstance(written, list) else int(written or 0)
    deleted = result.get('deleted')
    deleted = len(deleted) if isinstance(deleted, list) else int(deleted or 0)
    verified = bool(result.get('verified'))
    summary = '%s %s: %s of %s written, %s deleted, %s' % (
        part, target, written, result.get('count'), deleted,
        'read back as exported' if verified else (result.get('msg') or 'not verified'))
    return {'part': part, 'target': target, 'count': result.get('count'), 'written': written, 'deleted': deleted,
            'verified': verified, 'summary': summary}


def azure_restore_rows(blobs, search=None):
    """One row per restored part: the blob import result and each index of a search import loop."""
    rows = []
    if isinstance(blobs, Mapping) and not blobs.get('skipped') and 'count' in blobs:
        rows.append(_restore_row('blobs', blobs))
    results = search.get('results') if isinstance(search, Mapping) else None
    for result in results or []:
        if isinstance(result, Mapping) and not result.get('skipped'):
            rows.append(_restore_row('search', result))
    return rows


class FilterModule(object):
    def filters(self):
        return {'azure_health_rows': azure_health_rows, 'azure_restore_rows': azure_restore_rows}
