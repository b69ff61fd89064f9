"""RPC endpoints and the service that runs them, reached over ``local://`` or ``tcp://``.

An endpoint is a component (Dispatcher, ResourceManager, JobMaster, TaskExecutor) whose state
is changed only on its RPC service's asyncio loop, its "main thread". Others reach it only
through a gateway proxy for a typing Protocol of async methods (:meth:`RpcService.connect`);
the proxy refuses methods the Protocol does not declare.

The service mints the addresses of its endpoints, and the address's scheme picks the
transport:

* ``local://name`` — an endpoint of this service. Arguments are handed over by reference,
  or, with ``codec=True``, every call and reply is encoded and decoded with the TCP codec
  (as Flink's CI forces RPC serialization), so what would break at the first socket breaks
  in one process;
* ``tcp://host:port/name`` — an endpoint of the service listening there (see
  :mod:`strom.rpc.tcp`), length-prefixed msgspec frames over one connection per peer.

Leaders fence their calls (Flink's fenced RPC): ``connect(address, Gateway, fencing_token=
session_id)`` makes every call of that gateway carry the caller's leader session id, in the
``Call`` frame over the wire and along with the call in ``local`` mode. A
:class:`FencedRpcEndpoint` refuses every call while it does not lead (its ``fencing_token``
is None) and every call whose token is set and is not its own, with
:class:`~strom.rpc.errors.FencingTokenError`; a call without a token (an in-process client, a
tool) is served while it leads. An unfenced endpoint reads the token of the call it serves
with :func:`current_fencing_token` to apply its own rule (the TaskExecutor serves only the
current ResourceManager leader and each job's JobMaster).

Every call but the long polls (``@no_timeout``) fails with :class:`RpcError` after
``ask_timeout_s`` (Flink's ``pekko.ask.timeout``, 10 s); the endpoint's method still runs to
its end, as it would on a remote peer. An exception raised by the method is raised at the
caller with its type, message, notes and traceback.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import itertools
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from strom.rpc.codec import Call, GatewayCodec, Reply, decode_frame, encode_error, gateway_codec
from strom.rpc.errors import FencingTokenError, RpcError, fencing_token_mismatch

if TYPE_CHECKING:
    from strom.common.security import InternalTls

__all__ = ["DEFAULT_ASK_TIMEOUT_S", "RPC_MODE_ENV", "FencedRpcEndpoint", "FencingTokenError",
           "RpcEndpoint", "RpcError", "RpcService", "current_fencing_token", "rpc_mode_from_env"]

log = logging.getLogger(__name__)

G = TypeVar("G")
T = TypeVar("T")

#: Flink's ``pekko.ask.timeout``
DEFAULT_ASK_TIMEOUT_S = 10.0
#: selects the transport of clusters that are not told one: ``local``, ``codec`` or ``tcp``
RPC_MODE_ENV = "STROM_RPC"
_MODES = ("local", "codec", "tcp")

#: the fencing token of the call being served (set around each call an endpoint serves)
_serving_token: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "strom_rpc_fencing_token", default=None)


def current_fencing_token() -> str | None:
    """The fencing token of the RPC call being served here (None: the caller sent none, or
    this is not inside a call an endpoint serves). For endpoints that fence per caller."""
    return _serving_token.get()


def rpc_mode_from_env(default: str = "local") -> str:
    """The RPC mode the ``STROM_RPC`` environment variable asks for (``local`` if unset)."""
    mode = os.environ.get(RPC_MODE_ENV, "").strip().lower() or default
    if mode not in _MODES:
        raise ValueError(
            f"{RPC_MODE_ENV}={mode!r} is not an RPC mode; use one of {', '.join(_MODES)}."
        )
    return mode


def split_address(address: str) -> tuple[str, str, str]:
    """``(scheme, peer, endpoint name)``: ``tcp://h:1/x`` → ``("tcp", "h:1", "x")``,
    ``local://x`` → ``("local", "", "x")``."""
    scheme, sep, rest = address.partition("://")
    if not sep or not rest:
        raise RpcError(
            f"{address!r} is not an RPC address; expected local://<name> or "
            "tcp://<host>:<port>/<name>."
        )
    if scheme == "local":
        return scheme, "", rest
    peer, slash, name = rest.partition("/")
    if scheme != "tcp" or not slash or not name or ":" not in peer:
        raise RpcError(
            f"{address!r} is not an RPC address; expected local://<name> or "
            "tcp://<host>:<port>/<name>."
        )
    return scheme, peer, name


class _Gateway:
    """Proxy for the endpoint at ``address``, restricted to one gateway Protocol."""

    def __init__(self, service: RpcService, address: str, codec: GatewayCodec,
                 fencing_token: str | None) -> None:
        self._service = service
        self._address = address
        self._codec = codec
        self._fencing_token = fencing_token

    @property
    def address(self) -> str:
        return self._address

    @property
    def fencing_token(self) -> str | None:
        """The token every call of this gateway carries (None: unfenced)."""
        return self._fencing_token

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        if name.startswith("_") or name not in self._codec.methods:
            raise AttributeError(
                f"{name} is not part of the gateway {self._codec.protocol.__name__} of "
                f"{self._address}"
            )
        service, address, codec, token = (self._service, self._address, self._codec,
                                          self._fencing_token)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await service.invoke(address, codec, name, args, kwargs, token)

        call.__name__ = name
        return call

    def __repr__(self) -> str:
        return f"<{self._codec.protocol.__name__} at {self._address}>"


class RpcService:
    """Runs endpoints on one asyncio loop in a background thread.

    ``mode``: ``local`` (by reference), ``codec`` (``local://`` through the wire codec) or
    ``tcp`` (listen on ``host``:``port``, 0 = any free port; addresses are ``tcp://``).
    ``advertised_host`` is the host others reach this service at (``taskmanager.host``),
    when it is not the one it listens on (``0.0.0.0``). ``tls`` (``tcp`` only): internal
    TLS with mutual authentication (:func:`strom.common.security.internal_tls`).
    """

    def __init__(self, name: str = "strom-rpc", *, mode: str = "local",
                 host: str = "127.0.0.1", port: int = 0,
                 ask_timeout_s: float = DEFAULT_ASK_TIMEOUT_S,
                 advertised_host: str | None = None, tls: InternalTls | None = None) -> None:
        if mode not in _MODES:
            raise ValueError(f"RPC mode must be one of {', '.join(_MODES)}, got {mode!r}.")
        if ask_timeout_s <= 0:
            raise ValueError(f"ask_timeout_s must be > 0 seconds, got {ask_timeout_s!r}.")
        self.mode = mode
        self.ask_timeout_s = ask_timeout_s
        self.advertised_host = advertised_host
        self.loop = asyncio.new_event_loop()
        self._endpoints: dict[str, RpcEndpoint] = {}
        self._connection_listeners: list[Callable[[str], None]] = []
        self._inflight: set[asyncio.Task[Any]] = set()
        self._request_ids = itertools.count(1)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = threading.Event()
        self._thread.start()
        self._started.wait()
        self._tcp: Any = None
        if mode == "tcp":
            from strom.rpc.tcp import TcpTransport

            self._tcp = TcpTransport(self, tls)
            try:
                self.run_sync(self._tcp.listen(host, port), timeout=30)
            except OSError as e:
                self.stop()
                raise RpcError(
                    f"cannot listen for RPC on {host}:{port}: {e}. Pick another port (0 picks "
                    "a free one)."
                ) from e

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._started.set)
        self.loop.run_forever()

    @property
    def serializes(self) -> bool:
        """Whether calls are encoded (``codec`` and ``tcp``): user objects get pickled."""
        return self.mode != "local"

    # ------------------------------------------------------------------ addresses
    def address_of(self, name: str) -> str:
        """The address an endpoint called ``name`` has on this service."""
        if self._tcp is not None:
            return f"tcp://{self.listen_address}/{name}"
        return f"local://{name}"

    @property
    def listen_address(self) -> str:
        """``host:port`` others reach this ``tcp`` service at (empty in other modes)."""
        if self._tcp is None:
            return ""
        if self.advertised_host:
            return f"{self.advertised_host}:{self._tcp.peer.rpartition(':')[2]}"
        return str(self._tcp.peer)

    def lookup(self, name: str) -> RpcEndpoint:
        endpoint = self._endpoints.get(name)
        if endpoint is None:
            raise RpcError(
                f"no endpoint at {self.address_of(name)}; it stopped or never started"
            )
        return endpoint

    def register(self, endpoint: RpcEndpoint) -> None:
        if endpoint.name in self._endpoints:
            raise RpcError(f"an endpoint is already registered at {endpoint.address}")
        self._endpoints[endpoint.name] = endpoint

    def unregister(self, endpoint: RpcEndpoint) -> None:
        if self._endpoints.get(endpoint.name) is endpoint:
            del self._endpoints[endpoint.name]

    def endpoints(self) -> list[RpcEndpoint]:
        return list(self._endpoints.values())

    def connect(self, address: str, protocol: type[G], fencing_token: str | None = None) -> G:
        """A gateway to the endpoint at ``address`` restricted to ``protocol``'s methods;
        its calls carry ``fencing_token`` (the caller's leader session id), if given."""
        scheme, _, _ = split_address(address)
        if scheme == "tcp" and self._tcp is None:
            raise RpcError(
                f"cannot reach {address}: this RPC service runs in {self.mode!r} mode; start "
                "it with mode='tcp' to call tcp:// endpoints."
            )
        if scheme == "local" and self._tcp is not None:
            raise RpcError(
                f"cannot reach {address}: a tcp RPC service only calls tcp:// addresses."
            )
        return cast(G, _Gateway(self, address, gateway_codec(cast(type, protocol)),
                                fencing_token))

    # ------------------------------------------------------------------ calls
    async def invoke(self, address: str, codec: GatewayCodec, method: str,
                     args: tuple[Any, ...], kwargs: dict[str, Any],
                     fencing_token: str | None = None) -> Any:
        """Call ``method`` of the endpoint at ``address`` (on this service's loop), with the
        caller's ``fencing_token``."""
        spec = codec.method(method, address)
        timeout = self.ask_timeout_s if spec.timed else None
        _, peer, name = split_address(address)
        if self._tcp is not None:
            request_id = next(self._request_ids)
            frame = codec.encode_call(request_id, name, method, args, kwargs, fencing_token)
            try:
                reply = await asyncio.wait_for(
                    self._tcp.request(peer, request_id, frame, f"{method} to {address}"),
                    timeout)
            except TimeoutError:
                raise RpcError(f"{method} to {address} got no answer within {timeout} s "
                               "(pekko.ask.timeout).") from None
            return codec.decode_result(method, reply, address)
        if self.mode == "codec":
            frame = codec.encode_call(next(self._request_ids), name, method, args, kwargs,
                                      fencing_token)
            work: Coroutine[Any, Any, Any] = self._local_roundtrip(frame, codec, method, address)
        else:
            endpoint = self.lookup(name)
            gateway_codec(endpoint.gateway).method(method, address)  # as the codec would
            work = _serve(endpoint, method, args, kwargs, fencing_token)
        task = self.loop.create_task(work, name=f"rpc {method} to {address}")
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            raise RpcError(
                f"{method} to {address} got no answer within {timeout} s (pekko.ask.timeout)."
            ) from None

    async def _local_roundtrip(self, frame: bytes, codec: GatewayCodec, method: str,
                               address: str) -> Any:
        reply = decode_frame(await self.dispatch(frame))
        assert isinstance(reply, Reply)
        return codec.decode_result(method, reply, address)

    async def dispatch(self, frame: bytes) -> bytes:
        """Run one encoded call on its endpoint; the encoded reply (or failure)."""
        call = decode_frame(frame)
        if not isinstance(call, Call):
            raise RpcError(f"expected a call, got a {type(call).__name__}")
        try:
            endpoint = self.lookup(call.target)
            codec = gateway_codec(endpoint.gateway)
            args = codec.decode_args(call)
            result = await _serve(endpoint, call.method, args, {}, call.fencing_token)
            return codec.encode_result(call.request_id, call.method, result)
        except Exception as e:
            return encode_error(call.request_id, e)

    # ------------------------------------------------------------------ threads
    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the loop from another thread."""
        try:
            return asyncio.run_coroutine_threadsafe(coro, self.loop)
        except RuntimeError:  # the loop is closed: the coroutine will never run
            coro.close()
            raise

    def run_sync(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return self.submit(coro).result(timeout)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Schedule a plain callable on the loop (thread-safe)."""
        self.loop.call_soon_threadsafe(fn, *args)

    def leftovers(self) -> list[str]:
        """Calls that are still unanswered (on the loop)."""
        found = [f"call {t.get_name()} is still running" for t in list(self._inflight)]
        if self._tcp is not None:
            found += self._tcp.leftovers()
        return found

    def add_connection_listener(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(address)`` on the loop when an outgoing ``tcp://`` connection breaks
        (the peer closed it, its process died, the network failed); ``address`` is
        ``tcp://host:port``, the prefix of that peer's endpoint addresses."""
        self._connection_listeners.append(listener)

    def remove_connection_listener(self, listener: Callable[[str], None]) -> None:
        if listener in self._connection_listeners:
            self._connection_listeners.remove(listener)

    def connection_lost(self, peer: str) -> None:
        for listener in list(self._connection_listeners):
            try:
                listener(f"tcp://{peer}")
            except Exception:
                log.exception("a connection listener failed")

    def drop_connections(self) -> None:
        """Fault injection: break every outgoing ``tcp://`` connection now, as a network
        failure would. Waiting calls fail; the next call connects again."""
        if self._tcp is not None:
            self.call_soon(self._tcp.drop_connections)

    def stop(self) -> None:
        if not self.loop.is_running():
            return

        async def shut_down() -> None:
            for task in list(self._inflight):
                task.cancel()
            if self._inflight:
                await asyncio.gather(*self._inflight, return_exceptions=True)
            if self._tcp is not None:
                await self._tcp.close()
            await self.loop.shutdown_default_executor()

        try:
            self.run_sync(shut_down(), timeout=10)
        except Exception:
            log.exception("the RPC service did not shut down cleanly")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()


async def _serve(endpoint: RpcEndpoint, method: str, args: tuple[Any, ...],
                 kwargs: dict[str, Any], fencing_token: str | None) -> Any:
    """Run one call on ``endpoint`` once it accepts the token; the method sees the token
    through :func:`current_fencing_token`."""
    endpoint.accept_call(method, fencing_token)
    reset = _serving_token.set(fencing_token)
    try:
        return await getattr(endpoint, method)(*args, **kwargs)
    finally:
        _serving_token.reset(reset)


class RpcEndpoint:
    """Base of every component. Background work is owned: see :meth:`spawn`.

    Subclasses name the gateway Protocol they implement in ``gateway``; a serializing
    transport decodes incoming calls with its annotations.
    """

    gateway: ClassVar[type]

    def __init__(self, rpc: RpcService, name: str) -> None:
        self.rpc = rpc
        self.name = name
        self.address = rpc.address_of(name)
        self._background: set[asyncio.Task[Any]] = set()
        self.running = False

    async def start(self) -> None:
        self.rpc.register(self)
        self.running = True
        await self.on_start()

    async def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        try:
            await self.on_stop()
        finally:
            for task in list(self._background):
                task.cancel()
            if self._background:
                await asyncio.gather(*self._background, return_exceptions=True)
            self.rpc.unregister(self)

    def accept_call(self, method: str, fencing_token: str | None) -> None:
        """Raise to refuse a call of ``method`` carrying ``fencing_token`` before it runs (on
        the loop). An unfenced endpoint serves every call."""

    async def on_start(self) -> None:
        """Called on the loop when the endpoint starts."""

    async def on_stop(self) -> None:
        """Called on the loop when the endpoint stops."""

    def leftovers(self) -> list[str]:
        """What this endpoint still holds that an idle endpoint would not (on the loop).
        Subclasses add their own (slots, tasks, jobs) to the background tasks."""
        return [f"{self.address}: background task {t.get_name()} is still running"
                for t in list(self._background) if not t.done()]

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """Run ``coro`` in the background, owned by this endpoint: cancelled on stop, and its
        failure is logged rather than lost."""
        task = self.rpc.loop.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background_done)
        return task

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "background task %s of %s failed", task.get_name(), self.address,
                exc_info=task.exception(),
            )


class FencedRpcEndpoint(RpcEndpoint):
    """An endpoint that acts only while it leads (Flink's ``FencedRpcEndpoint``): Dispatcher,
    ResourceManager, JobMaster. ``fencing_token`` is its leader session id, None while it
    does not lead. It refuses every call while its token is None, and every call whose
    token is set and is not its own, with :class:`FencingTokenError`; calls without a token
    are served while it leads.
    """

    def __init__(self, rpc: RpcService, name: str, fencing_token: str | None = None) -> None:
        super().__init__(rpc, name)
        self.fencing_token = fencing_token

    def accept_call(self, method: str, fencing_token: str | None) -> None:
        expected = self.fencing_token
        if expected is None:
            raise fencing_token_mismatch(
                method, fencing_token, None,
                f"{self.address} does not lead at the moment (the call carried token "
                f"{fencing_token}); call the current leader, as leader retrieval names it.")
        if fencing_token is not None and fencing_token != expected:
            raise fencing_token_mismatch(
                method, fencing_token, expected,
                f"The caller acts for another leader session than {self.address}'s: a "
                "deposed leader must stop, a client must look up the current leader.")
