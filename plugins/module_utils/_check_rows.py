# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The uniform result row shared by the opskit health-check modules.

Every check module (http_check, metrics_check, sqlite_check, capacity_check)
returns ``checks``: a list of rows with exactly the keys of ``ROW_KEYS``, so a
playbook can concatenate the lists of several modules and hosts and print one
table (host, check, value, threshold, status). The host is not part of a row:
the playbook knows it (``inventory_hostname``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math

ROW_KEYS = ('check', 'target', 'value', 'threshold', 'status', 'message')

STATUS_OK = 'ok'
STATUS_WARNING = 'warning'
STATUS_FAILED = 'failed'
STATUS_NO_DATA = 'no_data'
STATUSES = (STATUS_OK, STATUS_WARNING, STATUS_FAILED, STATUS_NO_DATA)

OPERATORS = {
    '<': lambda a, b: a < b,
    '<=': lambda a, b: a <= b,
    '>': lambda a, b: a > b,
    '>=': lambda a, b: a >= b,
    '==': lambda a, b: a == b,
    '!=': lambda a, b: a != b,
}


def make_row(check, target, value, threshold, status, message):
    """Return one result row; ``status`` must be one of ``STATUSES``."""
    if status not in STATUSES:
        raise ValueError('unknown status %r' % (status,))
    return {
        'check': check,
        'target': target,
        'value': clean_value(value),
        'threshold': threshold,
        'status': status,
        'message': message,
    }


def clean_value(value):
    """JSON-safe value: NaN and infinities become None (JSON has neither)."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def compare(value, op, threshold):
    """True when ``value op threshold`` holds; ``op`` is a key of OPERATORS."""
    try:
        func = OPERATORS[op]
    except KeyError:
        raise ValueError('unknown operator %r (use one of %s)' % (op, ', '.join(sorted(OPERATORS))))
    return bool(func(value, threshold))


def fmt_number(value, digits=4):
    """Short human form of a number for messages: 0.05263, 1234.5, 12."""
    if value is None:
        return 'n/a'
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 'NaN'
        if math.isinf(value):
            return '+Inf' if value > 0 else '-Inf'
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        if abs(value) >= 1:
            # 1234.5, 12345.68: two decimals at most, no exponent
            return ('%.2f' % value).rstrip('0').rstrip('.')
        return ('%.' + str(digits) + 'g') % value
    return str(value)


def summarize(rows):
    """Counts of rows by status, plus ``total`` and ``passed`` (status ok)."""
    summary = {'total': len(rows), 'passed': 0, 'failed': 0, 'warning': 0, 'no_data': 0}
    for row in rows:
        status = row['status']
        if status == STATUS_OK:
            summary['passed'] += 1
        else:
            summary[status] += 1
    return summary


def failure_message(rows, noun='checks'):
    """'2 of 5 checks failed: <check> (<target>): <message>; ...' or None."""
    failed = [row for row in rows if row['status'] == STATUS_FAILED]
    if not failed:
        return None
    parts = []
    for row in failed:
        if row.get('target') and row['target'] != row['check']:
            parts.append('%s (%s): %s' % (row['check'], row['target'], row['message']))
        else:
            parts.append('%s: %s' % (row['check'], row['message']))
    return '%d of %d %s failed: %s' % (len(failed), len(rows), noun, '; '.join(parts))
