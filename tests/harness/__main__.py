"""Command line of the test harness, for the Makefile (``make demo``) and for a DBA poking at a test cluster.

    python -m harness prepare --name demo --nodes 3 --inventory build/demo/inventory.yml
    python -m harness build   --name demo --nodes 3 [--repmgr] [--inventory PATH]
    python -m harness status  --name demo [--json]
    python -m harness crash|hang|resume|start|stop|restart --name demo node1
    python -m harness inventory --name demo PATH
    python -m harness destroy --name demo
    python -m harness destroy --all          # every cluster under the data root (make clean)

Every command after ``prepare``/``build`` finds the cluster through its state file under the data
root (PGHA_DATA_ROOT, default /tmp/pgha-testhosts), so it may run in another process, later.
The password is never printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .cluster import Cluster, cluster_names
from .errors import HarnessError, StateNotFound
from .node import Node

NODE_VERBS = ("start", "stop", "restart", "crash", "hang", "resume")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (HarnessError, KeyError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"harness {args.command}: {message}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness", description="Test clusters of real PostgreSQL servers.")
    commands = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Any, help_text: str, name_required: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--name", required=name_required, help="cluster name (directory under the data root)")
        sub.add_argument("--data-root", default=None, help="default: $PGHA_DATA_ROOT or /tmp/pgha-testhosts")
        sub.set_defaults(handler=handler)
        return sub

    for name, handler, help_text in (
        ("prepare", _prepare, "clean leftovers, create directories and passfile; no server started"),
        ("build", _build, "prepare, then build node1 primary + streaming standbys"),
    ):
        sub = add(name, handler, help_text)
        sub.add_argument("--nodes", type=int, default=3)
        sub.add_argument("--port", type=int, default=None, help="default: $PGHA_PORT or 55432")
        sub.add_argument("--net-prefix", default=None, help="default: $PGHA_NET_PREFIX or 127.0.0.")
        sub.add_argument("--inventory", default=None, help="also write the Ansible inventory here")
        if name == "build":
            sub.add_argument("--repmgr", action="store_true", help="build with the real repmgr CLI")
            sub.add_argument("--no-slots", action="store_true", help="standbys without replication slots")

    sub = add("inventory", _inventory, "write the Ansible inventory of a prepared cluster")
    sub.add_argument("path")
    sub = add("status", _status, "show each node: address, role, postmaster PID")
    sub.add_argument("--json", action="store_true")
    sub = add("destroy", _destroy, "stop every server of the cluster and remove its data", name_required=False)
    sub.add_argument("--all", action="store_true", help="every cluster under the data root")
    for verb in NODE_VERBS:
        sub = add(verb, _node_verb, f"{verb} one node (see harness.node.Node.{verb})")
        sub.add_argument("node", help="node name (node1) or id (1)")
    return parser


def _new_cluster(args: argparse.Namespace) -> Cluster:
    return Cluster(args.name, args.nodes, port=args.port, net_prefix=args.net_prefix, data_root=args.data_root)


def _prepare(args: argparse.Namespace) -> int:
    cluster = _new_cluster(args)
    cluster.prepare()
    print(f"prepared cluster {cluster.name}: {len(cluster.nodes)} nodes, port {cluster.port}, in {cluster.cluster_dir}")
    if args.inventory:
        print(f"inventory: {cluster.write_inventory(args.inventory)}")
    return 0


def _build(args: argparse.Namespace) -> int:
    cluster = _new_cluster(args)
    cluster.prepare()
    if args.repmgr:
        cluster.build_with_repmgr()
    else:
        cluster.build(slots=not args.no_slots)
    print(f"built cluster {cluster.name} ({cluster.built_with}): {len(cluster.nodes)} nodes, port {cluster.port}")
    if args.inventory:
        print(f"inventory: {cluster.write_inventory(args.inventory)}")
    return 0


def _inventory(args: argparse.Namespace) -> int:
    print(Cluster.load(args.name, args.data_root).write_inventory(args.path))
    return 0


def _destroy(args: argparse.Namespace) -> int:
    if args.all == bool(args.name):
        raise HarnessError("give either --name NAME or --all")
    names = cluster_names(args.data_root) if args.all else [args.name]
    for name in names:
        try:
            cluster = Cluster.load(name, args.data_root)
        except StateNotFound:
            # No state file (never prepared, or a half-finished destroy): still clean by directory.
            cluster = Cluster(name, 1, data_root=args.data_root)
        cluster.destroy()
        print(f"destroyed cluster {name}")
    if args.all and not names:
        print("no cluster to destroy")
    return 0


def _node_verb(args: argparse.Namespace) -> int:
    cluster = Cluster.load(args.name, args.data_root)
    which: str | int = int(args.node) if args.node.isdigit() else args.node
    node = cluster.node(which)
    getattr(node, args.command)()
    print(f"{node.name}: {args.command} done")
    return 0


def _status(args: argparse.Namespace) -> int:
    cluster = Cluster.load(args.name, args.data_root)
    rows = [_node_status(node) for node in cluster.nodes]
    if args.json:
        print(json.dumps({"cluster": cluster.name, "port": cluster.port, "nodes": rows}, indent=2))
        return 0
    print(f"cluster {cluster.name}: {len(cluster.nodes)} nodes, port {cluster.port}, data in {cluster.cluster_dir}")
    for row in rows:
        pid = f"pid {row['postmaster_pid']}" if row["postmaster_pid"] else "-"
        print(f"{row['name']:<8} {row['address']}:{row['port']:<6} {row['role']:<12} {pid:<11} {row['datadir']}")
    return 0


def _node_status(node: Node) -> dict[str, Any]:
    """One line of status: the role as the server itself reports it, or why it cannot."""
    if not node.is_running():
        role, pid = "stopped", None
    elif node.is_hung():
        role, pid = "hung", node.postmaster_pid()
    else:
        pid = node.postmaster_pid()
        try:
            role = "standby" if node.in_recovery() else "primary"
        except Exception as exc:  # noqa: BLE001 - any failure to ask is shown, not raised
            role = f"unreachable ({type(exc).__name__})"
    return {
        "name": node.name,
        "address": node.address,
        "port": node.port,
        "role": role,
        "postmaster_pid": pid,
        "datadir": str(node.datadir),
    }


if __name__ == "__main__":
    sys.exit(main())
