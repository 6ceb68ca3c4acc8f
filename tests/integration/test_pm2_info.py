"""opskit.ops.pm2_info against the real pm2 (npm package pm2, pinned) on the controller.

pm2 is installed from the npm registry into .cache/pm2 once; its daemon runs
with a PM2_HOME of its own under the test's temporary directory and supervises
a small HTTP server on 127.0.0.1; the daemon is killed at the end.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PM2_VERSION = "7.0.4"
PREFIX = ROOT / ".cache" / "pm2"
PM2 = PREFIX / "node_modules" / ".bin" / "pm2"


@pytest.fixture(scope="module")
def pm2(tmp_path_factory):
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("no Node.js/npm on this machine (Debian's nodejs and npm are needed)")
    installed = PREFIX / "node_modules" / "pm2" / "package.json"
    if not installed.exists() or json.loads(installed.read_text())["version"] != PM2_VERSION:
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(PREFIX), "pm2@" + PM2_VERSION],
                       check=True, capture_output=True, timeout=600)
    home = tmp_path_factory.mktemp("pm2home")
    env = dict(os.environ, PM2_HOME=str(home))
    subprocess.run([str(PM2), "start", sys.executable, "--name", "probe", "--", "-m", "http.server", "18765",
                    "--bind", "127.0.0.1"], check=True, capture_output=True, env=env, timeout=120)
    yield home
    subprocess.run([str(PM2), "kill"], capture_output=True, env=env, timeout=120, check=False)


def _module(monkeypatch, home, names):
    """Run the module in-process (the real pm2 runs as its subprocess)."""
    sys.path.insert(0, str(ROOT / "collections"))
    sys.path.insert(0, str(ROOT / "tests" / "unit" / "plugins" / "modules"))
    from _module_harness import run_module
    from ansible_collections.opskit.ops.plugins.modules import pm2_info
    result, failed = run_module(monkeypatch, pm2_info.main, {"names": names, "pm2": str(PM2), "pm2_home": str(home)})
    assert failed is False, result
    return result


def test_reads_the_real_pm2_daemon(monkeypatch, pm2):
    result = _module(monkeypatch, pm2, ["probe", "absent"])
    probe = [p for p in result["processes"] if p["name"] == "probe"][0]
    assert probe["status"] == "online"
    assert probe["pid"] > 0
    assert [r["status"] for r in result["checks"]] == ["ok", "failed"]
    assert result["summary"] == {"total": 2, "passed": 1, "failed": 1}
