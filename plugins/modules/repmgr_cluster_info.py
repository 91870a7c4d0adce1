#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: repmgr_cluster_info
short_description: The C(repmgr cluster show) and C(repmgr cluster event) of a repmgr cluster, as data
description:
  - Reads the repmgr metadata from the node it connects to, probes every registered node in parallel
    (one timeout in total, however many nodes are down) and computes each node's Status and Upstream
    with repmgr's own rules, so the result matches what C(repmgr cluster show) prints.
  - A node that is down or refuses the connection is reported in the result, never a module failure.
    The module fails only when it cannot read the metadata at all.
  - Never changes anything; supports check mode.
version_added: 0.1.0
author: pgha.repmgr developers (@pgha)
extends_documentation_fragment:
  - pgha.repmgr.connection
  - pgha.repmgr.attributes
options:
  events:
    description: Also return C(repmgr cluster event) rows (newest first) in RV(events) and RV(event_table).
    type: bool
    default: false
  event:
    description: Only events of this type (for example C(standby_promote)). Implies O(events=true).
    type: str
  node_id:
    description:
      - Only events of this node (takes precedence over O(node_name), as in repmgr). Implies O(events=true).
      - Like repmgr, this filters on the node's current record, so events of unregistered nodes do not match.
    type: int
  node_name:
    description: Only events of the node with this name. Implies O(events=true).
    type: str
  limit:
    description: At most this many events (repmgr's default is 20). Ignored when O(all=true).
    type: int
    default: 20
  all:
    description: Return every event (no limit).
    type: bool
    default: false
  compact:
    description: Leave the connection string column out of RV(table), as C(repmgr cluster show --compact).
    type: bool
    default: false
  replication_status:
    description:
      - Also return the rows of the view C(repmgr.replication_status) in RV(replication_status), read on the node
        the module connects to - each standby's newest C(repmgr.monitoring_history) row, with its lag.
      - The rows exist when the monitor runs with C(monitoring_history=true) (or repmgrd with
        C(monitoring_history=yes)); without them the list is empty.
    type: bool
    default: false
  monitor:
    description:
      - Also return, in RV(monitor), what C(repmgr service status) answers - per node, when a monitor (the
        C(pgha.repmgr.repmgr_monitor) event source, or repmgrd) last checked it, and whether failover protection is
        on - from the rows a monitor writes (C(repmgrd_start), C(repmgrd_shutdown), its other events, and
        C(repmgr.monitoring_history) rows when it writes them).
    type: bool
    default: false
  monitor_stale_after:
    description:
      - With O(monitor), failover protection counts as off when the newest check a monitor wrote is older than this
        many seconds (a killed monitor writes no C(repmgrd_shutdown)). Only meaningful when the monitor writes
        C(monitoring_history) rows every interval; unset, a started monitor counts until its C(repmgrd_shutdown).
    type: int
  query:
    description:
      - A JMESPath expression applied to the result; its value is returned in RV(query_result).
      - For example C(nodes[?reachable && in_recovery == `false` && type != 'witness'].node_name) gives the nodes running as a primary.
    type: str
notes:
  - The node the module connects to must be up and hold the metadata (any node of the cluster does,
    since the metadata replicates). Connect to a standby to read the cluster while the primary is down.
seealso:
  - name: repmgr cluster show
    description: The command this module mirrors.
    link: https://www.repmgr.org/docs/current/repmgr-cluster-show.html
"""

EXAMPLES = r"""
- name: Show the cluster from a standby (works while the primary is down)
  pgha.repmgr.repmgr_cluster_info:
    login_host: 127.0.0.12
    login_port: 5432
    login_password: "{{ repmgr_password }}"
  register: cluster

- name: Print it as repmgr does
  ansible.builtin.debug:
    msg: "{{ cluster.table }}"

- name: The last five promotions
  pgha.repmgr.repmgr_cluster_info:
    login_host: 127.0.0.12
    event: standby_promote
    limit: 5

- name: Each standby's lag, from the monitoring history (the monitor's monitoring_history)
  pgha.repmgr.repmgr_cluster_info:
    login_host: 127.0.0.11
    replication_status: true
  register: status

- name: Is failover protection on? (repmgr service status)
  pgha.repmgr.repmgr_cluster_info:
    login_host: 127.0.0.11
    monitor: true
  register: service
  failed_when: not service.monitor.failover_protection

- name: Who is the running primary?
  pgha.repmgr.repmgr_cluster_info:
    login_host: 127.0.0.12
    query: "nodes[?reachable && in_recovery == `false` && type != 'witness'].node_name"
  register: primary
"""

RETURN = r"""
local_node_id:
  description: The node the module connected to (whose copy of the metadata this is), by its conninfo's host and port.
  returned: always
  type: int
  sample: 2
local_node_name:
  description: Its node name.
  returned: always
  type: str
  sample: node2
nodes:
  description: One entry per registered node, ordered by node_id.
  returned: always
  type: list
  sample:
    - node_id: 1
      node_name: node1
      type: primary
      active: true
      status: "* running"
      upstream: ""
      location: default
      priority: 100
      timeline: 1
      reachable: true
      in_recovery: false
      current_lsn: 0/3000148
  elements: dict
  contains:
    node_id: {description: "repmgr node ID", type: int}
    node_name: {description: "Node name", type: str}
    type: {description: "Registered role (primary, standby or witness)", type: str}
    active: {description: "The record's active flag", type: bool}
    status: {description: "Status as repmgr prints it, for example C(* running), C(  running), C(- failed), C(? unreachable)", type: str}
    upstream: {description: "Upstream column as repmgr prints it (with C(? ) or C(! ) prefixes)", type: str}
    upstream_node_id: {description: "Registered upstream node ID", type: int}
    upstream_node_name: {description: "Registered upstream node name", type: str}
    location: {description: "Location", type: str}
    priority: {description: "Failover priority (0 = never promoted)", type: int}
    timeline: {description: "Timeline of the last checkpoint (repmgr's Timeline column), null when unreachable", type: int}
    current_timeline:
      description: "The timeline the node writes (a primary) or receives (a standby) now; unlike C(timeline) it is current right after a promotion"
      type: int
    reachable: {description: "Whether a session could be opened", type: bool}
    reachability: {description: "C(connected), C(rejected) (server answered but refused) or C(down)", type: str}
    in_recovery: {description: "pg_is_in_recovery() on the node, null when unknown", type: bool}
    received_lsn: {description: "Last WAL received (standbys)", type: str}
    replayed_lsn: {description: "Last WAL replayed (standbys)", type: str}
    current_lsn: {description: "Current WAL write location (primaries)", type: str}
    attached: {description: "Standby attachment to its upstream: C(attached), C(detached), C(unknown) or a walsender state", type: str}
    slot_name: {description: "Replication slot name of the record", type: str}
    conninfo: {description: "The node's conninfo, any password masked", type: str}
    wal_receiver_streaming: {description: "Whether the node's WAL receiver streams (standbys)", type: bool}
    wal_receiver_upstream: {description: "The host the node's WAL receiver streams from", type: str}
    wal_receiver_sender_port: {description: "The port the node's WAL receiver streams from", type: int}
    wal_receiver_upstream_node_id: {description: "The registered node whose host and port the WAL receiver streams from", type: int}
    wal_receiver_last_msg_age:
      description: "Seconds since the WAL receiver last got a message (WAL or keepalive) from its upstream: fresh evidence that the upstream is alive"
      type: float
    voting_term: {description: "repmgr.voting_term on the node (the electoral term it holds)", type: int}
    failover_paused: {description: "Whether the node's own copy of the metadata says automatic failover is paused", type: bool}
    error: {description: "Connection error when not reachable (passwords masked)", type: str}
failover_paused:
  description:
    - Whether automatic failover is paused (playbook C(pgha.repmgr.pause), module M(pgha.repmgr.repmgr_pause)), as this
      node's copy of the metadata says; like C(repmgr service status)'s C(Paused?) column, for the whole cluster.
  returned: always
  type: bool
  sample: false
failover_paused_since:
  description: When automatic failover was paused (the server's time), null when it is not paused.
  returned: always
  type: str
  sample: "2026-11-30 16:20:01"
cluster_show:
  description:
    - What C(repmgr cluster show) prints (the table, then the warnings block), as one text.
    - Ansible's YAML result format shows it as the familiar table in the ad-hoc output.
  returned: always
  type: str
  sample: " ID | Name  | Role    | Status    | Upstream | Location | Priority | Timeline | Connection string
 ..."
table:
  description: The lines C(repmgr cluster show) prints, same columns and layout.
  returned: always
  type: list
  sample:
    - " ID | Name  | Role    | Status    | Upstream | Location | Priority | Timeline | Connection string"
    - "----+-------+---------+-----------+----------+----------+----------+----------+------------------"
    - " 1  | node1 | primary | * running |          | default  | 100      | 1        | host=127.0.0.11 port=5432 user=repmgr dbname=repmgr"
  elements: str
warnings_detected:
  description: The warnings C(repmgr cluster show) prints under "following issues were detected".
  returned: always
  type: list
  sample: ['node "node3" (ID: 3) is registered as an active standby but is running as a primary']
  elements: str
exit_code:
  description: The exit code C(repmgr cluster show) would have (0, or 25 when any warning or error).
  returned: always
  type: int
  sample: 0
events:
  description: C(repmgr cluster event) rows, newest first.
  returned: when events were asked for
  type: list
  sample:
    - node_id: 2
      node_name: node2
      event: standby_promote
      successful: true
      timestamp: "2026-11-30 16:20:01"
      details: 'server "node2" (ID: 2) was successfully promoted to primary'
  elements: dict
cluster_event:
  description: What C(repmgr cluster event) prints, as one text.
  returned: when events were asked for
  type: str
  sample: " Node ID | Name  | Event           | OK | Timestamp           | Details
 ..."
event_table:
  description: The lines C(repmgr cluster event) prints.
  returned: when events were asked for
  type: list
  sample:
    - " Node ID | Name  | Event           | OK | Timestamp           | Details"
    - "---------+-------+-----------------+----+---------------------+--------"
  elements: str
replication_status:
  description:
    - The rows of the view C(repmgr.replication_status), ordered by standby node ID; columns as the view names them.
    - Lags are the view's own text (C(pg_size_pretty) of bytes); times, LSNs and intervals as PostgreSQL prints
      them. C(communication_time_lag) is the row's age when read on the primary; read on a standby, the view takes
      it from that standby's repmgrd (null, or meaningless, without one) - read it on the primary.
  returned: when O(replication_status=true)
  type: list
  elements: dict
  contains:
    primary_node_id: {description: "The primary when the row was written", type: int}
    standby_node_id: {description: "The standby the row is about", type: int}
    standby_name: {description: "Its node name", type: str}
    node_type: {description: "Its registered type", type: str}
    active: {description: "Its record's active flag", type: bool}
    last_monitor_time: {description: "When the row was written (the standby's clock)", type: str}
    last_wal_primary_location: {description: "The primary's current LSN then", type: str}
    last_wal_standby_location: {description: "The standby's received LSN then", type: str}
    replication_lag: {description: "Bytes the standby had not yet received, as pg_size_pretty prints them", type: str}
    replication_time_lag:
      description: "Age of the standby's last replayed transaction when it lagged, else C(00:00:00)"
      type: str
    apply_lag: {description: "Bytes received but not yet replayed, as pg_size_pretty prints them", type: str}
    communication_time_lag: {description: "Age of the row, read on the primary", type: str}
  sample:
    - primary_node_id: 1
      standby_node_id: 2
      standby_name: node2
      node_type: standby
      active: true
      last_monitor_time: "2026-11-30 16:20:01.123456+00"
      last_wal_primary_location: "0/3000148"
      last_wal_standby_location: "0/3000148"
      replication_lag: "0 bytes"
      replication_time_lag: "00:00:00"
      apply_lag: "0 bytes"
      communication_time_lag: "00:00:01.201763"
monitor:
  description: The monitor's status (C(repmgr service status)), from its rows in this node's copy of the metadata.
  returned: when O(monitor=true)
  type: dict
  contains:
    failover_protection:
      description: Whether a monitor runs, automatic failover is not paused, and (with O(monitor_stale_after)) its checks are fresh.
      type: bool
    reason: {description: "Why failover protection is on or off, in words", type: str}
    running: {description: "Whether a monitor's newest C(repmgrd_start) is newer than its C(repmgrd_shutdown)", type: bool}
    started: {description: "When the newest monitor started (its C(repmgrd_start) row)", type: str}
    seconds_since_last_check: {description: "Age of the newest check row of any node, by the server's clock", type: float}
    nodes:
      description: Per node, ordered by node ID.
      type: list
      elements: dict
      contains:
        node_id: {description: "repmgr node ID", type: int}
        node_name: {description: "Node name", type: str}
        monitor_running: {description: "A monitor's newest C(repmgrd_start) for the node is newer than the cluster's newest C(repmgrd_shutdown)", type: bool}
        monitor_started: {description: "The node's newest C(repmgrd_start)", type: str}
        monitor_stopped: {description: "The node's newest C(repmgrd_shutdown)", type: str}
        seconds_since_last_check: {description: "Age of the newest row a monitor wrote about the node", type: float}
        checked_by: {description: "C(events) or C(monitoring_history): which rows gave the last check", type: str}
  sample:
    failover_protection: true
    reason: a monitor runs and automatic failover is not paused
    running: true
    started: "2026-11-30 16:20:01"
    seconds_since_last_check: 1.2
    nodes:
      - {node_id: 1, node_name: node1, monitor_running: true, monitor_started: "2026-11-30 16:20:01",
         monitor_stopped: null, seconds_since_last_check: 1.2, checked_by: monitoring_history}
query_result:
  description: The value of O(query) applied to this result.
  returned: when O(query) is set
  type: raw
  sample: [node1]
queries:
  description: The statements run (reads only, so always empty).
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgha.repmgr.plugins.module_utils import cluster
from ansible_collections.pgha.repmgr.plugins.module_utils.module_support import execute


def main():
    execute(AnsibleModule, dict(
        events=dict(type="bool", default=False),
        event=dict(type="str"),
        node_id=dict(type="int"),
        node_name=dict(type="str"),
        limit=dict(type="int", default=20),
        all=dict(type="bool", default=False),
        compact=dict(type="bool", default=False),
        query=dict(type="str"),
        replication_status=dict(type="bool", default=False),
        monitor=dict(type="bool", default=False),
        monitor_stale_after=dict(type="int"),
    ), lambda module, conn, ctx: cluster.cluster_info(module.params, conn, ctx), validate=cluster.validate_info,
        waits=("connect_timeout", "connect_timeout"))


if __name__ == "__main__":
    main()
