#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, opskit maintainers (@opskit)
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: redis_snapshot
short_description: BGSAVE a Redis server, wait until the snapshot is written, copy and check the RDB
version_added: 0.1.0
description:
  - Reads C(LASTSAVE) and the C(rdb_saves) counter, sends C(BGSAVE SCHEDULE),
    waits until C(LASTSAVE) moved and no save is in progress (runbook 002 stops
    after C(BGSAVE) and may copy the previous snapshot), then copies the RDB
    file (from C(CONFIG GET dir) and C(dbfilename), or O(rdb_path)) to a
    temporary file beside O(dest) and renames it.
  - The copy is checked with C(redis-check-rdb) when it is installed; the
    number of keys it reads from the file is returned as RV(key_count), so it
    matches the snapshot exactly, whatever was written since.
  - Talks to Redis with C(redis-cli); the password is passed in the
    environment (C(REDISCLI_AUTH)), never on the command line.
author: opskit maintainers (@opskit)
requirements:
  - redis-cli (Debian package redis-tools) on the host of the Redis server.
attributes:
  check_mode:
    description: Reads LASTSAVE and the RDB location and reports what would be copied; no BGSAVE, no file.
    support: full
  diff_mode:
    description: No diff.
    support: none
options:
  dest:
    description: File to write the RDB copy to.
    type: path
    required: true
  login_host:
    description: Address of the Redis server.
    type: str
    default: 127.0.0.1
  login_port:
    description: Port of the Redis server.
    type: int
    default: 6379
  login_password:
    description: Password (C(requirepass)); empty for none.
    type: str
    default: ""
  rdb_path:
    description: The server's RDB file, when C(CONFIG GET) is renamed or disabled.
    type: path
  timeout:
    description: Seconds to wait for the background save.
    type: int
    default: 600
  check:
    description: Run C(redis-check-rdb) on the copy (when installed) and fail if it does not pass.
    type: bool
    default: true
  force:
    description: Replace an existing O(dest). Without it an existing O(dest) leaves the task unchanged.
    type: bool
    default: false
seealso:
  - module: opskit.ops.backup_manifest
"""

EXAMPLES = r"""
- name: Snapshot Redis (BGSAVE, wait for LASTSAVE to move) into the backup set
  opskit.ops.redis_snapshot:
    dest: "{{ __backup_set.path }}/redis/dump.rdb"
    login_password: "{{ redis_password }}"
  no_log: true
  register: __backup_redis
"""

RETURN = r"""
path:
  description: The RDB copy.
  returned: success
  type: str
  sample: /var/backups/opskit/opskit-multi-agent/20250115T103000Z/redis/dump.rdb
source:
  description: The server's RDB file that was copied.
  returned: success
  type: str
  sample: /var/lib/redis/dump.rdb
size:
  description: Size of the copy in bytes.
  returned: success and not check mode
  type: int
  sample: 20480
sha256:
  description: SHA-256 of the copy.
  returned: success and not check mode
  type: str
  sample: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
key_count:
  description: Keys in the snapshot (read from the file by redis-check-rdb; from C(INFO keyspace) when it is absent).
  returned: success and not check mode
  type: int
  sample: 42
keyspace:
  description: Keys per database from C(INFO keyspace) right after the save.
  returned: success and not check mode
  type: dict
  sample: {"db0": 42}
keys_source:
  description: Where RV(key_count) comes from, V(redis-check-rdb) or V(info).
  returned: success and not check mode
  type: str
  sample: redis-check-rdb
lastsave_before:
  description: LASTSAVE before the BGSAVE.
  returned: success
  type: int
  sample: 1736937000
lastsave:
  description: LASTSAVE of the snapshot that was copied.
  returned: success and not check mode
  type: int
  sample: 1736937601
redis_version:
  description: Version of the Redis server.
  returned: success
  type: str
  sample: 8.0.2
wait_seconds:
  description: Seconds spent waiting for the background save.
  returned: success and not check mode
  type: float
  sample: 0.4
"""

import os
import shutil
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opskit.ops.plugins.module_utils._backup_common import fsync_dir, fsync_file, sha256_file
from ansible_collections.opskit.ops.plugins.module_utils._backup_redis import (
    bgsave_finished,
    parse_check_rdb,
    parse_info,
    parse_keyspace,
    save_state,
)


class Redis(object):
    def __init__(self, module):
        self.module = module
        p = module.params
        self.cli = module.get_bin_path("redis-cli", required=True)
        self.base = [self.cli, "-h", p["login_host"], "-p", str(p["login_port"]), "--no-auth-warning"]
        self.env = {"REDISCLI_AUTH": p["login_password"]} if p["login_password"] else {}

    def call(self, *args):
        rc, out, err = self.module.run_command(self.base + list(args), environ_update=self.env)
        text = (out or "").strip()
        if rc != 0 or text.startswith("ERR") or text.startswith("NOAUTH") or text.startswith("WRONGPASS"):
            self.module.fail_json(msg="redis-cli %s failed: %s" % (" ".join(args), (text or err or "").strip()))
        return text

    def info(self, section):
        return self.call("INFO", section)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type="path", required=True),
            login_host=dict(type="str", default="127.0.0.1"),
            login_port=dict(type="int", default=6379),
            login_password=dict(type="str", default="", no_log=True),
            rdb_path=dict(type="path"),
            timeout=dict(type="int", default=600),
            check=dict(type="bool", default=True),
            force=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    dest = p["dest"]
    if os.path.exists(dest) and not p["force"]:
        module.exit_json(changed=False, path=dest, msg="%s exists; a backup is never overwritten without force" % dest)
    redis = Redis(module)
    version = parse_info(redis.info("server")).get("redis_version")
    if p["rdb_path"]:
        source = p["rdb_path"]
    else:
        directory = redis.call("CONFIG", "GET", "dir").splitlines()
        filename = redis.call("CONFIG", "GET", "dbfilename").splitlines()
        if len(directory) < 2 or len(filename) < 2:
            module.fail_json(msg="CONFIG GET dir/dbfilename gave no answer; set rdb_path")
        source = os.path.join(directory[1], filename[1])
    before = save_state(parse_info(redis.info("persistence")))
    if module.check_mode:
        module.exit_json(changed=True, path=dest, source=source, lastsave_before=before[0], redis_version=version,
                         msg="would BGSAVE, wait for LASTSAVE to move past %d and copy %s to %s" % (before[0], source, dest))

    # LASTSAVE has a resolution of one second: make sure the new save cannot land in the same second.
    settle = time.monotonic() + 1.5
    while int(time.time()) <= before[0] and time.monotonic() < settle:
        time.sleep(0.1)
    redis.call("BGSAVE", "SCHEDULE")
    started = time.monotonic()
    deadline = started + p["timeout"]
    while True:
        now = save_state(parse_info(redis.info("persistence")))
        try:
            if bgsave_finished(before, now):
                break
        except ValueError as exc:
            module.fail_json(msg=str(exc))
        if time.monotonic() > deadline:
            module.fail_json(msg="the background save did not finish within %d seconds (LASTSAVE still %d)"
                             % (p["timeout"], now[0]))
        time.sleep(0.2)
    waited = time.monotonic() - started
    keyspace = parse_keyspace(redis.info("keyspace"))

    dest_dir = os.path.dirname(os.path.abspath(dest))
    tmp = os.path.join(dest_dir, ".%s.partial-%d" % (os.path.basename(dest), os.getpid()))
    try:
        # Redis replaces the RDB by rename; an open file keeps reading the snapshot it opened.
        shutil.copyfile(source, tmp)
        fsync_file(tmp)
        os.chmod(tmp, 0o600)
        keys, keys_source = sum(keyspace.values()), "info"
        checker = module.get_bin_path("redis-check-rdb") if p["check"] else None
        if checker:
            rc, out, err = module.run_command([checker, tmp])
            ok, read = parse_check_rdb(out + err)
            if rc != 0 or not ok:
                module.fail_json(msg="redis-check-rdb refused the copy of %s: %s" % (source, (out + err).strip()[-2000:]))
            if read is not None:
                keys, keys_source = read, "redis-check-rdb"
        digest = sha256_file(tmp)
        size = os.path.getsize(tmp)
        os.rename(tmp, dest)
        fsync_dir(dest_dir)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    module.exit_json(changed=True, path=dest, source=source, size=size, sha256=digest, key_count=keys,
                     keys_source=keys_source, keyspace=keyspace, lastsave_before=before[0], lastsave=now[0],
                     redis_version=version, wait_seconds=round(waited, 3))


if __name__ == "__main__":
    main()
