"""The glue every module shares: failures without tracebacks, the run deadline, secrets masked."""

from __future__ import annotations

import time

import pytest

from ansible_collections.pgha.repmgr.plugins.module_utils import module_support
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption


class Failed(Exception):
    pass


class FakeModule:
    """What module_support uses of AnsibleModule: params, no_log_values, fail_json."""

    def __init__(self, **params):
        self.params = dict(login_password="", connect_timeout=1, **params)
        self.no_log_values = set()

    def fail_json(self, **result):
        raise Failed(result)


def test_a_core_error_fails_with_its_message_and_no_traceback():
    def body():
        raise InvalidOption("node_id", "must be a positive integer (got 0)")

    with pytest.raises(Failed) as failed:
        module_support.run(FakeModule(), body)
    assert failed.value.args[0]["msg"] == "node_id must be a positive integer (got 0)"
    assert "exception" not in failed.value.args[0]


def test_the_deadline_interrupts_a_blocked_run():
    started = time.monotonic()
    with pytest.raises(Failed) as failed:
        module_support.run(FakeModule(), lambda: time.sleep(30), deadline=1)
    assert time.monotonic() - started < 10
    assert "did not finish within 1 seconds" in failed.value.args[0]["msg"]


def test_passwords_inside_conninfo_options_become_no_log_values():
    module = FakeModule(conninfo="host=n1 user=repmgr password=S3cret", primary_conninfo=None,
                        upstream_conninfo="postgresql://u:Uri-pw@h/db", connect_params={"password": "Kw-pw"})
    module_support.protect_embedded_passwords(module)
    assert module.no_log_values == {"S3cret", "Uri-pw", "Kw-pw"}
