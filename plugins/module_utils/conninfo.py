# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libpq connection strings: parse, build, mask.

Parsing and building go through psycopg.conninfo (libpq's own rules), never a hand parser.
Masking is the one place where a conninfo is shown to a user; it never lets a password out,
not even for a string libpq cannot parse.
"""

from __future__ import annotations

import re

from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption

try:
    from psycopg import conninfo as _libpq_conninfo
    from psycopg import ProgrammingError as _ConninfoError
except ImportError:  # the import sanity test loads us without psycopg; modules report it
    _libpq_conninfo = None
    _ConninfoError = Exception

MASK = "********"

# Keys that make no sense in a standby's primary_conninfo (repmgr drops them too).
_NOT_FOR_REPLICATION = ("dbname", "replication", "application_name", "fallback_application_name")

# Used only to mask what libpq could not parse: a last line of defence for error messages.
_PASSWORD_IN_KEYWORDS = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_PASSWORD_IN_URI = re.compile(r"(postgres(?:ql)?://[^:/@\s]*:)([^@\s]*)(@)", re.IGNORECASE)


def require_psycopg():
    if _libpq_conninfo is None:
        raise ImportError("psycopg (version 3) is required: pip install 'psycopg[binary]'")


def parse(conninfo, option="conninfo"):
    """Return the conninfo's parameters as a dict; raise InvalidOption naming `option`."""
    require_psycopg()
    if not isinstance(conninfo, str) or not conninfo.strip():
        raise InvalidOption(option, "must be a non-empty libpq connection string (got %r)" % (conninfo,))
    try:
        return dict(_libpq_conninfo.conninfo_to_dict(conninfo))
    except _ConninfoError as exc:
        if "password" in conninfo.lower() or "://" in conninfo:
            # libpq's message quotes pieces of the string, which may be pieces of the password
            raise InvalidOption(option, "is not a valid libpq connection string (not shown: it holds a password "
                                        "or a URI; check its quoting)")
        raise InvalidOption(
            option,
            "is not a valid libpq connection string: %s (got %s)" % (mask_text(str(exc)), mask(conninfo)),
        )


def build(base="", **params):
    """Join a conninfo string and keyword parameters (None values are left out)."""
    require_psycopg()
    try:
        return _libpq_conninfo.make_conninfo(base, **{k: v for k, v in params.items() if v is not None})
    except _ConninfoError as exc:
        raise InvalidOption("connect_params", "holds something libpq does not accept: %s" % mask_text(str(exc)))


def mask(conninfo):
    """The conninfo with its password replaced by ********; safe for any output."""
    if conninfo is None:
        return None
    if _libpq_conninfo is not None:
        try:
            params = dict(_libpq_conninfo.conninfo_to_dict(conninfo))
        except _ConninfoError:
            params = None
        if params is not None:
            if "password" not in params:
                return conninfo
            params["password"] = MASK
            return _libpq_conninfo.make_conninfo("", **params)
    return mask_text(conninfo)


def mask_text(text, secrets=()):
    """Mask password=... and URI passwords in free text, and every literal secret given."""
    if text is None:
        return None
    text = str(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    text = _PASSWORD_IN_KEYWORDS.sub(lambda m: m.group(1) + MASK, text)
    return _PASSWORD_IN_URI.sub(lambda m: m.group(1) + MASK + m.group(3), text)


def host_and_port(conninfo, option="conninfo"):
    """(host, port) as a node's conninfo gives them; port defaults to libpq's 5432."""
    params = parse(conninfo, option)
    return params.get("host") or params.get("hostaddr") or "", int(params.get("port") or 5432)


def replication_conninfo(upstream_conninfo, application_name, user=None, passfile=None, password=None):
    """The primary_conninfo a standby uses to stream from `upstream_conninfo`.

    As repmgr writes it: the upstream's parameters minus database and application names,
    plus user (the replication user), application_name = the standby's node name (attachment
    is recognised by it in pg_stat_replication), and passfile when given.
    """
    params = parse(upstream_conninfo, "upstream conninfo")
    for key in _NOT_FOR_REPLICATION:
        params.pop(key, None)
    params = {k: v for k, v in params.items() if v not in (None, "")}
    if user:
        params["user"] = user
    if passfile:
        params["passfile"] = passfile
    if password:
        params["password"] = password
    params["application_name"] = application_name
    return build("", **params)
