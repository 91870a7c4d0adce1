# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two notification options, read once for the modules and the monitor alike (pure).

event_notification_command is a string (empty: no notifications). event_notifications, as
repmgr.conf's option of that name, lists the events to notify; none listed means every event.
The list may be given as repmgr.conf writes it, one comma-separated string.
"""

from __future__ import annotations

from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption


def command_from(command):
    """event_notification_command, stripped; '' when unset."""
    if command is None:
        return ""
    if not isinstance(command, str):
        raise InvalidOption("event_notification_command", "must be a string (got %r)" % (command,))
    return command.strip()


def chosen_events(events):
    """event_notifications as a tuple of event names, in the order given; () when unset (every event)."""
    if events is None:
        return ()
    if isinstance(events, str):  # repmgr.conf's form: a comma-separated list
        events = [name for name in events.split(",") if name.strip()]
    if not isinstance(events, (list, tuple)) or not all(isinstance(e, str) and e.strip() for e in events):
        raise InvalidOption("event_notifications", "must be a list of event names (got %r)" % (events,))
    return tuple(e.strip() for e in events)


def wanted(event, chosen):
    """repmgr's rule: no event_notifications means every event; else only the events listed."""
    return not chosen or event in chosen
