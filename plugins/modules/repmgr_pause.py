#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: repmgr_pause
short_description: Pause or unpause automatic failover for the whole cluster (repmgr service pause / unpause)
description:
  - While paused, the monitor (the event source C(pgha.repmgr.repmgr_monitor)) still watches the cluster,
    but a lost primary is reported as C(failover_paused), not as C(primary_failure); no failover run elects or
    promotes (the election is cancelled when any survivor's copy of the metadata shows the pause, and the
    promotion reads it once more). When unpaused, a primary still lost is failed over at the next survey.
  - The switch is an event (C(pgha_failover_paused) / C(pgha_failover_unpaused)) written on the primary, which
    every node replicates; so every monitor of the cluster sees it, and it survives monitor and server restarts.
    C(repmgr cluster event) lists it. M(pgha.repmgr.repmgr_cluster_info) returns C(failover_paused).
  - The module connects to any node of the cluster and writes on the primary it finds from there (repmgr's
    primary search). With no primary running, C(paused) fails and changes nothing.
  - With no primary running and O(without_primary), C(unpaused) is written in each standby's own settings (as
    repmgr's unpause reaches each standby's repmgrd), with C(ALTER SYSTEM SET pgha.failover_unpaused_at) and a
    reload on every standby that answers, which the monitor, the election and the promotion count as an unpause
    newer than the pause. So a primary that died while paused is failed over once unpaused; the promotion then
    writes the C(pgha_failover_unpaused) event on the new primary for every node. A standby that does not answer
    keeps the pause until it follows the new primary.
  - Idempotent (changed only when the switch flips); check mode and diff supported.
version_added: 0.1.0
author: pgha.repmgr developers (@pgha)
extends_documentation_fragment:
  - pgha.repmgr.connection
  - pgha.repmgr.attributes
attributes:
  diff_mode:
    support: full
options:
  state:
    description: C(paused) stops automatic failover; C(unpaused) resumes it.
    type: str
    choices: [paused, unpaused]
    default: paused
  reason:
    description: Why, added to the event's details (for example C(switchover to node2)).
    type: str
  without_primary:
    description:
      - With O(state=unpaused) and no primary running, write the unpause in each standby's own settings instead
        of failing, so that a primary that died while paused is failed over (the playbook C(pgha.repmgr.unpause)
        sets it). Refused, with nothing written, when a standby that answers runs as a primary, has a promotion
        requested and not completed, or does not let the repmgr user run ALTER SYSTEM.
      - Off, a run with no primary fails and changes nothing (the switchover resumes automatic failover this way,
        so that a switchover that failed half-way never starts a failover by itself).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Pause automatic failover for maintenance
  pgha.repmgr.repmgr_pause:
    login_host: 10.0.0.12
    state: paused
    reason: kernel upgrade on node1

- name: Resume it (also when the primary died while paused, then written on every standby that answers)
  pgha.repmgr.repmgr_pause:
    login_host: 10.0.0.12
    state: unpaused
    without_primary: true
"""

RETURN = r"""
paused:
  description: Whether automatic failover is paused after the run.
  returned: always
  type: bool
  sample: true
was_paused:
  description: Whether it was paused before.
  returned: always
  type: bool
  sample: false
paused_since:
  description: When it was paused (the primary's time), when it is paused; else null.
  returned: always
  type: str
  sample: "2026-11-30 16:20:01.123456+00"
primary_node_id:
  description: The primary the switch was read from and written on; null when no primary answered (O(state=unpaused)
    written on the standbys).
  returned: always
  type: int
  sample: 1
unpaused_nodes:
  description: The standbys whose own settings were unpaused (or, in check mode, would be) because no primary answered.
  returned: when no primary answered and O(state=unpaused)
  type: list
  elements: str
  sample: [node2, node3]
unreachable_nodes:
  description: The standbys that did not answer when no primary answered and O(state=unpaused); they keep the pause
    until they follow a new primary.
  returned: when no primary answered and O(state=unpaused)
  type: list
  elements: str
  sample: []
events:
  description: The repmgr event written (or, in check mode, that would be); empty when nothing changes.
  returned: always
  type: list
  elements: dict
  contains:
    node_id: {description: "The primary's node ID", type: int}
    event: {description: "C(pgha_failover_paused) or C(pgha_failover_unpaused)", type: str}
    details: {description: "C(automatic failover paused) or C(automatic failover unpaused), then O(reason) when given", type: str}
  sample: [{node_id: 1, event: pgha_failover_paused, details: "automatic failover paused: kernel upgrade on node1"}]
queries:
  description: The SQL statements that changed something (templates; bound parameters are not shown); empty when
    nothing changes and in check mode.
  returned: always
  type: list
  elements: str
  sample: ["INSERT INTO repmgr.events (node_id, event, successful, details) VALUES (%s, %s, %s, %s) RETURNING event_timestamp"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgha.repmgr.plugins.module_utils import pause
from ansible_collections.pgha.repmgr.plugins.module_utils.module_support import execute


def main():
    execute(AnsibleModule, dict(
        state=dict(type="str", choices=list(pause.STATES), default="paused"),
        reason=dict(type="str"),
        without_primary=dict(type="bool", default=False),
    ), lambda module, conn, ctx: pause.set_pause(module.params, conn, ctx), validate=pause.validate)


if __name__ == "__main__":
    main()
