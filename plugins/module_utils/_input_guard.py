# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Checks of path options no file system accepts, shared by the file-handling modules."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


def bad_path_option(params, names):
    """The message for the first option of ``names`` holding a NUL byte (a path or a list of paths), or None.

    Python's os functions raise ValueError on such a path instead of an OSError;
    the modules turn it into a failure that names the option.
    """
    for name in names:
        value = params.get(name)
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, str) and '\x00' in item:
                return '%s: a path must not contain a NUL byte: %r' % (name, item)
    return None
