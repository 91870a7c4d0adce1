# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The repmgr role and database on the primary (repmgr's documented first step).

Identifiers go through psycopg.sql.Identifier, the password through a bound literal.
Whether the stored password already matches is decided by recomputing the SCRAM-SHA-256
(or md5) verifier from pg_authid, so a second run with the same password changes nothing
and never logs or compares the password in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption

try:
    from psycopg import sql
except ImportError:
    sql = None

ROLE_STATE = "SELECT rolcanlogin, rolsuper, rolreplication, rolpassword FROM pg_catalog.pg_authid WHERE rolname = %s"
DATABASE_OWNER = (
    "SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_catalog.pg_database WHERE datname = %s"
)


def password_matches(stored, user, password):
    """True when pg_authid.rolpassword is a verifier of `password` (SCRAM-SHA-256 or md5)."""
    if not stored or password is None:
        return False
    if stored.startswith("SCRAM-SHA-256$"):
        try:
            head, keys = stored[len("SCRAM-SHA-256$"):].split("$", 1)
            iterations, salt = head.split(":", 1)
            stored_key, server_key = keys.split(":", 1)
            salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), base64.b64decode(salt), int(iterations))
        except (ValueError, TypeError):
            return False
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        server = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        return (hmac.compare_digest(base64.b64encode(hashlib.sha256(client_key).digest()).decode(), stored_key)
                and hmac.compare_digest(base64.b64encode(server).decode(), server_key))
    if stored.startswith("md5"):
        return hmac.compare_digest(stored, "md5" + hashlib.md5((password + user).encode("utf-8")).hexdigest())
    return False


@dataclass
class SetupPlan:
    create_role: bool = False
    alter_role: list = field(default_factory=list)  # attribute keywords to set, e.g. ['SUPERUSER']
    set_password: bool = False
    create_database: bool = False
    change_owner: bool = False

    @property
    def changed(self):
        return bool(self.create_role or self.alter_role or self.set_password or self.create_database
                    or self.change_owner)


def plan_setup(role_row, db_owner, user, password, superuser, update_password):
    """Decide (pure) what to change. role_row: (canlogin, super, replication, rolpassword) or None."""
    plan = SetupPlan()
    if role_row is None:
        plan.create_role = True
        plan.set_password = password is not None
    else:
        canlogin, is_super, can_replicate, stored = role_row
        if not canlogin:
            plan.alter_role.append("LOGIN")
        if not can_replicate:
            plan.alter_role.append("REPLICATION")
        if superuser and not is_super:
            plan.alter_role.append("SUPERUSER")
        if not superuser and is_super:
            plan.alter_role.append("NOSUPERUSER")
        if password is not None and update_password == "always" and not password_matches(stored, user, password):
            plan.set_password = True
    if db_owner is None:
        plan.create_database = True
    elif db_owner != user:
        plan.change_owner = True
    return plan


def read_state(conn, user, database):
    with conn.cursor() as cur:
        cur.execute(ROLE_STATE, (user,))
        role_row = cur.fetchone()
        cur.execute(DATABASE_OWNER, (database,))
        owner = cur.fetchone()
    return role_row, owner[0] if owner else None


def apply_setup(conn, plan, user, password, superuser, database):
    """Run the plan; returns statement texts with the password masked (for `queries`)."""
    done = []
    name = sql.Identifier(user)
    if plan.create_role:
        attributes = "LOGIN REPLICATION " + ("SUPERUSER" if superuser else "NOSUPERUSER")
        conn.execute(sql.SQL("CREATE ROLE {} " + attributes).format(name))
        done.append("CREATE ROLE %s %s" % (user, attributes))
    if plan.alter_role:
        conn.execute(sql.SQL("ALTER ROLE {} " + " ".join(plan.alter_role)).format(name))
        done.append("ALTER ROLE %s %s" % (user, " ".join(plan.alter_role)))
    if plan.set_password:
        # Hash on the client (libpq's PQencryptPasswordConn): the clear password never reaches the
        # server, so not its logs either, even with log_statement = all.
        verifier = conn.pgconn.encrypt_password(password.encode("utf-8"), user.encode("utf-8"), b"scram-sha-256")
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(name, sql.Literal(verifier.decode("ascii"))))
        done.append("ALTER ROLE %s PASSWORD '********'" % user)
    if plan.create_database:
        # CREATE DATABASE cannot run in a transaction block: the connection is in autocommit.
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), name))
        done.append("CREATE DATABASE %s OWNER %s" % (database, user))
    if plan.change_owner:
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(database), name))
        done.append("ALTER DATABASE %s OWNER TO %s" % (database, user))
    return done


def validate(params):
    for option in ("user", "database"):
        if not params[option] or len(params[option]) > 63:
            raise InvalidOption(option, "must be 1 to 63 characters (got %r)" % params[option])


def setup(params, conn, ctx):
    """The repmgr role and database as asked; queries run (none in check mode)."""
    role_row, owner = read_state(conn, params["user"], params["database"])
    plan = plan_setup(role_row, owner, params["user"], params["password"], params["superuser"],
                      params["update_password"])
    queries = []
    if plan.changed and not ctx.check_mode:
        queries = apply_setup(conn, plan, params["user"], params["password"], params["superuser"], params["database"])
    return dict(changed=plan.changed, queries=queries)
