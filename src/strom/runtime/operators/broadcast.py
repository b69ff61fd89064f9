"""The broadcast process operator (keyed and non-keyed).

Input 1 is the main stream, input 2 the broadcast stream. Broadcast state is operator state
that every instance keeps identical (it is updated only by broadcast elements, which every
instance sees in the same order from one producer).
"""

from __future__ import annotations

from typing import Any

from strom.datastream.functions import (
    KeyedBroadcastProcessFunction,
    TimeDomain,
    TimerService,
)
from strom.runtime.checkpoint_snapshots import keyed_backend_state
from strom.runtime.functions import call_close, call_open, user_callable
from strom.runtime.operators.base import StreamRuntimeContext, TwoInputOperator
from strom.runtime.operators.bounded_output import BoundedOutputOperator
from strom.runtime.operators.keyed import _TimerMixin
from strom.runtime.operators.stateless import _NonKeyedTimerService, collect_results
from strom.state.canonical_keys import user_key
from strom.state.snapshots import OperatorSubtaskState

__all__ = ["BroadcastProcessOperator"]


class _Context(KeyedBroadcastProcessFunction.OnTimerContext,
               KeyedBroadcastProcessFunction.Context):
    """Read-only context (main input), writable context (broadcast input) and on-timer
    context in one; ``writable`` says which it is right now."""

    def __init__(self, operator: BroadcastProcessOperator) -> None:
        self._op = operator
        self.writable = False
        self.current_timestamp: int | None = None
        self.domain = TimeDomain.EVENT_TIME

    def get_broadcast_state(self, state_descriptor: Any) -> Any:
        store = self._op.operator_state
        if self.writable:
            return store.get_broadcast_state(state_descriptor)
        return store.get_read_only_broadcast_state(state_descriptor)

    def timestamp(self) -> int | None:
        return self.current_timestamp

    def current_processing_time(self) -> int:
        assert self._op.ctx is not None
        return self._op.ctx.clock()

    def current_watermark(self) -> int:
        return self._op.current_watermark

    def timer_service(self) -> TimerService:
        return self._op.timer_service_view

    def get_current_key(self) -> Any:
        if self._op.backend is None:
            raise RuntimeError("get_current_key() needs a keyed main stream")
        return user_key(self._op.backend.get_current_key())

    def time_domain(self) -> TimeDomain:
        return self.domain

    def apply_to_keyed_state(self, state_descriptor: Any, function: Any) -> None:
        """Call ``function(key, state)`` for every key that has ``state_descriptor`` state."""
        from strom.state import VOID_NAMESPACE

        backend = self._op.backend
        if backend is None:
            raise RuntimeError("apply_to_keyed_state() needs a keyed main stream")
        previous = backend.get_current_key()
        name = state_descriptor.get_name()
        for key in list(backend.keys(name, VOID_NAMESPACE)):
            backend.set_current_key(key)
            function(user_key(key), backend.get_partitioned_state(VOID_NAMESPACE, state_descriptor))
        backend.set_current_key(previous)


class BroadcastProcessOperator(_TimerMixin, BoundedOutputOperator, TwoInputOperator):
    """What ``on_timer`` yields goes out in bounded chunks (see ``bounded_output``); the
    output of a batch of either input goes out in chunks of at most ``batch_size``."""

    def __init__(self, name: str, spec: Any) -> None:
        super().__init__(name)
        self.function = spec.function
        self.descriptors = spec.descriptors
        self.key_selector = spec.key_selector
        self.keyed = spec.key_selector is not None
        self.backend: Any = None
        self.on_timer = None

    @property
    def uses_processing_time(self) -> bool:  # type: ignore[override]
        return self.keyed

    def open(self) -> None:
        from strom.state import OperatorStateBackend

        self.operator_state = OperatorStateBackend()
        for descriptor in self.descriptors:
            self.operator_state.get_broadcast_state(descriptor)
        if self.keyed:
            self._open_timers(self.function)
            self.timer_service_view = self.context.timer_service()
        else:
            call_open(self.function, StreamRuntimeContext(self.ctx))
            self.timer_service_view = _NonKeyedTimerService(self)
        self.bctx = _Context(self)
        self.context = self.bctx  # type: ignore[assignment]  # timers fire with this context
        self.fn1 = user_callable(self.function, "process_element")
        self.fn2 = user_callable(self.function, "process_broadcast_element")

    def _run(self, fn: Any, values: list[Any], timestamps: list[int] | None,
             keys: list[Any] | None, writable: bool) -> None:
        ctx = self.bctx
        ctx.writable = writable
        set_key = self.backend.set_current_key if (self.keyed and not writable) else None
        if set_key is not None:
            keys = self._keys(values, keys)
        out: list[Any] = []
        out_ts: list[int] | None = None if timestamps is None else []
        ts_iter = timestamps if timestamps is not None else [None] * len(values)
        key_iter = keys if keys is not None else [None] * len(values)
        for k, v, t in zip(key_iter, values, ts_iter):
            if set_key is not None:
                set_key(k)
            ctx.current_timestamp = t
            collect_results(fn(v, ctx), t, out, out_ts, self)
        ctx.writable = False
        if out:
            self.emit_bounded(out, out_ts)

    def process_batch1(self, values: list[Any], timestamps: list[int] | None,
                       keys: list[Any] | None) -> None:
        self.in_order(self._run, self.fn1, values, timestamps, keys, False)

    def process_batch2(self, values: list[Any], timestamps: list[int] | None,
                       keys: list[Any] | None) -> None:
        self.in_order(self._run, self.fn2, values, timestamps, None, True)

    def process_watermark(self, timestamp: int) -> None:
        if self.keyed:
            super().process_watermark(timestamp)
        else:
            self.in_order(self._advance_watermark, timestamp)

    def _advance_watermark(self, timestamp: int) -> None:
        self.current_watermark = timestamp
        self.output.emit_watermark(timestamp)

    def next_processing_time(self) -> int | None:
        return super().next_processing_time() if self.keyed else None

    def end_input(self) -> None:
        if self.keyed:
            super().end_input()

    def snapshot_state(self, checkpoint_id: int) -> Any:
        keyed = keyed_backend_state(self.backend).keyed if self.keyed else None
        return OperatorSubtaskState(keyed, self.operator_state.snapshot())

    def close(self) -> None:
        call_close(self.function)
