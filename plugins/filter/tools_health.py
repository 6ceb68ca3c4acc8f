# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runbook 004 daily/weekly checks from the results of audit_log and tool_registry."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: tools_health
short_description: Runbook 004 checks (tool count, log size, disk, errors, anomalies, success rate) of one service
version_added: 0.1.0
author: opskit maintainers (@opskit)
description:
  - Takes the result of M(opskit.ops.audit_log) and evaluates runbook 004's monitoring thresholds - tool count
    (warning above 80, critical at 100), audit log size (10 / 50 MB), success rate (95 / 90 %), execution time of
    the slowest tool (10 / 30 s) - plus disk use (80 / 90 %), corrupted log lines and definitions, critical entries
    and anomalies.
  - Returns check rows in the shape the other opskit checks use (check, target, value, threshold, status,
    message), the overall status, short summary lines for the play output and the failed (critical) rows.
positional: registry, thresholds, service
options:
  _input:
    description: The registered result of M(opskit.ops.audit_log).
    type: dict
    required: true
  registry:
    description: The registered result of M(opskit.ops.tool_registry) (action scan); gives the tool count and the
      deletion candidates.
    type: dict
  thresholds:
    description:
      - Overrides of the thresholds - C(tool_count_warn), C(tool_count_max), C(log_size_warn_mb), C(log_size_crit_mb),
        C(success_rate_warn), C(success_rate_crit), C(exec_warn_s), C(exec_crit_s), C(disk_warn_pct), C(disk_crit_pct).
    type: dict
  service:
    description: Service name, used as the target of the rows.
    type: str
"""

EXAMPLES = r"""
- name: Evaluate the runbook 004 thresholds
  ansible.builtin.set_fact:
    __tools_health: "{{ __audit | opskit.ops.tools_health(__registry, {'log_size_warn_mb': 20}, 'dynamic-tools') }}"

- name: Print the summary
  ansible.builtin.debug:
    msg: "{{ __tools_health.lines }}"
"""

RETURN = r"""
_value:
  description: C(rows), C(status) (ok, warning or failed), C(summary) (counts by status), C(lines), C(critical)
    and C(warnings) (rows), C(failure_message) (null when nothing failed).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.opskit.ops.plugins.module_utils import _tools_report


def tools_health(audit, registry=None, thresholds=None, service=''):
    if not isinstance(audit, dict):
        raise AnsibleFilterError('tools_health: input must be the result of opskit.ops.audit_log, got %s'
                                 % type(audit).__name__)
    if registry is not None and not isinstance(registry, dict):
        raise AnsibleFilterError('tools_health: registry must be the result of opskit.ops.tool_registry')
    try:
        return _tools_report.health(audit, registry or None, thresholds or None, service or '')
    except (ValueError, KeyError, TypeError) as exc:
        raise AnsibleFilterError('tools_health: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'tools_health': tools_health}
