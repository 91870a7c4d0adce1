# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The repmgr_monitor event source's arguments: their defaults (repmgr's), their checks, the Settings record.

settings_from_args() turns the source's arguments into one frozen Settings, or raises
InvalidOption naming the argument and what is wrong, before anything is watched; the loop
(monitor.py) reads nothing else. Pure: no I/O, nothing but the arguments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption
from ansible_collections.pgha.repmgr.plugins.module_utils.event_notifications import chosen_events, command_from

CHECK_TYPES = ("ping", "connection", "query")
DEFAULTS = dict(
    monitor_interval=2,
    reconnect_attempts=6,
    reconnect_interval=10,
    connection_check_type="ping",
    connect_timeout=2,
    cluster="default",
    failure_repeat_interval=None,
    write_events=True,
    monitoring_history=False,
    heartbeat_interval=0,
    event_notification_command="",
    event_notifications=(),
    webhook_url="",
)
# A repeated primary_failure starts a playbook run; rulesets run them one after another. Repeats
# faster than a run takes would pile up runs that each find nothing to do.
MIN_FAILURE_REPEAT = 10.0


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
    failure_repeat_interval: Optional[float] = None
    write_events: bool = True
    monitoring_history: bool = False
    heartbeat_interval: float = 0
    event_notification_command: str = ""
    event_notifications: tuple = ()
    webhook_url: str = ""

    def conninfo_for(self, record):
        """How the monitor reaches a node: its own path when given (node_conninfo), else the metadata's."""
        return self.node_conninfo.get(record.node_name) or record.conninfo

    @property
    def detection_window(self) -> float:
        """Seconds from the failed check (attempt 1) to the last attempt: (reconnect_attempts - 1) x interval.

        A hung primary adds one connect_timeout, the time the last attempt may take.
        """
        return max(0, self.reconnect_attempts - 1) * self.reconnect_interval

    @property
    def repeat_interval(self) -> float:
        """Seconds between two primary_failure events for the same loss."""
        if self.failure_repeat_interval:
            return self.failure_repeat_interval
        return max(self.detection_window, MIN_FAILURE_REPEAT)


def seconds(name, value, problem):
    """A finite number of seconds from a number or its text (rulebook variables may arrive as text)."""
    if isinstance(value, bool):  # float(True) is 1.0: a boolean here is a mistake, not one second
        raise InvalidOption(name, "%s (got %r)" % (problem, value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidOption(name, "%s (got %r)" % (problem, value))
    if not math.isfinite(number):
        raise InvalidOption(name, "%s (got %r)" % (problem, value))
    return number


def whole_number(name, value):
    """An integer from an integer, an integral float or its text; never a truncated 3.5 or a boolean."""
    problem = "must be a whole number (got %r)" % (value,)
    if isinstance(value, bool):
        raise InvalidOption(name, problem)
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidOption(name, problem)
    if not number.is_integer():
        raise InvalidOption(name, problem)
    return int(number)


def settings_from_args(args):
    """Validate the source's arguments; raise InvalidOption naming the argument and the problem."""
    args = dict(args or {})
    unknown = sorted(set(args) - set(DEFAULTS) - {"conninfo", "node_conninfo", "password"})
    if unknown:
        raise InvalidOption(unknown[0], "is not an argument of pgha.repmgr.repmgr_monitor (known: %s)"
                            % ", ".join(sorted(set(DEFAULTS) | {"conninfo", "node_conninfo", "password"})))
    conninfo = args.get("conninfo")
    if isinstance(conninfo, str):
        conninfo = [conninfo]
    if not conninfo or not isinstance(conninfo, (list, tuple)) or \
            not all(isinstance(c, str) and c.strip() for c in conninfo):
        raise InvalidOption("conninfo", "must be a conninfo string or a list of them, one per node (got %r)"
                            % (args.get("conninfo"),))
    values = dict(DEFAULTS)
    values.update({k: v for k, v in args.items() if k in DEFAULTS and v is not None and v != ""})
    for name in ("monitor_interval", "reconnect_interval", "failure_repeat_interval"):
        if values[name] is None:
            continue
        values[name] = seconds(name, values[name], "must be a number of seconds")
        if values[name] <= 0:
            raise InvalidOption(name, "must be more than 0 seconds (got %s)" % values[name])
    for name in ("reconnect_attempts", "connect_timeout"):
        values[name] = whole_number(name, values[name])
    if values["reconnect_attempts"] < 0:
        raise InvalidOption("reconnect_attempts", "must be 0 or more (got %s)" % values["reconnect_attempts"])
    if values["connect_timeout"] < 1:
        raise InvalidOption("connect_timeout", "must be at least 1 second (got %s)" % values["connect_timeout"])
    if not isinstance(values["cluster"], (str, int)) or isinstance(values["cluster"], bool):
        raise InvalidOption("cluster", "must be the cluster's name, a string (got %r)" % (values["cluster"],))
    values["cluster"] = str(values["cluster"])
    if values["connection_check_type"] not in CHECK_TYPES:
        raise InvalidOption("connection_check_type", "must be one of %s (got %r)"
                            % (", ".join(CHECK_TYPES), values["connection_check_type"]))
    for name in ("write_events", "monitoring_history"):
        if not isinstance(values[name], bool):
            raise InvalidOption(name, "must be true or false (got %r)" % (values[name],))
    values["heartbeat_interval"] = seconds("heartbeat_interval", values["heartbeat_interval"],
                                           "must be a number of seconds, 0 for none")
    if values["heartbeat_interval"] < 0:
        raise InvalidOption("heartbeat_interval", "must be 0 (no heartbeat) or more (got %s)"
                            % values["heartbeat_interval"])
    values["event_notification_command"] = command_from(values["event_notification_command"])
    values["event_notifications"] = chosen_events(values["event_notifications"])
    url = values["webhook_url"]
    if not isinstance(url, str) or (url and not url.startswith(("http://", "https://"))):
        raise InvalidOption("webhook_url", "must be an http:// or https:// URL (got %r)" % (url,))
    node_conninfo = args.get("node_conninfo") or {}
    if not isinstance(node_conninfo, dict) or not all(isinstance(v, str) and v for v in node_conninfo.values()):
        raise InvalidOption("node_conninfo", "must map node names to conninfo strings (got %r)" % (node_conninfo,))
    return Settings(conninfo=tuple(conninfo), node_conninfo=dict(node_conninfo), password=args.get("password") or None,
                    cluster=values["cluster"], monitor_interval=values["monitor_interval"],
                    reconnect_attempts=values["reconnect_attempts"], reconnect_interval=values["reconnect_interval"],
                    connection_check_type=values["connection_check_type"], connect_timeout=values["connect_timeout"],
                    failure_repeat_interval=values["failure_repeat_interval"], write_events=values["write_events"],
                    monitoring_history=values["monitoring_history"], heartbeat_interval=values["heartbeat_interval"],
                    event_notification_command=values["event_notification_command"],
                    event_notifications=values["event_notifications"], webhook_url=values["webhook_url"])
