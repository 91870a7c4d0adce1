# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plain data shared by the core: a node's metadata record and what a probe observed.

Everything here is pure Python with no I/O, so status and election rules can be
table-tested without a database.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, asdict
from typing import Optional, Tuple


class NodeType(str, enum.Enum):
    """Values of repmgr.nodes.type ('bdr' is legacy, still allowed by the CHECK)."""

    PRIMARY = "primary"
    STANDBY = "standby"
    WITNESS = "witness"
    BDR = "bdr"


class Reachability(str, enum.Enum):
    """How a probe got on with a node, as repmgr distinguishes it in `cluster show`.

    CONNECTED: a session was opened. REJECTED: the server answers (PQping would say
    PQPING_REJECT/OK) but refused our session, e.g. bad password or pg_hba. DOWN: nothing
    answered within the timeout.
    """

    CONNECTED = "connected"
    REJECTED = "rejected"
    DOWN = "down"


@dataclass(frozen=True)
class NodeRecord:
    """One row of repmgr.nodes (plus the upstream's name from a self join)."""

    node_id: int
    node_name: str
    type: str
    upstream_node_id: Optional[int] = None
    active: bool = True
    location: str = "default"
    priority: int = 100
    conninfo: str = ""
    repluser: str = ""
    slot_name: Optional[str] = None
    config_file: str = ""
    upstream_node_name: Optional[str] = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ReplicationClient:
    """One row of pg_stat_replication on an upstream (a downstream's walsender)."""

    application_name: str
    state: Optional[str]  # None when the probing role may not see it (no pg_read_all_stats)
    sent_lsn: Optional[int] = None
    flush_lsn: Optional[int] = None
    replay_lsn: Optional[int] = None


@dataclass(frozen=True)
class NodeObservation:
    """What one probe of one node saw. Unknown facts are None, never guessed."""

    node_id: int
    reachability: Reachability
    error: Optional[str] = None  # libpq's message, passwords already masked
    in_recovery: Optional[bool] = None
    timeline: Optional[int] = None  # None while connected means the query failed ("?")
    own_record: Optional[NodeRecord] = None  # the node's own copy of its repmgr.nodes row
    received_lsn: Optional[int] = None  # standby: pg_last_wal_receive_lsn()
    replayed_lsn: Optional[int] = None  # standby: pg_last_wal_replay_lsn()
    current_lsn: Optional[int] = None  # primary: pg_current_wal_lsn()
    wal_replay_paused: Optional[bool] = None
    # pg_stat_replication rows on this node; None when they could not be read
    replication: Optional[Tuple[ReplicationClient, ...]] = None
    system_identifier: Optional[int] = None
    server_version_num: Optional[int] = None
    # True when a WAL receiver is streaming (pg_stat_wal_receiver.status = 'streaming')
    wal_receiver_streaming: Optional[bool] = None
    wal_receiver_upstream: Optional[str] = None  # sender_host of pg_stat_wal_receiver
    wal_receiver_timeline: Optional[int] = None  # received_tli of pg_stat_wal_receiver
    wal_receiver_sender_port: Optional[int] = None  # sender_port of pg_stat_wal_receiver
    # seconds since the WAL receiver last got a message from its upstream (fresh evidence that
    # the upstream is alive); None when there is no WAL receiver
    wal_receiver_last_msg_age: Optional[float] = None
    # the timeline the server writes (primary) or receives (standby) now: pg_control_checkpoint()
    # lags behind a promotion until the next checkpoint, this does not
    current_timeline: Optional[int] = None
    voting_term: Optional[int] = None  # repmgr.voting_term on that node (None: no row, or unreadable)
    # whether that node's copy of repmgr.events says automatic failover is paused (None: unreadable)
    failover_paused: Optional[bool] = None
    # the node's own copy of repmgr.nodes, when the probe was asked for it (read_nodes=True)
    nodes: Optional[Tuple[NodeRecord, ...]] = None
    # the server's clock when probed (CURRENT_TIMESTAMP) and pg_last_xact_replay_timestamp(), both in
    # seconds since the epoch: a standby's last_monitor_time and last_apply_time in repmgr.monitoring_history
    server_time: Optional[float] = None
    last_replay_time: Optional[float] = None
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def connected(self) -> bool:
        return self.reachability is Reachability.CONNECTED

    @property
    def answers(self) -> bool:
        """The server answered: a session was opened, or it refused one (a FATAL is an answer).

        A refused login (too many clients, pg_hba, a password) is a live server, never a failed one.
        """
        return self.reachability in (Reachability.CONNECTED, Reachability.REJECTED)


@dataclass(frozen=True)
class WalPosition:
    """Where a server's WAL stands, as IDENTIFY_SYSTEM (or pg_controldata) says."""

    system_identifier: int
    timeline: int
    lsn: int


def replay_paused_with_wal_pending(in_recovery, paused, received_lsn, replayed_lsn) -> bool:
    """repmgr's is_wal_replay_paused(check_pending_wal=true): paused, and received WAL not yet replayed.

    Paused alone is harmless; received WAL left unreplayed would be lost by a promotion.
    """
    if in_recovery is False or paused is not True:
        return False
    return received_lsn is not None and replayed_lsn is not None and replayed_lsn < received_lsn


def describe(record) -> str:
    """A node as repmgr names it in messages: "node2" (ID: 2)."""
    return '"%s" (ID: %d)' % (record.node_name, record.node_id)


def slot_name_for(node_id: int) -> str:
    """repmgr's replication slot name of a node: repmgr_slot_<node_id>."""
    return "repmgr_slot_%d" % node_id


def furthest_lsn(*lsns: Optional[int]) -> int:
    """The furthest of some LSNs (unknown ones ignored); 0 when none is known."""
    return max([lsn for lsn in lsns if lsn is not None] or [0])


def lsn_from_text(text: Optional[str]) -> Optional[int]:
    """'0/3000148' -> 50331976. None stays None."""
    if text is None:
        return None
    text = str(text)
    high, sep, low = text.partition("/")
    if not sep:
        raise ValueError("not an LSN: %r (expected X/Y in hexadecimal)" % (text,))
    return (int(high, 16) << 32) | int(low, 16)


def lsn_to_text(value: Optional[int]) -> Optional[str]:
    """50331976 -> '0/3000148', PostgreSQL's own spelling."""
    if value is None:
        return None
    return "%X/%X" % (value >> 32, value & 0xFFFFFFFF)
