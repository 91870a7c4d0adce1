# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""repmgr.monitoring_history rows, as repmgrd's monitoring_history=yes writes them, from one survey.

Pure: a survey's truth and observations in, rows as plain data out (WRITE_HISTORY tuples, which
the event source turns into metadata.INSERT_MONITORING_RECORD). When and how they are sent is the
loop's business (Monitor.write_history in monitor.py).
"""

from __future__ import annotations

from ansible_collections.pgha.repmgr.plugins.module_utils.records import NodeType, lsn_to_text

# What the loop asks the I/O to write on the primary (MonitorIO.write), for monitoring_history:
# (WRITE_HISTORY, primary_node_id, standby_node_id, last_monitor_time, last_apply_time, primary_lsn,
#  standby_lsn, replication_lag, apply_lag): a repmgr.monitoring_history row (times in seconds since the
#  epoch, last_apply_time None when unknown; LSNs as text; lags in bytes)
WRITE_HISTORY = "history"


def monitoring_records(truth, observations, when):
    """repmgr.monitoring_history rows (WRITE_HISTORY) for this survey: what each standby's repmgrd would write.

    repmgrd (update_monitoring_history) writes from every standby whose server it reaches, once
    per monitor interval, on the primary: the primary's current LSN, the standby's received LSN
    (0/0 when it has received none) and, in bytes, replication_lag = primary - received and
    apply_lag = received - replayed (0 when negative), stamped with the standby's own clock and
    the time of its last replayed transaction. A standby that answers but does not stream gets
    its row too: its lag grows, which is what a dashboard must show. No primary LSN, no rows.
    `when` stands in for a standby clock the survey did not read.
    """
    primary_id = truth.primary_id
    primary = observations.get(primary_id) if primary_id is not None else None
    if primary is None or not primary.connected or primary.in_recovery is not False or primary.current_lsn is None:
        return []
    rows = []
    for record in truth.records:
        observation = observations.get(record.node_id)
        if record.node_id == primary_id or record.type != NodeType.STANDBY.value:
            continue
        if observation is None or not observation.connected or observation.in_recovery is not True:
            continue
        received = observation.received_lsn or 0
        replayed = observation.replayed_lsn or 0
        rows.append((WRITE_HISTORY, primary_id, record.node_id,
                     observation.server_time if observation.server_time is not None else when,
                     observation.last_replay_time, lsn_to_text(primary.current_lsn), lsn_to_text(received),
                     max(primary.current_lsn - received, 0), max(received - replayed, 0)))
    return rows
