"""The one result shape of the core's operations, and the one way it waits."""

from __future__ import annotations

import pytest

from ansible_collections.pgha.repmgr.plugins.module_utils import waiting
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import Timeout
from ansible_collections.pgha.repmgr.plugins.module_utils.outcome import Outcome


def test_an_outcome_carries_the_core_keys_and_the_operations_facts():
    outcome = Outcome(changed=True, msg="node2 follows node3", node_id=2)
    outcome.attach_seconds = 0.4
    outcome["method"] = "reload"
    outcome.events = [dict(node_id=2, event="standby_follow", details="...")]
    assert outcome.as_dict() == dict(changed=True, msg="node2 follows node3", node_id=2, attach_seconds=0.4,
                                     method="reload", events=[dict(node_id=2, event="standby_follow", details="...")])
    assert outcome.node_id == 2 and outcome["attach_seconds"] == 0.4
    assert Outcome(diff=dict(before={}, after={"priority": 50})).as_dict()["diff"] == dict(before={},
                                                                                           after={"priority": 50})
    with pytest.raises(AttributeError):
        outcome.not_a_fact  # pylint: disable=pointless-statement


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_poll_returns_the_last_value_the_time_and_whether_it_held():
    clock, values = Clock(), iter([1, 2, 3, 4, 5])
    assert waiting.poll(lambda: next(values), lambda v: v == 3, 10, 0.5, clock, clock.sleep) == (3, 1.0, True)
    clock = Clock()
    assert waiting.poll(lambda: "detached", lambda v: v == "attached", 1, 0.5, clock, clock.sleep) == \
        ("detached", 1.0, False)


def test_wait_until_names_what_did_not_happen():
    clock = Clock()
    with pytest.raises(Timeout, match="timed out after 2 s waiting until node2 leaves recovery"):
        waiting.wait_until(lambda: False, 2, "node2 leaves recovery", 0.1, clock, clock.sleep)
    assert waiting.wait_until(lambda: "done", 0, "at once") == "done"


def test_record_diff_shows_the_fields_an_operation_changes():
    from builders import record

    from ansible_collections.pgha.repmgr.plugins.module_utils.outcome import record_diff

    assert record_diff(record(3), type="standby", upstream_node_id=2, active=True) == dict(
        before=dict(type="standby", upstream_node_id=1, active=True), after=dict(type="standby", upstream_node_id=2,
                                                                                 active=True))
