# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The glue every module shares: the psycopg check, the run context, core errors into fail_json, main()."""

from __future__ import annotations

import signal
import traceback
from dataclasses import dataclass, field
from typing import Optional

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.pgha.repmgr.plugins.module_utils import connection, notify
from ansible_collections.pgha.repmgr.plugins.module_utils import conninfo as conninfo_util
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import (
    CommandFailed,
    ConnectionFailed,
    InvalidOption,
    PghaError,
    Timeout,
)

try:
    import psycopg
    PSYCOPG_IMPORT_ERROR = None
except ImportError:
    psycopg = None
    PSYCOPG_IMPORT_ERROR = traceback.format_exc()


CONNINFO_OPTIONS = ("conninfo", "primary_conninfo", "upstream_conninfo")


def require_psycopg(module):
    if PSYCOPG_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("psycopg (version 3)"), exception=PSYCOPG_IMPORT_ERROR)
    protect_embedded_passwords(module)


def protect_embedded_passwords(module):
    """A password typed inside a conninfo option or connect_params is masked in every output.

    Those options are not no_log (their value is shown, masked, in results), so the password
    itself is added to the module's no_log values, which Ansible removes from everything it
    returns, the echoed invocation included.
    """
    candidates = [module.params.get(name) for name in CONNINFO_OPTIONS]
    for value in candidates:
        if not value:
            continue
        try:
            password = conninfo_util.parse(value).get("password")
        except (InvalidOption, ImportError):
            password = None
        if password:
            module.no_log_values.add(password)
    extra = module.params.get("connect_params") or {}
    if extra.get("password"):
        module.no_log_values.add(str(extra["password"]))


def secrets_of(module):
    """Every secret option value of this module, to mask in anything we print."""
    return tuple(module.params.get(name) for name in ("login_password",) if module.params.get(name))


def fail(module, error, **result):
    """fail_json from a core error, with its message masked once more as a last defence."""
    message = conninfo_util.mask_text(str(error), secrets=secrets_of(module))
    for key, value in getattr(error, "details", {}).items():
        # facts a playbook can act on, such as promote_requested; never free text from a server
        if isinstance(value, bool) and key not in result:
            result[key] = value
    if isinstance(error, CommandFailed):
        result.setdefault("rc", error.rc)
        result.setdefault("stdout", conninfo_util.mask_text(error.stdout, secrets_of(module)))
        result.setdefault("stderr", conninfo_util.mask_text(error.stderr, secrets_of(module)))
    module.fail_json(msg=message, **result)


def deadline_for(module, *option_names, margin=60):
    """A safety-net deadline for the whole module: its own waits plus a margin, in seconds."""
    return margin + sum(int(module.params.get(name) or 0) for name in option_names)


def run(module, body, deadline=None, **result):
    """Run body(); turn PghaError and PostgreSQL errors into clean failures (no traceback).

    `deadline` (seconds) bounds the whole run: libpq's connect_timeout and the server's
    statement_timeout cannot help when a server stops answering mid-query (SIGSTOP, a cut
    network), and a blocked query is interrupted by the alarm.
    """
    if deadline:
        def expired(_signum, _frame):
            raise Timeout("the module did not finish within %d seconds: a PostgreSQL server stopped answering "
                          "(hung, or the network is cut)" % deadline)

        signal.signal(signal.SIGALRM, expired)
        signal.alarm(int(deadline))
    try:
        return body()
    except PghaError as error:
        fail(module, error, **result)
    except Exception as error:  # pylint: disable=broad-except
        if PSYCOPG_IMPORT_ERROR is None and isinstance(error, psycopg.Error):
            state = getattr(error, "sqlstate", None)
            where = " (SQLSTATE %s)" % state if state else ""
            fail(module, PghaError("PostgreSQL error%s: %s" % (where, str(error).strip())), **result)
        raise
    finally:
        if deadline:
            signal.alarm(0)


class QueryLog:
    """The statements a module ran, for its `queries` result (templates, no parameters)."""

    def __init__(self):
        self.statements = []

    def add(self, *statements):
        self.statements.extend(" ".join(s.split()) for s in statements)


@dataclass
class Context:
    """What every operation of the core needs besides its options: how to reach other nodes, check mode, the log."""

    password: Optional[str]
    timeout: int
    secrets: tuple
    check_mode: bool
    log: QueryLog = field(default_factory=QueryLog)


def context(module):
    """The Context of a module run: password, timeout, secrets, check mode."""
    params = module.params
    return Context(password=params["login_password"] or None, timeout=params["connect_timeout"],
                   secrets=secrets_of(module), check_mode=module.check_mode)


CONNECT_REQUIRED = "required"  # a failed connection fails the module
CONNECT_OPTIONAL = "optional"  # the operation gets None and decides (it may reach the cluster another way)
NO_CONNECTION = "none"


def execute(module_class, options, operation, validate=None, waits=("connect_timeout",), connect=CONNECT_REQUIRED,
            extra_wait=None, **module_kwargs):
    """A module's whole main(), the same for every module of the collection.

    `module_class` is AnsibleModule, as the module imports it. The argument spec is the
    connection options plus `options`; psycopg is checked; `validate`
    (params -> None, raises InvalidOption) runs before anything is touched; one session is
    opened with the login_* options; then `operation(module, conn, ctx)` returns the result (a
    dict, or an object with as_dict()), to which the statements run are added as `queries`.
    Every core error becomes a clean failure, and the whole run is bounded by a deadline: the
    seconds of the `waits` options plus a margin, plus `extra_wait(params)` seconds when given.
    """
    spec = connection.connection_argument_spec()
    for name, option in options.items():  # a connection option given again changes only what it says
        spec[name] = dict(spec[name], **option) if name in spec else option
    module = module_class(argument_spec=spec, supports_check_mode=True, **module_kwargs)
    require_psycopg(module)
    ctx = context(module)

    recorder = None

    def body():
        nonlocal recorder
        if validate is not None:
            validate(module.params)
        recorder = notify.recorder_from_params(module.params, ctx.secrets)
        notify.install(recorder)
        conn = None
        if connect != NO_CONNECTION:
            try:
                conn = connection.connect_with_params(module.params)
            except ConnectionFailed:
                if connect == CONNECT_REQUIRED:
                    raise
        try:
            result = operation(module, conn, ctx)
        except Exception:
            notify_events(module, recorder, failed=True)  # before the failure is reported
            raise
        finally:
            if conn is not None:
                conn.close()
        result = result.as_dict() if hasattr(result, "as_dict") else dict(result)
        result.setdefault("queries", ctx.log.statements)
        return result

    deadline = deadline_for(module, *waits) + int(extra_wait(module.params) if extra_wait else 0)
    result = run(module, body, deadline=deadline)
    notify_events(module, recorder)  # the run's transactions are committed: each event's command, in order
    module.exit_json(**result)


def notify_events(module, recorder, failed=False):
    """Run the event_notification_command for the run's committed events; a failure is a warning only."""
    notify.install(None)
    if recorder is None:
        return
    try:
        reports = recorder.deliver(failed=failed)
    except Exception as error:  # pylint: disable=broad-except
        reports = ["event notifications could not be run: %s" % conninfo_util.mask_text(str(error), secrets_of(module))]
    for message in reports:
        module.warn(message)
