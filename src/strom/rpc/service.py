"""RPC endpoints and the in-process ``local://`` transport.

An endpoint is a component (Dispatcher, ResourceManager, JobMaster, TaskExecutor) whose state
is changed only on its RPC service's asyncio loop, its "main thread". Others reach it only
through a gateway proxy for a typing Protocol of async methods; the proxy refuses methods the
Protocol does not declare. The local transport hands arguments over by reference; a TCP
transport with msgspec frames implements the same ``connect`` contract.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar, cast

__all__ = ["RpcEndpoint", "RpcError", "RpcService"]

G = TypeVar("G")
T = TypeVar("T")


class RpcError(RuntimeError):
    """An RPC could not be delivered (unknown address, endpoint stopped, unknown method)."""


def _gateway_methods(protocol: type) -> frozenset[str]:
    names: set[str] = set()
    for klass in protocol.__mro__:
        if klass is object:
            continue
        names.update(n for n, v in vars(klass).items() if not n.startswith("_") and callable(v))
    return frozenset(names)


class _LocalGateway:
    """Proxy for an endpoint in this process. Calls run on the service's loop."""

    def __init__(self, service: RpcService, address: str, methods: frozenset[str]) -> None:
        self._service = service
        self._address = address
        self._methods = methods

    @property
    def address(self) -> str:
        return self._address

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        if name not in self._methods:
            raise AttributeError(f"{name} is not part of the gateway of {self._address}")
        service, address = self._service, self._address

        async def call(*args: Any, **kwargs: Any) -> Any:
            endpoint = service.lookup(address)
            return await getattr(endpoint, name)(*args, **kwargs)

        return call


class RpcService:
    """Runs endpoints on one asyncio loop in a background thread."""

    def __init__(self, name: str = "strom-rpc") -> None:
        self.loop = asyncio.new_event_loop()
        self._endpoints: dict[str, RpcEndpoint] = {}
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = threading.Event()
        self._thread.start()
        self._started.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._started.set)
        self.loop.run_forever()

    def lookup(self, address: str) -> RpcEndpoint:
        endpoint = self._endpoints.get(address)
        if endpoint is None:
            raise RpcError(f"no endpoint at {address}; it stopped or never started")
        return endpoint

    def register(self, endpoint: RpcEndpoint) -> None:
        if endpoint.address in self._endpoints:
            raise RpcError(f"an endpoint is already registered at {endpoint.address}")
        self._endpoints[endpoint.address] = endpoint

    def unregister(self, endpoint: RpcEndpoint) -> None:
        self._endpoints.pop(endpoint.address, None)

    def connect(self, address: str, protocol: type[G]) -> G:
        """A gateway to the endpoint at ``address`` restricted to ``protocol``'s methods."""
        if not address.startswith("local://"):
            raise RpcError(f"the local RPC service cannot reach {address!r}")
        return cast(G, _LocalGateway(self, address, _gateway_methods(protocol)))

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

    def stop(self) -> None:
        if not self.loop.is_running():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()


class RpcEndpoint:
    """Base of every component. Background work is owned: see :meth:`spawn`."""

    def __init__(self, rpc: RpcService, name: str) -> None:
        self.rpc = rpc
        self.address = f"local://{name}"
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

    async def on_start(self) -> None:
        """Called on the loop when the endpoint starts."""

    async def on_stop(self) -> None:
        """Called on the loop when the endpoint stops."""

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
            import logging

            logging.getLogger(__name__).error(
                "background task %s of %s failed", task.get_name(), self.address,
                exc_info=task.exception(),
            )
