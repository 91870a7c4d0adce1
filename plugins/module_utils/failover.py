# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failover's promotion of the elected standby, in steps that survive interruption.

Run by pgha.repmgr.repmgr_failover_promote on the winner of the election (election.py):

1. The election lock: a session advisory lock taken on every survivor that had the failed
   primary as upstream (the voters: standbys and the witness). Without it on a strict
   majority, another run is electing: stand down. It is held until the metadata is written,
   and released by the server when this run ends, however it ends.
2. The electoral term, compare-and-set: under the lock, every voter's repmgr.voting_term must
   still be the term the election read. A higher one means another run completed a failover
   since: stand down and say which term was taken. The term is raised on the new primary, in
   the transaction that records the promotion, and the followers receive it by replication.
   (A standby cannot be written, so the compare runs on the voters and the set on the new
   primary; the lock makes the two one step.)
3. A last look at the evidence: the failed primary must not answer a session from here, and no
   voter's WAL receiver may have heard from it within fresh_within seconds; no other voter may
   run as a primary.
4. Catch-up: a voter with more WAL than the winner (one that may not be promoted, priority 0)
   is streamed from until the winner has all of it, so that no commit it acknowledged is lost.
5. pg_promote(), wait until out of recovery; then, in one transaction on the new primary: the
   records (the failed primary inactive), standby_promote, repmgrd_failover_promote, the term.

A node found already out of recovery (an earlier run was killed after pg_promote()) is adopted:
its metadata and events are written, nothing is promoted. Nothing here ever promotes a second
node: a run that cannot be sure stands down and says why, and the monitor's next event tries
again.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.pgha.repmgr.plugins.module_utils import conninfo as conninfo_util
from ansible_collections.pgha.repmgr.plugins.module_utils import connection, election, metadata, promote, replication
from ansible_collections.pgha.repmgr.plugins.module_utils import waiting
from ansible_collections.pgha.repmgr.plugins.module_utils import pause as pause_switch
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import (
    ConnectionFailed,
    InvalidOption,
    PreconditionFailed,
    Timeout,
    require_node_id,
)
from ansible_collections.pgha.repmgr.plugins.module_utils.outcome import Outcome, record_diff
from ansible_collections.pgha.repmgr.plugins.module_utils.primary import active_primary
from ansible_collections.pgha.repmgr.plugins.module_utils.records import (
    NodeType,
    Reachability,
    describe,
    furthest_lsn,
    lsn_to_text,
)

REPMGRD_FAILOVER_PROMOTE = 'node "%s" (ID: %d) promoted to primary; old primary "%s" (ID: %d) marked as failed'
WATCH_INTERVAL = 0.05  # seconds between two tries of the failed primary while the decision waits
DECISION_SLICE = 0.02


class StoodDown(PreconditionFailed):
    """This run must not promote (another run holds the election, the term moved on, the primary answers)."""

    def __init__(self, message):
        super().__init__(message, stood_down=True)


def validate(params):
    require_node_id(params.get("node_id"))
    require_node_id(params.get("failed_node_id"), "failed_node_id")
    if params["failed_node_id"] == params["node_id"]:
        raise InvalidOption("failed_node_id", "names the node to promote itself (%d)" % params["node_id"])
    for name in ("promote_check_timeout", "catch_up_timeout"):
        if params[name] < 1:
            raise InvalidOption(name, "must be at least 1 second (got %s)" % params[name])
    if params["fresh_within"] <= 0:
        raise InvalidOption("fresh_within", "must be more than 0 seconds (got %s)" % params["fresh_within"])
    if params.get("voting_term") is not None and params["voting_term"] < 0:
        raise InvalidOption("voting_term", "must be 0 or more (got %s)" % params["voting_term"])
    if params.get("decide_at") is not None and params["decide_at"] < 0:
        raise InvalidOption("decide_at", "must be a time in seconds since the epoch (got %s)" % params["decide_at"])


def seconds_to_decision(params, clock=time.time):
    """How long the module waits before it decides (for its deadline)."""
    return max(0.0, (params.get("decide_at") or 0) - clock())


def has_majority(granted, voters):
    """repmgr's quorum rule, for the lock: more than half of the voters."""
    return election.has_quorum(granted, voters)


class Voters:
    """Sessions to the survivors that had the failed primary as upstream, holding the election lock."""

    def __init__(self, records, me, failed, ctx):
        self.me, self.failed, self.ctx = me, failed, ctx
        self.records = {r.node_id: r for r in election.siblings(records, failed)}
        self.records.setdefault(me.node_id, me)
        self.sessions = {}
        self.unreachable = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for conn in self.sessions.values():
            try:
                conn.close()  # the server releases the session's advisory lock
            except Exception:  # pylint: disable=broad-except
                pass

    def connect_all(self, local_conn):
        def open_one(record):
            if record.node_id == self.me.node_id:
                return record.node_id, local_conn, None
            try:
                return record.node_id, connection.connect_node(record.conninfo, self.ctx), None
            except (ConnectionFailed, InvalidOption) as error:
                return record.node_id, None, str(error)

        with ThreadPoolExecutor(max_workers=max(len(self.records), 1)) as pool:
            for node_id, conn, error in pool.map(open_one, self.records.values()):
                if conn is not None:
                    self.sessions[node_id] = conn
                else:
                    self.unreachable[node_id] = error

    def lock(self):
        """Take the election lock everywhere reachable; stand down without a strict majority.

        Always in node ID order, and never past a refusal: two runs racing for the lock meet at
        the same first node, and the one that loses it stands down at once instead of taking
        the rest, which would leave neither with a majority.
        """
        granted, refused = [], []
        for node_id, conn in sorted(self.sessions.items()):
            if replication.try_election_lock(conn):
                granted.append(node_id)
            else:
                refused.append(node_id)
                break
        if refused or not has_majority(len(granted), len(self.records)):
            holders = ["%s (held by %s)" % (self.name(n), replication.election_lock_holder(self.sessions[n]) or "?")
                       for n in refused]
            raise StoodDown("the election lock was granted on %d of the %d voters (%s), not a majority: %s"
                            % (len(granted), len(self.records), ", ".join(self.name(n) for n in granted) or "none",
                               "another failover run holds it on " + ", ".join(holders) if holders
                               else "the others did not answer (%s)" % ", ".join(
                                   self.name(n) for n in self.unreachable)))
        return granted

    def name(self, node_id):
        return describe(self.records[node_id])

    def check_term(self, read_term):
        """The compare of the term's compare-and-set: no voter holds a newer term than the election read."""
        if read_term is None:
            return
        for node_id, conn in sorted(self.sessions.items()):
            term = metadata.voting_term(conn)
            if term is not None and term > read_term:
                raise StoodDown("the electoral term moved on: node %s holds term %d, this run was elected in term "
                                "%d (another run completed a failover since)" % (self.name(node_id), term, read_term))

    def check_primary_gone(self, fresh_within):
        """No voter's WAL receiver heard from the failed primary within `fresh_within` seconds."""
        try:
            failed_host = conninfo_util.host_and_port(self.failed.conninfo)
        except InvalidOption:
            failed_host = None
        for node_id, conn in sorted(self.sessions.items()):
            receiver = replication.wal_receiver(conn)
            sender = (receiver["wal_receiver_upstream"], receiver["wal_receiver_sender_port"])
            age = receiver["wal_receiver_last_msg_age"]
            if failed_host and sender[0] == failed_host[0] and (sender[1] or failed_host[1]) == failed_host[1] \
                    and age is not None and age < fresh_within:
                raise StoodDown("node %s heard from the failed primary %s %.1f s ago: it is not gone"
                                % (self.name(node_id), describe(self.failed), age))

    def other_primaries(self):
        """Voters (not the witness, not this node) that run as a primary."""
        found = []
        for node_id, conn in sorted(self.sessions.items()):
            record = self.records[node_id]
            if node_id == self.me.node_id or record.type == NodeType.WITNESS.value:
                continue
            if not replication.in_recovery(conn):
                found.append(record)
        return found

    def most_advanced_standby(self):
        """(record, lsn) of the voter standby with the most WAL, this node excluded; None when none answered."""
        best = None
        for node_id, conn in sorted(self.sessions.items()):
            record = self.records[node_id]
            if node_id == self.me.node_id or record.type != NodeType.STANDBY.value:
                continue
            facts = replication.server_facts(conn)
            if not facts["in_recovery"]:
                continue
            lsn = furthest_lsn(facts["received_lsn"], facts["replayed_lsn"])
            if best is None or lsn > best[1]:
                best = (record, lsn)
        return best


def failed_primary_answers(failed, ctx):
    """The failed primary's state from here: None when it does not answer, else 'primary' / 'standby' / 'refused'."""
    try:
        conn = connection.connect_node(failed.conninfo, ctx)
    except ConnectionFailed as error:
        return "refused" if error.details.get("reachability") is Reachability.REJECTED else None
    except InvalidOption:
        return None
    try:
        return "standby" if replication.in_recovery(conn) else "primary"
    except Exception:  # pylint: disable=broad-except
        return None  # it died under the query
    finally:
        conn.close()


def catch_up(conn, me, source, wanted_lsn, timeout, ctx):
    """Stream the missing WAL from `source` (a standby with more) until this node has received `wanted_lsn`."""
    current = replication.setting(conn, "primary_conninfo") or ""
    passfile = None
    try:
        passfile = conninfo_util.parse(current).get("passfile") if current else None
    except InvalidOption:
        passfile = None
    slot = replication.setting(conn, "primary_slot_name")
    ctx.log.add(*replication.set_standby_settings(conn, {
        "primary_conninfo": conninfo_util.replication_conninfo(source.conninfo, me.node_name,
                                                               user=me.repluser or None, passfile=passfile),
        "primary_slot_name": None}))

    def received():
        facts = replication.server_facts(conn)
        return furthest_lsn(facts["received_lsn"], facts["replayed_lsn"])

    def undo():
        replication.set_standby_settings(conn, {"primary_conninfo": current or None, "primary_slot_name": slot or None})

    try:
        waiting.wait_until(lambda: received() >= wanted_lsn, timeout,
                           "node %s has received WAL up to %s from %s"
                           % (describe(me), lsn_to_text(wanted_lsn), describe(source)))
    except Timeout:
        undo()
        raise StoodDown("node %s received WAL up to %s only, not %s from %s within %d s: not promoted (what %s "
                        "acknowledged would be lost)" % (describe(me), lsn_to_text(received()),
                                                         lsn_to_text(wanted_lsn), describe(source), timeout,
                                                         source.node_name))
    return undo


class PrimaryWatch:
    """The failed primary, tried again and again from here until the decision; any answer is remembered.

    A thread, so that a hung primary (each attempt waits connect_timeout) never delays the rest.
    """

    def __init__(self, failed, ctx, interval=WATCH_INTERVAL):
        self.failed, self.ctx, self.interval = failed, ctx, interval
        self.answer = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="primary-watch", daemon=True)

    def _run(self):
        while not self._stop.is_set():
            state = failed_primary_answers(self.failed, self.ctx)
            if state is not None:
                self.answer = state
                return
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()


def stand_down_if_back(failed, state):
    if state is not None:
        raise StoodDown("the failed primary %s answers again (%s): not failed; nothing was changed"
                        % (describe(failed), "it refused a session" if state == "refused" else "as a " + state))


def wait_for_decision(decide_at, watch, failed, clock=time.time):
    """Until decide_at (seconds since the epoch), the end of the monitor's retry window: any answer stands down."""
    while decide_at is not None and clock() < decide_at:
        stand_down_if_back(failed, watch.answer)
        time.sleep(min(DECISION_SLICE, max(decide_at - clock(), 0)))
    stand_down_if_back(failed, watch.answer)


def promote_for_failover(params, conn, ctx):
    """Promote (or adopt) the node `conn` is connected to, as the new primary after `failed_node_id`.

    With decide_at (the end of the monitor's retry window) everything that changes nothing is
    done first (the lock, the term, the catch-up), the failed primary is watched until then, and
    the promotion follows the decision at once: a primary that answers meanwhile stands the run
    down and the catch-up is undone.
    """
    validate(params)
    facts = replication.server_facts(conn)
    metadata.require_metadata(conn, where="the node to promote")
    records = metadata.read_nodes(conn)
    me = next((r for r in records if r.node_id == params["node_id"]), None)
    failed = next((r for r in records if r.node_id == params["failed_node_id"]), None)
    if me is None or failed is None:
        missing = "node_id %d" % params["node_id"] if me is None else "failed_node_id %d" % params["failed_node_id"]
        raise PreconditionFailed("%s has no record in the repmgr metadata (known: %s)"
                                 % (missing, ", ".join(describe(r) for r in records)))
    if me.type == NodeType.WITNESS.value:
        raise PreconditionFailed("node %s is a witness: a witness is never promoted" % describe(me))
    registered = active_primary(records)
    result = Outcome(changed=False, node_id=me.node_id, node_name=me.node_name, promoted=False, adopted=False,
                     caught_up_from=None, promote_seconds=None, voting_term=None, decided=False, events=[])
    if not facts["in_recovery"] and registered is not None and registered.node_id == me.node_id:
        result["msg"] = "node %s already is the registered primary: nothing to do" % describe(me)
        return result
    if facts["in_recovery"] and me.priority <= 0:
        raise PreconditionFailed("node %s has priority %d: it is never promoted" % (describe(me), me.priority))

    with Voters(records, me, failed, ctx) as voters, PrimaryWatch(failed, ctx) as watch:
        voters.connect_all(conn)
        voters.lock()
        voters.check_term(params.get("voting_term"))
        stand_down_if_paused(conn)
        stand_down_if_others(voters)
        details = REPMGRD_FAILOVER_PROMOTE % (me.node_name, me.node_id, failed.node_name, failed.node_id)
        events = [dict(node_id=me.node_id, event="repmgrd_failover_promote", details=details)]
        if facts["in_recovery"]:
            events.insert(0, dict(node_id=me.node_id, event="standby_promote",
                                  details=promote.STANDBY_PROMOTE % (me.node_name, me.node_id)))
        result.update(changed=not params.get("decide_only"), events=events if not params.get("decide_only") else [])
        if not params.get("decide_only"):
            result.diff = record_diff(me, type=NodeType.PRIMARY.value, upstream_node_id=None, active=True)
        if ctx.check_mode:
            return result
        undo = None
        try:
            if facts["in_recovery"] and not params.get("decide_only"):
                ahead = voters.most_advanced_standby()
                mine = furthest_lsn(facts["received_lsn"], facts["replayed_lsn"])
                if ahead is not None and ahead[1] > mine:
                    undo = catch_up(conn, me, ahead[0], ahead[1], params["catch_up_timeout"], ctx)
                    result["caught_up_from"] = ahead[0].node_name
            wait_for_decision(params.get("decide_at"), watch, failed)
            # the last look: an attempt started now, and every voter's WAL receiver
            stand_down_if_back(failed, failed_primary_answers(failed, ctx))
            voters.check_primary_gone(params["fresh_within"])
            pause = stand_down_if_paused(conn)
            stand_down_if_others(voters)
        except StoodDown:
            if undo is not None:
                undo()
            raise
        result["decided"] = True
        if params.get("decide_only"):
            result["msg"] = "the failed primary %s stayed gone: the failover goes ahead" % describe(failed)
            return result
        if pause["local"]:
            events.append(dict(node_id=me.node_id, event=metadata.FAILOVER_UNPAUSED, details=pause_switch.UNPAUSED_ON_STANDBYS_TEXT))
        if facts["in_recovery"]:
            promote.request_and_wait(params, conn, me, facts, result, run_command=None)
            result["promoted"] = True
        else:
            result["adopted"] = True
        result["voting_term"] = record_failover(conn, me, events, params.get("voting_term"), ctx)
    result["msg"] = "node %s %s; old primary %s marked as failed (term %s)" % (
        describe(me), "promoted to primary" if result["promoted"] else "adopted as the primary (promoted earlier)",
        describe(failed), result["voting_term"])
    return result


def stand_down_if_paused(conn):
    """A pause written after the election read the views (a switchover pausing first) still stops the promotion.

    Returns the switch as this node read it: when it was unpaused in the standbys' own settings (no
    primary answered the unpause), the promotion writes the unpause event for the whole cluster.
    """
    pause = metadata.read_pause_state(conn)
    if pause["paused"]:
        raise StoodDown("automatic failover was paused at %s: not promoting (pgha.repmgr.unpause resumes it)"
                        % pause["since"])
    return pause


def stand_down_if_others(voters):
    others = voters.other_primaries()
    if others:
        raise StoodDown("%s already runs as a primary: not promoting a second one (the next run adopts it)"
                        % ", ".join(describe(r) for r in others))


def record_failover(conn, me, events, read_term, ctx):
    """One transaction on the new primary: the records, the events, the new term. Returns the term."""
    try:
        with conn.transaction():
            with conn.cursor() as cur:
                metadata.set_primary(cur, me.node_id)
                for item in events:
                    metadata.write_event(cur, item["node_id"], item["event"], True, item["details"])
                term = metadata.raise_voting_term(cur, read_term)
    except Exception as error:  # pylint: disable=broad-except
        raise PreconditionFailed("node %s is the primary now, but its metadata could not be written (%s): the next "
                                 "failover run adopts it and writes it" % (describe(me), error), promote_requested=True)
    ctx.log.add(metadata.DEACTIVATE_OTHER_PRIMARIES, metadata.SET_PRIMARY, metadata.INSERT_EVENT,
                metadata.RAISE_VOTING_TERM)
    return term
