"""repmgr.conf read as repmgr 5.x reads it (configfile-scan.l, configfile.c), and mapped to the inventory.

The expected errors and warnings are repmgr 5.3.3's for the same lines (checked with
`repmgr -f FILE node status`), with the line number in front and a hint where repmgr gives none.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

from pathlib import Path

import pytest

from ansible_collections.pgha.repmgr.plugins.module_utils import repmgr_conf, repmgr_conf_mapping
from ansible_collections.pgha.repmgr.plugins.module_utils.repmgr_conf import ConfigError, parse

BASE = ("node_id=2\n"
        "node_name='node2'\n"
        "conninfo='host=10.0.0.12 port=5433 user=repmgr dbname=repmgr connect_timeout=2'\n"
        "data_directory='/var/lib/postgresql/15/main'\n")


def conf_of(extra="", base=BASE):
    return parse(base + extra)


def errors(text):
    return [str(problem) for problem in parse(text).errors]


# -- syntax: quotes, comments, whitespace ---------------------------------------------------------------

@pytest.mark.parametrize("line, expected", [
    ("location=dc1", "dc1"),
    ("location = dc1", "dc1"),
    ("location dc1", "dc1"),  # the '=' is optional
    ("  location\t=\tdc1  ", "dc1"),
    ("location='dc 1'", "dc 1"),
    ("location='it''s'", "it's"),
    (r"location='it\'s'", "it's"),
    (r"location='tab\there'", "tab\there"),
    (r"location='\101\102'", "AB"),  # octal escapes
    ("location='with # hash'", "with # hash"),
    ("location=dc1 # a comment", "dc1"),
    ("location='dc1'# a comment right after", "dc1"),
    ("location=host.example.com", "host.example.com"),  # two dots: an unquoted string
    ("location=a-b_c:d/e", "a-b_c:d/e"),
    ("location=''", ""),
    ("location=10", "10"),
    ("location=1.5", "1.5"),
], ids=repr)
def test_a_value_is_read_as_repmgr_reads_it(line, expected):
    conf = conf_of(line + "\n")
    assert conf.errors == [] and conf.settings["location"] == expected


def test_comments_blank_lines_and_a_missing_last_newline():
    conf = parse("# repmgr.conf\n\n   # indented comment\n" + BASE + "\npriority=50")
    assert conf.errors == [] and conf.settings["priority"] == 50
    assert [item.line for item in conf.items] == [4, 5, 6, 7, 9]


def test_the_last_of_two_lines_wins_and_lists_accumulate():
    conf = conf_of("priority=10\npriority=20\nevent_notifications='standby_promote, repmgrd_failover_promote'\n"
                   "event_notifications='standby_follow,,'\n")
    assert conf.errors == []
    assert conf.settings["priority"] == 20 and conf.lines["priority"] == 6
    assert conf.settings["event_notifications"] == ["standby_promote", "repmgrd_failover_promote", "standby_follow"]


@pytest.mark.parametrize("line, expected", [
    ("conninfo=host=node1 user=repmgr", 'line 5: syntax error near token "="'),
    ("data_directory=/var/lib/postgresql", 'line 5: syntax error near token "/"'),
    ("location='unterminated", "line 5: syntax error near token \"'\""),
    ('location="dc1"', 'line 5: syntax error near token """'),
    ("node_name=node2.example", 'line 5: syntax error near token "node2.example"'),  # a qualified name is no value
    ("location=", "line 5: syntax error near end of line"),
    ("location dc1 dc2", 'line 5: syntax error near token "dc2"'),
    ("= dc1", 'line 5: syntax error near token "="'),
    ("'quoted'=1", "line 5: syntax error near token \"'quoted'\""),
])
def test_bad_syntax_is_an_error_on_its_line(line, expected):
    found = errors(BASE + line + "\n")
    assert len(found) == 1 and found[0].startswith(expected), found


def test_every_syntax_error_is_reported_and_the_other_lines_still_read():
    conf = parse("node_id=1\nlocation='open\nnode_name=x\ndata_directory=/x\npriority=7\n")
    assert [problem.line for problem in conf.errors] == [2, 4]
    assert conf.settings == {"node_id": 1, "node_name": "x", "priority": 7}


def test_a_syntax_error_hint_says_how_to_quote():
    message = errors(BASE + "conninfo=host=node1 user=repmgr\n")[0]
    assert "must be single-quoted as a whole: conninfo='host=node1 user=repmgr dbname=repmgr'" in message
    assert "a path must be single-quoted" in errors(BASE + "pg_bindir=/usr/bin\n")[0]
    assert "not double quotes" in errors(BASE + 'location="x"\n')[0]


# -- include directives ------------------------------------------------------------------------------------

@pytest.mark.parametrize("line", ["include 'other.conf'", "include_if_exists='/etc/repmgr.d/x.conf'",
                                  "include_dir 'repmgr.d'", "INCLUDE='other.conf'"])
def test_include_directives_are_refused_with_a_clear_message(line):
    found = errors(BASE + line + "\n")
    assert len(found) == 1
    assert found[0].startswith("line 5: ") and "include directives are not supported by repmgr_conf_info" in found[0]


# -- values ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("line, expected", [
    ("priority=abc", '"priority": invalid value (provided: "abc")'),
    ("priority=-1", '"priority": must be 0 or greater (provided: "-1")'),
    ("monitor_interval_secs=0", '"monitor_interval_secs": must be 1 or greater (provided: "0")'),
    ("reconnect_attempts=3000000000",
     '"reconnect_attempts": must be a positive signed 32 bit integer, i.e. 2147483647 or less'),
    ("use_replication_slots=maybe", '"use_replication_slots": unable to interpret "maybe" as a boolean value'),
    ("failover=Automatic", 'value for "failover" must be "automatic" or "manual"'),
    ("connection_check_type=tcp", 'value for "connection_check_type" must be "ping", "connection" or "query"'),
    ("replication_type=logical", 'value for "replication_type" must be "physical"'),
    ("recovery_min_apply_delay='5weeks'", 'value for "recovery_min_apply_delay" must be one of ms/s/min/h/d'),
    ("replication_user='%s'" % ("n" * 65), 'value for "replication_user" must contain fewer than 64 characters'),
])
def test_a_bad_value_is_an_error_on_its_line(line, expected):
    found = errors(BASE + line + "\n")
    assert len(found) == 1 and found[0].startswith("line 5: "), found
    assert expected in found[0]


@pytest.mark.parametrize("line, key, expected", [
    ("use_replication_slots=ON", "use_replication_slots", True),
    ("use_replication_slots=0", "use_replication_slots", False),
    ("monitoring_history=yes", "monitoring_history", True),
    ("connection_check_type=QUERY", "connection_check_type", "query"),
    ("reconnect_interval=10s", "reconnect_interval", 10),  # strtol: repmgr ignores what follows the number
    ("degraded_monitoring_timeout=-1", "degraded_monitoring_timeout", -1),
    ("data_directory='/var/lib//postgresql/15/main/'", "data_directory", "/var/lib/postgresql/15/main"),
    ("recovery_min_apply_delay=5min", "recovery_min_apply_delay", "5min"),
])
def test_values_are_typed_as_repmgr_types_them(line, key, expected):
    conf = conf_of(line + "\n")
    assert conf.errors == [] and conf.settings[key] == expected


def test_trailing_text_after_a_number_is_a_warning_not_an_error():
    conf = conf_of("reconnect_interval=10s\n")
    assert [str(w) for w in conf.warnings] == ['line 5: "reconnect_interval": "s" after the number is ignored, '
                                               'as repmgr ignores it']


@pytest.mark.parametrize("text, expected", [
    ("", ['"node_id": required parameter was not found', '"node_name": required parameter was not found',
          '"conninfo": required parameter was not found', '"data_directory": required parameter was not found']),
    (BASE.replace("node_id=2", "node_id=''"), ['line 1: "node_id": required parameter was not found']),
    (BASE + "archive_ready_warning=200\n", ['line 5: "archive_ready_critical" must be greater than '
                                            '"archive_ready_warning"']),
    (BASE + "replication_lag_critical=100\n", ['line 5: "replication_lag_critical" must be greater than '
                                               '"replication_lag_warning"']),
    (BASE + "node_rejoin_timeout=120\n", ['line 5: "standby_reconnect_timeout" must be equal to or greater than '
                                          '"node_rejoin_timeout"']),
    (BASE + "barman_host=backup1\n", ['line 5: use "barman_host" for the hostname of the Barman server and '
                                      '"barman_server" for the name of the [server] section in the Barman '
                                      'configuration file']),
])
def test_the_checks_after_reading_are_repmgrs(text, expected):
    assert errors(text) == expected


def test_an_invalid_conninfo_is_an_error_and_shows_no_password():
    found = errors(BASE.replace("connect_timeout=2", "password=s3cret bogus_key=1"))
    assert len(found) == 1 and found[0].startswith('line 3: "conninfo": conninfo is not a valid libpq')
    assert "s3cret" not in found[0]


# -- unknown and deprecated keys: warnings, as in repmgr -------------------------------------------------

def test_unknown_and_deprecated_keys_are_warnings_with_their_lines():
    conf = conf_of("foo=bar\nloglevel=INFO\ncluster='main'\nfoo.bar=1\nNode_Id=3\n")
    assert conf.errors == []
    assert [str(w) for w in conf.warnings] == [
        "line 5: foo='bar': unknown name/value pair provided; ignoring",
        'line 6: parameter "loglevel" has been renamed to "log_level"',
        'line 7: parameter "cluster" is deprecated and will be ignored',
        "line 8: foo.bar='1': unknown name/value pair provided; ignoring",
        "line 9: Node_Id='3': unknown name/value pair provided; ignoring",  # names are case-sensitive
    ]
    assert conf.settings["node_id"] == 2


# -- reading the file ----------------------------------------------------------------------------------------

def test_read_fails_with_every_problem_and_its_line(tmp_path):
    path = tmp_path / "repmgr.conf"
    path.write_text(BASE + "priority=x\nconninfo=host=a\n")
    with pytest.raises(ConfigError) as caught:
        repmgr_conf.read(str(path))
    message = str(caught.value)
    assert message.startswith("%s is not a repmgr.conf repmgr would read: " % path)
    assert 'line 6: syntax error near token "="' in message and 'line 5: "priority": invalid value' in message
    assert [problem.line for problem in caught.value.problems] == [6, 5]


@pytest.mark.parametrize("make, expected", [
    (lambda d: d / "missing.conf", "no such file"),
    (lambda d: d, "is a directory"),
])
def test_read_of_a_missing_or_wrong_path_says_what_is_wrong(tmp_path, make, expected):
    with pytest.raises(ConfigError, match=expected):
        repmgr_conf.read(str(make(tmp_path)))


def test_read_of_an_unreadable_file_says_to_become_its_owner():
    """Read as a user who may not (root reads every file, so a root test run reads it as nobody)."""
    base = Path(tempfile.mkdtemp(prefix="pgha-conf-", dir="/tmp"))
    try:
        base.chmod(0o755)
        path = base / "repmgr.conf"
        path.write_text(BASE)
        path.chmod(0)
        if os.geteuid() != 0:
            with pytest.raises(ConfigError, match="permission denied: read it as its owner"):
                repmgr_conf.read(str(path))
            return
        collections = Path(__file__).resolve().parents[2] / "build" / "collections"
        code = ("import sys; sys.path.insert(0, %r)\n"
                "from ansible_collections.pgha.repmgr.plugins.module_utils import repmgr_conf\n"
                "try:\n    repmgr_conf.read(%r)\nexcept repmgr_conf.ConfigError as error:\n    print(error)\n"
                % (str(collections), str(path)))
        proc = subprocess.run(["runuser", "-u", "nobody", "--", sys.executable, "-c", code], capture_output=True,
                              text=True, timeout=60, check=False)
        assert "permission denied: read it as its owner" in proc.stdout, proc.stdout + proc.stderr
    finally:
        shutil.rmtree(base, ignore_errors=True)


# -- the inventory, the monitor, what has no place here --------------------------------------------------------

HARNESS_LIKE = BASE + """use_replication_slots=true
pg_bindir='/usr/lib/postgresql/15/bin'
passfile='/var/lib/postgresql/.pgpass'
location='dc1'
priority=90
failover=automatic
promote_command='/usr/lib/postgresql/15/bin/repmgr standby promote -f /etc/repmgr.conf --log-to-file'
follow_command='/usr/lib/postgresql/15/bin/repmgr standby follow -f /etc/repmgr.conf --upstream-node-id=%n'
service_start_command='sudo systemctl start postgresql@15-main'
reconnect_attempts=5
reconnect_interval=1
monitor_interval_secs=2
connection_check_type=connection
replication_lag_critical=900
log_file='/var/log/repmgr/repmgr.log'
"""


def test_the_inventory_variables_of_a_node():
    mapping = repmgr_conf_mapping.inventory_mapping(parse(HARNESS_LIKE), "/etc/repmgr.conf")
    assert mapping.inventory == {
        "pgha_node_id": 2, "pgha_node_name": "node2", "pgha_data_directory": "/var/lib/postgresql/15/main",
        "pgha_listen_address": "10.0.0.12", "pgha_port": 5433, "pgha_repmgr_user": "repmgr",
        "pgha_repmgr_database": "repmgr", "pgha_connect_timeout": 2, "pgha_use_slots": True,
        "pgha_pg_bindir": "/usr/lib/postgresql/15/bin", "pgha_pg_version": "15",
        "pgha_passfile": "/var/lib/postgresql/.pgpass", "pgha_location": "dc1", "pgha_priority": 90,
        "pgha_reconnect_attempts": 5, "pgha_reconnect_interval": 1, "pgha_repmgr_conf_file": "/etc/repmgr.conf",
    }
    assert mapping.monitor == {"pgha_monitor_interval": 2, "pgha_reconnect_attempts": 5, "pgha_reconnect_interval": 1,
                               "pgha_connection_check_type": "connection", "pgha_monitoring_history": False,
                               "pgha_connect_timeout": 2}
    assert mapping.node_check == {"replication_lag_critical": 900}
    assert mapping.failover == "automatic" and mapping.notes == []
    assert [(entry["key"], entry["line"]) for entry in mapping.unmapped] == [
        ("promote_command", 11), ("follow_command", 12), ("service_start_command", 13), ("log_file", 19)]
    assert all(entry["reason"] for entry in mapping.unmapped)
    assert "promotes" in mapping.unmapped[0]["reason"]


def test_repmgr_defaults_fill_what_the_file_leaves_out():
    mapping = repmgr_conf_mapping.inventory_mapping(parse(BASE), "/etc/repmgr.conf")
    # repmgr's default is no slots; this collection's is slots: the inventory must say which the cluster has
    assert mapping.inventory["pgha_use_slots"] is False
    assert (mapping.inventory["pgha_location"], mapping.inventory["pgha_priority"]) == ("default", 100)
    assert mapping.monitor == {"pgha_monitor_interval": 2, "pgha_reconnect_attempts": 6, "pgha_reconnect_interval": 10,
                               "pgha_connection_check_type": "ping", "pgha_monitoring_history": False,
                               "pgha_connect_timeout": 2}
    assert mapping.failover == "manual"
    assert any(note.startswith("failover=manual: repmgrd did not fail this node over") for note in mapping.notes)


def test_a_socket_conninfo_and_another_replication_user():
    text = BASE.replace("host=10.0.0.12 port=5433 user=repmgr", "host=/var/run/postgresql user=repmgr") + \
        "replication_user=replicator\n"
    mapping = repmgr_conf_mapping.inventory_mapping(parse(text), "/etc/repmgr.conf")
    assert mapping.inventory["pgha_socket_directory"] == "/var/run/postgresql"
    assert "pgha_listen_address" not in mapping.inventory
    assert any("set pgha_listen_address" in note for note in mapping.notes)
    assert [entry["key"] for entry in mapping.unmapped] == ["replication_user"]
    assert "streams as pgha_repmgr_user (repmgr), not as replicator" in mapping.unmapped[0]["reason"]


def test_event_notifications_go_to_the_inventory_and_the_monitor():
    conf = conf_of("event_notification_command='/usr/local/bin/notify %n %e %s \"%t\" \"%d\"'\n"
                   "event_notifications='repmgrd_failover_promote,standby_promote'\n")
    mapping = repmgr_conf_mapping.inventory_mapping(conf, "/etc/repmgr.conf")
    command = '/usr/local/bin/notify %n %e %s "%t" "%d"'
    for variables in (mapping.inventory, mapping.monitor):
        assert variables["pgha_event_notification_command"] == command
        assert variables["pgha_event_notifications"] == ["repmgrd_failover_promote", "standby_promote"]
    assert mapping.unmapped == []


def test_no_password_leaves_through_any_result(tmp_path):
    path = tmp_path / "repmgr.conf"
    path.write_text(BASE.replace("connect_timeout=2", "password=s3cret") +
                    "event_notification_command='notify password=s3cret'\nfoo='password=s3cret'\n")
    result, conf = repmgr_conf_mapping.conf_info(str(path))
    assert conf.secrets == ("s3cret",)
    assert "s3cret" not in repr(result) and "s3cret" not in repr([str(w) for w in conf.warnings])
    assert "password=********" in result["settings"]["conninfo"]
    assert "password" not in result["monitor_conninfo"] and "host=10.0.0.12" in result["monitor_conninfo"]
    assert any(note.startswith("conninfo holds a password") for note in result["notes"])
    assert any(note.startswith("event_notification_command holds a password") for note in result["notes"])
    assert "pgha_event_notification_command" not in result["inventory"]


def test_every_known_key_is_either_mapped_or_has_a_reason():
    mapped = set(repmgr_conf_mapping._INVENTORY) | set(repmgr_conf_mapping._MONITOR) | set(repmgr_conf_mapping._NODE_CHECK) | \
        set(repmgr_conf_mapping._NOTIFICATIONS) | {
        "conninfo", "failover", "replication_user", "connection_check_query"}
    missing = sorted(set(repmgr_conf.SETTINGS) - mapped - set(repmgr_conf_mapping._UNMAPPED_REASONS))
    assert not missing, f"repmgr.conf keys with neither a variable nor a reason: {missing}"
