# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The row shape shared by the four check modules."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.opskit.ops.plugins.module_utils import _check_rows as cr


def test_make_row_has_exactly_the_row_keys():
    row = cr.make_row('c', 't', 1.5, '<= 2', 'ok', 'fine')
    assert tuple(sorted(row)) == tuple(sorted(cr.ROW_KEYS))
    assert row == {'check': 'c', 'target': 't', 'value': 1.5, 'threshold': '<= 2', 'status': 'ok', 'message': 'fine'}


def test_make_row_rejects_unknown_status_and_cleans_nan():
    with pytest.raises(ValueError):
        cr.make_row('c', 't', 1, '', 'bad', '')
    assert cr.make_row('c', 't', float('nan'), '', 'no_data', '')['value'] is None
    assert cr.make_row('c', 't', float('inf'), '', 'failed', '')['value'] is None


@pytest.mark.parametrize('value, op, threshold, expected', [
    (1, '<', 2, True), (2, '<', 2, False), (2, '<=', 2, True), (3, '>', 2, True),
    (2, '>=', 2, True), (0, '==', 0, True), (1, '!=', 0, True), (1, '==', 0, False),
])
def test_compare(value, op, threshold, expected):
    assert cr.compare(value, op, threshold) is expected


def test_compare_unknown_operator():
    with pytest.raises(ValueError):
        cr.compare(1, '=~', 1)


@pytest.mark.parametrize('value, text', [
    (None, 'n/a'), (3, '3'), (3.0, '3'), (0.052631578, '0.05263'), (1234.5, '1234.5'), (12345.678, '12345.68'), (2.5, '2.5'), (float('nan'), 'NaN'),
    (float('inf'), '+Inf'), (True, 'True'), ('wal', 'wal'),
])
def test_fmt_number(value, text):
    assert cr.fmt_number(value) == text


def test_summarize_and_failure_message():
    rows = [
        cr.make_row('a', 'http://a', None, '', 'ok', ''),
        cr.make_row('b', 'http://b', None, '', 'failed', 'status 500'),
        cr.make_row('c', 'c', None, '', 'failed', 'timed out'),
        cr.make_row('d', '', None, '', 'warning', 'slow'),
        cr.make_row('e', '', None, '', 'no_data', ''),
    ]
    assert cr.summarize(rows) == {'total': 5, 'passed': 1, 'failed': 2, 'warning': 1, 'no_data': 1}
    assert cr.failure_message(rows, 'endpoints') == (
        '2 of 5 endpoints failed: b (http://b): status 500; c: timed out')
    assert cr.failure_message(rows[:1]) is None
