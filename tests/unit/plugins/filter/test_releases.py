import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.opskit.ops.plugins.filter.releases import releases_to_prune


def _files(*pairs):
    return [{"path": p, "mtime": m} for p, m in pairs]


def test_keeps_newest_and_prunes_oldest_first():
    files = _files(("/r/1", 1), ("/r/2", 2), ("/r/3", 3), ("/r/4", 4), ("/r/5", 5))
    assert releases_to_prune(files, 3) == ["/r/1", "/r/2"]


def test_protected_releases_survive_and_count_towards_keep():
    files = _files(("/r/1", 1), ("/r/2", 2), ("/r/3", 3), ("/r/4", 4))
    # The active release is the oldest (a rollback happened): it is never pruned.
    assert releases_to_prune(files, 2, ["/r/1"]) == ["/r/2", "/r/3"]


def test_nothing_to_prune_when_under_keep():
    assert releases_to_prune(_files(("/r/1", 1)), 3, ["", "/r/1/"]) == []


@pytest.mark.parametrize("keep", [0, "x", None])
def test_bad_keep_is_an_error_naming_the_argument(keep):
    with pytest.raises(AnsibleFilterError, match="keep must"):
        releases_to_prune([], keep)
