"""Retention as data: keep-counts, max age, incomplete sets, the newest set."""
import datetime

import pytest

from ansible_collections.opskit.ops.plugins.module_utils._backup_retention import (
    RetentionError,
    plan,
    policy_for,
)

NOW = datetime.datetime(2025, 6, 30, 12, 0, tzinfo=datetime.timezone.utc)


def daily_sets(days, stores=("sqlite",), hour=3):
    out = []
    for d in range(days):
        when = NOW - datetime.timedelta(days=d, hours=NOW.hour - hour)
        out.append({"name": when.strftime("%Y%m%dT%H%M%SZ"), "complete": True, "stores": list(stores)})
    return out


def test_defaults_keep_daily_weekly_monthly():
    sets = daily_sets(200)
    result = plan(sets, {"default": {"keep_last": 0, "daily": 7, "weekly": 4, "monthly": 6}}, now=NOW)
    kept = sorted(result["keep"])
    # 7 daily + weekly and monthly representatives, never more than 7 + 4 + 6.
    assert len(kept) <= 17
    assert len(kept) >= 7 + 3
    newest_seven = sorted(s["name"] for s in sets[:7])
    assert set(newest_seven) <= set(kept)
    assert len(result["delete"]) == 200 - len(kept)
    assert result["prune"] == {}


def test_monthly_keeps_the_newest_set_of_each_month():
    sets = daily_sets(120)
    result = plan(sets, {"default": {"keep_last": 0, "daily": 0, "weekly": 0, "monthly": 3}}, now=NOW)
    assert sorted(result["keep"]) == ["20250430T030000Z", "20250531T030000Z", "20250630T030000Z"]


def test_keep_last_only():
    sets = daily_sets(5)
    result = plan(sets, {"default": {"keep_last": 2, "daily": 0, "weekly": 0, "monthly": 0}}, now=NOW)
    assert sorted(result["keep"]) == sorted(s["name"] for s in sets[:2])
    assert sorted(result["delete"]) == sorted(s["name"] for s in sets[2:])


def test_tools_are_kept_90_days_by_default():
    assert policy_for("tools", {})["max_age_days"] == 90
    sets = daily_sets(100, stores=("tools",))
    result = plan(sets, {}, now=NOW)
    # Sets at 03:00, now 12:00: the set of 90 days ago at 03:00 is just past the limit.
    assert len(result["keep"]) == 90
    assert len(result["delete"]) == 10


def test_expired_store_is_pruned_from_a_set_kept_for_another_store():
    sets = daily_sets(100, stores=("sqlite", "tools"))
    result = plan(sets, {"default": {"keep_last": 0, "daily": 0, "weekly": 0, "monthly": 4}}, now=NOW)
    # The monthly set of March is kept for sqlite but older than 90 days: its tools are pruned.
    assert result["prune"]["20250331T030000Z"] == ["tools"]
    # The sets of the last 90 days are kept for their tools; their sqlite copies are pruned
    # except in the monthly representatives of April, May and June.
    assert result["prune"]["20250615T030000Z"] == ["sqlite"]
    assert "20250531T030000Z" not in result["prune"]
    assert "20250430T030000Z" not in result["prune"]
    assert "20250630T030000Z" not in result["prune"]
    assert result["delete"] == ["20250323T030000Z", "20250324T030000Z", "20250325T030000Z",
                                "20250326T030000Z", "20250327T030000Z", "20250328T030000Z", "20250329T030000Z",
                                "20250330T030000Z", "20250401T030000Z"]


def test_newest_complete_set_is_never_deleted_even_when_everything_expired():
    old = [{"name": "20240101T000000Z", "complete": True, "stores": ["tools"]},
           {"name": "20240102T000000Z", "complete": True, "stores": ["tools"]}]
    result = plan(old, {}, now=NOW)
    assert result["keep"] == ["20240102T000000Z"]
    assert result["delete"] == ["20240101T000000Z"]
    assert result["newest_complete"] == "20240102T000000Z"


def test_incomplete_sets_are_removed_only_after_a_day():
    sets = daily_sets(2) + [
        {"name": "20250630T110000Z", "complete": False},  # an hour old: may be running
        {"name": "20250628T110000Z", "complete": False},  # two days old: killed
    ]
    result = plan(sets, {}, now=NOW)
    assert "20250630T110000Z" in result["keep"]
    assert "20250628T110000Z" in result["delete"]
    assert "incomplete" in result["reasons"]["20250628T110000Z"]


def test_protected_sets_stay():
    sets = daily_sets(5)
    result = plan(sets, {"default": {"keep_last": 1, "daily": 0, "weekly": 0, "monthly": 0}}, now=NOW,
                  protect=[sets[3]["name"]])
    assert sorted(result["keep"]) == sorted([sets[0]["name"], sets[3]["name"]])


@pytest.mark.parametrize("policy", [{"daily": -1}, {"hourly": 3}, {"daily": "many"}])
def test_bad_policies_are_errors(policy):
    with pytest.raises(RetentionError):
        plan(daily_sets(2), {"sqlite": policy}, now=NOW)


def test_no_sets_no_plan():
    assert plan([], {}, now=NOW) == {"keep": [], "delete": [], "prune": {}, "reasons": {}, "newest_complete": None}
