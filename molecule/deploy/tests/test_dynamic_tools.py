"""Runbook 004: tool definitions and audit log directories."""
from _hosts import hosts

testinfra_hosts = hosts("mol-dynamic-tools")


def test_dynamic_tools_layout(host):
    for path in ("/var/lib/dynamic-tools/.pi/tools", "/var/lib/dynamic-tools/.pi/logs"):
        directory = host.file(path)
        assert directory.is_directory, path
        assert directory.user == "dynamic-tools", path
