# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting for a condition, the one way the core does it: poll with a deadline, never sleep blindly.

Every wait of the core (a promotion leaving recovery, a standby streaming, a process gone)
polls a condition every `interval` seconds until it holds or `timeout` seconds have passed.
"""

from __future__ import annotations

import time

from ansible_collections.pgha.repmgr.plugins.module_utils.errors import Timeout

POLL_INTERVAL = 0.1  # repmgr polls once a second; most of what we wait for takes a few hundred ms


def poll(fetch, done, timeout, interval=POLL_INTERVAL, clock=time.monotonic, sleep=time.sleep):
    """Call fetch() until done(value) or `timeout` seconds: (last value, seconds waited, whether done).

    fetch is called at least once, even with timeout 0.
    """
    started = clock()
    while True:
        value = fetch()
        if done(value):
            return value, round(clock() - started, 3), True
        if clock() - started >= timeout:
            return value, round(clock() - started, 3), False
        sleep(interval)


def wait_until(predicate, timeout, what, interval=POLL_INTERVAL, clock=time.monotonic, sleep=time.sleep):
    """Poll `predicate` until it returns something true (returned) or raise Timeout naming `what`."""
    value, _seconds, reached = poll(predicate, bool, timeout, interval, clock, sleep)
    if not reached:
        raise Timeout("timed out after %s s waiting until %s" % (timeout, what))
    return value
