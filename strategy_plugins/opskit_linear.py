# -*- coding: utf-8 -*-
# Copyright (c) 2026, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Strategy ``opskit_linear``: ansible-core's ``linear`` run through Mitogen when it is installed.

Mitogen (PyPI ``mitogen``, pinned in requirements.txt) keeps one Python
interpreter per host alive for the whole run instead of starting one per
task, which is where a no-op deploy spends most of its time (see
bench/deploy_noop_vs_defaults.py). Where Mitogen is not installed (an AWX execution
environment, a plain ``pip install ansible``), this is exactly ``linear``,
so ansible.cfg can name this strategy everywhere. ``OPSKIT_MITOGEN=0`` turns
Mitogen off for one run.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible.plugins.strategy.linear import StrategyModule as LinearStrategy
from ansible.utils.display import Display

display = Display()

_ENABLED = os.environ.get('OPSKIT_MITOGEN', '1').lower() not in ('0', 'false', 'no', 'off')
_MitogenMixin = None
if _ENABLED:
    try:
        import ansible_mitogen.loaders  # noqa: F401  (asserts a supported ansible-core)
        import ansible_mitogen.strategy
        _MitogenMixin = ansible_mitogen.strategy.StrategyMixin
    except Exception as exc:  # pylint: disable=broad-except
        display.vvv('opskit_linear: Mitogen not used (%s); running plain linear' % exc)

if _MitogenMixin is not None:
    class StrategyModule(_MitogenMixin, LinearStrategy):
        """linear, with Mitogen's connection multiplexing."""
else:
    class StrategyModule(LinearStrategy):
        """linear (Mitogen not installed or turned off)."""
