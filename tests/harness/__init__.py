"""Test harness of pgha.repmgr: real PostgreSQL servers on loopback addresses, with runbook verbs.

    from harness import Cluster
    with Cluster(name="t1", nodes=3, port=56432) as c:    # prepare() on entry, destroy() on exit
        c.build()                                         # node1 primary, node2/node3 streaming
        c.nodes[0].crash()
        c.wait_until(lambda: not c.nodes[0].is_running(), what="node1 is down")

See cluster.py for the layout on disk, node.py for the failure verbs, proxy.py for partitions,
and ``python -m harness --help`` for the command line used by the Makefile.
"""

from .cluster import Cluster
from .errors import CommandFailed, HarnessError, StateNotFound, WaitTimeout
from .fixtures import cluster_fixture
from .node import Node
from .osutil import CommandResult, pid_alive
from .proxy import Proxy
from .waiting import wait_until
from .writer import Writer

__all__ = [
    "Cluster",
    "CommandFailed",
    "CommandResult",
    "HarnessError",
    "Node",
    "Proxy",
    "StateNotFound",
    "WaitTimeout",
    "cluster_fixture",
    "pid_alive",
    "wait_until",
    "Writer",
]
