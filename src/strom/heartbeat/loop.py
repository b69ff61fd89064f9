"""Driving a :class:`~strom.heartbeat.monitor.HeartbeatMonitor` on an endpoint's loop.

A sender (``request`` given: the ResourceManager and the JobMaster towards TaskExecutors)
asks every monitored target for a heartbeat each ``heartbeat.interval``; the answer is the
heartbeat and carries the target's payload (a slot report), which goes to ``on_payload``.
A receiver (no ``request``: the TaskExecutor towards its ResourceManager and JobMasters) is
told of each incoming heartbeat with :meth:`HeartbeatLoop.heartbeat_received`. Both check
every interval for targets that stopped answering and hand each loss to ``on_lost``, once.

A sender told that its connection to a target broke (:meth:`HeartbeatLoop.probe`) asks that
target at once, and again right after each failure, until it answers or
``heartbeat.rpc-failure-threshold`` failures declare it lost: a TaskManager whose process died
is lost within milliseconds of its connections dropping, one whose connection merely broke
answers the next request over a new one.

The loop owns its tasks: :meth:`HeartbeatLoop.stop` cancels and awaits them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from strom.heartbeat.monitor import HeartbeatMonitor, HeartbeatSettings, TargetLost

__all__ = ["HeartbeatLoop", "monotonic_ms"]

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)


def monotonic_ms() -> int:
    """The heartbeat clock: monotonic milliseconds, never a job's (manual) processing time."""
    return time.monotonic_ns() // 1_000_000


class HeartbeatLoop(Generic[K]):
    def __init__(
        self,
        name: str,
        settings: HeartbeatSettings,
        on_lost: Callable[[TargetLost[K]], None],
        request: Callable[[K], Awaitable[Any]] | None = None,
        on_payload: Callable[[K, Any], None] | None = None,
        clock: Callable[[], int] = monotonic_ms,
    ) -> None:
        self.name = name
        self.settings = settings
        self.monitor: HeartbeatMonitor[K] = HeartbeatMonitor(settings, clock)
        self._on_lost = on_lost
        self._request = request
        self._on_payload = on_payload
        self._ticker: asyncio.Task[None] | None = None
        self._asking: dict[K, asyncio.Task[None]] = {}
        #: targets whose connection broke: asked again at once after a failure
        self._suspects: set[K] = set()

    # ------------------------------------------------------------------ targets
    def monitor_target(self, target: K) -> None:
        self.monitor.monitor(target)

    def unmonitor_target(self, target: K) -> None:
        self.monitor.unmonitor(target)
        self._suspects.discard(target)
        asking = self._asking.pop(target, None)
        if asking is not None:
            asking.cancel()

    def heartbeat_received(self, target: K) -> None:
        self.monitor.heartbeat_received(target)

    def probe_peer(self, peer: str) -> None:
        """A connection to ``peer`` (``tcp://host:port``) broke: probe the targets whose
        address starts with it (targets are addresses)."""
        for target in self.monitor.targets():
            if str(target).startswith(f"{peer}/"):
                self.probe(target)

    def probe(self, target: K) -> None:
        """The connection to ``target`` broke: ask it now (sender only; on the loop)."""
        if self._request is None or target not in self.monitor:
            return
        self._suspects.add(target)
        self._ask_soon(target)

    def _ask_soon(self, target: K) -> None:
        if target not in self._asking:
            self._asking[target] = asyncio.get_running_loop().create_task(
                self._ask(target), name=f"strom heartbeat of {self.name} to {target}")

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start ticking (on the running loop)."""
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(
                self._tick_forever(), name=f"strom heartbeats of {self.name}")

    async def stop(self) -> None:
        tasks = [t for t in [self._ticker, *self._asking.values()] if t is not None]
        self._ticker = None
        self._asking.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.interval_ms / 1000.0)
            try:
                self.tick()
            except Exception:
                log.exception("heartbeats of %s: a tick failed", self.name)

    def tick(self) -> None:
        """One round: ask every target that has no heartbeat request in flight (sender), then
        report the targets that timed out."""
        if self._request is not None:
            for target in self.monitor.targets():
                self._ask_soon(target)
        for lost in self.monitor.expired():
            self._lose(lost)

    async def _ask(self, target: K) -> None:
        assert self._request is not None
        try:
            payload = await self._request(target)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            if self._asking.get(target) is asyncio.current_task():
                del self._asking[target]
            if target in self.monitor:
                lost = self.monitor.rpc_failed(target, str(e))
                if lost is not None:
                    self._lose(lost)
                elif target in self._suspects and self.settings.rpc_failure_threshold >= 1:
                    self._ask_soon(target)
            return
        if self._asking.get(target) is asyncio.current_task():
            del self._asking[target]
        self._suspects.discard(target)
        if target in self.monitor:
            self.monitor.heartbeat_received(target)
            if self._on_payload is not None:
                self._on_payload(target, payload)

    def _lose(self, lost: TargetLost[K]) -> None:
        self._suspects.discard(lost.target)
        asking = self._asking.pop(lost.target, None)
        if asking is not None and asking is not asyncio.current_task():
            asking.cancel()
        log.warning("heartbeats of %s: %s is lost: %s", self.name, lost.target, lost.reason)
        self._on_lost(lost)
