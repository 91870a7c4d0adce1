# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The text `repmgr cluster show` and `repmgr cluster event` print, byte for byte.

status.py decides each node's Status, Upstream and warnings; this module lays them out as
repmgr 5.3 does (`print_status_header()` and the printf calls in repmgr-action-cluster.c),
and lays out `cluster event` rows. Pure functions, no I/O.
"""

from __future__ import annotations

import datetime
from typing import Mapping, Sequence

from ansible_collections.pgha.repmgr.plugins.module_utils.status import ClusterShow, ShowRow

WARNING_HEADER = "WARNING: following issues were detected"
WARNING_ITEM = "  - {}"
HINT_VERBOSE = "HINT: execute with --verbose option to see connection error messages"

# --- Table headers --------------------------------------------------------------------

SHOW_HEADERS = ("ID", "Name", "Role", "Status", "Upstream", "Location", "Priority", "Timeline", "Connection string")
SHOW_HEADERS_COMPACT = ("ID", "Name", "Role", "Status", "Upstream", "Location", "Prio.", "TLI")
EVENT_HEADERS = ("Node ID", "Name", "Event", "OK", "Timestamp", "Details")
NO_EVENTS = "no matching events found"
EVENT_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"  # to_char(event_timestamp, 'YYYY-MM-DD HH24:MI:SS')


# --- printing -------------------------------------------------------------------------


def _width(text: str) -> int:
    """repmgr measures with strlen(), i.e. bytes (its own NOTE admits non-ASCII is off)."""
    return len(text.encode("utf-8"))


def _pad(text: str, width: int) -> str:
    """printf("%-*s"): left-aligned, padded with spaces to `width` bytes."""
    return text + " " * max(0, width - _width(text))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], row_tail: str) -> list:
    """print_status_header() plus the rows: every column left-aligned, numbers included.

    Header ' A | B', dash line '-' + dashes joined by '-+-' + '-', rows ' a | b' + row_tail.
    """
    widths = [_width(title) for title in headers]
    for row in rows:
        widths = [max(width, _width(cell)) for width, cell in zip(widths, row)]
    lines = [" " + " | ".join(_pad(title, width) for title, width in zip(headers, widths))]
    lines.append("-" + "-+-".join("-" * width for width in widths) + "-")
    for row in rows:
        lines.append(" " + " | ".join(_pad(cell, width) for cell, width in zip(row, widths)) + row_tail)
    return lines


def format_show_table(rows: Sequence[ShowRow], compact: bool = False, show_timeline: bool = True) -> list:
    """The `repmgr cluster show` table as printed (trailing spaces included).

    `compact` (--compact) shortens Priority/Timeline to Prio./TLI and drops the
    connection string; `show_timeline=False` is what repmgr does when the local server
    is older than 9.6. Each data cell is printed "| %-*s " except the connection string
    ("| %-*s"), so a row without it ends in a space.
    """
    headers = list(SHOW_HEADERS_COMPACT if compact else SHOW_HEADERS)
    keep = [True] * len(headers)
    if not show_timeline:
        keep[7] = False
    table_rows = [[cell for cell, kept in zip(row.cells(), keep) if kept] for row in rows]
    headers = [title for title, kept in zip(headers, keep) if kept]
    row_tail = "" if not compact else " "
    return _table(headers, table_rows, row_tail)


def format_show_csv(rows: Sequence[ShowRow]) -> list:
    """`repmgr cluster show --csv`: no header, no warnings."""
    return [row.csv() for row in rows]


def format_warnings(show: ClusterShow) -> list:
    """The block printed after the table (stdout's blank line, then stderr).

    log_warning() ends the message, which already ends in a newline, with another one,
    so a blank line always follows the items; the HINT comes when a node could not be
    connected to and --verbose was not given.
    """
    if not show.warnings:
        return []
    text = "\n".join([WARNING_HEADER] + [WARNING_ITEM.format(line) for line in show.warnings])
    lines = [""] + text.split("\n") + [""]
    if show.connection_errors and not show.verbose:
        lines.append(HINT_VERBOSE)
    return lines


def format_show(show: ClusterShow, compact: bool = False, show_timeline: bool = True) -> list:
    """Everything `repmgr cluster show` prints: the table, then the warning block."""
    return format_show_table(show.rows, compact=compact, show_timeline=show_timeline) + format_warnings(show)


# --- repmgr cluster event -------------------------------------------------------------


def event_cells(event: Mapping, compact: bool = False) -> list:
    """One `repmgr.events` row (joined with nodes) as libpq would hand it over as text.

    NULL name (node record deleted) and NULL details print as ''; booleans as t/f.
    """
    timestamp = event.get("timestamp")
    if isinstance(timestamp, datetime.datetime):
        timestamp = timestamp.strftime(EVENT_TIMESTAMP_FORMAT)
    successful = event.get("successful")
    cells = [
        "" if event.get("node_id") is None else str(event["node_id"]),
        event.get("node_name") or "",
        event.get("event") or "",
        "" if successful is None else ("t" if successful else "f"),
        timestamp or "",
        event.get("details") or "",
    ]
    return cells[:-1] if compact else cells


def format_event_table(events: Sequence[Mapping], compact: bool = False) -> list:
    """`repmgr cluster event` as printed by do_cluster_event().

    Every column is left-aligned and padded, the last one too; `compact` drops Details.
    The output ends with a blank line. No events: the single line 'no matching events found'.
    """
    if not events:
        return [NO_EVENTS]
    headers = EVENT_HEADERS[:-1] if compact else EVENT_HEADERS
    return _table(headers, [event_cells(event, compact) for event in events], "") + [""]


def format_event_csv(events: Sequence[Mapping]) -> list:
    """`repmgr cluster event --csv`: no header, no Details, plain comma join."""
    return [",".join(event_cells(event, compact=True)) for event in events]
