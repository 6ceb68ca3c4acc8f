"""PostgreSQL role: server running, database owned by its role, pgvector usable."""


def psql(host, sql, db="appdb"):
    cmd = host.run("sudo -u postgres psql -XAtq -d %s -c %s", db, sql)
    assert cmd.rc == 0, cmd.stderr
    return cmd.stdout.strip()


def test_cluster_enabled_and_running(host):
    unit = host.service("postgresql@17-main")
    assert unit.is_enabled
    assert unit.is_running


def test_listens_on_localhost_only(host):
    assert host.socket("tcp://127.0.0.1:5432").is_listening
    assert not host.socket("tcp://0.0.0.0:5432").is_listening


def test_database_owned_by_app(host):
    owner = psql(host, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'appdb'")
    assert owner == "app"


def test_pgvector_extension_works(host):
    assert psql(host, "SELECT extversion FROM pg_extension WHERE extname = 'vector'").startswith("0.")
    assert psql(host, "SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector") == "1"


def test_setting_applied(host):
    assert psql(host, "SHOW max_connections") == "50"


def test_app_role_can_log_in_with_its_password(host):
    password = host.run("printenv OPSKIT_DB_PASSWORD").stdout.strip() or "molecule-db-password"
    cmd = host.run(
        "PGPASSWORD=%s psql -XAtq -h 127.0.0.1 -U app -d appdb -c 'SELECT current_user'", password
    )
    assert cmd.rc == 0, cmd.stderr
    assert cmd.stdout.strip() == "app"
