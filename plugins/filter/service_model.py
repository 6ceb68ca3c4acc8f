# -*- coding: utf-8 -*-
# Copyright (c) 2026, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter ``opskit.ops.service_model``: see plugins/plugin_utils/service_model.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.opskit.ops.plugins.plugin_utils.service_model import (
    ServiceModelError,
    service_model as _service_model,
)


def service_model(services, address='127.0.0.1', roots=None, host=None):
    try:
        return _service_model(services, address=address, roots=roots, host=host)
    except ServiceModelError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {'service_model': service_model}
