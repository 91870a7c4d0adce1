# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The decisions of the repmgr_monitor event source, as pure functions over plain data.

The event source (extensions/eda/plugins/event_source/repmgr_monitor.py) does the I/O: it
holds a connection to the primary, probes the other nodes and sleeps. Everything it decides
(which event, when, with what in it) is here, so it can be table-tested without a server:
events are emitted on transitions only, never repeated while nothing changes.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Optional

from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption
from ansible_collections.pgha.repmgr.plugins.module_utils.records import NodeType, lsn_to_text

CHECK_TYPES = ("ping", "connection", "query")
DEFAULTS = dict(
    monitor_interval=2,
    reconnect_attempts=6,
    reconnect_interval=10,
    connection_check_type="ping",
    connect_timeout=2,
    cluster="default",
)

# repmgrd's event names for the same transitions (repmgrd-physical.c), where there is one.
MONITOR_START = "monitor_start"
UPSTREAM_DISCONNECT = "upstream_disconnect"
UPSTREAM_RECONNECT = "upstream_reconnect"
PRIMARY_FAILURE = "primary_failure"
STANDBY_FAILURE = "standby_failure"
NODE_RECOVERED = "node_recovered"
STALE_PRIMARY = "stale_primary"
NEW_PRIMARY = "new_primary"


@dataclass(frozen=True)
class Settings:
    conninfo: tuple
    node_conninfo: dict
    password: Optional[str]
    cluster: str
    monitor_interval: float
    reconnect_attempts: int
    reconnect_interval: float
    connection_check_type: str
    connect_timeout: int

    def conninfo_for(self, record):
        """How the monitor reaches a node: its own path when given (node_conninfo), else the metadata's."""
        return self.node_conninfo.get(record.node_name) or record.conninfo

    @property
    def detection_window(self) -> float:
        """Seconds from the first failed check until the primary is declared lost."""
        return self.reconnect_attempts * self.reconnect_interval


def settings_from_args(args):
    """Validate the source's arguments; raise InvalidOption naming the argument and the problem."""
    args = dict(args or {})
    conninfo = args.get("conninfo")
    if isinstance(conninfo, str):
        conninfo = [conninfo]
    if not conninfo or not all(isinstance(c, str) and c.strip() for c in conninfo):
        raise InvalidOption("conninfo", "must be a conninfo string or a list of them, one per node (got %r)"
                            % (args.get("conninfo"),))
    values = dict(DEFAULTS)
    values.update({k: v for k, v in args.items() if k in DEFAULTS and v is not None})
    for name in ("monitor_interval", "reconnect_interval"):
        try:
            values[name] = float(values[name])
        except (TypeError, ValueError):
            raise InvalidOption(name, "must be a number of seconds (got %r)" % (values[name],))
        if values[name] <= 0:
            raise InvalidOption(name, "must be more than 0 seconds (got %s)" % values[name])
    for name in ("reconnect_attempts", "connect_timeout"):
        try:
            values[name] = int(values[name])
        except (TypeError, ValueError):
            raise InvalidOption(name, "must be a whole number (got %r)" % (values[name],))
    if values["reconnect_attempts"] < 0:
        raise InvalidOption("reconnect_attempts", "must be 0 or more (got %s)" % values["reconnect_attempts"])
    if values["connect_timeout"] < 1:
        raise InvalidOption("connect_timeout", "must be at least 1 second (got %s)" % values["connect_timeout"])
    if values["connection_check_type"] not in CHECK_TYPES:
        raise InvalidOption("connection_check_type", "must be one of %s (got %r)"
                            % (", ".join(CHECK_TYPES), values["connection_check_type"]))
    node_conninfo = args.get("node_conninfo") or {}
    if not isinstance(node_conninfo, dict) or not all(isinstance(v, str) and v for v in node_conninfo.values()):
        raise InvalidOption("node_conninfo", "must map node names to conninfo strings (got %r)" % (node_conninfo,))
    return Settings(conninfo=tuple(conninfo), node_conninfo=dict(node_conninfo), password=args.get("password") or None, cluster=str(values["cluster"]),
                    monitor_interval=values["monitor_interval"], reconnect_attempts=values["reconnect_attempts"],
                    reconnect_interval=values["reconnect_interval"],
                    connection_check_type=values["connection_check_type"],
                    connect_timeout=values["connect_timeout"])


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def event(settings, name, record=None, **details):
    """One event as the rulebook sees it: event.repmgr.<field>."""
    body = dict(event=name, cluster=settings.cluster, timestamp=now_iso())
    if record is not None:
        body.update(node_id=record.node_id, node_name=record.node_name)
    body.update(details)
    return {"repmgr": body}


def current_primary(records):
    """The active primary record of the metadata (None when there is none, or several)."""
    primaries = [r for r in records if r.type == NodeType.PRIMARY.value and r.active]
    return primaries[0] if len(primaries) == 1 else None


def standby_view(record, observation):
    """What primary_failure tells the playbook about one survivor."""
    connected = bool(observation and observation.connected)
    return dict(
        node_id=record.node_id,
        node_name=record.node_name,
        type=record.type,
        reachable=connected,
        in_recovery=observation.in_recovery if connected else None,
        received_lsn=lsn_to_text(observation.received_lsn) if connected else None,
        replayed_lsn=lsn_to_text(observation.replayed_lsn) if connected else None,
        wal_receiver_streaming=observation.wal_receiver_streaming if connected else None,
    )


@dataclass
class NodeWatch:
    """What the source remembers about the other nodes, to emit events on transitions only."""

    down: set = field(default_factory=set)  # node ids reported as failed
    stale: set = field(default_factory=set)  # node ids reported as stale primaries

    def transitions(self, settings, records, observations, primary_id):
        """standby_failure / node_recovered / stale_primary events for this round of probes.

        The primary is watched separately. An inactive node (a failed former primary) that is
        down is old news; one that comes back running as a primary is a stale primary.
        """
        events = []
        for record in records:
            if record.node_id == primary_id:
                continue
            observation = observations.get(record.node_id)
            connected = bool(observation and observation.connected)
            if not connected and record.active and record.node_id not in self.down:
                self.down.add(record.node_id)
                events.append(event(settings, STANDBY_FAILURE, record,
                                    error=observation.error if observation else None))
            elif connected and record.node_id in self.down:
                self.down.discard(record.node_id)
                events.append(event(settings, NODE_RECOVERED, record))
            events.extend(self._stale(settings, record, observation, primary_id))
        return events

    def _stale(self, settings, record, observation, primary_id):
        """A node other than the primary that runs as a primary: a split brain to report, once."""
        running_as_primary = bool(observation and observation.connected and observation.in_recovery is False
                                  and record.type != NodeType.WITNESS.value)
        if running_as_primary and record.node_id not in self.stale and primary_id is not None:
            self.stale.add(record.node_id)
            return [event(settings, STALE_PRIMARY, record, registered_as=record.type, active=record.active,
                          primary_node_id=primary_id)]
        if not running_as_primary:
            self.stale.discard(record.node_id)
        return []
