"""repmgr cluster cleanup as a module's core: what is deleted, repmgr's texts, check mode, idempotence.

The primary is a small fake that keeps monitoring_history rows as (standby_node_id, age in days)
and understands metadata.py's cleanup statements; the real server is in
tests/integration/test_monitoring_history.py, beside the real repmgr CLI.
"""

from __future__ import annotations

from contextlib import contextmanager

import psycopg
import pytest

from ansible_collections.pgha.repmgr.plugins.module_utils import cleanup, cluster, metadata
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption, PghaError, PreconditionFailed
from ansible_collections.pgha.repmgr.plugins.module_utils.module_support import Context


class FakePrimary:
    """The statements cleanup runs, on rows of (standby_node_id, age in days)."""

    def __init__(self, rows, fail_delete=False, vacuum_notice=None):
        self.rows = list(rows)
        self.events = []
        self.executed = []
        self.fail_delete = fail_delete
        self.vacuum_notice = vacuum_notice
        self.handlers = []
        self.closed = False
        self._fetched = None
        self.rowcount = -1

    # the rules of the statements

    def matching(self, params):
        keep = params[0]
        node = params[1] if len(params) > 1 else None
        return [r for r in self.rows if r[1] >= keep and (node is None or r[0] == node)]

    def execute(self, sql, params=()):
        self.executed.append(sql)
        if sql.startswith("SELECT pg_catalog.count(*)"):
            self._fetched = (len(self.matching(params)),)
        elif sql.startswith("DELETE"):
            if self.fail_delete:
                raise psycopg.errors.InsufficientPrivilege("permission denied for table monitoring_history")
            gone = self.matching(params)
            self.rows = [r for r in self.rows if r not in gone]
            self.rowcount = len(gone)
        elif sql.startswith("TRUNCATE"):
            self.rows = []
        elif sql.startswith("INSERT INTO repmgr.events"):
            self.events.append(tuple(params))
            self._fetched = ("2026-11-30 12:00:00+00",)
        elif sql.startswith("VACUUM") and self.vacuum_notice:
            for handler in self.handlers:
                handler(Notice(self.vacuum_notice))
        return self

    def fetchone(self):
        return self._fetched

    # what psycopg offers

    @contextmanager
    def cursor(self):
        yield self

    @contextmanager
    def transaction(self):
        rows, events = list(self.rows), list(self.events)
        try:
            yield
        except Exception:
            self.rows, self.events = rows, events
            raise

    def add_notice_handler(self, handler):
        self.handlers.append(handler)

    def remove_notice_handler(self, handler):
        self.handlers.remove(handler)

    def close(self):
        self.closed = True


class Notice:
    severity_nonlocalized = "WARNING"

    def __init__(self, text):
        self.message_primary = text


ROWS = [(2, 0), (3, 0), (2, 3), (3, 3), (2, 10), (3, 10)]


@pytest.fixture()
def primary(monkeypatch):
    """cleanup() connected to node2 of a cluster whose primary is node1 (the FakePrimary)."""
    fake = FakePrimary(ROWS)
    monkeypatch.setattr(metadata, "require_metadata", lambda conn, where=None: None)
    monkeypatch.setattr(metadata, "read_nodes", lambda conn: [])
    monkeypatch.setattr(cluster, "local_node_id", lambda conn, records: 2)
    monkeypatch.setattr(cluster, "connect_primary_from", lambda *args, **kwargs: (1, fake))
    return fake


def run(keep_history=0, node_id=None, check_mode=False):
    ctx = Context(password=None, timeout=2, secrets=(), check_mode=check_mode)
    return cleanup.cleanup(dict(keep_history=keep_history, node_id=node_id), object(), ctx).as_dict()


# -- repmgr's texts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("keep, node_id, text", [
    (0, None, "all monitoring records deleted"),
    (0, 3, "all monitoring records deleted for node 3"),
    (7, None, "monitoring records deleted; records newer than 7 day(s) retained"),
    (1, 2, "monitoring records deleted for node 2; records newer than 1 day(s) retained"),
])
def test_the_event_text_is_repmgrs(keep, node_id, text):
    assert cleanup.event_details(keep, node_id) == text


def test_bad_options_name_the_option():
    with pytest.raises(InvalidOption, match=r"keep_history must be a number of days, 0 or more \(got -1\)"):
        cleanup.validate(dict(keep_history=-1, node_id=None))
    with pytest.raises(InvalidOption, match=r"node_id must be a positive integer \(got 0\)"):
        cleanup.validate(dict(keep_history=0, node_id=0))


def test_truncate_only_without_days_and_node_as_repmgr():
    assert metadata.monitoring_cleanup_statements(0)[1] == metadata.TRUNCATE_MONITORING_HISTORY
    assert metadata.monitoring_cleanup_statements(7)[1] == metadata.DELETE_MONITORING_RECORDS
    assert metadata.monitoring_cleanup_statements(0, 3) == (
        metadata.COUNT_MONITORING_RECORDS_OF_NODE, metadata.DELETE_MONITORING_RECORDS_OF_NODE, (0, 3))


# -- the operation ----------------------------------------------------------------------------------

def test_keep_history_deletes_the_old_rows_and_writes_the_event_from_the_node_connected_to(primary):
    result = run(keep_history=3)
    assert result["changed"] is True and result["deleted"] == 4
    assert sorted(primary.rows) == [(2, 0), (3, 0)]
    text = "monitoring records deleted; records newer than 3 day(s) retained"
    assert primary.events == [(2, "cluster_cleanup", True, text)]
    assert result["events"] == [dict(node_id=2, event="cluster_cleanup", successful=True, details=text)]
    assert result["msg"] == text and result["primary_node_id"] == 1
    assert result["vacuumed"] is True and result["vacuum_warning"] is None
    assert primary.executed[-1] == metadata.VACUUM_MONITORING_HISTORY
    assert primary.closed


def test_keep_0_empties_the_table_and_a_second_run_changes_nothing(primary):
    result = run()
    assert result["changed"] is True and result["deleted"] == 6 and primary.rows == []
    assert metadata.TRUNCATE_MONITORING_HISTORY in primary.executed
    again = run()
    assert again["changed"] is False and again["deleted"] == 0 and again["events"] == []
    assert again["msg"] == "no monitoring records to delete"
    assert len(primary.events) == 1


def test_one_standby_only(primary):
    result = run(node_id=3)
    assert result["deleted"] == 3 and sorted(primary.rows) == [(2, 0), (2, 3), (2, 10)]
    assert primary.events[0][3] == "all monitoring records deleted for node 3"


def test_check_mode_counts_and_changes_nothing(primary):
    result = run(keep_history=3, check_mode=True)
    assert result["changed"] is True and result["deleted"] == 4
    assert result["msg"] == "4 monitoring record(s) at least 3 day(s) old would be deleted"
    assert result["events"][0]["details"] == "monitoring records deleted; records newer than 3 day(s) retained"
    assert primary.rows == ROWS and primary.events == []
    assert not any(s.startswith(("DELETE", "TRUNCATE", "VACUUM", "INSERT")) for s in primary.executed)


def test_nothing_old_enough_is_no_change(primary):
    result = run(keep_history=30)
    assert result["changed"] is False and primary.rows == ROWS and primary.events == []


def test_a_refused_delete_changes_nothing_and_is_recorded_as_repmgr_does(primary):
    primary.fail_delete = True
    with pytest.raises(PghaError, match="unable to delete monitoring records on the primary .node 1.: "
                                        "permission denied"):
        run(keep_history=3)
    assert primary.rows == ROWS
    assert primary.events == [(2, "cluster_cleanup", False, "unable to delete monitoring records")]


def test_a_vacuum_that_is_not_allowed_is_a_warning(primary):
    primary.vacuum_notice = 'skipping "monitoring_history" --- only table or database owner can vacuum it'
    result = run(keep_history=3)
    assert result["changed"] is True and result["vacuumed"] is False
    assert "only table or database owner can vacuum it" in result["vacuum_warning"]


def test_no_primary_is_a_clear_failure(monkeypatch, primary):
    def nowhere(*_args, **_kwargs):
        raise PreconditionFailed("no running primary found among the active nodes of the metadata (node 1: down)")

    monkeypatch.setattr(cluster, "connect_primary_from", nowhere)
    with pytest.raises(PreconditionFailed, match="deleted on the primary, and none answers: .*nothing was changed"):
        run()
