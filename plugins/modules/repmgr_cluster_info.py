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
  query:
    description:
      - A JMESPath expression applied to the result; its value is returned in RV(query_result).
      - For example C(nodes[?status=='* running'].node_name | [0]) gives the running primary's name.
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
    error: {description: "Connection error when not reachable (passwords masked)", type: str}
cluster_show:
  description:
    - What C(repmgr cluster show) prints (the table, then the warnings block), as one text.
    - Ansible's YAML result format shows it as the familiar table in the ad-hoc output.
  returned: always
  type: str
table:
  description: The lines C(repmgr cluster show) prints, same columns and layout.
  returned: always
  type: list
  elements: str
warnings_detected:
  description: The warnings C(repmgr cluster show) prints under "following issues were detected".
  returned: always
  type: list
  elements: str
exit_code:
  description: The exit code C(repmgr cluster show) would have (0, or 25 when any warning or error).
  returned: always
  type: int
events:
  description: C(repmgr cluster event) rows, newest first.
  returned: when events were asked for
  type: list
  elements: dict
cluster_event:
  description: What C(repmgr cluster event) prints, as one text.
  returned: when events were asked for
  type: str
event_table:
  description: The lines C(repmgr cluster event) prints.
  returned: when events were asked for
  type: list
  elements: str
query_result:
  description: The value of O(query) applied to this result.
  returned: when O(query) is set
  type: raw
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgha.repmgr.plugins.module_utils import cluster, connection, metadata, tables
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption, require_node_id
from ansible_collections.pgha.repmgr.plugins.module_utils.module_support import deadline_for, require_psycopg, run, secrets_of

try:
    import jmespath
except ImportError:
    jmespath = None


def argument_spec():
    spec = connection.connection_argument_spec()
    spec.update(
        events=dict(type="bool", default=False),
        event=dict(type="str"),
        node_id=dict(type="int"),
        node_name=dict(type="str"),
        limit=dict(type="int", default=20),
        all=dict(type="bool", default=False),
        compact=dict(type="bool", default=False),
        query=dict(type="str"),
    )
    return spec


def validate(params):
    if params["limit"] is not None and params["limit"] < 1:
        raise InvalidOption("limit", "must be at least 1 (got %s)" % params["limit"])
    if params["node_id"] is not None:
        require_node_id(params["node_id"])
    if params["query"] is not None:
        if jmespath is None:
            raise InvalidOption("query", "needs the Python library jmespath on the managed host")
        try:
            return jmespath.compile(params["query"])
        except jmespath.exceptions.JMESPathError as exc:
            raise InvalidOption("query", "is not a valid JMESPath expression: %s" % exc)
    return None


def wants_events(params):
    return params["events"] or any(params[k] is not None for k in ("event", "node_id", "node_name"))


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    require_psycopg(module)
    params = module.params

    def body():
        compiled_query = validate(params)
        with connection.connect_with_params(params) as conn:
            view = cluster.read_view(conn, password=params["login_password"] or None,
                                     timeout=params["connect_timeout"], secrets=secrets_of(module))
            local = view.record(view.local_node_id) if view.local_node_id is not None else None
            result = dict(
                changed=False,
                local_node_id=local.node_id if local else None,
                local_node_name=local.node_name if local else None,
                nodes=cluster.node_summaries(view),
                cluster_show="\n".join(tables.format_show(view.show, compact=params["compact"])).rstrip("\n"),
                table=tables.format_show_table(view.show.rows, compact=params["compact"]),
                warnings_detected=list(view.show.warnings),
                exit_code=view.show.exit_code,
            )
            if wants_events(params):
                limit = None if params["all"] else params["limit"]
                events = metadata.read_events(conn, node_id=params["node_id"], node_name=params["node_name"],
                                              event=params["event"], limit=limit)
                result["events"] = events
                result["event_table"] = tables.format_event_table(events)
                result["cluster_event"] = "\n".join(result["event_table"]).rstrip("\n")
        if compiled_query is not None:
            result["query_result"] = compiled_query.search(result)
        return result

    module.exit_json(**run(module, body, deadline=deadline_for(module, "connect_timeout", "connect_timeout")))


if __name__ == "__main__":
    main()
