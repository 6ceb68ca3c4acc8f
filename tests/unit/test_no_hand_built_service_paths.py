"""No playbook, role, template or task file builds a service path itself.

Where a service keeps its environment file, data, SQLite store, state, logs,
trace logs, tool definitions and audit log is known in one place, the service
model (plugins/plugin_utils/service_model.py, the host fact opskit_model that
playbooks/preflight.yml sets). Everything under playbooks/ and roles/ reads
its fields (``item.paths.database``, ``svc.paths.log_dir``, ...).

This test fails on any line there that spells a service location:

* ``/var/lib/``, ``/var/log/`` or ``/opt/`` followed by anything but the
  directory of a system component that is not an opskit service (ALLOWED_DIRS);
* ``/etc/`` followed by a Jinja expression or joined with ``~`` (``/etc/{{ name }}``,
  ``'/etc/' ~ name``), and ``/etc/<name>``-style placeholders;
* the file names only the model knows: the SQLite store ``el_sessions.db``,
  the runbook 004 layout ``.pi/tools``, ``.pi/logs`` and
  ``dynamic-tools-audit.jsonl``.

Comment lines (``#`` in YAML, Jinja ``{# #}``) and the role documentation
(README.md, meta/argument_specs.yml descriptions) describe the default layout
and are not scanned. The remaining exceptions are listed in ALLOWED_LINES with
their reason; keep that list short.
"""
import os
import re

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCANNED = ("playbooks", "roles")
SUFFIXES = (".yml", ".yaml", ".j2", ".py")

# Directories of system components that opskit configures but that are not
# opskit services, so they are not in the service model: Debian's data
# directories of Redis, Prometheus (Alertmanager) and HAProxy's chroot, the data
# directories inside the Grafana and Promtail images, and the directories of
# opskit's own tools, all named opskit-* (the observability stack's compose
# directory, ...).
ALLOWED_DIRS = ("/var/lib/redis", "/var/lib/prometheus", "/var/lib/grafana", "/var/lib/promtail",
                "/var/lib/haproxy",
                # opskit's own tools (not services of opskit_services): /opt/opskit-observability, ...
                "/opt/opskit-", "/var/lib/opskit-", "/var/log/opskit-")

# (file, exact stripped line, why it is allowed).
ALLOWED_LINES = [
    ("roles/python_service/defaults/main.yml",
     'python_service_base_dir: "/opt/{{ python_service_name }}"',
     "generic role's own default for a service outside opskit_services; agent_app passes the model's install_dir"),
    ("roles/python_service/defaults/main.yml",
     'python_service_config_dir: "/etc/{{ python_service_name }}"',
     "generic role's own default; agent_app passes the model's config_dir"),
    ("roles/python_service/defaults/main.yml",
     'python_service_data_dir: "/var/lib/{{ python_service_name }}"',
     "generic role's own default; agent_app passes the model's own_data_dir"),
    ("roles/python_service/defaults/main.yml",
     'python_service_log_dir: "/var/log/{{ python_service_name }}"',
     "generic role's own default; agent_app passes the model's log_dir"),
    ("roles/remediation/tasks/target.yml",
     'home: "/var/lib/{{ remediation_remote_user }}"',
     "home of the remediation system account on a target host, not a service of opskit_services"),
]

PATTERNS = [
    ("a /var/lib, /var/log or /opt path", re.compile(r"/(?:var/lib|var/log|opt)/[^\s\"',)}\]]*")),
    ("an /etc/<service> path built from a name", re.compile(r"/etc/(?:\{\{|<|'\s*~|\"\s*~)|'/etc/'\s*~|\"/etc/\"\s*~")),
    ("a file name only the service model knows",
     re.compile(r"el_sessions\.db|\.pi/tools|\.pi/logs|dynamic-tools-audit\.jsonl")),
]


def _is_comment(line):
    stripped = line.strip()
    return stripped.startswith("#") or stripped.startswith("{#")


def _documentation(relpath):
    return relpath.endswith("/meta/argument_specs.yml") or relpath.endswith("README.md")


def violations_in(relpath, text):
    """[(relpath, line number, what, line)] of the lines that build a service path."""
    if _documentation(relpath):
        return []
    allowed = set((f, l) for f, l, _why in ALLOWED_LINES)
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if _is_comment(line) or (relpath, line.strip()) in allowed:
            continue
        for what, pattern in PATTERNS:
            hits = [m.group(0) for m in pattern.finditer(line)]
            if what.startswith("a /var/lib"):
                hits = [h for h in hits if not h.startswith(ALLOWED_DIRS)]
            if hits:
                found.append((relpath, number, what, line.strip()))
                break
    return found


def _files():
    for top in SCANNED:
        for base, _dirs, names in os.walk(os.path.join(ROOT, top)):
            for name in sorted(names):
                if name.endswith(SUFFIXES):
                    path = os.path.join(base, name)
                    yield os.path.relpath(path, ROOT), path


def test_no_playbook_or_role_builds_a_service_path():
    found = []
    for relpath, path in _files():
        with open(path, encoding="utf-8") as handle:
            found.extend(violations_in(relpath, handle.read()))
    assert found == [], "read these paths from opskit_model instead:\n" + "\n".join(
        "%s:%d: %s: %s" % item for item in found)


def test_every_allowed_line_still_exists():
    """An exception whose line is gone is removed from the list, so the list stays short."""
    for relpath, line, _why in ALLOWED_LINES:
        with open(os.path.join(ROOT, relpath), encoding="utf-8") as handle:
            assert line in [l.strip() for l in handle.read().splitlines()], (relpath, line)


@pytest.mark.parametrize("line", [
    '    src: "/var/lib/{{ item.name }}/data/el_sessions.db"',
    "    paths: \"{{ names | map('regex_replace', '^(.*)$', '/var/log/\\\\1') | list }}\"",
    "    --directory {{ ('/etc/' ~ backup_service.name) | quote }}",
    '    path: "/etc/{{ restore_service.name }}"',
    '    dest: "{{ set }}/{{ svc.name }}/el_sessions.db"',
    '    tools_dir: "{{ root }}/{{ item.name }}/.pi/tools"',
    '    python_service_base_dir: "/opt/{{ name }}"',
])
def test_the_scanner_finds_hand_built_paths(line):
    assert len(violations_in("playbooks/example.yml", "---\n" + line + "\n")) == 1


@pytest.mark.parametrize("line", [
    '    src: "{{ item.paths.database }}"',
    "    dir /var/lib/redis",
    '    dest: /etc/systemd/system/redis-server.service.d/opskit.conf',
    '    dest: "/etc/logrotate.d/{{ _logrotate_prefix }}{{ svc.name }}"',
    "# the SQLite store /var/lib/<name>/data/el_sessions.db",
])
def test_the_scanner_lets_model_reads_system_paths_and_comments_pass(line):
    assert violations_in("roles/x/tasks/main.yml", line + "\n") == []
