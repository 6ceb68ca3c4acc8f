"""python_service: hardened unit, private env file, versioned releases, rollback kept 1.0.0 serving."""
import json


def test_service_enabled_running_as_its_user(host):
    unit = host.service("demo-svc")
    assert unit.is_enabled
    assert unit.is_running
    pid = host.run("systemctl show -p MainPID --value demo-svc").stdout.strip()
    assert host.run("ps -o user= -p %s", pid).stdout.strip() == "demo-svc"


def test_user_has_no_login_shell(host):
    user = host.user("demo-svc")
    assert user.shell == "/usr/sbin/nologin"


def test_env_file_private(host):
    env = host.file("/etc/demo-svc/demo-svc.env")
    assert env.mode == 0o600
    assert env.user == "demo-svc"
    assert "ADMIN_TOKEN=" in env.content_string


def test_unit_is_hardened(host):
    props = host.run(
        "systemctl show -p NoNewPrivileges -p ProtectSystem -p PrivateTmp -p Restart demo-svc"
    ).stdout.split()
    assert "NoNewPrivileges=yes" in props
    assert "ProtectSystem=strict" in props
    assert "PrivateTmp=yes" in props
    assert "Restart=on-failure" in props


def test_port_listening_and_health_ok(host):
    assert host.socket("tcp://0.0.0.0:8080").is_listening
    out = host.run("curl -fsS http://127.0.0.1:8080/health")
    assert out.rc == 0, out.stderr
    assert json.loads(out.stdout)["status"] == "ok"


def test_broken_release_rolled_back_to_1_0_0(host):
    current = host.file("/opt/demo-svc/current")
    assert current.is_symlink
    assert current.linked_to == "/opt/demo-svc/releases/1.0.0"
    # The broken release stays on disk for inspection but is not active.
    assert host.file("/opt/demo-svc/releases/9.9.9").is_directory
    version = json.loads(host.run("curl -fsS http://127.0.0.1:8080/health").stdout)["version"]
    assert version == "1.0.0"
