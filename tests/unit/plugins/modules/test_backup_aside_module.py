import os

from ansible_collections.opskit.ops.plugins.modules import backup_aside

from _module_harness import run_module


def test_save_put_back_discard_and_check_mode(monkeypatch, tmp_path):
    live = tmp_path / "db"
    live.write_text("live")
    aside = str(tmp_path / "aside")
    args = {"action": "save", "aside_dir": aside, "paths": [str(live)], "label": "sqlite"}
    out, failed = run_module(monkeypatch, backup_aside.main, args, check_mode=True)
    assert (failed, out["changed"], live.read_text()) == (False, True, "live")
    assert not os.path.exists(aside)
    out, failed = run_module(monkeypatch, backup_aside.main, args)
    assert (failed, out["changed"], os.path.exists(str(live))) == (False, True, False)
    out, failed = run_module(monkeypatch, backup_aside.main, args)
    assert out["changed"] is False  # already saved: never overwritten
    live.write_text("restored")
    out, failed = run_module(monkeypatch, backup_aside.main, {"action": "put_back", "aside_dir": aside},
                             check_mode=True)
    assert (out["changed"], out["restored"], live.read_text()) == (True, [str(live)], "restored")
    out, failed = run_module(monkeypatch, backup_aside.main, {"action": "put_back", "aside_dir": aside})
    assert (failed, out["restored"], live.read_text()) == (False, [str(live)], "live")
    out, failed = run_module(monkeypatch, backup_aside.main, {"action": "discard", "aside_dir": aside})
    assert (out["changed"], os.path.exists(aside)) == (True, False)
