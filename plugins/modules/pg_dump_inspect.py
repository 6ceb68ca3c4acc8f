#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: pg_dump_inspect
short_description: Read a PostgreSQL custom-format dump back - table of contents, extensions, rows per table
version_added: 0.1.0
description:
  - Runs C(pg_restore --list) on a dump made with C(pg_dump -Fc) (for example by
    C(community.postgresql.postgresql_db) C(state=dump) with a C(.pgc) target)
    and returns its header (database, versions), tables and extensions.
  - With O(count_rows) it streams C(pg_restore --data-only) through C(awk) and
    counts the rows of every table. The counts belong to pg_dump's snapshot, so they are the
    numbers a restore must reproduce, and reading every data block proves the
    archive is complete and restorable.
  - O(require_extensions) fails the task when the dump lacks an extension, for
    example V(vector) (pgvector) for runbook 002's memories.
author: opskit maintainers (@opskit)
requirements:
  - pg_restore (Debian package postgresql-client), bash and awk on the host that runs the module.
attributes:
  check_mode:
    description: Only reads the dump; runs as usual in check mode.
    support: full
  diff_mode:
    description: No diff.
    support: none
options:
  path:
    description: The custom-format dump.
    type: path
    required: true
  count_rows:
    description: Count the rows of every table by reading the data blocks.
    type: bool
    default: true
  require_extensions:
    description: Extensions the dump must create, for example V(vector).
    type: list
    elements: str
    default: []
seealso:
  - module: community.postgresql.postgresql_db
  - module: opskit.ops.backup_manifest
"""

EXAMPLES = r"""
- name: Count the rows of the dump and make sure pgvector is in it
  opskit.ops.pg_dump_inspect:
    path: "{{ __backup_set.path }}/postgres/discord_agent.pgc"
    require_extensions: [vector]
  register: __backup_pg_inspect
"""

RETURN = r"""
tables:
  description: Rows per table (C(schema.table)) in the dump.
  returned: count_rows
  type: dict
  sample: {"public.memories": 120, "public.sessions": 12}
extensions:
  description: Extensions the dump creates.
  returned: always
  type: list
  elements: str
  sample: [vector]
header:
  description: The archive header - C(dbname), C(format), C(dumped_from_database_version), C(dumped_by_pg_dump_version)...
  returned: always
  type: dict
  sample: {"dbname": "discord_agent", "format": "CUSTOM"}
entries:
  description: Entries of the table of contents.
  returned: always
  type: int
  sample: 42
pg_restore_version:
  description: Version line of the pg_restore that read the dump.
  returned: always
  type: str
  sample: pg_restore (PostgreSQL) 17.5
"""

import os
from shlex import quote as shlex_quote

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opskit.ops.plugins.module_utils._backup_pg import AWK_COUNT, parse_copy_summary, parse_toc


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            count_rows=dict(type="bool", default=True),
            require_extensions=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    path = module.params["path"]
    if not os.path.isfile(path):
        module.fail_json(msg="dump %s does not exist" % path)
    pg_restore = module.get_bin_path("pg_restore", required=True)
    _rc, version, _err = module.run_command([pg_restore, "--version"])
    rc, out, err = module.run_command([pg_restore, "--list", path])
    if rc != 0:
        module.fail_json(msg="pg_restore cannot read %s: %s" % (path, err.strip()))
    toc = parse_toc(out)
    missing = [e for e in module.params["require_extensions"] if e not in toc["extensions"]]
    if missing:
        module.fail_json(msg="dump %s lacks the extension(s) %s" % (path, ", ".join(missing)), **toc)
    result = dict(changed=False, header=toc["header"], extensions=toc["extensions"], entries=toc["entries"],
                  pg_restore_version=version.strip())
    if module.params["count_rows"]:
        # pg_restore writes every row; awk (AWK_COUNT) reduces them to one count per table.
        cmd = "set -o pipefail; %s --data-only --file=- %s | awk %s" % (
            shlex_quote(pg_restore), shlex_quote(path), shlex_quote(AWK_COUNT))
        rc, out, err = module.run_command(cmd, use_unsafe_shell=True, executable="/bin/bash")
        if rc != 0:
            module.fail_json(msg="pg_restore --data-only failed on %s: %s" % (path, err.strip()))
        try:
            counts = parse_copy_summary(out)
        except ValueError as exc:
            module.fail_json(msg="%s: %s" % (path, exc))
        # Tables without rows have a TABLE DATA entry and an empty COPY block: report them as 0.
        for table in toc["tables"]:
            counts.setdefault(table, 0)
        result["tables"] = counts
    module.exit_json(**result)


if __name__ == "__main__":
    main()
