"""deploy.yml: every service of the five groups runs as its user, answers /health, keeps its data right."""
import json


SERVICES = {
    "mol-el-bot": [("el-bot", 8000)],
    "mol-multi-agent": [("multi-agent", 8000)],
    "mol-runtime": [("semibot-runtime", 8000)],
    "mol-dynamic-tools": [("dynamic-tools", 8000)],
    "mol-agent-framework": [("agent-framework-api", 8000), ("agent-framework-worker", 8001)],
}
# Runbook 001's API and worker share a store, so they share a user.
USERS = {"agent-framework-api": "agent-framework", "agent-framework-worker": "agent-framework"}


def _services(host):
    return SERVICES[host.backend.get_hostname()]


def _health(host, port):
    out = host.run("curl -sS -o /dev/stdout -w '\\n%%{http_code}' http://127.0.0.1:%s/health", str(port))
    body, _sep, code = out.stdout.rpartition("\n")
    return int(code or 0), body


def test_services_enabled_running_as_their_user(host):
    for name, _unused_port in _services(host):
        unit = host.service(name)
        assert unit.is_enabled, name
        assert unit.is_running, name
        pid = host.run("systemctl show -p MainPID --value %s", name).stdout.strip()
        assert host.run("ps -o user= -p %s", pid).stdout.strip() == USERS.get(name, name)


def test_ports_listening_and_health_200(host):
    for name, port in _services(host):
        assert host.socket("tcp://0.0.0.0:%d" % port).is_listening, name
        code, body = _health(host, port)
        assert code == 200, "%s: %s" % (name, body)
        assert json.loads(body)["status"] == "ok"


def test_env_files_private(host):
    for name, _unused_port in _services(host):
        env = host.file("/etc/%s/%s.env" % (name, name))
        assert env.mode == 0o600
        assert env.user == USERS.get(name, name)
