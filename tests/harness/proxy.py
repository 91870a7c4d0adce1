"""A small TCP proxy that can partition one network path: what ``cut(monitor, node1)`` is made of.

The servers all run on one machine, so there is no network to unplug.  Instead, the client under
test (the monitor, an event source, a module) is given the proxy's address instead of the node's,
and the proxy forwards bytes both ways until it is cut.

A cut behaves like a pulled cable, not like a closed port:

* existing connections stay open but no byte passes in either direction (the proxy stops reading,
  so the peers' kernel buffers fill up and their reads block): the client sees silence, never a
  reset, and only notices through its own timeouts (statement_timeout, keepalives);
* new connections are accepted (the TCP handshake is done by the kernel's listen queue, as a
  router would let SYNs through to a hung host) but never forwarded: the client waits for the
  server's first answer until its connect_timeout.

``restore()`` lets the bytes of existing connections flow again (like TCP retransmitting after a
healed partition); connections accepted during the cut stay black-holed until ``close()``.
The proxy only listens on a loopback address.
"""

from __future__ import annotations

import logging
import select
import socket
import threading

LOG = logging.getLogger("harness.proxy")

_CHUNK = 65536
_POLL = 0.05


class Proxy:
    """Forwards TCP connections from ``address:port`` to ``target_address:target_port`` in background threads."""

    def __init__(
        self,
        address: str,
        port: int,
        target_address: str,
        target_port: int,
        conninfo: str,
        name: str = "proxy",
    ) -> None:
        if not address.startswith("127."):
            raise ValueError(f"the proxy listens on loopback addresses only, not {address}")
        self.address = address
        self.port = port
        self.target_address = target_address
        self.target_port = target_port
        #: repmgr-style conninfo through the proxy (no password: use the passfile or password=).
        self.conninfo = conninfo
        self.name = name
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self.forwarded_connections = 0
        self.blackholed_connections = 0
        self._listener = socket.create_server((address, port), backlog=64)
        self._listener.settimeout(_POLL)
        self._spawn(self._accept_loop, f"{name}-accept")

    def __repr__(self) -> str:
        state = "closed" if self._closed.is_set() else ("cut" if self.is_cut else "passing")
        return f"<Proxy {self.name} {self.address}:{self.port} -> {self.target_address}:{self.target_port} {state}>"

    @property
    def is_cut(self) -> bool:
        return not self._flowing.is_set()

    @property
    def is_closed(self) -> bool:
        return self._closed.is_set()

    def cut(self) -> None:
        """Partition this path: stop every byte, accept new connections but never forward them."""
        self._flowing.clear()
        LOG.info("%s: cut", self.name)

    def restore(self) -> None:
        """Heal the partition: existing connections pass data again, new ones are forwarded."""
        self._flowing.set()
        LOG.info("%s: restored", self.name)

    def close(self) -> None:
        """Stop listening and close every connection (the clients see a reset / EOF)."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._flowing.set()  # wake pumps waiting for the cut to end, so they see the close
        with self._lock:
            sockets = list(self._sockets)
            self._sockets.clear()
        for sock in [self._listener, *sockets]:
            _close_quietly(sock)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=2.0)

    def __enter__(self) -> "Proxy":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    def _spawn(self, target, name: str, *args: object) -> None:  # type: ignore[no-untyped-def]
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    def _track(self, sock: socket.socket) -> bool:
        """Remember ``sock`` for close(); False (and the socket closed) if the proxy is closing."""
        with self._lock:
            if self._closed.is_set():
                _close_quietly(sock)
                return False
            self._sockets.add(sock)
            return True

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # listener closed
            client.settimeout(None)
            if not self._track(client):
                return
            if self.is_cut:
                LOG.debug("%s: black-holing a connection from %s", self.name, peer)
                self.blackholed_connections += 1
                continue  # held open, never read, never forwarded
            try:
                upstream = socket.create_connection((self.target_address, self.target_port), timeout=5.0)
            except OSError as exc:
                # The node itself refuses (server down): pass that on as a closed connection.
                LOG.info("%s: cannot reach %s:%s: %s", self.name, self.target_address, self.target_port, exc)
                self._forget(client)
                continue
            upstream.settimeout(None)
            if not self._track(upstream):
                return
            self.forwarded_connections += 1
            self._spawn(self._pump, f"{self.name}-up", client, upstream)
            self._spawn(self._pump, f"{self.name}-down", upstream, client)

    def _pump(self, source: socket.socket, destination: socket.socket) -> None:
        """Copy bytes from source to destination while the path is not cut."""
        try:
            while not self._closed.is_set():
                if not self._flowing.wait(_POLL):
                    continue
                readable = select.select([source], [], [], _POLL)[0]
                # Re-check after waiting: bytes that arrived after cut() returned must not pass.
                if not readable or not self._flowing.is_set():
                    continue
                data = source.recv(_CHUNK)
                if not data:
                    break
                destination.sendall(data)
        except (OSError, ValueError):
            pass  # a socket was closed under us: the connection is over
        self._forget(source)
        self._forget(destination)

    def _forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        _close_quietly(sock)


def _close_quietly(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
