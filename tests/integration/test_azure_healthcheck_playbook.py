"""playbooks/azure_healthcheck.yml run for real from the controller.

What is real: the playbook, opskit.ops.http_check against a local HTTP server
standing in for the App Service's /health, the Service Bus SDK failing against
a closed local port (the namespace is unreachable, as an outage would be), the
summary and the reports. Service Bus counts and KQL results cannot be had here:
their judgement is unit-tested with fake clients.
"""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

CONN = "Endpoint=sb://127.0.0.1:1/;SharedAccessKeyName=manage;SharedAccessKey=bm90LWEtcmVhbC1rZXk="


@pytest.fixture
def api():
    class Handler(BaseHTTPRequestHandler):
        status = {"status": "ok"}

        def log_message(self, *args):
            pass

        def do_GET(self):
            body = json.dumps(Handler.status).encode()
            self.send_response(200 if self.path == "/health" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % server.server_address[1], Handler
    server.shutdown()
    server.server_close()


def run(run_playbook, tmp_path, settings, *args):
    result = run_playbook("playbooks/azure_healthcheck.yml", "--limit", "agent_framework",
                          "-e", json.dumps({"azure_data": settings, "azure_healthcheck_report_dir": str(tmp_path)}),
                          *args, inventory="inventories/local")
    try:
        with open(str(tmp_path / "summary.json")) as handle:
            document = json.load(handle)
    except OSError:
        document = None
    return result, document


def rows(document):
    return [(r["check"], r["status"]) for r in document["rows"]]


def test_healthy_api_and_unconfigured_parts(run_playbook, tmp_path, api):
    url, _handler = api
    result, document = run(run_playbook, tmp_path, {"api_health_url": url + "/health"})
    assert result.rc == 0, result
    assert rows(document) == [("azure api: GET /health", "ok"),
                              ("azure_servicebus_queue_info", "no_data"),
                              ("azure_appinsights_query", "no_data")]
    assert "not checked: set azure_data.servicebus_namespace" in json.dumps(document)


def test_unhealthy_api_and_unreachable_namespace_fail_the_run_in_check_mode_too(run_playbook, tmp_path, api):
    url, handler = api
    handler.status = {"status": "degraded"}
    result, document = run(run_playbook, tmp_path, {"api_health_url": url + "/health",
                                                    "servicebus_connection_string": CONN}, "--check")
    handler.status = {"status": "ok"}
    assert result.rc != 0, result
    assert rows(document)[:2] == [("azure api: GET /health", "failed"), ("servicebus agent-jobs", "failed")]
    assert "endpoint unreachable" in result.output
    assert "bm90LWEtcmVhbC1rZXk" not in result.output
    assert "changed=0" in result.output


def test_no_settings_at_all_is_refused(run_playbook, tmp_path):
    result, _document = run(run_playbook, tmp_path, {})
    assert result.rc != 0
    assert "Nothing to check: set azure_data.api_health_url" in result.output
