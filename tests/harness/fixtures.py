"""pytest glue: a cluster as a fixture, prepared before the first test that uses it, destroyed after the last.

    # conftest.py or a test module
    from harness import cluster_fixture
    cluster = cluster_fixture("failover", nodes=3, port=56532)              # built with pg_basebackup
    repmgr_cluster = cluster_fixture("interop", nodes=3, port=56542, build="repmgr")

    def test_something(cluster): ...

pytest is imported only when a fixture is made, so the harness CLI works without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .cluster import Cluster

BUILDS = ("streaming", "repmgr", None)


def cluster_fixture(
    name: str,
    nodes: int = 3,
    *,
    build: str | None = "streaming",
    slots: bool = True,
    scope: str = "module",
    **cluster_options: Any,
) -> Callable[..., Iterator[Cluster]]:
    """A pytest fixture yielding a prepared (and, unless ``build=None``, built) Cluster.

    ``build``: "streaming" (``Cluster.build``), "repmgr" (``Cluster.build_with_repmgr``) or None
    (directories only, for tests of the roles that build the servers themselves).
    ``cluster_options`` go to ``Cluster`` (port, net_prefix, data_root ...).  Give every fixture
    its own name and port so that fixtures alive at the same time do not collide.
    """
    import pytest  # only needed when a fixture is made

    if build not in BUILDS:
        raise ValueError(f"build must be one of {BUILDS}, not {build!r}")

    @pytest.fixture(scope=scope, name=None)
    def _cluster() -> Iterator[Cluster]:
        with Cluster(name, nodes, **cluster_options) as cluster:
            if build == "streaming":
                cluster.build(slots=slots)
            elif build == "repmgr":
                cluster.build_with_repmgr()
            yield cluster

    return _cluster
