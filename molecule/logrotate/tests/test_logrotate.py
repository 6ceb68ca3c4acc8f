"""Role logrotate: policies per method, validated by logrotate -d, and forced rotations that do what they say."""
import time

import pytest

POLICY = "/etc/logrotate.d/opskit-%s"


def _marker(name):
    return "%s line %.6f" % (name, time.time())


def _force(host, name):
    cmd = host.run("logrotate -f -s /var/tmp/molecule-logrotate.state %s", POLICY % name)
    assert cmd.rc == 0, cmd.stderr
    return cmd


def _write(host, path, text):
    # truncate and write in place: keeps the file's inode, owner and mode
    host.check_output("printf '%%s\\n' %s > %s" % ("'" + text + "'", path))


@pytest.mark.parametrize("name", ["lr-create", "lr-copy", "lr-reload"])
def test_policy_installed_and_valid(host, name):
    policy = host.file(POLICY % name)
    assert policy.is_file
    assert policy.user == "root"
    assert policy.group == "root"
    assert policy.mode == 0o644
    assert "su %s %s" % (name, name) in policy.content_string
    assert "/var/log/%s/*.log {" % name in policy.content_string
    cmd = host.run("logrotate -d %s", POLICY % name)
    assert cmd.rc == 0, cmd.stderr
    assert "error" not in cmd.stderr.lower()


def test_policy_contents(host):
    create = host.file(POLICY % "lr-create").content_string
    for directive in ("daily", "maxsize 50M", "rotate 5", "compress", "delaycompress",
                      "create 0640 lr-create lr-create", "/var/log/lr-create/wal/*.log {", "nocreate"):
        assert directive in create, directive
    assert "maxage" not in create
    assert "copytruncate" not in create
    copy = host.file(POLICY % "lr-copy").content_string
    for directive in ("weekly", "maxsize 10M", "rotate 3", "copytruncate", "compress"):
        assert directive in copy, directive
    assert "create 0640" not in copy
    assert "/wal/" not in copy
    reload_ = host.file(POLICY % "lr-reload").content_string
    for directive in ("nocompress", "create 0640 lr-reload lr-reload", "sharedscripts", "postrotate",
                      "touch /var/log/lr-reload/reopened.flag", "endscript"):
        assert directive in reload_, directive


def test_service_without_user_gets_no_policy(host):
    assert not host.file(POLICY % "lr-missing").exists


def test_trace_log_age_limit(host):
    rule = host.file("/etc/tmpfiles.d/opskit-lr-create-wal.conf")
    assert rule.is_file
    assert rule.mode == 0o644
    assert "e /var/log/lr-create/wal - - - 14d" in rule.content_string
    for name in ("lr-copy", "lr-reload"):
        assert not host.file("/etc/tmpfiles.d/opskit-%s-wal.conf" % name).exists


def test_copytruncate_keeps_the_inode(host):
    log = "/var/log/lr-copy/agent.log"
    first, second = _marker("copy-1"), _marker("copy-2")
    _write(host, log, first)
    inode = host.file(log).inode
    _force(host, "lr-copy")
    assert host.file(log).inode == inode
    assert host.file(log).size == 0
    assert host.file(log + ".1").content_string == first + "\n"
    _write(host, log, second)
    _force(host, "lr-copy")
    assert host.file(log).inode == inode
    assert host.file(log).size == 0
    assert host.file(log + ".1").content_string == second + "\n"   # delaycompress
    assert host.check_output("zcat %s.2.gz", log) == first
    assert host.file(log).user == "lr-copy"


def test_create_moves_and_recreates(host):
    log = "/var/log/lr-create/agent.log"
    first, second = _marker("create-1"), _marker("create-2")
    _write(host, log, first)
    inode = host.file(log).inode
    _force(host, "lr-create")
    new = host.file(log)
    assert new.inode != inode
    assert new.size == 0
    assert (new.user, new.group, new.mode) == ("lr-create", "lr-create", 0o640)
    assert host.file(log + ".1").content_string == first + "\n"
    assert host.file(log + ".1").inode == inode
    _write(host, log, second)
    _force(host, "lr-create")
    assert host.file(log + ".1").content_string == second + "\n"
    assert not host.file(log + ".1.gz").exists
    assert host.check_output("zcat %s.2.gz", log) == first


def test_trace_logs_compressed_at_once_and_not_recreated(host):
    trace = "/var/log/lr-create/wal/2026-01-02.log"
    text = _marker("wal")
    host.check_output("install -o lr-create -g lr-create -m 0640 /dev/null %s", trace)
    _write(host, trace, text)
    _force(host, "lr-create")
    assert not host.file(trace).exists
    assert host.check_output("zcat %s.1.gz", trace) == text
    assert host.file(trace + ".1.gz").user == "lr-create"


def test_postrotate_runs_and_keeps_uncompressed(host):
    log = "/var/log/lr-reload/agent.log"
    flag = "/var/log/lr-reload/reopened.flag"
    first, second = _marker("reload-1"), _marker("reload-2")
    host.run("rm -f %s", flag)
    _write(host, log, first)
    _force(host, "lr-reload")
    assert host.file(flag).exists
    assert host.file(log).size == 0
    assert host.file(log + ".1").content_string == first + "\n"
    _write(host, log, second)
    _force(host, "lr-reload")
    assert host.file(log + ".2").content_string == first + "\n"
    assert not host.file(log + ".2.gz").exists
