# -*- coding: utf-8 -*-
# Copyright: opskit maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the observability role: turn the inventory (``groups`` + each
host's service model) into scrape and log targets.

Each host's services come from its service model, the fact ``opskit_model``
that ``playbooks/preflight.yml`` sets on every host it runs on; for a host the
play did not reach (``--limit``) the model is computed from its
``opskit_services`` with the same function (``plugins/plugin_utils/service_model.py``),
so defaults and paths are never re-applied here."""

from __future__ import annotations

try:
    from ansible.errors import AnsibleFilterError
except ImportError:  # pragma: no cover - only without ansible installed
    AnsibleFilterError = ValueError

from ansible_collections.opskit.ops.plugins.plugin_utils.service_model import (
    ServiceModelError,
    service_model,
)


def _host_model(hostvars, host):
    host_vars = hostvars[host] if host in hostvars else {}
    model = host_vars.get("opskit_model")
    if isinstance(model, dict) and "services" in model:
        return model
    try:
        return service_model(host_vars.get("opskit_services") or [], host=host)
    except ServiceModelError as exc:
        raise AnsibleFilterError("host %s: %s" % (host, exc))


def observability_services(groups, hostvars, service_groups, job_names=None):
    """One entry per (host, service) of the service groups, in inventory order.

    A host that is in several service groups (or a service listed twice) is
    counted once, under the first group that names it.
    """
    job_names = dict(job_names or {})
    seen = set()
    result = []
    for group in service_groups:
        for host in groups.get(group, []) or []:
            for svc in _host_model(hostvars, host)["services"]:
                key = (host, svc["name"])
                if key in seen:
                    continue
                seen.add(key)
                result.append({
                    "host": host,
                    "group": group,
                    "name": svc["name"],
                    "port": svc["port"],
                    "job": job_names.get(svc["name"], svc["name"]),
                    "runbook": svc["runbook"],
                    "role": svc["role"],
                    "trace": svc["trace"],
                    "log_dir": svc["paths"]["log_dir"],
                    "trace_dir": svc["paths"]["trace_dir"],
                })
    return result


def observability_scrape_jobs(services):
    """Group services into Prometheus scrape jobs, one per job name, sorted.

    Returns ``[{"job": name, "targets": [{"address": "host:port", "labels": {...}}]}]``.
    """
    jobs = {}
    for svc in services:
        address = "%s:%d" % (svc["host"], svc["port"])
        targets = jobs.setdefault(svc["job"], [])
        if any(t["address"] == address for t in targets):
            continue
        labels = {"service": svc["name"], "host": svc["host"]}
        if svc.get("runbook"):
            labels["runbook"] = svc["runbook"]
        targets.append({"address": address, "labels": labels})
    return [{"job": job, "targets": sorted(jobs[job], key=lambda t: t["address"])} for job in sorted(jobs)]


def observability_log_targets(services):
    """Promtail file targets: the log files in every service's log directory,
    and its trace (WAL) logs when the model gives it a trace directory.

    Promtail reads the files of the host it runs on, so one path is one
    target, whichever hosts run a service of that name; sorted by path.
    """
    targets = {}
    for svc in services:
        paths = [("app", "%s/*.log" % svc["log_dir"].rstrip("/"))]
        if svc.get("trace_dir"):
            paths.append(("wal", "%s/*.log" % svc["trace_dir"].rstrip("/")))
        for log_type, path in paths:
            targets.setdefault(path, {"job": svc["job"], "service": svc["name"], "log_type": log_type, "path": path})
    return [targets[p] for p in sorted(targets)]


class FilterModule(object):
    def filters(self):
        return {
            "observability_services": observability_services,
            "observability_scrape_jobs": observability_scrape_jobs,
            "observability_log_targets": observability_log_targets,
        }
