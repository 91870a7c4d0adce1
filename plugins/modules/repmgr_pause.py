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
    primary search). With no primary running it fails and changes nothing (to fail over a primary that died while
    paused, promote a standby by hand with M(pgha.repmgr.repmgr_promote), then unpause).
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
"""

EXAMPLES = r"""
- name: Pause automatic failover for maintenance
  pgha.repmgr.repmgr_pause:
    login_host: 10.0.0.12
    state: paused
    reason: kernel upgrade on node1

- name: Resume it
  pgha.repmgr.repmgr_pause:
    login_host: 10.0.0.12
    state: unpaused
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
  description: The primary the switch was read from and written on.
  returned: always
  type: int
  sample: 1
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
    ), lambda module, conn, ctx: pause.set_pause(module.params, conn, ctx), validate=pause.validate)


if __name__ == "__main__":
    main()
