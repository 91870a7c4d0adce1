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

``parse(text)`` is pure; ``read(path)`` opens the file. What the settings mean for this collection
(inventory variables, monitor settings) is repmgr_conf_mapping.py.
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
