"""Redis role: running in a container (PrivateUsers drop-in), AUTH enforced, limits applied."""

PASSWORD = "molecule-redis-password"


def cli(host, *args):
    return host.run("redis-cli --no-auth-warning -a %s " + " ".join(["%s"] * len(args)), PASSWORD, *args)


def test_service_enabled_and_running(host):
    unit = host.service("redis-server")
    assert unit.is_enabled
    assert unit.is_running


def test_private_users_disabled_in_container(host):
    out = host.run("systemctl show -p PrivateUsers redis-server").stdout.strip()
    assert out == "PrivateUsers=no"


def test_auth_required(host):
    denied = host.run("redis-cli ping")
    assert "NOAUTH" in denied.stdout + denied.stderr
    assert cli(host, "ping").stdout.strip() == "PONG"


def test_maxmemory_applied(host):
    assert cli(host, "config", "get", "maxmemory").stdout.split() == ["maxmemory", str(64 * 1024 * 1024)]


def test_listens_on_loopback(host):
    assert host.socket("tcp://127.0.0.1:6379").is_listening


def test_config_file_not_world_readable(host):
    conf = host.file("/etc/redis/opskit.conf")
    assert conf.mode == 0o640
    assert conf.user == "redis"
