# -*- coding: utf-8 -*-
# Copyright: opskit maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the observability role: turn the inventory contract
(``groups`` + each host's ``opskit_services``) into scrape and log targets."""

from __future__ import annotations

try:
    from ansible.errors import AnsibleFilterError
except ImportError:  # pragma: no cover - only without ansible installed
    AnsibleFilterError = ValueError


def _host_services(hostvars, host):
    host_vars = hostvars[host] if host in hostvars else {}
    services = host_vars.get("opskit_services") or []
    if not isinstance(services, (list, tuple)):
        raise AnsibleFilterError(
            "opskit_services of host %s must be a list, got %s" % (host, type(services).__name__)
        )
    return services


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
            for svc in _host_services(hostvars, host):
                if not isinstance(svc, dict) or not svc.get("name") or svc.get("port") in (None, ""):
                    raise AnsibleFilterError(
                        "every opskit_services entry of host %s needs a name and a port, got %r" % (host, svc)
                    )
                key = (host, svc["name"])
                if key in seen:
                    continue
                seen.add(key)
                try:
                    port = int(svc["port"])
                except (TypeError, ValueError):
                    raise AnsibleFilterError(
                        "port of service %s on host %s is not a number: %r" % (svc["name"], host, svc["port"])
                    )
                result.append({
                    "host": host,
                    "group": group,
                    "name": svc["name"],
                    "port": port,
                    "job": job_names.get(svc["name"], svc["name"]),
                    "runbook": str(svc.get("runbook", "")),
                    "role": svc.get("role", "api"),
                    "trace": bool(svc.get("trace", False)),
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


def observability_log_targets(services, log_root="/var/log"):
    """Promtail file targets: every service's log files, and its trace (WAL)
    logs when the service has ``trace: true``.

    Promtail reads the files of the host it runs on, so one path is one
    target, whichever hosts run a service of that name; sorted by path.
    """
    root = log_root.rstrip("/")
    targets = {}
    for svc in services:
        paths = [("app", "%s/%s/*.log" % (root, svc["name"]))]
        if svc.get("trace"):
            paths.append(("wal", "%s/%s/wal/*.log" % (root, svc["name"])))
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
