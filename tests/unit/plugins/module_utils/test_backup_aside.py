"""Keeping live data aside during a restore and putting it back."""
import os

import pytest

from ansible_collections.opskit.ops.plugins.module_utils._backup_aside import AsideError, load_ledger, put_back, save


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(data)


def read(path):
    with open(path) as handle:
        return handle.read()


def test_move_aside_and_put_back_files_dirs_and_absent_paths(tmp_path):
    live = tmp_path / "live"
    write(str(live / "db"), "old db")
    write(str(live / "db-wal"), "old wal")
    write(str(live / "tools" / "a.json"), "{}")
    aside = str(tmp_path / "aside")
    saved = save(aside, [str(live / "db"), str(live / "db-wal"), str(live / "db-shm"), str(live / "tools")])
    assert [(os.path.basename(e["path"]), e["existed"]) for e in saved] == [
        ("db", True), ("db-wal", True), ("db-shm", False), ("tools", True)]
    assert os.listdir(str(live)) == []
    # The restore writes new data, including a file that did not exist before.
    write(str(live / "db"), "restored db")
    write(str(live / "db-shm"), "restored shm")
    write(str(live / "tools" / "b.json"), "{}")
    handled = put_back(aside)
    assert len(handled) == 4
    assert read(str(live / "db")) == "old db"
    assert read(str(live / "db-wal")) == "old wal"
    assert not os.path.exists(str(live / "db-shm"))
    assert os.listdir(str(live / "tools")) == ["a.json"]
    assert all(e["restored"] for e in load_ledger(aside)["entries"])
    assert put_back(aside) == []  # idempotent


def test_copy_mode_keeps_the_original_in_place(tmp_path):
    conf = tmp_path / "etc"
    write(str(conf / "svc.env"), "A=1\n")
    aside = str(tmp_path / "aside")
    save(aside, [str(conf)], mode="copy", label="config")
    assert read(str(conf / "svc.env")) == "A=1\n"
    write(str(conf / "svc.env"), "A=2\n")
    write(str(conf / "new.conf"), "x")
    put_back(aside, labels=["config"])
    assert sorted(os.listdir(str(conf))) == ["svc.env"]
    assert read(str(conf / "svc.env")) == "A=1\n"


def test_a_second_save_never_overwrites_the_first(tmp_path):
    write(str(tmp_path / "f"), "live")
    aside = str(tmp_path / "aside")
    save(aside, [str(tmp_path / "f")])
    write(str(tmp_path / "f"), "restored")
    assert save(aside, [str(tmp_path / "f")]) == []
    put_back(aside)
    assert read(str(tmp_path / "f")) == "live"


def test_missing_saved_copy_is_an_error(tmp_path):
    write(str(tmp_path / "f"), "live")
    aside = str(tmp_path / "aside")
    entry = save(aside, [str(tmp_path / "f")])[0]
    os.unlink(entry["saved"])
    with pytest.raises(AsideError, match="saved copy"):
        put_back(aside)


def test_bad_mode(tmp_path):
    with pytest.raises(AsideError):
        save(str(tmp_path), [], mode="link")
