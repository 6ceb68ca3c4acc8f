# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Service Bus queue counts judged against thresholds (runbook 001).

The runbook reads ``az servicebus queue show ... --query countDetails``; this
reads the same runtime properties with the data-plane administration client
(``ServiceBusAdministrationClient.get_queue_runtime_properties``) and turns
them into rows of the shape of ``_check_rows`` (check, target, value,
threshold, status, message).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.opskit.ops.plugins.module_utils._azure_common import AzureCallError, classify
from ansible_collections.opskit.ops.plugins.module_utils._check_rows import make_row

try:
    from azure.servicebus.management import ServiceBusAdministrationClient
    HAS_SERVICEBUS = True
    SERVICEBUS_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - reported by the module
    HAS_SERVICEBUS = False
    SERVICEBUS_IMPORT_ERROR = _exc
    ServiceBusAdministrationClient = None

COUNT_FIELDS = ('active_message_count', 'dead_letter_message_count', 'scheduled_message_count',
                'transfer_message_count', 'transfer_dead_letter_message_count', 'total_message_count',
                'size_in_bytes')


def admin_client(connection_string=None, namespace=None, credential=None):
    """The administration client, from a connection string or a namespace and a credential."""
    if connection_string:
        return ServiceBusAdministrationClient.from_connection_string(connection_string)
    if not namespace:
        raise AzureCallError('error', 'give connection_string, or namespace with a credential')
    if '.' not in namespace:
        namespace += '.servicebus.windows.net'
    return ServiceBusAdministrationClient(namespace, credential)


def read_counts(client, queue):
    """Runtime counts of one queue as a plain dict (raises the SDK's exceptions)."""
    props = client.get_queue_runtime_properties(queue)
    return dict((field, getattr(props, field, None)) for field in COUNT_FIELDS)


def _judge(check, target, value, op, limit, severity, what):
    ok = value <= limit if op == '<=' else value == limit
    status = 'ok' if ok else severity
    message = '%s %s %s (%s %s)' % (value, what, 'within' if ok else 'above', op, limit)
    return make_row(check, target, value, '%s %s' % (op, limit), status, message)


def queue_rows(namespace_label, queue, counts, active_max=100, dead_letter_max=0,
               active_severity='failed', dead_letter_severity='warning'):
    """Rows of one queue's counts: active against active_max, dead letters against dead_letter_max."""
    target = '%s/%s' % (namespace_label, queue)
    rows = [
        _judge('servicebus %s active messages' % queue, target, int(counts['active_message_count'] or 0),
               '<=', active_max, active_severity, 'active messages'),
    ]
    dead = int(counts['dead_letter_message_count'] or 0)
    row = _judge('servicebus %s dead-letter messages' % queue, target, dead, '<=', dead_letter_max,
                 dead_letter_severity, 'dead-lettered messages')
    if dead > dead_letter_max:
        row['message'] += ': inspect the dead-letter queue, fix the cause and resubmit the jobs'
    rows.append(row)
    return rows


def error_row(namespace_label, queue, exc):
    kind, message = classify(exc)
    hint = {
        'auth': ' (the connection string needs the Manage claim, a credential the role '
                'Azure Service Bus Data Owner or Reader on the namespace)',
        'not_found': ' (queue %s or the namespace does not exist)' % queue,
        'throttled': '',
        'error': '',
        'missing': '',
    }.get(kind, '')
    return make_row('servicebus %s' % queue, '%s/%s' % (namespace_label, queue), None, 'readable', 'failed',
                    message + hint), kind


def check_queues(client, namespace_label, queues, **thresholds):
    """(rows, counts by queue, errors by queue) for every queue; errors become failed rows."""
    rows, found, errors = [], {}, {}
    for queue in queues:
        try:
            counts = read_counts(client, queue)
        except Exception as exc:  # every SDK error is a failed row naming its kind
            row, kind = error_row(namespace_label, queue, exc)
            rows.append(row)
            errors[queue] = kind
            continue
        found[queue] = counts
        rows.extend(queue_rows(namespace_label, queue, counts, **thresholds))
    return rows, found, errors
