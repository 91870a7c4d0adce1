"""A client that keeps writing while the cluster fails over, and remembers every row it was told was committed.

    writer = Writer(cluster).start()     # CREATE TABLE ledger on the primary, then one INSERT every 10 ms
    node1.crash() ...                    # it reconnects to whichever node accepts writes
    writer.stop()
    assert writer.lost_on(new_primary) == []

An acknowledged row is one whose INSERT returned without error (autocommit, synchronous_commit =
on: with synchronous_standby_names set, only once a standby has it).  The loss check is what a
DBA checks: every acknowledged id is on the new primary.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import psycopg

if TYPE_CHECKING:
    from .cluster import Cluster
    from .node import Node

TABLE = "ledger"


class Writer:
    def __init__(self, cluster: "Cluster", interval: float = 0.01, table: str = TABLE) -> None:
        self.cluster = cluster
        self.interval = interval
        self.table = table
        self.committed: list[int] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="writer", daemon=True)

    def start(self) -> "Writer":
        primary = self.cluster.primaries()[0]
        primary.sql(f"CREATE TABLE IF NOT EXISTS {self.table} (id bigint)", dbname="postgres")
        self._thread.start()
        self.cluster.wait_until(lambda: len(self.committed) >= 10, timeout=30, what="the writer has committed rows")
        return self

    def stop(self) -> "Writer":
        self._stop.set()
        self._thread.join(30)
        return self

    def __enter__(self) -> "Writer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _connect(self) -> psycopg.Connection[Any] | None:
        for node in self.cluster.nodes:
            try:
                conn = node.connect(dbname="postgres", connect_timeout=2,
                                    options="-c statement_timeout=5000 -c synchronous_commit=on")
            except psycopg.Error:
                continue
            try:
                if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                    return conn
            except psycopg.Error:
                pass
            conn.close()
        return None

    def _run(self) -> None:
        conn = None
        next_id = 1
        while not self._stop.is_set():
            if conn is None:
                conn = self._connect()
                if conn is None:
                    time.sleep(0.1)
                    continue
            try:
                conn.execute(f"INSERT INTO {self.table} (id) VALUES (%s)", (next_id,))
                self.committed.append(next_id)
            except psycopg.Error as error:
                self.errors.append(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__)
                try:
                    conn.close()
                except psycopg.Error:
                    pass
                conn = None
            next_id += 1
            time.sleep(self.interval)
        if conn is not None:
            conn.close()

    def lost_on(self, node: "Node") -> list[int]:
        """Acknowledged ids that ``node`` does not have."""
        present = {row[0] for row in node.sql(f"SELECT id FROM {self.table} WHERE id > 0", dbname="postgres")}
        return [n for n in self.committed if n not in present]
