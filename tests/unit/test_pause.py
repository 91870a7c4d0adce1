"""The pause switch's rules, without a server: which row wins, and when the standbys' unpause is refused."""

from __future__ import annotations

import pytest

from ansible_collections.pgha.repmgr.plugins.module_utils import metadata, pause


def test_no_switch_ever_written_means_failover_runs():
    assert metadata.pause_state_from_rows([]) == dict(paused=False, since=None, details=None, local=False)


@pytest.mark.parametrize("row, expected", [
    ((True, "2026-11-30 20:00:00", "automatic failover paused: kernel upgrade", False),
     dict(paused=True, since="2026-11-30 20:00:00", details="automatic failover paused: kernel upgrade", local=False)),
    ((False, "2026-11-30 20:05:00", "automatic failover unpaused on this standby while no primary answered", True),
     dict(paused=False, since="2026-11-30 20:05:00",
          details="automatic failover unpaused on this standby while no primary answered", local=True)),
])
def test_the_newest_switch_is_the_state_and_says_whether_it_is_the_standbys_own(row, expected):
    assert metadata.pause_state_from_rows([row]) == expected


@pytest.mark.parametrize("answers, refusals", [
    ({"node2": (True, True, False), "node3": (True, True, False)}, []),
    ({"node2": (True, True, False), "node3": (False, True, False)},
     ["node3, registered as a standby, runs as a primary: find out why before unpausing"]),
    ({"node2": (True, True, True), "node3": (True, True, False)},
     ["node2 has a promotion requested and not completed (its data directory holds the promote signal file): it "
      "may become the primary; find out why before unpausing"]),
    ({"node2": (True, False, False)}, ["the repmgr user is not a superuser on node2 (ALTER SYSTEM needs one)"]),
])
def test_the_standbys_unpause_is_refused_whole_when_one_standby_cannot_take_it(answers, refusals):
    assert pause.local_unpause_refusals(answers) == refusals


def test_the_message_says_where_it_was_written_and_what_was_not_reached():
    assert pause.local_unpause_message(["node2", "node3"], ["node4"], check_mode=False) == (
        "automatic failover unpaused on standby node2, node3 (no primary answers: written in each standby's "
        "settings; the failover's promotion records it for the cluster); not reached: node4")
    assert pause.local_unpause_message([], [], check_mode=False).startswith("automatic failover runs already")
    assert "would be unpaused" in pause.local_unpause_message(["node2"], [], check_mode=True)
