# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""repmgr.conf as repmgr 5.x reads it, and what it means for this collection's inventory.

The syntax is repmgr's flex scanner (configfile-scan.l, the one PostgreSQL uses for
postgresql.conf): one ``name [=] value`` per line; ``#`` starts a comment; a value is a bare word
(letters, digits and ``-._:/`` after a first letter), a number, or a single-quoted string in
which ``''`` and backslash escapes stand for a quote and for C escapes. A line that does not
fit is a syntax error, reported with its line number, and repmgr refuses such a file.
The values are then read as repmgr's configfile.c reads them (integers with strtol and a
minimum, booleans, the enumerations, lengths, required settings, cross-checks); unknown and
deprecated names are warnings, as in repmgr.

Not supported: ``include``, ``include_if_exists`` and ``include_dir`` (repmgr 5.3+ reads the
files they name; this parser reports them as errors rather than return half a configuration).

``parse(text)`` is pure; ``read(path)`` opens the file; ``inventory_mapping(conf, path)`` gives
the inventory variables, the monitor settings and the keys this collection has no use for.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from ansible_collections.pgha.repmgr.plugins.module_utils import conninfo as conninfo_util
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption, PghaError

# -- what repmgr knows (configdata.c, repmgr.h, configfile.h of repmgr 5.5; 5.3 lacks pg_backupapi_*) --

NAMEDATALEN = 64
MAXLEN = 1024  # MAXLEN and MAXPGPATH are both 1024
INT32_MAX = 2 ** 31 - 1


@dataclass(frozen=True)
class Setting:
    """One repmgr.conf parameter: its kind, repmgr's default, minimum (ints) and longest value (strings)."""

    kind: str  # int | bool | str | path | failover | check_type | replication_type | list | mapping | delay
    default: object = None
    minimum: int = 0
    maxlen: int = MAXLEN


def _ints(minimum, **defaults):
    return {name: Setting("int", default, minimum) for name, default in defaults.items()}


def _strings(maxlen=MAXLEN, **defaults):
    return {name: Setting("str", default, maxlen=maxlen) for name, default in defaults.items()}


def _bools(**defaults):
    return {name: Setting("bool", default) for name, default in defaults.items()}


SETTINGS = {
    "node_id": Setting("int", None, 1),
    **_strings(NAMEDATALEN, node_name="", replication_user="", pg_backupapi_backup_id="", pg_backupapi_host="",
               pg_backupapi_node_name=""),
    **{name: Setting("path", "") for name in ("data_directory", "config_directory", "pg_bindir", "repmgr_bindir",
                                              "log_file", "repmgrd_pid_file")},
    "replication_type": Setting("replication_type", "physical"),
    "failover": Setting("failover", "manual"),
    "connection_check_type": Setting("check_type", "ping"),
    "event_notifications": Setting("list", []),
    "tablespace_mapping": Setting("mapping", []),
    "recovery_min_apply_delay": Setting("delay", ""),
    "location": Setting("str", "default"),
    "ssh_options": Setting("str", "-q -o ConnectTimeout=10"),
    "connection_check_query": Setting("str", "SELECT 1"),
    **_strings(conninfo="", log_level="", log_facility="", pg_basebackup_options="", restore_command="",
               archive_cleanup_command="", passfile="", pg_backupapi_remote_ssh_command="", promote_command="",
               follow_command="", failover_validation_command="", child_nodes_disconnect_command="",
               pg_ctl_options="", service_start_command="", service_stop_command="", service_restart_command="",
               service_reload_command="", service_promote_command="", repmgrd_service_start_command="",
               repmgrd_service_stop_command="", event_notification_command="", barman_host="", barman_server="",
               barman_config="", rsync_options=""),
    **_bools(use_replication_slots=False, use_primary_conninfo_password=False, standby_follow_restart=False,
             monitoring_history=False, repmgrd_exit_on_inactive_node=False, standby_disconnect_on_failover=False,
             primary_visibility_consensus=False, always_promote=False, child_nodes_connected_include_witness=False,
             reconnect_loop_sync=False),
    **_ints(0, log_status_interval=300, priority=100, reconnect_attempts=6, reconnect_interval=10,
            async_query_timeout=60, primary_notification_timeout=60, repmgrd_standby_startup_timeout=-1,
            sibling_nodes_disconnect_timeout=30, child_nodes_disconnect_timeout=30),
    **_ints(1, promote_check_timeout=60, promote_check_interval=1, primary_follow_timeout=60,
            standby_follow_timeout=30, shutdown_check_timeout=60, standby_reconnect_timeout=60,
            wal_receive_check_timeout=30, node_rejoin_timeout=60, archive_ready_warning=16,
            archive_ready_critical=128, replication_lag_warning=300, replication_lag_critical=600,
            witness_sync_interval=15, monitor_interval_secs=2, election_rerun_interval=15,
            child_nodes_check_interval=5, promote_delay=0, failover_delay=0),
    **_ints(-1, degraded_monitoring_timeout=-1, child_nodes_disconnect_min_count=-1,
            child_nodes_connected_min_count=-1),
}

REQUIRED = ("node_id", "node_name", "conninfo", "data_directory")

# parse_configuration_item(): names repmgr still recognises, to say what replaced them
DEPRECATED = {
    "cluster": 'parameter "cluster" is deprecated and will be ignored',
    "node": 'parameter "node" has been renamed to "node_id"',
    "upstream_node": 'parameter "upstream_node" has been removed; use "--upstream-node-id" when cloning a standby',
    "loglevel": 'parameter "loglevel" has been renamed to "log_level"',
    "logfacility": 'parameter "logfacility" has been renamed to "log_facility"',
    "logfile": 'parameter "logfile" has been renamed to "log_file"',
    "master_reponse_timeout": 'parameter "master_reponse_timeout" has been removed; use "async_query_timeout" instead',
    "retry_promote_interval_secs":
        'parameter "retry_promote_interval_secs" has been removed; use "primary_notification_timeout" instead',
}

INCLUDE_DIRECTIVES = ("include", "include_if_exists", "include_dir")
TRUE_WORDS = ("1", "true", "on", "yes")
FALSE_WORDS = ("0", "false", "off", "no")
DELAY_UNITS = ("ms", "s", "min", "h", "d")


class ConfigError(PghaError):
    """The file is one repmgr refuses (or one this parser cannot read whole); `problems` has each line's error."""

    def __init__(self, message, problems=()):
        super().__init__(message)
        self.problems = list(problems)


@dataclass(frozen=True)
class Problem:
    line: int  # 0 when the problem is not on one line (a required setting is missing)
    key: str
    message: str

    def __str__(self):
        return ("line %d: %s" % (self.line, self.message)) if self.line else self.message

    def as_dict(self):
        return dict(line=self.line, key=self.key, message=self.message)


@dataclass(frozen=True)
class Item:
    """One ``name = value`` line: the name as written, the value after unquoting, its line."""

    key: str
    value: str
    line: int


@dataclass
class RepmgrConf:
    """What repmgr reads from one file: the items in order, the typed settings, warnings and errors."""

    items: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)  # key -> typed value, for the keys the file sets
    lines: dict = field(default_factory=dict)  # key -> the line that set it last
    warnings: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    def value(self, key):
        """The value repmgr uses: the file's, else repmgr's default."""
        if key in self.settings:
            return self.settings[key]
        default = SETTINGS[key].default
        if key == "repmgrd_standby_startup_timeout" and default == -1:
            return self.value("standby_reconnect_timeout")
        return list(default) if isinstance(default, list) else default

    @property
    def conninfo_params(self):
        """The node's conninfo as libpq reads it (psycopg's conninfo_to_dict); {} when absent or invalid."""
        try:
            return conninfo_util.parse(self.settings["conninfo"]) if self.settings.get("conninfo") else {}
        except InvalidOption:
            return {}

    @property
    def secrets(self):
        """Passwords written in the file (a conninfo's password=): to keep out of every output."""
        password = self.conninfo_params.get("password")
        return (password,) if password else ()


# -- the scanner: configfile-scan.l, longest match first, ties to the earlier rule -------------------

_LETTER = "A-Za-z_\u0080-\U0010ffff"  # flex's [A-Za-z_\200-\377]: every byte of a non-ASCII character
_ID = "[%s][%s0-9]*" % (_LETTER, _LETTER)
_RULES = (
    ("EOL", re.compile(r"\n")),
    ("SPACE", re.compile(r"[ \t\r]+")),
    ("COMMENT", re.compile(r"#[^\n]*")),
    ("ID", re.compile(_ID)),
    ("QUALIFIED_ID", re.compile(r"%s\.%s" % (_ID, _ID))),
    ("STRING", re.compile(r"'(?:[^'\\\n]|\\[^\n]|'')*'")),
    ("UNQUOTED_STRING", re.compile(r"[%s](?:[%s0-9]|[-._:/])*" % (_LETTER, _LETTER))),
    ("INTEGER", re.compile(r"[-+]?[0-9]+[a-zA-Z]*")),
    ("INTEGER", re.compile(r"[-+]?0x[0-9a-fA-F]+[a-zA-Z]*")),
    ("REAL", re.compile(r"[-+]?[0-9]*\.[0-9]*(?:[Ee][-+]?[0-9]+)?")),
    ("EQUALS", re.compile(r"=")),
    ("ERROR", re.compile(r"[^\n]")),
)
_NAME_TOKENS = ("ID", "QUALIFIED_ID")
_VALUE_TOKENS = ("ID", "STRING", "INTEGER", "REAL", "UNQUOTED_STRING")


def tokens(text):
    """(kind, text, line) of each token repmgr's scanner sees; whitespace and comments dropped, EOF last."""
    position, line = 0, 1
    while position < len(text):
        best_kind, best_end = None, position
        for kind, pattern in _RULES:
            match = pattern.match(text, position)
            if match and match.end() > best_end:
                best_kind, best_end = kind, match.end()
        word = text[position:best_end]
        if best_kind not in ("SPACE", "COMMENT"):
            yield best_kind, word, line
        if best_kind == "EOL":
            line += 1
        position = best_end
    yield "EOF", "", line


_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def unquote(token):
    """CONF_scanstr(): strip the quotes; '' is one quote; backslash escapes as C (octal up to 3 digits)."""
    body, out, index = token[1:-1], [], 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            index += 1
            char = body[index]
            if char in _ESCAPES:
                out.append(_ESCAPES[char])
            elif char in "01234567":
                digits = re.match(r"[0-7]{1,3}", body[index:]).group(0)
                out.append(chr(int(digits, 8)))
                index += len(digits) - 1
            else:
                out.append(char)
        elif char == "'" and body[index + 1:index + 2] == "'":
            out.append("'")
            index += 1
        else:
            out.append(char)
        index += 1
    return "".join(out)


def _syntax_hint(kind, word):
    if kind == "ERROR" and word == "'":
        return "a quoted value must end with ' on the same line (a quote inside it is written '' or \\')"
    if kind == "ERROR" and word == '"':
        return "repmgr.conf quotes values with single quotes ('...'), not double quotes"
    if kind == "ERROR" and word == "/":
        return "a path must be single-quoted: data_directory='/var/lib/postgresql/15/main'"
    if kind == "EQUALS":
        return ("a value with spaces or '=' must be single-quoted as a whole: "
                "conninfo='host=node1 user=repmgr dbname=repmgr'")
    return "a value that is not one word or number must be single-quoted"


def scan(text):
    """The items of a repmgr.conf text and its syntax errors, as repmgr's ProcessConfigFp() finds them."""
    items, errors = [], []
    stream = tokens(text)
    for kind, word, line in stream:
        if kind == "EOL":
            continue
        if kind == "EOF":
            break
        bad = None
        if kind not in _NAME_TOKENS:
            bad = (kind, word, line)
        else:
            name, name_line = word, line
            kind, word, line = next(stream)
            if kind == "EQUALS":
                kind, word, line = next(stream)
            if kind not in _VALUE_TOKENS:
                bad = (kind, word, line)
            else:
                value = unquote(word) if kind == "STRING" else word
                kind, word, line = next(stream)
                if kind not in ("EOL", "EOF"):
                    bad = (kind, word, line)
                else:
                    items.append(Item(name, value, name_line))
        if bad is not None:
            kind, word, line = bad
            if kind in ("EOL", "EOF"):
                message = "syntax error near end of line"
            else:
                message = 'syntax error near token "%s" (%s)' % (conninfo_util.mask_text(word), _syntax_hint(kind, word))
            errors.append(Problem(line, "", message))
            while kind not in ("EOL", "EOF"):  # resync to the next line, as repmgr does
                kind, word, line = next(stream)
        if kind == "EOF":
            break
    return items, errors


# -- values, as configfile.c reads them ---------------------------------------------------------------

def _strtol(value):
    """C strtol(value, &end, 10): (number or None when no digits, the text after the number)."""
    match = re.match(r"\s*([-+]?[0-9]+)", value)
    if not match:
        return None, value
    return int(match.group(1)), value[match.end():]


def _canonical_path(value):
    """canonicalize_path(): no doubled or trailing slashes, no '.' parts, '..' resolved in the text."""
    if not value:
        return value
    path = posixpath.normpath(value)
    return "/" + path.lstrip("/") if path.startswith("//") else path


def _typed(item, setting, conf, problems):
    """The value of one known setting, or None after adding the problem repmgr reports for it."""
    key, value = item.key, item.value

    def bad(message):
        problems.append(Problem(item.line, key, message))

    if setting.kind == "int":
        if value == "":
            return 0  # repmgr_atoi(): an empty value is 0, "caught later"
        number, rest = _strtol(value)
        if number is None or abs(number) >= 2 ** 63:
            return bad('"%s": invalid value (provided: "%s")' % (key, value))
        if number > INT32_MAX:
            return bad('"%s": must be a positive signed 32 bit integer, i.e. 2147483647 or less (provided: "%s")'
                       % (key, value))
        if number < setting.minimum:
            return bad('"%s": must be %d or greater (provided: "%s")' % (key, setting.minimum, value))
        if rest:
            conf.warnings.append(Problem(item.line, key, '"%s": "%s" after the number is ignored, as repmgr ignores it'
                                         % (key, rest)))
        return number
    if setting.kind == "bool":
        if value.lower() in TRUE_WORDS:
            return True
        if value.lower() in FALSE_WORDS:
            return False
        return bad('"%s": unable to interpret "%s" as a boolean value' % (key, value))
    if setting.kind == "failover":
        if value in ("manual", "automatic"):
            return value
        return bad('value for "%s" must be "automatic" or "manual"' % key)
    if setting.kind == "check_type":
        if value.lower() in ("ping", "connection", "query"):
            return value.lower()
        return bad('value for "%s" must be "ping", "connection" or "query"' % key)
    if setting.kind == "replication_type":
        if value.lower() == "physical":
            return "physical"
        return bad('value for "%s" must be "physical"' % key)
    if setting.kind == "list":
        names = [name for name in re.sub(r"[ \t]", "", value).split(",") if name]
        return list(conf.settings.get(key, [])) + names
    if setting.kind == "mapping":
        return list(conf.settings.get(key, [])) + [value]
    if len(value.encode("utf-8", "surrogateescape")) > setting.maxlen:
        return bad('value for "%s" must contain fewer than %d characters (current length: %d)'
                   % (key, setting.maxlen, len(value)))
    if setting.kind == "delay":
        number, rest = _strtol(value)
        if number is not None and number < 0:
            return bad('invalid value "%s" provided for "%s"' % (value, key))
        if rest and rest not in DELAY_UNITS:
            return bad('value for "%s" must be one of ms/s/min/h/d (provided: "%s")' % (key, value))
        return value
    if setting.kind == "path":
        return _canonical_path(value)
    return value


def _checks(conf):
    """_parse_config()'s checks after the file was read: required settings, conninfo, pairs of settings."""
    problems = []

    def where(key):
        return conf.lines.get(key, 0)

    for key in REQUIRED:
        value = conf.settings.get(key)
        if value in (None, "") or (key == "node_id" and value < 1):
            problems.append(Problem(where(key), key, '"%s": required parameter was not found' % key))
    if conf.settings.get("conninfo"):
        try:
            conninfo_util.parse(conf.settings["conninfo"])
        except InvalidOption as error:
            problems.append(Problem(where("conninfo"), "conninfo", '"conninfo": %s' % error))
    if bool(conf.value("barman_host")) != bool(conf.value("barman_server")):
        problems.append(Problem(where("barman_host") or where("barman_server"), "barman_host",
                                'use "barman_host" for the hostname of the Barman server and "barman_server" for the '
                                'name of the [server] section in the Barman configuration file'))
    for warning, critical in (("archive_ready_warning", "archive_ready_critical"),
                              ("replication_lag_warning", "replication_lag_critical")):
        if conf.value(warning) >= conf.value(critical):
            problems.append(Problem(where(critical) or where(warning), critical,
                                    '"%s" must be greater than "%s"' % (critical, warning)))
    if conf.value("standby_reconnect_timeout") < conf.value("node_rejoin_timeout"):
        problems.append(Problem(where("standby_reconnect_timeout") or where("node_rejoin_timeout"),
                                "standby_reconnect_timeout",
                                '"standby_reconnect_timeout" must be equal to or greater than "node_rejoin_timeout"'))
    return problems


def parse(text):
    """A repmgr.conf text as repmgr reads it: RepmgrConf with items, settings, warnings and errors.

    Never raises for bad content: `errors` lists each problem (with its line) that makes repmgr refuse
    the file, plus every include directive; `warnings` the lines repmgr warns about and ignores.
    """
    conf = RepmgrConf()
    items, syntax_errors = scan(text)
    conf.items = items
    conf.errors.extend(syntax_errors)
    for item in items:
        if item.key.lower() in INCLUDE_DIRECTIVES:
            conf.errors.append(Problem(item.line, item.key, "%s '%s': include directives are not supported by "
                                       "repmgr_conf_info (repmgr reads the file it names, this module does not): "
                                       "copy those settings into this file, or read the included file on its own "
                                       "(option path)"
                                       % (item.key, item.value)))
            continue
        setting = SETTINGS.get(item.key)
        if setting is None:
            message = DEPRECATED.get(item.key) or "%s='%s': unknown name/value pair provided; ignoring" % (
                item.key, conninfo_util.mask_text(item.value))
            conf.warnings.append(Problem(item.line, item.key, message))
            continue
        value = _typed(item, setting, conf, conf.errors)
        if value is not None:
            conf.settings[item.key] = value
            conf.lines[item.key] = item.line
    if not syntax_errors:  # repmgr checks the settings only when the file itself was read
        conf.errors.extend(_checks(conf))
    return conf


def read(path):
    """parse() of the file at `path`; raises ConfigError when repmgr would refuse it (or it is unreadable)."""
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        raise ConfigError("%s: no such file: give the path of this node's repmgr.conf (repmgr -f PATH) in path="
                          % path) from None
    except IsADirectoryError:
        raise ConfigError("%s is a directory: path= names the repmgr.conf file itself" % path) from None
    except PermissionError:
        raise ConfigError("%s: permission denied: read it as its owner (become: true, become_user: postgres) "
                          "or as root" % path) from None
    except OSError as error:
        raise ConfigError("%s: cannot be read: %s" % (path, error.strerror or error)) from None
    conf = parse(text)
    if conf.errors:
        raise ConfigError("%s is not a repmgr.conf repmgr would read: %s" % (path, "; ".join(map(str, conf.errors))),
                          conf.errors)
    return conf


# -- what the settings mean here -----------------------------------------------------------------------

# keys this collection has no variable for, and why
_UNMAPPED_REASONS = {
    "replication_type": "physical replication is the only kind (repmgr's too)",
    "promote_command": "the failover playbook promotes (pgha.repmgr.repmgr_failover_promote; by hand: "
                       "pgha.repmgr.repmgr_promote)",
    "follow_command": "the failover playbook makes the other standbys follow (pgha.repmgr.repmgr_follow)",
    "failover_validation_command": "no equivalent: the election is repmgr's with visibility consensus always on",
    "primary_visibility_consensus": "always on in this collection (from fresh evidence only)",
    "always_promote": "no equivalent: a standby without an upstream record is not promoted",
    "standby_disconnect_on_failover": "no equivalent: the followers wait for the winner's promotion instead",
    "sibling_nodes_disconnect_timeout": "no equivalent (see standby_disconnect_on_failover)",
    "election_rerun_interval": "the monitor repeats primary_failure after each retry window instead",
    "primary_notification_timeout": "the followers wait for the promotion for the retry window plus 30 s",
    "degraded_monitoring_timeout": "the monitor never exits: every problem is an event",
    "async_query_timeout": "every check is bounded by connect_timeout (pgha_connect_timeout)",
    "repmgrd_standby_startup_timeout": "repmgrd only",
    "repmgrd_pid_file": "repmgrd only: the rulebook runs as a service or an EDA rulebook activation",
    "repmgrd_exit_on_inactive_node": "repmgrd only",
    "repmgrd_service_start_command": "repmgrd only",
    "repmgrd_service_stop_command": "repmgrd only",
    "reconnect_loop_sync": "repmgrd only (experimental there)",
    "log_level": "repmgr's own log; Ansible and ansible-rulebook log their runs",
    "log_facility": "repmgr's own log; Ansible and ansible-rulebook log their runs",
    "log_file": "repmgr's own log; Ansible and ansible-rulebook log their runs",
    "log_status_interval": "repmgrd only",
    "witness_sync_interval": "the failover playbook refreshes the witness's copy of the metadata",
    "child_nodes_check_interval": "no equivalent (repmgrd's child node monitoring)",
    "child_nodes_connected_min_count": "no equivalent (repmgrd's child node monitoring)",
    "child_nodes_disconnect_min_count": "no equivalent (repmgrd's child node monitoring)",
    "child_nodes_connected_include_witness": "no equivalent (repmgrd's child node monitoring)",
    "child_nodes_disconnect_timeout": "no equivalent (repmgrd's child node monitoring)",
    "child_nodes_disconnect_command": "no equivalent (repmgrd's child node monitoring)",
    "service_start_command": "the roles start PostgreSQL with pg_ctl (test hosts) or the service pgha_service_name",
    "service_stop_command": "the roles stop PostgreSQL with pg_ctl (test hosts) or the service pgha_service_name",
    "service_restart_command": "the roles restart PostgreSQL with pg_ctl or the service pgha_service_name",
    "service_reload_command": "the roles reload PostgreSQL with pg_ctl or the service pgha_service_name",
    "service_promote_command": "promotion is pg_promote() (pgha.repmgr.repmgr_promote)",
    "pg_ctl_options": "the roles run pg_ctl with their own options",
    "repmgr_bindir": "the repmgr CLI is not needed by this collection",
    "ssh_options": "Ansible reaches the hosts (its own connection settings)",
    "rsync_options": "clones are made with pg_basebackup (pgha.repmgr.repmgr_standby_clone)",
    "pg_basebackup_options": "pgha.repmgr.repmgr_standby_clone runs pg_basebackup with its own options",
    "tablespace_mapping": "pgha.repmgr.repmgr_standby_clone has no tablespace mapping",
    "restore_command": "set it with pgha_postgresql_settings (a postgresql.conf setting since PostgreSQL 12)",
    "archive_cleanup_command": "set it with pgha_postgresql_settings (a postgresql.conf setting since PostgreSQL 12)",
    "recovery_min_apply_delay": "set it with pgha_postgresql_settings (a postgresql.conf setting)",
    "use_primary_conninfo_password": "passwords stay in the passfile (pgha_passfile), never in primary_conninfo",
    "barman_host": "clones are made with pg_basebackup",
    "barman_server": "clones are made with pg_basebackup",
    "barman_config": "clones are made with pg_basebackup",
    "pg_backupapi_backup_id": "clones are made with pg_basebackup",
    "pg_backupapi_host": "clones are made with pg_basebackup",
    "pg_backupapi_node_name": "clones are made with pg_basebackup",
    "pg_backupapi_remote_ssh_command": "clones are made with pg_basebackup",
    "promote_check_timeout": "pgha.repmgr.repmgr_promote has its own timeout option",
    "promote_check_interval": "promotion polls every 0.1 s",
    "primary_follow_timeout": "pgha.repmgr.repmgr_follow has its own timeout option",
    "standby_follow_timeout": "pgha.repmgr.repmgr_follow has its own timeout option",
    "standby_follow_restart": "pgha.repmgr.repmgr_follow reloads where PostgreSQL allows it, else restarts",
    "shutdown_check_timeout": "the switchover playbook has its own timeouts",
    "standby_reconnect_timeout": "pgha.repmgr.repmgr_rejoin and repmgr_follow have their own timeouts",
    "wal_receive_check_timeout": "the switchover playbook has its own timeouts",
    "node_rejoin_timeout": "pgha.repmgr.repmgr_rejoin has its own timeout option",
    "promote_delay": "a repmgrd test knob",
    "failover_delay": "a repmgrd test knob",
}

# repmgr.conf key -> inventory variable, for the keys whose value carries over as it is
_INVENTORY = {
    "node_id": "pgha_node_id",
    "node_name": "pgha_node_name",
    "location": "pgha_location",
    "priority": "pgha_priority",
    "data_directory": "pgha_data_directory",
    "config_directory": "pgha_config_directory",
    "pg_bindir": "pgha_pg_bindir",
    "use_replication_slots": "pgha_use_slots",
    "passfile": "pgha_passfile",
    "reconnect_attempts": "pgha_reconnect_attempts",
    "reconnect_interval": "pgha_reconnect_interval",
}
# written even when the file leaves them out: repmgr's default is what the cluster ran with, and
# this collection's default differs (use_replication_slots) or the failover needs them (the window)
_INVENTORY_ALWAYS = ("location", "priority", "use_replication_slots", "reconnect_attempts", "reconnect_interval")

# repmgr.conf key -> the rulebook's --vars (the event source's settings)
_MONITOR = {
    "monitor_interval_secs": "pgha_monitor_interval",
    "reconnect_attempts": "pgha_reconnect_attempts",
    "reconnect_interval": "pgha_reconnect_interval",
    "connection_check_type": "pgha_connection_check_type",
    "monitoring_history": "pgha_monitoring_history",
}
# repmgr.conf key -> variable of the inventory (the modules' events) and of the rulebook (the monitor's events),
# given only when the file sets it: the placeholders (%n %a %e %s %t %d %p %c) are repmgr's
_NOTIFICATIONS = {
    "event_notification_command": "pgha_event_notification_command",
    "event_notifications": "pgha_event_notifications",
}
# repmgr.conf key -> option of pgha.repmgr.repmgr_node_check
_NODE_CHECK = ("archive_ready_warning", "archive_ready_critical", "replication_lag_warning", "replication_lag_critical")

# conninfo parameter -> inventory variable
_CONNINFO = {"port": "pgha_port", "user": "pgha_repmgr_user", "dbname": "pgha_repmgr_database",
             "connect_timeout": "pgha_connect_timeout", "passfile": "pgha_passfile"}

_PG_VERSION_IN_BINDIR = re.compile(r"^/usr/(?:lib/postgresql/(\d+)/bin|pgsql-(\d+)/bin)$")


@dataclass
class Mapping:
    inventory: dict
    monitor: dict
    node_check: dict
    unmapped: list
    notes: list
    failover: str
    monitor_conninfo: str


def _as_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def inventory_mapping(conf, path):
    """The inventory variables, the rulebook's monitor settings, and the keys with no place here (with why)."""
    inventory, notes, unmapped = {}, [], []
    for key, variable in _INVENTORY.items():
        if key in conf.settings or key in _INVENTORY_ALWAYS:
            inventory[variable] = conf.value(key)
    params = conf.conninfo_params
    host = params.get("host") or params.get("hostaddr") or ""
    if host.startswith("/"):
        inventory["pgha_socket_directory"] = host
        notes.append("conninfo connects through the Unix socket in %s: set pgha_listen_address to the address the "
                     "other nodes reach this node on" % host)
    elif host:
        inventory["pgha_listen_address"] = host.split(",")[0]
    for parameter, variable in _CONNINFO.items():
        if params.get(parameter) and variable not in inventory:
            value = params[parameter]
            inventory[variable] = _as_int(value) if parameter in ("port", "connect_timeout") else value
    if "pgha_repmgr_user" not in inventory:
        inventory["pgha_repmgr_user"] = "repmgr"
        notes.append("conninfo names no user: libpq uses the OS user's name, pgha_repmgr_user defaults to repmgr")
    if "password" in params:
        notes.append("conninfo holds a password: put it in pgha_repmgr_password (Ansible Vault) and in the passfile, "
                     "and remove it from repmgr.conf; it is not returned")
    replication_user = conf.settings.get("replication_user")
    if replication_user and replication_user != inventory["pgha_repmgr_user"]:
        unmapped.append(dict(key="replication_user", line=conf.lines["replication_user"],
                             reason="this collection streams as pgha_repmgr_user (%s), not as %s: grant it "
                                    "REPLICATION and a pg_hba.conf replication entry"
                                    % (inventory["pgha_repmgr_user"], replication_user)))
    match = _PG_VERSION_IN_BINDIR.match(conf.settings.get("pg_bindir") or "")
    if match:
        inventory["pgha_pg_version"] = match.group(1) or match.group(2)
    inventory["pgha_repmgr_conf_file"] = path

    monitor = {variable: conf.value(key) for key, variable in _MONITOR.items()}
    if conf.value("connection_check_type") == "query" and conf.value("connection_check_query") != "SELECT 1":
        unmapped.append(dict(key="connection_check_query", line=conf.lines["connection_check_query"],
                             reason="the monitor's query check runs SELECT 1 on its held session"))
    if "connect_timeout" in params:
        monitor["pgha_connect_timeout"] = _as_int(params["connect_timeout"])
    failover = conf.value("failover")
    if failover == "manual":
        notes.append("failover=manual: repmgrd did not fail this node over automatically; the rulebook "
                     "pgha.repmgr.failover does; run it only if the cluster should fail over automatically")
    for key, variable in _NOTIFICATIONS.items():
        value = conf.settings.get(key)
        if value and conninfo_util.mask_text(str(value), conf.secrets) != str(value):
            notes.append("%s holds a password: it is not returned; set %s by hand (Ansible Vault)" % (key, variable))
        elif value:
            inventory[variable] = monitor[variable] = value
    node_check = {key: conf.value(key) for key in _NODE_CHECK if key in conf.settings}

    handled = set(_INVENTORY) | set(_MONITOR) | set(_NODE_CHECK) | set(_NOTIFICATIONS) | {
        "conninfo", "failover", "replication_user", "connection_check_query"}
    for key in conf.settings:
        if key not in handled:
            unmapped.append(dict(key=key, line=conf.lines[key],
                                 reason=_UNMAPPED_REASONS.get(key, "no equivalent in this collection")))
    unmapped.sort(key=lambda entry: entry["line"])
    monitor_conninfo = conninfo_util.mask(conf.settings.get("conninfo"))
    if "password" in params:
        monitor_conninfo = conninfo_util.build("", **{k: v for k, v in params.items() if k != "password"})
    return Mapping(inventory=inventory, monitor=monitor, node_check=node_check, unmapped=unmapped, notes=notes,
                   failover=failover, monitor_conninfo=monitor_conninfo)


def shown(conf):
    """The settings and items as they may be shown: the conninfo's password masked, passwords in free text too."""
    def safe(key, value):
        if key == "conninfo":
            return conninfo_util.mask(value)
        if isinstance(value, str):
            return conninfo_util.mask_text(value, conf.secrets)
        if isinstance(value, list):
            return [conninfo_util.mask_text(entry, conf.secrets) for entry in value]
        return value

    settings = {key: safe(key, value) for key, value in conf.settings.items()}
    items = [dict(key=item.key, value=safe(item.key, item.value), line=item.line) for item in conf.items]
    return settings, items


def conf_info(path):
    """Everything repmgr_conf_info returns for the file at `path` (raises ConfigError when repmgr refuses it)."""
    conf = read(path)
    mapping = inventory_mapping(conf, path)
    settings, items = shown(conf)
    return dict(
        changed=False,
        config_file=path,
        settings=settings,
        items=items,
        inventory=mapping.inventory,
        monitor=mapping.monitor,
        monitor_conninfo=mapping.monitor_conninfo,
        failover=mapping.failover,
        node_check=mapping.node_check,
        unmapped=mapping.unmapped,
        notes=mapping.notes,
        config_warnings=[problem.as_dict() for problem in conf.warnings],
    ), conf
