"""WindowedStream and AllWindowedStream: ``key_by(...).window(...)`` and ``window_all(...)``.

Choose an assigner, optionally a trigger, allowed lateness and a late-data side output, then
a window function: ``reduce``/``aggregate`` aggregate incrementally (one value per key and
window), ``apply``/``process`` buffer the window's elements.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strom.datastream.output_tag import OutputTag
from strom.datastream.window import Trigger, WindowAssigner
from strom.graph.operator_specs import WindowSpec
from strom.graph.transformations import OneInputTransformation
from strom.runtime.window_functions import (
    aggregate_window_function,
    iterable_window_function,
    reduce_window_function,
)

if TYPE_CHECKING:
    from strom.datastream.data_stream import DataStream, KeyedStream

__all__ = ["AllWindowedStream", "WindowedStream"]


def _lateness_ms(value: Any) -> int:
    to_ms = getattr(value, "to_milliseconds", None)
    ms = to_ms() if to_ms is not None else value
    if not isinstance(ms, int) or isinstance(ms, bool) or ms < 0:
        raise ValueError(f"allowed_lateness must be a non-negative number of ms, got {value!r}")
    return ms


class _Windowed:
    _keyed = True

    def __init__(self, stream: DataStream, key_selector: Any, window_assigner: Any) -> None:
        if not isinstance(window_assigner, WindowAssigner):
            raise TypeError(
                f"window() takes a WindowAssigner such as TumblingEventTimeWindows.of(...), got "
                f"{window_assigner!r}"
            )
        self._stream = stream
        self._key_selector = key_selector
        self._assigner = window_assigner
        self._trigger: Trigger[Any, Any] | None = None
        self._allowed_lateness = 0
        self._late_tag: OutputTag | None = None

    def get_execution_environment(self) -> Any:
        return self._stream._env

    def get_input_type(self) -> Any:
        """The type of the records going into the windows."""
        return self._stream.get_type()

    def trigger(self, trigger: Trigger[Any, Any]) -> Any:
        """Replace the assigner's default trigger."""
        if not isinstance(trigger, Trigger):
            raise TypeError(f"trigger() takes a Trigger, got {trigger!r}")
        self._trigger = trigger
        return self

    def allowed_lateness(self, time_ms: int) -> Any:
        """Keep windows this long (ms) after the watermark passed their end; late elements
        within it update and re-fire the window (event time only)."""
        self._allowed_lateness = _lateness_ms(time_ms)
        return self

    def side_output_late_data(self, output_tag: OutputTag) -> Any:
        """Send elements that arrive too late to ``output_tag`` instead of dropping them."""
        if not isinstance(output_tag, OutputTag):
            raise TypeError(f"side_output_late_data() takes an OutputTag, got {output_tag!r}")
        self._late_tag = output_tag
        return self

    def _build(self, name: str, window_function: Any, output_type: Any) -> DataStream:
        from strom.datastream.data_stream import DataStream

        trigger = self._trigger or self._assigner.get_default_trigger(None)
        spec = WindowSpec(
            key_selector=self._key_selector, assigner=self._assigner, trigger=trigger,
            window_function=window_function, allowed_lateness=self._allowed_lateness,
            late_data_tag=self._late_tag,
        )
        assigner_name = type(self._assigner).__name__
        t = OneInputTransformation(
            name=f"{name}({assigner_name}, {type(trigger).__name__})",
            output_type=output_type, input=self._stream._transformation, spec=spec,
        )
        if not self._keyed:
            t.parallelism = 1
            t.max_parallelism = 1
        env = self._stream._env
        env._add(t)
        return DataStream(env, t)

    def reduce(self, reduce_function: Any, window_function: Any = None,
               output_type: Any = None) -> DataStream:
        """Reduce each window incrementally; optionally pass the result to a
        (Process)WindowFunction."""
        input_type = self._stream.get_type()
        function = reduce_window_function(reduce_function, window_function, keyed=self._keyed,
                                          type_info=input_type)
        out = output_type if window_function is not None else (output_type or input_type)
        return self._build("Window", function, out)

    def aggregate(self, aggregate_function: Any, window_function: Any = None,
                  accumulator_type: Any = None, output_type: Any = None) -> DataStream:
        """Aggregate each window incrementally with an AggregateFunction."""
        function = aggregate_window_function(aggregate_function, window_function,
                                             keyed=self._keyed, accumulator_type=accumulator_type)
        return self._build("Window", function, output_type)

    def apply(self, window_function: Any, output_type: Any = None) -> DataStream:
        """Call ``window_function.apply(...)`` with all elements of each fired window."""
        function = iterable_window_function(window_function, keyed=self._keyed,
                                            type_info=self._stream.get_type())
        return self._build("Window", function, output_type)

    def process(self, process_window_function: Any, output_type: Any = None) -> DataStream:
        """Call ``process(...)`` with a context and all elements of each fired window."""
        function = iterable_window_function(process_window_function, keyed=self._keyed,
                                            type_info=self._stream.get_type())
        return self._build("Window", function, output_type)


class WindowedStream(_Windowed):
    """``KeyedStream.window(assigner)``."""

    def __init__(self, keyed_stream: KeyedStream, window_assigner: Any) -> None:
        super().__init__(keyed_stream, keyed_stream._key_selector, window_assigner)


def _constant_key(value: Any) -> int:
    return 0


class AllWindowedStream(_Windowed):
    """``DataStream.window_all(assigner)``: one window operator with parallelism 1."""

    _keyed = False

    def __init__(self, data_stream: DataStream, window_assigner: Any) -> None:
        keyed = data_stream.key_by(_constant_key)
        super().__init__(keyed, _constant_key, window_assigner)
