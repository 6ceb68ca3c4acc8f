"""Run a scheduled playbook through ansible-runner, the engine AWX uses for its jobs.

There is no AWX server on these machines; ansible-runner with a private data
directory (project, inventory, env, artifacts) is what AWX's job execution
runs, so this is the honest stand-in: the job must succeed, leave its artifacts
and stream the events AWX would store.
"""
import json
import os
import shutil

import ansible_runner

from conftest import ROOT, VENV_BIN


def test_maintenance_monthly_runs_as_an_awx_job(local_hosts, opskit_env, tmp_path):
    private = tmp_path / "awx-job"
    (private / "env").mkdir(parents=True)
    envvars = {k: opskit_env[k] for k in ("OPSKIT_ADMIN_TOKEN", "OPSKIT_DB_PASSWORD", "OPSKIT_REDIS_PASSWORD")}
    envvars.update({
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, "collections"),
        "ANSIBLE_ROLES_PATH": os.path.join(ROOT, "roles"),
        "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
    })
    (private / "env" / "envvars").write_text(json.dumps(envvars))
    result = ansible_runner.run(
        private_data_dir=str(private),
        project_dir=ROOT,
        playbook="playbooks/maintenance.yml",
        inventory=os.path.join(ROOT, "inventories", "local", "hosts.yml"),
        tags="monthly",
        limit="el_bot",
        quiet=True,
    )
    try:
        assert result.status == "successful", (result.status, result.rc)
        assert result.rc == 0
        assert result.stats["failures"] == {}
        hosts_ok = result.stats["ok"]
        assert "opskit-el-bot" in hosts_ok
        tasks = {e["event_data"].get("task") for e in result.events if e["event"] == "runner_on_ok"}
        assert "Monthly - create the indexes runbook 003 asks for" in tasks or \
            "Monthly - list the indexes the SQLite stores have" in tasks
        artifacts = os.listdir(private / "artifacts")
        assert artifacts, "ansible-runner left no job artifacts"
    finally:
        shutil.rmtree(private, ignore_errors=True)
