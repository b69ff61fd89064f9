"""The TCP side of a TaskManager's data plane: a network thread with its own asyncio loop, a
server on the data port, and one connection per peer TaskManager that multiplexes every
channel between the two.

The network thread only moves frames; it never runs operators and never blocks on a task.
Task threads hand it work once per buffer (a frame to send, credit to return) with
``call_soon_threadsafe``, coalesced so that a burst costs one wake-up. The RPC loop is not
involved.

On a connection, the side that asked for a channel (the consumer) gives it an id and sends
a :class:`~strom.network.wire.PartitionRequest`; the other side (the producer) answers with
its elements as credit allows. Both TaskManagers of a pair use the same connection in both
directions: the one that connects first says who it is with a ``Hello``.

With internal TLS (:class:`~strom.common.security.InternalTls`) every connection is mutually
authenticated: the server upgrades each accepted connection itself, so that a peer that
fails the handshake is logged with its address and the reason, and dropped.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from strom.network import wire
from strom.network.elements import EndOfPartition, PriorityBarrier
from strom.network.errors import ERRORS, RemoteTransportError
from strom.network.local_channel import LocalChannel
from strom.network.remote_input_channel import RemoteInputChannel

if TYPE_CHECKING:
    from strom.common.security import InternalTls

__all__ = ["ConnectionManager", "SubpartitionView"]

log = logging.getLogger(__name__)

#: how long a peer may take for the TLS handshake
TLS_HANDSHAKE_TIMEOUT_S = 30.0

_threads = itertools.count()


class SubpartitionView:
    """Forwards one producer channel to its remote consumer: the producer's task thread puts
    elements into the :class:`LocalChannel` against the consumer's credit and, in the same
    call, encodes them into frames (so encoding costs the producer's core, and a batch that
    cannot be pickled fails the producer task); the network thread writes the frames. An
    unaligned checkpoint's priority barrier goes before the frames not written yet."""

    __slots__ = ("_ended", "_frames", "_lock", "_scheduled", "channel", "channel_id",
                 "connection", "key")

    def __init__(self, connection: _Connection, channel_id: int, channel: LocalChannel,
                 key: Any) -> None:
        self.connection = connection
        self.channel_id = channel_id
        self.channel = channel
        self.key = key
        self._frames: list[bytes] = []
        self._lock = threading.Lock()  # keeps frames in channel order across threads
        self._scheduled = False
        self._ended = False

    def notify(self) -> None:
        """Elements are waiting (any thread): encode them and have the network thread send
        them, one hand-off per burst."""
        with self._lock:
            frames = self._frames
            take, channel_id = self.channel.take, self.channel_id
            size = 0
            while (element := take()) is not None:
                kind = type(element)
                frame = wire.encode_element(channel_id, element)
                size += len(frame)
                if kind is PriorityBarrier:  # overtakes the frames not written yet
                    frames.insert(0, frame)
                    continue
                frames.append(frame)
                if kind is EndOfPartition:
                    self._ended = True
            self.channel.bytes_sent += size  # the producer's numBytesOut
            if not frames or self._scheduled:
                return
            self._scheduled = True
        self.connection.loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        with self._lock:
            frames, self._frames = self._frames, []
            self._scheduled = False
            ended = self._ended
        connection = self.connection
        if connection.views.get(self.channel_id) is not self:
            return
        connection.write(frames)
        if ended:
            del connection.views[self.channel_id]

    def fail(self, kind: str, message: str) -> None:
        """Tell the consumer the channel failed, and stop serving it (network thread)."""
        if self.connection.views.pop(self.channel_id, None) is self:
            error = wire.ErrorResponse(kind, message)
            self.connection.write([wire.encode_message(wire.ERROR_RESPONSE, self.channel_id,
                                                       error)])


class _Connection(asyncio.Protocol):
    """One TCP connection to a peer TaskManager, carrying channels both ways."""

    def __init__(self, manager: ConnectionManager, peer: str) -> None:
        self.manager = manager
        self.loop = manager.loop
        #: the peer's data address (known at once when we connect, from its Hello otherwise)
        self.peer = peer
        self.peer_id = ""
        self.transport: asyncio.Transport | None = None
        self.parser = wire.FrameParser()
        self.inputs: dict[int, RemoteInputChannel] = {}  # our consumers, ids ours
        self.views: dict[int, SubpartitionView] = {}  # our producers, ids the peer's
        self.closed = False
        self._credit: dict[int, int] = {}
        self._credit_lock = threading.Lock()
        self._credit_scheduled = False

    def describe(self) -> str:
        who = f"TaskManager {self.peer_id} at {self.peer}" if self.peer_id else \
            f"the TaskManager at {self.peer or 'an unknown address'}"
        return who

    # ------------------------------------------------------------ asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        received: set[RemoteInputChannel] = set()
        try:
            for kind, channel_id, payload in self.parser.feed(data):
                self._on_frame(kind, channel_id, payload, received)
        except Exception as e:  # a broken peer: drop the connection, fail its channels
            self._abort(e)
        for channel in received:  # one wake-up per consumer and chunk, not per frame
            channel.receiver_waker()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        reason = f"{type(exc).__name__}: {exc}" if exc else "closed by the peer"
        self._fail_all(reason)
        self.manager._forget(self)

    # ------------------------------------------------------------ frames
    def _on_frame(self, kind: int, channel_id: int, payload: bytes,
                  received: set[RemoteInputChannel]) -> None:
        if kind >= wire.BUFFER and kind != wire.ERROR_RESPONSE:
            channel = self.inputs.get(channel_id)
            if channel is not None:
                channel.on_frame(kind, payload)
                received.add(channel)
                if kind == wire.END_OF_PARTITION_KIND:
                    del self.inputs[channel_id]
        elif kind == wire.ADD_CREDIT:
            view = self.views.get(channel_id)
            if view is not None:
                view.channel.announce_credit(wire.decode_add_credit(payload))
        elif kind == wire.PARTITION_REQUEST:
            request = wire.decode_message(kind, payload)
            self.manager.on_partition_request(self, channel_id, request)
        elif kind == wire.ERROR_RESPONSE:
            channel = self.inputs.pop(channel_id, None)
            if channel is not None:
                response = wire.decode_message(kind, payload)
                error_type = ERRORS.get(response.kind, RuntimeError)
                channel.on_failure(error_type(response.message))
        elif kind == wire.CLOSE_REQUEST:
            view = self.views.pop(channel_id, None)
            if view is not None:
                self.manager.on_view_closed(view.key)
        elif kind == wire.HELLO:
            hello = wire.decode_message(kind, payload)
            self.peer, self.peer_id = hello.data_address, hello.resource_id
            self.manager._register(self)

    def _abort(self, error: BaseException) -> None:
        if self.transport is not None:
            self.transport.abort()
        self._fail_all(f"{type(error).__name__}: {error}")

    def _fail_all(self, reason: str) -> None:
        inputs, views = list(self.inputs.values()), list(self.views.values())
        self.inputs.clear()
        self.views.clear()
        for channel in inputs:
            channel.on_failure(RemoteTransportError(
                f"The connection to {self.describe()} was lost ({reason}) while "
                f"{channel.description} was reading from it. That TaskManager may have "
                "died or been cut off; the job fails over."
            ))
        for view in views:
            view.channel.fail(RemoteTransportError(
                f"The connection to {self.describe()}, which consumes this task's output "
                f"{view.key}, was lost ({reason}). That TaskManager may have died or been "
                "cut off; the job fails over."
            ))

    # ------------------------------------------------------------ sending
    def write(self, frames: list[bytes]) -> None:
        """Network thread only."""
        if self.transport is not None and not self.closed:
            self.transport.writelines(frames)

    def send_soon(self, frames: list[bytes]) -> None:
        """Any thread."""
        self.loop.call_soon_threadsafe(self.write, frames)

    def add_credit(self, channel_id: int, credit: int) -> None:
        """The consumer freed ``credit`` buffers of a channel (any thread); coalesced."""
        with self._credit_lock:
            self._credit[channel_id] = self._credit.get(channel_id, 0) + credit
            if self._credit_scheduled:
                return
            self._credit_scheduled = True
        self.loop.call_soon_threadsafe(self._flush_credit)

    def _flush_credit(self) -> None:
        with self._credit_lock:
            pending, self._credit = self._credit, {}
            self._credit_scheduled = False
        self.write([wire.encode_add_credit(c, n) for c, n in pending.items()
                    if c in self.inputs])


class _TlsHandshake(asyncio.Protocol):
    """An accepted connection until its TLS handshake is done: reads nothing itself, then
    hands the encrypted transport to a new :class:`_Connection` (or logs and drops it)."""

    def __init__(self, manager: ConnectionManager) -> None:
        self.manager = manager

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.pause_reading()  # the ClientHello is for the TLS layer, not for us
        self.manager._spawn(self._handshake(transport))

    async def _handshake(self, transport: asyncio.Transport) -> None:
        manager = self.manager
        assert manager.tls is not None
        connection = _Connection(manager, "")
        try:
            secure = await manager.loop.start_tls(
                transport, connection, manager.tls.server, server_side=True,
                ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_S)
        except asyncio.CancelledError:  # the manager closes
            transport.abort()
            raise
        except (OSError, EOFError, TimeoutError) as e:
            peer = transport.get_extra_info("peername")
            log.warning("Rejected a data connection from %s on %s: the TLS handshake failed "
                        "(%s). Internal TLS is on (security.ssl.internal.enabled): the peer "
                        "needs a certificate signed by a CA in "
                        "security.ssl.internal.truststore.",
                        f"{peer[0]}:{peer[1]}" if peer else "an unknown address",
                        manager.address, e)
            transport.abort()
            return
        if secure is None:  # closed while shaking hands
            return
        manager._track(connection).connection_made(secure)


class ConnectionManager:
    """Runs the data plane's network thread; ``start`` binds the data port.

    ``on_partition_request(connection, channel_id, request)`` runs on the network thread
    for every partition request a peer sends, ``on_view_closed(key)`` when a consumer
    closes a channel before its end.
    """

    def __init__(self, resource_id: str, host: str, port: int,
                 on_partition_request: Callable[[Any, int, wire.PartitionRequest], None],
                 on_view_closed: Callable[[Any], None] = lambda key: None,
                 advertised_host: str | None = None, tls: InternalTls | None = None) -> None:
        self.resource_id = resource_id
        #: internal TLS for every data connection (None: plain TCP)
        self.tls = tls
        self.host = host
        self.port = port
        #: the host peers reach the data port at, when not the bound one (0.0.0.0)
        self.advertised_host = advertised_host
        self.on_partition_request = on_partition_request
        self.on_view_closed = on_view_closed
        self.loop = asyncio.new_event_loop()
        self.address = ""
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._connections: dict[str, _Connection] = {}
        self._all: set[_Connection] = set()
        self._connecting: dict[str, asyncio.Future[_Connection]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ids = itertools.count(1)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> str:
        """Start the network thread and listen; returns the data address ``host:port``."""
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                        name=f"strom-network-{next(_threads)}")
        self._thread.start()

        async def listen() -> str:
            try:
                self._server = await self.loop.create_server(
                    self._accept, self.host, self.port)
            except OSError as e:
                raise OSError(
                    f"The data port {self.host}:{self.port} could not be bound: {e}. Set "
                    "taskmanager.data.port to a free port, or 0 for any."
                ) from e
            host, port = self._server.sockets[0].getsockname()[:2]
            return f"{self.advertised_host or host}:{port}"

        try:
            self.address = asyncio.run_coroutine_threadsafe(listen(), self.loop).result(30)
        except BaseException:
            self.close()
            raise
        return self.address

    def _accept(self) -> asyncio.Protocol:
        if self.tls is not None:
            return _TlsHandshake(self)
        return self._track(_Connection(self, ""))

    def close(self) -> None:
        thread = self._thread
        if thread is None:
            return
        self._thread = None

        async def shut_down() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            for connection in list(self._all):
                if connection.transport is not None:
                    connection.transport.abort()
            await asyncio.sleep(0)  # let connection_lost run

        if thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(shut_down(), self.loop).result(10)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                thread.join(10)
        self.loop.close()

    def drop_connections(self) -> None:
        """Fault injection: abort every connection, as if the peers were cut off."""

        def drop() -> None:
            for connection in list(self._all):
                if connection.transport is not None:
                    connection.transport.abort()

        self.loop.call_soon_threadsafe(drop)

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        self.loop.call_soon_threadsafe(callback, *args)

    # ------------------------------------------------------------ consumers (any thread)
    def request_partition(self, address: str, channel: RemoteInputChannel,
                          request: wire.PartitionRequest) -> None:
        """Open ``channel`` on the connection to the TaskManager at ``address``."""
        self.loop.call_soon_threadsafe(self._spawn, self._request(address, channel, request))

    def close_channel(self, channel: RemoteInputChannel) -> None:
        """The consumer is gone before the channel ended: release the producer's side."""
        self.loop.call_soon_threadsafe(self.close_channel_now, channel)

    def close_channel_now(self, channel: RemoteInputChannel) -> None:
        """:meth:`close_channel` on the network thread."""
        connection = channel.connection
        if connection is not None and connection.inputs.pop(channel.channel_id, None):
            connection.write([wire.frame(wire.CLOSE_REQUEST, channel.channel_id)])

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = self.loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _request(self, address: str, channel: RemoteInputChannel,
                       request: wire.PartitionRequest) -> None:
        try:
            connection = await self._connection(address)
        except OSError as e:
            channel.on_failure(RemoteTransportError(
                f"Could not connect to the TaskManager at {address} for {channel.description}:"
                f" {e}. Check that it runs and that its data port (taskmanager.data.port) is "
                "reachable from here."
            ))
            return
        if channel.released:  # the job was released while we connected
            return
        if connection.closed:
            channel.on_failure(RemoteTransportError(
                f"The connection to {connection.describe()} closed before "
                f"{channel.description} could be opened."
            ))
            return
        channel_id = next(self._ids)
        channel.connection, channel.channel_id = connection, channel_id
        connection.inputs[channel_id] = channel
        connection.write([wire.encode_message(wire.PARTITION_REQUEST, channel_id, request)])

    async def _connection(self, address: str) -> _Connection:
        connection = self._connections.get(address)
        if connection is not None and not connection.closed:
            return connection
        pending = self._connecting.get(address)
        if pending is None:
            pending = self.loop.create_task(self._open(address))
            self._connecting[address] = pending
            pending.add_done_callback(lambda _: self._connecting.pop(address, None))
        return await asyncio.shield(pending)

    async def _open(self, address: str) -> _Connection:
        host, _, port = address.rpartition(":")
        if self.tls is None:
            _, connection = await self.loop.create_connection(
                lambda: self._track(_Connection(self, address)), host, int(port))
        else:
            _, connection = await self.loop.create_connection(
                lambda: self._track(_Connection(self, address)), host, int(port),
                ssl=self.tls.client, server_hostname=host,
                ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_S)
        hello = wire.Hello(self.resource_id, self.address)
        connection.write([wire.encode_message(wire.HELLO, 0, hello)])
        self._connections[address] = connection
        return connection

    def connections(self) -> list[_Connection]:
        """The open connections (network thread)."""
        return list(self._all)

    # ------------------------------------------------------------ bookkeeping
    def _track(self, connection: _Connection) -> _Connection:
        self._all.add(connection)
        return connection

    def _register(self, connection: _Connection) -> None:
        """A peer said hello: reuse its connection for channels the other way too."""
        current = self._connections.get(connection.peer)
        if current is None or current.closed:
            self._connections[connection.peer] = connection

    def _forget(self, connection: _Connection) -> None:
        self._all.discard(connection)
        if self._connections.get(connection.peer) is connection:
            del self._connections[connection.peer]

    def stats(self) -> dict[str, int]:
        """Open connections, consumer channels, producer views and buffers (a snapshot)."""
        connections = list(self._all)
        return {
            "connections": len(connections),
            "remote_inputs": sum(len(c.inputs) for c in connections),
            "views": sum(len(c.views) for c in connections),
            #: buffers received and not yet read by their consumers
            "buffered": sum(ch.queued() for c in connections for ch in list(c.inputs.values())),
        }
