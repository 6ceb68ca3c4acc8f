"""Build-time version: ``AGENT_APP_VERSION`` (default 1.0.0), which must be a
PEP 440 version, e.g. ``1.0.1`` or ``1.0.1+broken`` (``1.0.1-broken`` is not
PEP 440 and is refused here with a clear message instead of a setuptools trace).

The package list is here too (``[tool.setuptools]`` is a "beta" warning on
setuptools 65); everything else is in pyproject.toml.
"""

import os
import re
import sys

from setuptools import setup

DEFAULT_VERSION = "1.0.0"
# PEP 440 public version with an optional local segment.
PEP440 = re.compile(
    r"^([1-9][0-9]*!)?(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*"
    r"((a|b|rc)(0|[1-9][0-9]*))?(\.post(0|[1-9][0-9]*))?(\.dev(0|[1-9][0-9]*))?"
    r"(\+[a-z0-9]+(\.[a-z0-9]+)*)?$",
    re.IGNORECASE,
)

version = os.environ.get("AGENT_APP_VERSION", "").strip() or DEFAULT_VERSION
if not PEP440.match(version):
    sys.exit(
        f"AGENT_APP_VERSION={version!r} is not a PEP 440 version "
        "(examples: 1.0.1, 1.0.1rc1, 1.0.1+broken)"
    )

HERE = os.path.dirname(os.path.abspath(__file__))
# Keep agent_app.egg-info out of the source folder (it would shadow the installed
# version when the folder is on sys.path).
os.makedirs(os.path.join(HERE, "build"), exist_ok=True)

setup(
    version=version,
    packages=["agent_app", "agent_app.stores"],
    options={"egg_info": {"egg_base": "build"}},
)
