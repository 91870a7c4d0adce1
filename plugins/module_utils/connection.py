# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way this collection opens a PostgreSQL session.

Every session gets a connect timeout, an application_name (so a DBA sees us in
pg_stat_activity), a statement timeout (so nothing waits forever on a lock) and
synchronous_commit=local (as repmgr: a metadata write must not hang because a synchronous
standby is down). Option names are community.postgresql's.
"""

from __future__ import annotations

from ansible_collections.pgha.repmgr.plugins.module_utils import conninfo as conninfo_util
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import ConnectionFailed, InvalidOption
from ansible_collections.pgha.repmgr.plugins.module_utils.records import Reachability

try:
    import psycopg
except ImportError:
    psycopg = None

APPLICATION_NAME = "pgha-repmgr"
DEFAULT_CONNECT_TIMEOUT = 5
DEFAULT_STATEMENT_TIMEOUT = 30
SESSION_OPTIONS = "-c synchronous_commit=local -c statement_timeout=%d"


def connection_argument_spec():
    """The common connection options, shared by every module (see doc_fragments/connection.py)."""
    return dict(
        login_host=dict(type="str", default="", aliases=["host"]),
        login_port=dict(type="int", default=5432, aliases=["port"]),
        login_user=dict(type="str", default="repmgr"),
        login_password=dict(type="str", default="", no_log=True),
        login_unix_socket=dict(type="str", default="", aliases=["unix_socket"]),
        login_db=dict(type="str", default="repmgr", aliases=["db"]),
        ssl_mode=dict(
            type="str",
            default="prefer",
            choices=["allow", "disable", "prefer", "require", "verify-ca", "verify-full"],
        ),
        ca_cert=dict(type="str", aliases=["ssl_rootcert"]),
        ssl_cert=dict(type="path"),
        ssl_key=dict(type="path", no_log=False),
        connect_params=dict(type="dict", default={}),
        connect_timeout=dict(type="int", default=DEFAULT_CONNECT_TIMEOUT),
        # repmgr's event_notification_command / event_notifications (notify.py), for the modules that
        # write events; with the connection options so that every module has them in one place
        event_notification_command=dict(type="str", default=""),
        event_notifications=dict(type="list", elements="str", default=[]),
    )


def validate_connection_params(params):
    """Checks that argument_spec cannot express; raises InvalidOption."""
    if params.get("connect_timeout") is not None and params["connect_timeout"] < 1:
        raise InvalidOption("connect_timeout", "must be at least 1 second (got %s)" % params["connect_timeout"])
    port = params.get("login_port")
    if port is not None and not 1 <= port <= 65535:
        raise InvalidOption("login_port", "must be between 1 and 65535 (got %s)" % port)


def login_conninfo(params, fallback_conninfo=None):
    """The conninfo for the module's own session, from the login_* options.

    When neither login_host nor login_unix_socket is given and the module knows the node's
    own conninfo (e.g. repmgr_node's `conninfo`), that is used as the base, as repmgr
    connects with the conninfo of repmgr.conf. login_* options given explicitly win.
    """
    base = ""
    explicit_host = params.get("login_host") or params.get("login_unix_socket")
    if fallback_conninfo and not explicit_host:
        conninfo_util.parse(fallback_conninfo)  # validate before use
        base = fallback_conninfo
    keywords = {
        "host": params.get("login_unix_socket") or params.get("login_host") or None,
        # libpq's default is prefer: only say it when it is something else, to keep conninfo strings short
        "sslmode": params.get("ssl_mode") if params.get("ssl_mode") not in (None, "prefer") else None,
        "sslrootcert": params.get("ca_cert"),
        "sslcert": params.get("ssl_cert"),
        "sslkey": params.get("ssl_key"),
        "password": params.get("login_password") or None,
    }
    if explicit_host or not base:
        keywords["port"] = params.get("login_port")
        keywords["user"] = params.get("login_user")
        keywords["dbname"] = params.get("login_db")
    for key, value in (params.get("connect_params") or {}).items():
        keywords[key] = value
    return conninfo_util.build(base, **keywords)


def node_conninfo(record_conninfo, password=None, dbname=None):
    """The conninfo to reach another node: its metadata conninfo, plus our password if it has none.

    Passwords are never stored in repmgr.nodes; like repmgr we rely on .pgpass/PGPASSFILE,
    or on the login_password the module was given.
    """
    params = conninfo_util.parse(record_conninfo, "conninfo of a node record")
    extra = {}
    if password and "password" not in params:
        extra["password"] = password
    if dbname:
        extra["dbname"] = dbname
    return conninfo_util.build(record_conninfo, **extra)


def session_conninfo(conninfo, connect_timeout=DEFAULT_CONNECT_TIMEOUT, statement_timeout=DEFAULT_STATEMENT_TIMEOUT,
                     application_name=APPLICATION_NAME):
    """Add our session settings to a conninfo, keeping what the caller set explicitly."""
    params = conninfo_util.parse(conninfo)
    extra = {}
    if "connect_timeout" not in params:
        extra["connect_timeout"] = connect_timeout
    if "application_name" not in params:
        extra["application_name"] = application_name
    options = SESSION_OPTIONS % (int(statement_timeout) * 1000)
    extra["options"] = (params.get("options", "") + " " + options).strip()
    return conninfo_util.build(conninfo, **extra)


def node_target(conninfo, password=None, connect_timeout=DEFAULT_CONNECT_TIMEOUT,
                statement_timeout=DEFAULT_STATEMENT_TIMEOUT, application_name=APPLICATION_NAME, **extra):
    """The one way to reach a node by its conninfo: plus our password when it has none, plus our session settings.

    Used by the synchronous core (connect_node), the parallel probe and the monitor alike.
    `extra` adds keywords (replication=database for IDENTIFY_SYSTEM).
    """
    target = node_conninfo(conninfo, password)
    if extra:
        target = conninfo_util.build(target, **extra)
    return session_conninfo(target, connect_timeout, statement_timeout, application_name)


def connect_node(conninfo, ctx, **extra):
    """A session to a node by its conninfo, with this run's password, connect timeout and secrets (raises ConnectionFailed)."""
    return connect(conninfo_util.build(node_conninfo(conninfo, ctx.password), **extra) if extra
                   else node_conninfo(conninfo, ctx.password),
                   connect_timeout=ctx.timeout, secrets=ctx.secrets)


def classify_failure(message):
    """REJECTED when the server answered (a FATAL from the postmaster), DOWN otherwise.

    Equivalent to repmgr's PQping follow-up (PQPING_REJECT vs PQPING_NO_RESPONSE) without a
    second round trip to a server that already did not answer in time.
    """
    return Reachability.REJECTED if "FATAL:" in (message or "") else Reachability.DOWN


def describe_target(conninfo):
    try:
        params = conninfo_util.parse(conninfo)
    except InvalidOption:
        return "(invalid conninfo)"
    host = params.get("host") or params.get("hostaddr") or "local socket"
    return '%s port %s (user "%s", database "%s")' % (
        host,
        params.get("port", "5432"),
        params.get("user", ""),
        params.get("dbname", ""),
    )


def connect(conninfo, connect_timeout=DEFAULT_CONNECT_TIMEOUT, statement_timeout=DEFAULT_STATEMENT_TIMEOUT,
            autocommit=True, secrets=()):
    """Open a psycopg session; raise ConnectionFailed with a masked, readable message."""
    conninfo_util.require_psycopg()
    full = session_conninfo(conninfo, connect_timeout, statement_timeout)
    try:
        return psycopg.connect(full, autocommit=autocommit)
    except psycopg.Error as exc:
        password = conninfo_util.parse(conninfo).get("password")
        message = conninfo_util.mask_text(str(exc).strip(), secrets=tuple(secrets) + ((password,) if password else ()))
        raise ConnectionFailed(
            "unable to connect to %s: %s" % (describe_target(conninfo), message),
            reachability=classify_failure(message),
        )


def connect_with_params(params, fallback_conninfo=None, statement_timeout=DEFAULT_STATEMENT_TIMEOUT):
    """connect() from a module's login_* options."""
    validate_connection_params(params)
    return connect(
        login_conninfo(params, fallback_conninfo),
        connect_timeout=params.get("connect_timeout") or DEFAULT_CONNECT_TIMEOUT,
        statement_timeout=statement_timeout,
        secrets=(params.get("login_password"),),
    )
