"""Run an opskit module's main() in-process and capture exit_json / fail_json."""
import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super().__init__(result.get("msg"))
        self.result = result
        self.failed = failed


def run_main(monkeypatch, main, args, check_mode=False, diff=False):
    """Run main() with args; return the ModuleExit carrying .result and .failed."""
    def exit_json(self, **kwargs):
        raise ModuleExit(kwargs, False)

    def fail_json(self, **kwargs):
        raise ModuleExit(kwargs, True)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    args = dict(args)
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args):
        with pytest.raises(ModuleExit) as info:
            main()
    return info.value


def run_module(monkeypatch, main, args, check_mode=False, diff=False):
    """Like run_main, as a (result, failed) pair."""
    done = run_main(monkeypatch, main, args, check_mode=check_mode, diff=diff)
    return done.result, done.failed
