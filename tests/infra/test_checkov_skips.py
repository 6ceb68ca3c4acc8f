"""infra/bicep: every checkov skip is justified, the same in Bicep and ARM, and documented.

checkov reads skips from `// checkov:skip=ID: reason` comments inside a Bicep
resource and from `metadata.checkov` of an ARM resource; a skip present on
one side only would let the other file fail (or pass) for a different reason.
"""

import json

import pytest
from pycep import BicepParser

ROOT_DOC = "docs/azure-infra.md"
MARKER = "// checkov:skip="


def _bicep_skips(path):
    """{(resource type, check id): reason} from the comment lines inside each resource block."""
    parsed = BicepParser(add_line_numbers=True).parse(file_path=path)
    lines = path.read_text().splitlines()
    skips = {}
    for res in parsed.get("resources", {}).values():
        start, end = res["__start_line__"], res["__end_line__"]
        for line in lines[start - 1:end]:
            text = line.strip()
            if text.startswith(MARKER):
                check, dummy, reason = text[len(MARKER):].partition(":")
                skips[(res["type"], check.strip())] = reason.strip()
    return skips


def _arm_skips(template):
    skips = {}
    for res in template["resources"]:
        for item in res.get("metadata", {}).get("checkov", []):
            assert item.startswith("checkov:skip="), item
            check, dummy, reason = item[len("checkov:skip="):].partition(":")
            skips[(res["type"], check.strip())] = reason.strip()
    return skips


@pytest.mark.parametrize("module", ["alerts", "api", "data", "monitoring", "worker"])
def test_skips_agree_between_bicep_and_arm(bicep_dir, main_arm, module):
    bicep = _bicep_skips(bicep_dir / "modules" / f"{module}.bicep")
    arm = _arm_skips(json.loads((bicep_dir / "modules" / f"{module}.json").read_text()))
    nested = _arm_skips(next(r for r in main_arm["resources"] if r["name"] == module)["properties"]["template"])
    assert bicep == arm == nested


def test_every_skip_has_a_reason_and_is_documented(bicep_dir):
    doc = (bicep_dir.parents[1] / ROOT_DOC).read_text()
    skips = {}
    for path in sorted(bicep_dir.rglob("*.bicep")):
        skips.update(_bicep_skips(path))
    assert skips, "expected the documented skips (public App Service, no VNet, ...)"
    for (rtype, check), reason in skips.items():
        assert len(reason) >= 20, f"{rtype} {check}: the skip needs a real reason"
        assert f"`{check}`" in doc, f"{check} is skipped but not explained in {ROOT_DOC}"


def test_skip_reader_sees_a_skip(tmp_path):
    # the reader above must not silently find nothing
    path = tmp_path / "x.bicep"
    path.write_text("resource s 'Microsoft.Web/sites@2022-09-01' = {\n"
                    "  // checkov:skip=CKV_AZURE_17: clients use bearer tokens\n"
                    "  name: 'x'\n}\n")
    assert _bicep_skips(path) == {("Microsoft.Web/sites", "CKV_AZURE_17"): "clients use bearer tokens"}
