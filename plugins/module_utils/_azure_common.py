# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared parts of opskit's Azure modules (runbook 001).

* The credential options every module takes, filled from the environment
  (``AZURE_CLIENT_ID``, ``AZURE_CLIENT_SECRET``, ``AZURE_TENANT_ID``) and
  always ``no_log``; the credential object is built here.
* ``classify``: an Azure SDK exception as one of ``auth``, ``not_found``,
  ``throttled``, ``error``, with a message that never contains a secret.
* ``record_items``: add many files to an opskit backup set in progress with
  one write of its record (the blob export adds one item per blob).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible.module_utils.basic import env_fallback

from ansible_collections.opskit.ops.plugins.module_utils._backup_common import (
    INPROGRESS_NAME,
    atomic_write_json,
    isoformat,
    read_json,
)

try:
    from azure.core.exceptions import (
        ClientAuthenticationError,
        ResourceNotFoundError,
        ServiceRequestError,
    )
    HAS_AZURE_CORE = True
    AZURE_CORE_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - reported by the modules
    HAS_AZURE_CORE = False
    AZURE_CORE_IMPORT_ERROR = _exc

    class _Missing(Exception):
        pass

    ClientAuthenticationError = ResourceNotFoundError = ServiceRequestError = _Missing

try:
    from azure.identity import ClientSecretCredential, DefaultAzureCredential
    HAS_AZURE_IDENTITY = True
    AZURE_IDENTITY_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - reported by the modules
    HAS_AZURE_IDENTITY = False
    AZURE_IDENTITY_IMPORT_ERROR = _exc
    ClientSecretCredential = DefaultAzureCredential = None


def credential_argument_spec():
    """Service principal options, from the environment by default, never logged."""
    return dict(
        client_id=dict(type='str', no_log=True, fallback=(env_fallback, ['AZURE_CLIENT_ID'])),
        secret=dict(type='str', no_log=True, fallback=(env_fallback, ['AZURE_CLIENT_SECRET'])),
        tenant=dict(type='str', no_log=True, fallback=(env_fallback, ['AZURE_TENANT_ID'])),
    )


def credential_from_params(params):
    """A ClientSecretCredential when client_id, secret and tenant are all given,
    else DefaultAzureCredential (managed identity, az login, workload identity)."""
    values = [params.get('client_id'), params.get('secret'), params.get('tenant')]
    if any(values) and not all(values):
        raise AzureCallError('auth', 'client_id, secret and tenant (AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, '
                             'AZURE_TENANT_ID) must be given together; only some are set')
    if not HAS_AZURE_IDENTITY:
        raise AzureCallError('missing', 'azure-identity is not installed')
    if all(values):
        return ClientSecretCredential(tenant_id=params['tenant'], client_id=params['client_id'],
                                      client_secret=params['secret'])
    return DefaultAzureCredential()


class AzureCallError(Exception):
    """An Azure call failed; ``kind`` is auth, not_found, throttled, missing or error."""

    def __init__(self, kind, message):
        super(AzureCallError, self).__init__(message)
        self.kind = kind


_SECRET_RE = re.compile(r'((?:AccountKey|SharedAccessKey|sig|client_secret|api-key)=)[^;&\s]+', re.I)


def scrub(text):
    """Text with key=value secrets of connection strings and SAS tokens masked."""
    return _SECRET_RE.sub(r'\1***', str(text))


def _first_line(exc):
    text = getattr(exc, 'message', None) or str(exc) or exc.__class__.__name__
    return scrub(' '.join(str(text).split()))[:300]


def classify(exc):
    """(kind, message) of an exception raised by an Azure SDK call."""
    if isinstance(exc, AzureCallError):
        return exc.kind, scrub(str(exc))
    status = getattr(exc, 'status_code', None)
    if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
        return 'auth', 'authentication or authorization failed (HTTP %s): %s' % (status or '-', _first_line(exc))
    if isinstance(exc, ResourceNotFoundError) or status == 404:
        return 'not_found', 'not found: %s' % _first_line(exc)
    if status in (429, 503) or 'ServerBusy' in str(exc) or 'Throttl' in str(exc):
        return 'throttled', ('throttled by Azure (HTTP %s) after the SDK retries; run again later: %s'
                             % (status or '-', _first_line(exc)))
    if isinstance(exc, ServiceRequestError):
        return 'error', 'endpoint unreachable: %s' % _first_line(exc)
    return 'error', '%s: %s' % (exc.__class__.__name__, _first_line(exc))


def record_items(set_path, items):
    """Add ``items`` (dicts with at least file, store, size, sha256) to the set in progress, one write.

    An item of the same file is replaced, as backup_manifest's add does.
    """
    path = os.path.join(set_path, INPROGRESS_NAME)
    if not os.path.exists(path):
        raise AzureCallError('error', '%s is not a backup set in progress (no %s); start it with '
                             'opskit.ops.backup_manifest action=start' % (set_path, INPROGRESS_NAME))
    record = read_json(path)
    files = set(i['file'] for i in items)
    now = isoformat()
    full = []
    for item in items:
        entry = {'kind': item['store'], 'service': None, 'source': None, 'created_at': now, 'counts': {}}
        entry.update(item)
        full.append(entry)
    record['items'] = [i for i in record.get('items', []) if i['file'] not in files] + full
    atomic_write_json(path, record)
    return full
