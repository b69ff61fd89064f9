"""The ``tcp://`` RPC transport: length-prefixed msgpack frames over asyncio streams.

A frame is a 4-byte big-endian length and that many bytes of one encoded
:class:`~strom.rpc.codec.Call` or :class:`~strom.rpc.codec.Reply`. A service listens on one
port; to call a peer it keeps one connection per peer, opened on the first call and opened
again on the next call after it was lost. Calls on a connection carry request ids, so many
can be in flight at once; the peer starts them in the order they arrive and answers each
when it is done. When a connection breaks, every call waiting on it fails with
:class:`~strom.rpc.errors.RpcError` naming the peer. A read or write error in the middle of
a frame aborts the connection: the stream can no longer be trusted to be at a frame boundary.
A connection the peer closed or the network broke is reported to the service's
connection listeners (heartbeats use it to check that peer at once).

With internal TLS (:class:`~strom.common.security.InternalTls`) both ends authenticate: the
server takes each connection as plain TCP and upgrades it, so that a peer whose handshake
fails (no certificate, one no trusted CA signed, no TLS at all) is logged with its address
and the reason, and dropped; the client connects with its certificate.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from strom.rpc.codec import Reply, decode_frame
from strom.rpc.errors import RpcError

if TYPE_CHECKING:
    from strom.common.security import InternalTls
    from strom.rpc.service import RpcService

__all__ = ["MAX_FRAME_BYTES", "TcpTransport"]

log = logging.getLogger(__name__)

_HEADER = struct.Struct("!I")
#: how long a peer may take for the TLS handshake
TLS_HANDSHAKE_TIMEOUT_S = 30.0
#: the largest frame either side accepts (a TaskDeploymentDescriptor carries user code)
MAX_FRAME_BYTES = 1 << 30


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    if size > MAX_FRAME_BYTES:
        raise RpcError(f"a frame of {size} bytes is larger than {MAX_FRAME_BYTES} bytes")
    return await reader.readexactly(size)


def write_frame(writer: asyncio.StreamWriter, frame: bytes) -> None:
    if len(frame) > MAX_FRAME_BYTES:
        raise RpcError(
            f"an RPC message of {len(frame)} bytes is larger than the {MAX_FRAME_BYTES} "
            "bytes a frame may carry; send large data through the data path, not RPC."
        )
    writer.write(_HEADER.pack(len(frame)) + frame)


def _peer_of(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if peer else "an unknown address"


class _Connection:
    """One client connection to a peer: requests out, replies matched by request id."""

    def __init__(self, peer: str, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter,
                 on_lost: Callable[[str], None] | None = None) -> None:
        self.peer = peer
        self.on_lost = on_lost
        self.reader = reader
        self.writer = writer
        self.pending: dict[int, asyncio.Future[Reply]] = {}
        self.closed = False
        self.reading: asyncio.Task[None] = asyncio.get_running_loop().create_task(
            self._read_replies(), name=f"rpc replies from {peer}")

    async def _read_replies(self) -> None:
        error: BaseException | None = None
        try:
            while True:
                reply = decode_frame(await read_frame(self.reader))
                if not isinstance(reply, Reply):
                    raise RpcError(f"expected a reply, got a {type(reply).__name__}")
                future = self.pending.pop(reply.request_id, None)
                if future is not None and not future.done():
                    future.set_result(reply)
        except asyncio.CancelledError:
            error = RpcError(f"the connection to tcp://{self.peer} was closed")
            raise
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as e:
            error = RpcError(f"lost the connection to tcp://{self.peer}: {e!r}")
        except Exception as e:
            error = RpcError(f"the connection to tcp://{self.peer} broke: {e!r}")
        finally:
            self._close(error or RpcError(f"the connection to tcp://{self.peer} ended"))
        # the peer closed it or the network broke it (not this side): tell the service
        if self.on_lost is not None:
            self.on_lost(self.peer)

    def _close(self, error: BaseException) -> None:
        self.closed = True
        self.writer.transport.abort()
        pending, self.pending = self.pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)

    async def request(self, request_id: int, frame: bytes, what: str) -> Reply:
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        try:
            write_frame(self.writer, frame)
            await self.writer.drain()
        except (ConnectionError, OSError) as e:
            self.pending.pop(request_id, None)
            self.reading.cancel()
            raise RpcError(f"{what}: lost the connection to tcp://{self.peer}: {e!r}") from None
        try:
            return await future
        except RpcError as e:
            raise RpcError(f"{what} failed: {e}") from None
        finally:
            self.pending.pop(request_id, None)

    async def close(self) -> None:
        self.reading.cancel()
        await asyncio.gather(self.reading, return_exceptions=True)


class TcpTransport:
    """The server and the client connections of one :class:`RpcService` in ``tcp`` mode."""

    def __init__(self, service: RpcService, tls: InternalTls | None = None) -> None:
        self.service = service
        self.tls = tls
        self.peer = ""
        self._server: asyncio.Server | None = None
        self._connections: dict[str, _Connection] = {}
        self._connecting: dict[str, asyncio.Lock] = {}
        #: per accepted connection: its reader task and the calls it runs
        self._accepted: set[asyncio.Task[None]] = set()
        self._calls: set[asyncio.Task[None]] = set()

    async def listen(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port)
        bound = self._server.sockets[0].getsockname()
        self.peer = f"{bound[0]}:{bound[1]}"

    # ------------------------------------------------------------------ server side
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._accepted.add(task)
        try:
            if self.tls is not None and not await self._upgrade(writer):
                return
            while True:
                frame = await read_frame(reader)
                # started in arrival order; each answers when done
                call = asyncio.get_running_loop().create_task(self._answer(frame, writer))
                self._calls.add(call)
                call.add_done_callback(self._calls.discard)
        except (asyncio.IncompleteReadError, ConnectionError, OSError, RpcError):
            pass
        except asyncio.CancelledError:
            # closing the service: end normally, asyncio's stream callback cannot take a
            # cancelled handler
            pass
        finally:
            writer.transport.abort()
            self._accepted.discard(task)

    async def _upgrade(self, writer: asyncio.StreamWriter) -> bool:
        """TLS on an accepted connection; False (logged) when the peer fails the handshake."""
        assert self.tls is not None
        try:
            await writer.start_tls(self.tls.server,
                                   ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_S)
        except (TimeoutError, OSError, EOFError) as e:
            log.warning("Rejected an RPC connection from %s on %s: the TLS handshake failed "
                        "(%s). Internal TLS is on (security.ssl.internal.enabled): the peer "
                        "needs a certificate signed by a CA in "
                        "security.ssl.internal.truststore.",
                        _peer_of(writer), self.peer, e)
            return False
        return True

    async def _answer(self, frame: bytes, writer: asyncio.StreamWriter) -> None:
        try:
            reply = await self.service.dispatch(frame)
        except Exception as e:  # a frame that is not a call: the stream is not trustworthy
            writer.transport.abort()
            raise RpcError(f"dropped a connection that sent a bad frame: {e!r}") from e
        if writer.is_closing():
            return
        try:
            write_frame(writer, reply)
            await writer.drain()
        except (ConnectionError, OSError):
            writer.transport.abort()

    # ------------------------------------------------------------------ client side
    async def _connect(self, peer: str) -> _Connection:
        lock = self._connecting.setdefault(peer, asyncio.Lock())
        async with lock:
            connection = self._connections.get(peer)
            if connection is not None and not connection.closed:
                return connection
            host, _, port = peer.rpartition(":")
            try:
                if self.tls is None:
                    reader, writer = await asyncio.open_connection(host, int(port))
                else:
                    reader, writer = await asyncio.open_connection(
                        host, int(port), ssl=self.tls.client, server_hostname=host,
                        ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_S)
            except ssl.SSLError as e:
                raise RpcError(
                    f"cannot reach tcp://{peer}: the TLS handshake failed ({e}). With "
                    "security.ssl.internal.enabled every process needs a certificate the "
                    "others' security.ssl.internal.truststore trusts.") from None
            except (OSError, ValueError) as e:
                raise RpcError(f"cannot reach tcp://{peer}: {e}") from None
            connection = self._connections[peer] = _Connection(
                peer, reader, writer, self.service.connection_lost)
            return connection

    async def request(self, peer: str, request_id: int, frame: bytes, what: str) -> Reply:
        """Send one encoded call to ``peer`` and wait for its reply (the caller bounds the
        wait); connects first if there is no open connection to ``peer``."""
        connection = self._connections.get(peer)
        if connection is None or connection.closed:
            try:
                connection = await self._connect(peer)
            except RpcError as e:
                raise RpcError(f"{what} failed: {e}") from None
        return await connection.request(request_id, frame, what)

    def drop_connections(self) -> None:
        for connection in list(self._connections.values()):
            connection.writer.transport.abort()

    def leftovers(self) -> list[str]:
        return [f"an RPC call from a peer is still running ({t.get_name()})"
                for t in list(self._calls) if not t.done()]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections.values()):
            await connection.close()
        self._connections.clear()
        for task in list(self._accepted) + list(self._calls):
            task.cancel()
        await asyncio.gather(*self._accepted, *self._calls, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
