#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: repmgr_node_service
short_description: Start or stop a node's PostgreSQL server and report how it stopped (repmgr node service)
description:
  - Starts, stops or restarts the server of O(data_directory) with C(pg_ctl) (or O(start_command) /
    O(stop_command)), waiting until it is done. With O(checkpoint=true) a C(CHECKPOINT) runs before the stop,
    through the connection options.
  - "After a stop, and with O(state=status) on a stopped node, returns what C(pg_controldata) says: whether the
    server shut down cleanly and its last checkpoint LSN (repmgr's C(node status --is-shutdown-cleanly)). A
    switchover promotes the new primary only once it has received WAL up to that LSN."
  - "O(state=fenced) makes sure the server accepts no write any more: an immediate stop, and when the server is
    still running 5 s later (hung), SIGKILL of its postmaster and children (found by the PID in
    C(postmaster.pid), never by process name); then C(standby.signal) in the data directory, so that a restart
    brings it up read-only, in recovery, until it is rejoined. The automatic failover fences the failed primary
    this way before it promotes another node."
  - Must run as the PostgreSQL OS user.
version_added: 0.1.0
author: pgha.repmgr developers (@pgha)
extends_documentation_fragment:
  - pgha.repmgr.connection
  - pgha.repmgr.attributes
options:
  data_directory:
    description: The node's data directory. Default from C(pgha_data_directory).
    type: path
    required: true
  state:
    description: C(started), C(stopped), C(restarted), C(fenced), or C(status) to only report.
    type: str
    choices: [started, stopped, restarted, status, fenced]
    default: status
  mode:
    description: pg_ctl shutdown mode. C(fast) and C(smart) shut down cleanly; C(immediate) is a crash.
    type: str
    choices: [smart, fast, immediate]
    default: fast
  checkpoint:
    description: Run C(CHECKPOINT) before stopping (makes the shutdown quicker).
    type: bool
    default: false
  allow_primary:
    description:
      - Allow starting a data directory without C(standby.signal), which comes up as a writable primary.
        Without it such a start is refused, because a failed former primary started beside the live one makes
        two primaries. Set it only for the cluster's one primary.
    type: bool
    default: false
  timeout:
    description: Seconds pg_ctl may wait for the start or stop.
    type: int
    default: 60
  log_file:
    description: Server log file for C(pg_ctl start -l). Default from C(pgha_log_file).
    type: path
  start_command:
    description: Command to start the server instead of C(pg_ctl start) (for example C([pg_ctlcluster, "15", main, start])).
    type: list
    elements: str
  stop_command:
    description: Command to stop the server instead of C(pg_ctl stop).
    type: list
    elements: str
  pg_bindir:
    description: Directory of pg_ctl and pg_controldata (default Debian's for the data directory's version).
    type: path
"""

EXAMPLES = r"""
- name: Stop the primary cleanly for a switchover
  become: true
  become_user: postgres
  pgha.repmgr.repmgr_node_service:
    data_directory: /var/lib/postgresql/15/main
    state: stopped
    checkpoint: true
  register: stopped

- name: Fence a failed former primary (stop it, kill it if hung, make a restart read-only)
  become: true
  become_user: postgres
  pgha.repmgr.repmgr_node_service:
    data_directory: /var/lib/postgresql/15/main
    state: fenced
"""

RETURN = r"""
running:
  description: Whether the server runs after the module.
  returned: always
  type: bool
  sample: false
was_running:
  description: Whether it ran before.
  returned: always
  type: bool
  sample: true
cluster_state:
  description: pg_controldata's "Database cluster state" of a stopped server.
  returned: when the server is stopped (not with O(state=fenced))
  type: str
  sample: shut down in recovery
shut_down_cleanly:
  description: Whether that state is a clean shutdown (C(shut down) or C(shut down in recovery)).
  returned: when the server is stopped (not with O(state=fenced))
  type: bool
  sample: true
last_checkpoint_lsn:
  description: The last (for a clean stop, the shutdown) checkpoint's LSN.
  returned: when the server is stopped (not with O(state=fenced))
  type: str
  sample: 0/3000060
timeline:
  description: That checkpoint's timeline (or the minimum recovery point's, when later).
  returned: when the server is stopped (not with O(state=fenced))
  type: int
  sample: 2
wal_end:
  description: The furthest WAL position the stopped data directory holds (last checkpoint, or minimum recovery point).
  returned: when the server is stopped (not with O(state=fenced))
  type: str
  sample: 0/3000060
standby_signal:
  description: Whether the data directory has C(standby.signal) (it starts as a standby).
  returned: unless O(state=fenced)
  type: bool
  sample: true
killed:
  description: With O(state=fenced), whether the server was hung and its processes were killed.
  returned: when O(state=fenced)
  type: bool
  sample: false
standby_signal_written:
  description: With O(state=fenced), whether C(standby.signal) was written (a restart comes up read-only).
  returned: when O(state=fenced)
  type: bool
  sample: true
queries:
  description: Always empty - the module changes no data (a C(CHECKPOINT) by O(checkpoint) is not listed).
  returned: always
  type: list
  elements: str
  sample: []
rc:
  description: The exit code of the command that failed - whichever of pg_ctl, pg_basebackup, pg_rewind,
    pg_controldata or the task's start or stop command the module ran.
  returned: on failure of such a command
  type: int
  sample: 1
stdout:
  description: Its standard output (passwords masked).
  returned: on failure of such a command
  type: str
  sample: ""
stderr:
  description: Its standard error (passwords masked).
  returned: on failure of such a command
  type: str
  sample: 'pg_controldata: error: could not open file "/var/lib/postgresql/16/main/global/pg_control" for reading: No such file or directory'
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgha.repmgr.plugins.module_utils import connection, replication, service
from ansible_collections.pgha.repmgr.plugins.module_utils.module_support import NO_CONNECTION, execute


def manage(module, _conn, ctx):
    params = module.params

    def checkpoint():  # through the login options, only when a stop asks for it
        with connection.connect_with_params(params, statement_timeout=params["timeout"]) as conn:
            conn.execute(replication.CHECKPOINT)

    return service.manage(params, module.run_command, checkpoint, ctx.check_mode)


def main():
    execute(AnsibleModule, dict(
        data_directory=dict(type="path", required=True),
        state=dict(type="str", choices=list(service.STATES), default="status"),
        mode=dict(type="str", choices=list(service.STOP_MODES), default="fast"),
        checkpoint=dict(type="bool", default=False),
        allow_primary=dict(type="bool", default=False),
        timeout=dict(type="int", default=60),
        log_file=dict(type="path"),
        start_command=dict(type="list", elements="str"),
        stop_command=dict(type="list", elements="str"),
        pg_bindir=dict(type="path"),
    ), manage, validate=service.validate, waits=("timeout", "timeout", "connect_timeout"), connect=NO_CONNECTION)


if __name__ == "__main__":
    main()
