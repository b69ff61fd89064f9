"""Event-time timers: flag sensors that stop reporting.

Each reading is ``(sensor, timestamp_ms, value)``. A KeyedProcessFunction keeps the last
reading per sensor and sets an event-time timer 5 s after it; if no newer reading came when
the timer fires, the sensor is reported silent. Watermarks allow 1 s of out-of-orderness.
"""

from __future__ import annotations

from strom.common import Duration, Types, WatermarkStrategy
from strom.datastream import KeyedProcessFunction, StreamExecutionEnvironment
from strom.datastream.state import ValueStateDescriptor

READINGS = [
    ("boiler", 1_000, 71.0), ("pump", 1_500, 3.2), ("boiler", 3_000, 72.5),
    ("pump", 2_500, 3.1), ("boiler", 9_500, 70.9), ("pump", 12_000, 3.3),
    ("boiler", 11_000, 71.4),
]

SILENCE_MS = 5_000


class SilenceDetector(KeyedProcessFunction):
    def open(self, runtime_context):
        self.last_seen = runtime_context.get_state(ValueStateDescriptor("last", Types.LONG()))

    def process_element(self, reading, ctx):
        _, ts, _ = reading
        if self.last_seen.value() is None or ts > self.last_seen.value():
            self.last_seen.update(ts)
            ctx.timer_service().register_event_time_timer(ts + SILENCE_MS)

    def on_timer(self, timestamp, ctx):
        if timestamp == self.last_seen.value() + SILENCE_MS:
            yield f"{ctx.get_current_key()} silent since {self.last_seen.value()} (checked at {timestamp})"


def main() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    strategy = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(1))
                .with_timestamp_assigner(lambda reading, _: reading[1]))
    (env.from_collection(READINGS)
        .assign_timestamps_and_watermarks(strategy)
        .key_by(lambda reading: reading[0])
        .process(SilenceDetector())
        .print())
    env.execute("silent sensors")


if __name__ == "__main__":
    main()
