# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed errors raised by the core. Modules turn them into fail_json messages.

Every message says what is wrong, where, and (when there is one) what to do.
Messages never contain a password: conninfo strings are masked before they get here.
"""

from __future__ import annotations


class PghaError(Exception):
    """Base class: the message is meant for the user as it is."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self):
        return self.message


class InvalidOption(PghaError):
    """A module option or argument is wrong; raised before anything changes."""

    def __init__(self, option, problem, **details):
        super().__init__("%s %s" % (option, problem), option=option, **details)
        self.option = option


def require_node_id(value, option="node_id"):
    """A repmgr node ID is a positive integer (repmgr.conf's node_id, minimum 1)."""
    if value is None:
        raise InvalidOption(option, "is required")
    if value < 1:
        raise InvalidOption(option, "must be a positive integer (got %s)" % value)


class ConnectionFailed(PghaError):
    """A PostgreSQL server could not be reached or refused the session."""


class MetadataMissing(PghaError):
    """The repmgr metadata (schema repmgr, its tables) is not where it should be."""


class PreconditionFailed(PghaError):
    """The cluster is not in a state where the action is safe (nothing was changed)."""


class CommandFailed(PghaError):
    """An external command (pg_ctl, pg_basebackup, pg_rewind) returned non-zero."""

    def __init__(self, message, rc=None, stdout="", stderr="", **details):
        super().__init__(message, rc=rc, stdout=stdout, stderr=stderr, **details)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr


class Timeout(PghaError):
    """A wait ran out of time."""
