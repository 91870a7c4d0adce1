# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an operation of the core did, or in check mode would do: one shape for all of them.

Register, clone, promote, follow, rejoin, the failover's promotion, an event: each plans first
(check mode stops there, and reports what would change) and then applies, and each returns an
Outcome: `changed`, a `msg` a DBA can read, the repmgr `events` written (or that would be), a
`diff` when a record changes, and the operation's own facts (promote_seconds, attach_seconds,
...), which become keys of the module result. Facts are set as attributes or items alike.

Pure: no I/O.
"""

from __future__ import annotations


def record_diff(before, **after):
    """{before, after} of the record fields an operation changes (Ansible's --diff shows it)."""
    return dict(before={name: getattr(before, name) for name in after}, after=dict(after))


class Outcome:
    """changed, msg, events, diff, plus the operation's facts."""

    CORE = ("changed", "msg", "events", "diff")

    def __init__(self, changed=False, msg="", events=None, diff=None, **facts):
        object.__setattr__(self, "facts", {})
        self.changed = changed
        self.msg = msg
        self.events = list(events or [])
        self.diff = diff
        self.facts.update(facts)

    # facts as attributes (outcome.attach_seconds = 1.2) and as items (outcome["method"] = ...)

    def __getattr__(self, name):
        try:
            return self.__dict__["facts"][name]
        except KeyError:
            raise AttributeError(name)

    def __setattr__(self, name, value):
        if name in self.CORE:
            object.__setattr__(self, name, value)
        else:
            self.facts[name] = value

    def __getitem__(self, name):
        return getattr(self, name)

    def __setitem__(self, name, value):
        setattr(self, name, value)

    def update(self, **values):
        for name, value in values.items():
            setattr(self, name, value)

    def as_dict(self):
        """The module result: changed, msg, events, the facts, and diff when there is one."""
        result = dict(changed=bool(self.changed), msg=self.msg, events=list(self.events))
        result.update(self.facts)
        if self.diff is not None:
            result["diff"] = self.diff
        return result
