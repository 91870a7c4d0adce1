# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The little glue every module shares: the psycopg check and turning core errors into fail_json."""

from __future__ import annotations

import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.pgha.repmgr.plugins.module_utils import conninfo as conninfo_util
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import CommandFailed, PghaError

try:
    # Only checked for presence here.
    import psycopg  # noqa: F401 pylint: disable=unused-import
    PSYCOPG_IMPORT_ERROR = None
except ImportError:
    PSYCOPG_IMPORT_ERROR = traceback.format_exc()


def require_psycopg(module):
    if PSYCOPG_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("psycopg (version 3)"), exception=PSYCOPG_IMPORT_ERROR)


def secrets_of(module):
    """Every secret option value of this module, to mask in anything we print."""
    return tuple(module.params.get(name) for name in ("login_password",) if module.params.get(name))


def fail(module, error, **result):
    """fail_json from a core error, with its message masked once more as a last defence."""
    message = conninfo_util.mask_text(str(error), secrets=secrets_of(module))
    if isinstance(error, CommandFailed):
        result.setdefault("rc", error.rc)
        result.setdefault("stdout", conninfo_util.mask_text(error.stdout, secrets_of(module)))
        result.setdefault("stderr", conninfo_util.mask_text(error.stderr, secrets_of(module)))
    module.fail_json(msg=message, **result)


def run(module, body, **result):
    """Run body(); turn PghaError into a clean failure (never a traceback for an expected problem)."""
    try:
        return body()
    except PghaError as error:
        fail(module, error, **result)


def context(module):
    """The registration.Context of a module run: password, timeout, secrets, check mode."""
    from ansible_collections.pgha.repmgr.plugins.module_utils.registration import Context

    params = module.params
    return Context(password=params["login_password"] or None, timeout=params["connect_timeout"],
                   secrets=secrets_of(module), check_mode=module.check_mode)
