"""Every role's meta/argument_specs.yml documents exactly the variables of its defaults/main.yml."""
import glob
import os

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ROLES = sorted(
    os.path.basename(os.path.dirname(os.path.dirname(p)))
    for p in glob.glob(os.path.join(ROOT, "roles", "*", "defaults", "main.yml"))
)


def _load(path):
    with open(path) as fh:
        return yaml.safe_load(fh) or {}


def test_every_role_is_covered():
    all_roles = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "roles", "*")) if os.path.isdir(p))
    assert ROLES, "no roles found"
    for role in all_roles:
        assert os.path.exists(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")), role
        assert os.path.exists(os.path.join(ROOT, "roles", role, "README.md")), role


@pytest.mark.parametrize("role", ROLES)
def test_argument_spec_matches_defaults(role):
    defaults = set(_load(os.path.join(ROOT, "roles", role, "defaults", "main.yml")))
    specs = _load(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml"))["argument_specs"]
    documented = set()
    for entry in specs.values():
        documented |= set((entry.get("options") or {}).keys())
    assert sorted(defaults - documented) == [], "defaults missing from argument_specs"
    assert sorted(documented - defaults) == [], "argument_specs options without a default"


@pytest.mark.parametrize("role", ROLES)
def test_readme_mentions_every_variable(role):
    defaults = set(_load(os.path.join(ROOT, "roles", role, "defaults", "main.yml")))
    with open(os.path.join(ROOT, "roles", role, "README.md")) as fh:
        readme = fh.read()
    assert sorted(v for v in defaults if v not in readme) == []
