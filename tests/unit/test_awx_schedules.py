"""The AWX schedule data points at playbooks and tags that exist, with valid rrules."""
import os
import re

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _jobs():
    with open(os.path.join(ROOT, "awx", "schedules.yml")) as fh:
        return yaml.safe_load(fh)["awx_scheduled_jobs"]


def test_every_scheduled_playbook_exists():
    for job in _jobs():
        assert os.path.exists(os.path.join(ROOT, job["playbook"])), job["playbook"]


def test_every_tag_is_used_by_its_playbook():
    for job in _jobs():
        if "tags" not in job:
            continue
        with open(os.path.join(ROOT, job["playbook"])) as fh:
            text = fh.read()
        assert re.search(r"tags: \[[^\]]*\b%s\b" % re.escape(job["tags"]), text), job


def test_rrules_have_start_and_frequency():
    for job in _jobs():
        assert re.match(r"^DTSTART:\d{8}T\d{6}Z RRULE:FREQ=(HOURLY|DAILY|WEEKLY|MONTHLY)(;[A-Z]+=[A-Z0-9,]+)*$",
                        job["rrule"]), job
