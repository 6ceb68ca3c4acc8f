"""Render the observability role's configuration once per session, from its
templates with its defaults and the groups and opskit_services of
inventories/local (tests/observability/render_configs.yml), into a directory
laid out like observability_compose_dir."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "observability"


@pytest.fixture(scope="session")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("observability")
    doc = out / "rendered.json"
    env = dict(os.environ, ANSIBLE_FILTER_PLUGINS=str(ROLE / "filter_plugins"),
               ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.minimal")
    run = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(ROOT / "inventories/local/hosts.yml"),
         str(ROOT / "tests/observability/render_configs.yml"), "-e", "out=%s" % doc, "-e", "compose_dir=%s" % out],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    for rel, content in json.loads(doc.read_text()).items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return out


def need(tool):
    if shutil.which(tool) is None:
        pytest.skip("%s is not installed (apt-get install prometheus prometheus-alertmanager)" % tool)
    return tool
