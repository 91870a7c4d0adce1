#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: repmgr_failover_promote
short_description: Promote the elected standby after its primary failed, exactly once (repmgrd's promotion)
description:
  - The promotion step of the automatic failover (playbook C(pgha.repmgr.failover)); run against the standby
    that won the election (M(pgha.repmgr.repmgr_cluster_info) on every survivor, then the C(pgha.repmgr.elect)
    filter).
  - Takes the election lock, a session advisory lock, on every survivor that had the failed primary as upstream
    (standbys and the witness), and promotes only while it holds it on a strict majority; another run that holds
    it makes this one stand down.
  - Under the lock, every survivor's C(repmgr.voting_term) must still be O(voting_term), the term the election
    read; the new primary raises it by one in the transaction that records the promotion. A run that finds a
    newer term stands down and says which term was taken.
  - A last look at the evidence before promoting, at O(decide_at) (the end of the monitor's retry window, the
    failed primary tried every 0.05 s until then); the failed primary must not answer a session from here, no
    survivor's WAL receiver may have heard from it within O(fresh_within) seconds, no survivor may run as a
    primary. Any of them stands the run down, and nothing is changed.
  - When a survivor has more WAL than this node (a priority 0 standby), this node streams the missing WAL from it
    first (at most O(catch_up_timeout) seconds), so that nothing it acknowledged is lost.
  - Then C(pg_promote()), a wait until the server left recovery (polling every 0.1 s), and one transaction on the
    new primary; the failed primary's record inactive, this node the primary, the events C(standby_promote) and
    C(repmgrd_failover_promote) with repmgr's texts, and the new term.
  - A node already out of recovery (a run was killed after its C(pg_promote())) is adopted; its records, events
    and term are written and nothing is promoted. A node already registered as the primary is left unchanged.
  - A run that stands down fails with C(stood_down=true); a promotion that was requested and did not complete
    fails with C(promote_requested=true); the playbook then never tries another candidate.
version_added: 0.1.0
author: pgha.repmgr developers (@pgha)
extends_documentation_fragment:
  - pgha.repmgr.connection
  - pgha.repmgr.attributes
options:
  node_id:
    description: repmgr node ID of the node to promote (the node the module connects to). Default from C(pgha_node_id).
    type: int
    required: true
  failed_node_id:
    description: repmgr node ID of the failed primary.
    type: int
    required: true
  voting_term:
    description:
      - The electoral term the election read (the highest C(repmgr.voting_term) of the survivors); the new primary
        records the next one. Omitted, the term is not compared.
    type: int
  fresh_within:
    description:
      - Seconds; a survivor's WAL receiver that heard from the failed primary more recently than this stops the
        promotion (the monitor's reconnect_interval).
    type: float
    default: 10
  catch_up_timeout:
    description: Seconds to receive the WAL a more advanced survivor has before this node is promoted.
    type: int
    default: 30
  promote_check_timeout:
    description: Seconds to wait for the server to leave recovery after C(pg_promote()).
    type: int
    default: 60
  decide_at:
    description:
      - When to decide, in seconds since the epoch; the end of the monitor's retry window (the event's
        C(decide_at)). Until then the module does what changes nothing (the lock, the term, the catch-up) and
        tries the failed primary every 0.05 s; an answer stands the run down and undoes the catch-up. At that
        moment it tries once more, looks at the survivors' WAL receivers, and promotes at once.
      - Omitted or past, it decides at once.
    type: float
  decide_only:
    description:
      - Wait for the decision and report it, without promoting (C(decided=true) when the failed primary stayed
        gone). The playbook uses it before C(pgha_fence_command), which must run before any promotion.
    type: bool
    default: false
attributes:
  diff_mode:
    support: full
    details: the node's record before and after (type, upstream, active)
"""

EXAMPLES = r"""
- name: Promote the winner of the election
  pgha.repmgr.repmgr_failover_promote:
    failed_node_id: "{{ election.failed_node_id }}"
    voting_term: "{{ election.voting_term }}"
    fresh_within: 1
  when: pgha_node_name == election.winner.node_name
"""

RETURN = r"""
node_id:
  description: The node promoted or adopted (O(node_id)).
  returned: always
  type: int
  sample: 2
node_name:
  description: Its node name.
  returned: always
  type: str
  sample: node2
promoted:
  description: Whether this run promoted the node.
  returned: always
  type: bool
  sample: true
adopted:
  description: Whether the node was already out of recovery and this run wrote its metadata.
  returned: always
  type: bool
  sample: false
caught_up_from:
  description: The node name of the survivor whose WAL the node received before its promotion; null when none was further.
  returned: always
  type: str
  sample: node3
promote_seconds:
  description: Seconds from the promotion request until the server left recovery; null when the run did not promote.
  returned: always
  type: float
  sample: 0.21
method:
  description: How the promotion was requested (C(pg_promote)).
  returned: when promoted
  type: str
  sample: pg_promote
voting_term:
  description: The electoral term recorded with the promotion; null when nothing was recorded (nothing to do, check
    mode, O(decide_only)).
  returned: always
  type: int
  sample: 3
decided:
  description: Whether the failed primary stayed gone until the decision and the survivors confirmed it.
  returned: always
  type: bool
  sample: true
stood_down:
  description: The run stood down (another run holds the election, the term moved on, the primary answers,
    failover is paused); nothing was promoted. The module fails with it.
  returned: on failure, when it stood down
  type: bool
  sample: true
promote_requested:
  description: The promotion was requested (or the node is a primary) but the run failed afterwards (the server did
    not leave recovery in time, or the metadata could not be written); the next failover run adopts it.
  returned: on failure, after the promotion was requested
  type: bool
  sample: true
events:
  description: The repmgr events written (or, in check mode, that would be); empty when there is nothing to do and
    with O(decide_only).
  returned: always
  type: list
  elements: dict
  contains:
    node_id: {description: "The new primary's node ID", type: int}
    event: {description: "C(standby_promote) (when the node was in recovery), then C(repmgrd_failover_promote)", type: str}
    details: {description: "repmgr's text of the event", type: str}
  sample:
    - {node_id: 2, event: standby_promote, details: 'server "node2" (ID: 2) was successfully promoted to primary'}
    - {node_id: 2, event: repmgrd_failover_promote,
       details: 'node "node2" (ID: 2) promoted to primary; old primary "node1" (ID: 1) marked as failed'}
queries:
  description: SQL statements that changed something (templates; bound parameters are not shown).
  returned: always
  type: list
  elements: str
  sample:
    - "UPDATE repmgr.nodes SET active = FALSE WHERE type = 'primary' AND active IS TRUE AND node_id != %s"
    - "UPDATE repmgr.nodes SET type = 'primary', upstream_node_id = NULL, active = TRUE WHERE node_id = %s"
    - "INSERT INTO repmgr.events (node_id, event, successful, details) VALUES (%s, %s, %s, %s) RETURNING event_timestamp"
    - "UPDATE repmgr.voting_term SET term = GREATEST(term, %s) + 1 RETURNING term"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgha.repmgr.plugins.module_utils import failover
from ansible_collections.pgha.repmgr.plugins.module_utils.module_support import execute


def main():
    execute(AnsibleModule, dict(
        node_id=dict(type="int", required=True),
        failed_node_id=dict(type="int", required=True),
        voting_term=dict(type="int"),
        fresh_within=dict(type="float", default=10),
        catch_up_timeout=dict(type="int", default=30),
        promote_check_timeout=dict(type="int", default=60),
        decide_at=dict(type="float"),
        decide_only=dict(type="bool", default=False),
    ), lambda module, conn, ctx: failover.promote_for_failover(module.params, conn, ctx), validate=failover.validate,
        waits=("promote_check_timeout", "catch_up_timeout", "connect_timeout", "connect_timeout"),
        extra_wait=failover.seconds_to_decision)


if __name__ == "__main__":
    main()
