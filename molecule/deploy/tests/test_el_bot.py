"""Runbook 000: the EL bot writes its trace logs (EL_TRACE) under /var/log/el-bot/wal."""
from _hosts import hosts

testinfra_hosts = hosts("mol-el-bot")


def test_el_bot_writes_trace_logs(host):
    out = host.run("curl -fsS -X POST -H 'Content-Type: application/json' "
                   "-d '{\"thread_id\": \"trace-check\", \"text\": \"What does the trace directory hold\"}' "
                   "http://127.0.0.1:8000/api/v1/turns")
    assert out.rc == 0, out.stderr
    assert host.file("/var/log/el-bot/wal").is_directory
    assert host.run("ls /var/log/el-bot/wal/*.log").rc == 0
