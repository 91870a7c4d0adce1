# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The repmgr metadata schema: detect it, create it.

Two ways to have it (option `metadata_mode`):
- `extension`: CREATE EXTENSION repmgr, when the server has the real repmgr package. Then
  repmgrd can run beside us (it needs the extension's C functions).
- `tables`: the same tables, index, rule and views created by our own DDL, for servers
  without the repmgr package. The repmgr CLI needs nothing more than the tables. The one
  C function a view needs, standby_get_last_updated(), is created as SQL returning NULL,
  which is what the C function returns when repmgr is not preloaded.
- `auto` (default): `extension` when the server offers it, else `tables`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption, MetadataMissing, PreconditionFailed

METADATA_MODES = ("auto", "extension", "tables")
REQUIRED_RELATIONS = ("nodes", "events", "monitoring_history", "voting_term", "show_nodes", "replication_status")

DETECT = """
SELECT (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'repmgr'),
       (SELECT default_version FROM pg_catalog.pg_available_extensions WHERE name = 'repmgr'),
       pg_catalog.to_regnamespace('repmgr') IS NOT NULL,
       ARRAY(SELECT c.relname::text FROM pg_catalog.pg_class c
              JOIN pg_catalog.pg_namespace s ON s.oid = c.relnamespace
             WHERE s.nspname = 'repmgr' AND c.relkind IN ('r', 'v', 'p')
             ORDER BY 1)
"""

CREATE_EXTENSION = "CREATE EXTENSION IF NOT EXISTS repmgr"

# repmgr 5.3-5.5 schema (identical in those versions), without the C functions.
TABLES_DDL = (
    "CREATE SCHEMA IF NOT EXISTS repmgr",
    """CREATE TABLE repmgr.nodes (
  node_id          INTEGER     PRIMARY KEY,
  upstream_node_id INTEGER     NULL REFERENCES repmgr.nodes (node_id) DEFERRABLE,
  active           BOOLEAN     NOT NULL DEFAULT TRUE,
  node_name        TEXT        NOT NULL,
  type             TEXT        NOT NULL CHECK (type IN ('primary', 'standby', 'witness', 'bdr')),
  location         TEXT        NOT NULL DEFAULT 'default',
  priority         INT         NOT NULL DEFAULT 100,
  conninfo         TEXT        NOT NULL,
  repluser         VARCHAR(63) NOT NULL,
  slot_name        TEXT        NULL,
  config_file      TEXT        NOT NULL
)""",
    """CREATE TABLE repmgr.events (
  node_id          INTEGER NOT NULL,
  event            TEXT NOT NULL,
  successful       BOOLEAN NOT NULL DEFAULT TRUE,
  event_timestamp  TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
  details          TEXT NULL
)""",
    """CREATE TABLE repmgr.monitoring_history (
  primary_node_id                INTEGER NOT NULL,
  standby_node_id                INTEGER NOT NULL,
  last_monitor_time              TIMESTAMP WITH TIME ZONE NOT NULL,
  last_apply_time                TIMESTAMP WITH TIME ZONE,
  last_wal_primary_location      PG_LSN NOT NULL,
  last_wal_standby_location      PG_LSN,
  replication_lag                BIGINT NOT NULL,
  apply_lag                      BIGINT NOT NULL
)""",
    "CREATE INDEX idx_monitoring_history_time ON repmgr.monitoring_history (last_monitor_time, standby_node_id)",
    """CREATE VIEW repmgr.show_nodes AS
   SELECT n.node_id, n.node_name, n.active, n.upstream_node_id, un.node_name AS upstream_node_name,
          n.type, n.priority, n.conninfo
     FROM repmgr.nodes n
LEFT JOIN repmgr.nodes un ON un.node_id = n.upstream_node_id""",
    "CREATE TABLE repmgr.voting_term (term INT NOT NULL)",
    "CREATE UNIQUE INDEX voting_term_restrict ON repmgr.voting_term ((TRUE))",
    "CREATE RULE voting_term_delete AS ON DELETE TO repmgr.voting_term DO INSTEAD NOTHING",
    # Without repmgr in shared_preload_libraries the C function returns NULL; so does this one.
    """CREATE FUNCTION repmgr.standby_get_last_updated() RETURNS TIMESTAMP WITH TIME ZONE
  LANGUAGE sql STABLE AS 'SELECT NULL::timestamp with time zone'""",
    """CREATE VIEW repmgr.replication_status AS
  SELECT m.primary_node_id, m.standby_node_id, n.node_name AS standby_name,
         n.type AS node_type, n.active, last_monitor_time,
         CASE WHEN n.type = 'standby' THEN m.last_wal_primary_location ELSE NULL END AS last_wal_primary_location,
         m.last_wal_standby_location,
         CASE WHEN n.type = 'standby' THEN pg_catalog.pg_size_pretty(m.replication_lag) ELSE NULL END AS replication_lag,
         CASE WHEN n.type = 'standby' THEN
           CASE WHEN replication_lag > 0 THEN age(now(), m.last_apply_time) ELSE '0'::INTERVAL END
           ELSE NULL
         END AS replication_time_lag,
         CASE WHEN n.type = 'standby' THEN pg_catalog.pg_size_pretty(m.apply_lag) ELSE NULL END AS apply_lag,
         AGE(NOW(), CASE WHEN pg_catalog.pg_is_in_recovery() THEN repmgr.standby_get_last_updated()
                         ELSE m.last_monitor_time END) AS communication_time_lag
    FROM repmgr.monitoring_history m
    JOIN repmgr.nodes n ON m.standby_node_id = n.node_id
   WHERE (m.standby_node_id, m.last_monitor_time) IN (
          SELECT m1.standby_node_id, MAX(m1.last_monitor_time)
            FROM repmgr.monitoring_history m1 GROUP BY 1)""",
)


@dataclass(frozen=True)
class SchemaState:
    extension_version: Optional[str]  # installed repmgr extension, if any
    extension_available: Optional[str]  # default_version the server offers, if any
    schema_exists: bool
    relations: tuple

    @property
    def complete(self) -> bool:
        return all(name in self.relations for name in REQUIRED_RELATIONS)

    @property
    def missing(self) -> tuple:
        return tuple(name for name in REQUIRED_RELATIONS if name not in self.relations)

    @property
    def mode(self) -> Optional[str]:
        """How the existing metadata was made: 'extension', 'tables', or None if absent."""
        if self.extension_version:
            return "extension"
        return "tables" if self.complete else None

    def as_dict(self) -> dict:
        return dict(
            mode=self.mode,
            extension_version=self.extension_version,
            extension_available=self.extension_available,
            complete=self.complete,
            missing=list(self.missing),
        )


def detect(conn) -> SchemaState:
    with conn.cursor() as cur:
        cur.execute(DETECT)
        ext_version, available, schema_exists, relations = cur.fetchone()
    return SchemaState(ext_version, available, bool(schema_exists), tuple(relations or ()))


def plan(state: SchemaState, mode: str) -> Optional[str]:
    """What to create: 'extension', 'tables' or None (already there). Pure; raises when impossible."""
    if mode not in METADATA_MODES:
        raise InvalidOption("metadata_mode", "must be one of %s (got %r)" % (", ".join(METADATA_MODES), mode))
    if state.extension_version:
        return None
    if state.complete:
        if mode == "extension":
            raise PreconditionFailed(
                "metadata_mode is 'extension' but the repmgr metadata already exists as plain tables "
                "(made with metadata_mode: tables); use metadata_mode: tables or auto"
            )
        return None
    if state.relations:
        raise MetadataMissing(
            "the repmgr schema is incomplete (missing: %s); it was not created by repmgr or pgha.repmgr, "
            "or was changed by hand: repair or drop schema repmgr first" % ", ".join(state.missing)
        )
    if mode == "extension" or (mode == "auto" and state.extension_available):
        if not state.extension_available:
            raise PreconditionFailed(
                "metadata_mode is 'extension' but this server does not offer the repmgr extension "
                "(install the repmgr package for this PostgreSQL version, e.g. postgresql-15-repmgr), "
                "or use metadata_mode: tables"
            )
        return "extension"
    return "tables"


def create(cur, what: str) -> list:
    """Create the metadata as planned; returns the statements run (for `queries`)."""
    statements = [CREATE_EXTENSION] if what == "extension" else list(TABLES_DDL)
    for statement in statements:
        cur.execute(statement)
    return statements
