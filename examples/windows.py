"""Every kind of window over one small stream of page views ``(page, timestamp_ms)``.

Prints, per window kind, ``kind page start end views`` (count windows print the view count
per full window). Event time comes from the records; the end of the bounded input fires
every remaining window.
"""

from __future__ import annotations

import sys

from strom.common import Time, Types, WatermarkStrategy
from strom.datastream import ProcessWindowFunction, StreamExecutionEnvironment
from strom.datastream.window import (
    CountTrigger,
    EventTimeSessionWindows,
    GlobalWindows,
    PurgingTrigger,
    SlidingEventTimeWindows,
    TumblingEventTimeWindows,
)

VIEWS = [("home", 100), ("docs", 250), ("home", 900), ("home", 1_200), ("docs", 1_300),
         ("home", 4_000), ("docs", 4_100), ("home", 4_500)]


class Describe(ProcessWindowFunction):
    def __init__(self, kind: str) -> None:
        self.kind = kind

    def process(self, key, context, elements):
        window = context.window()
        yield f"{self.kind:8} {key:5} [{window.start}, {window.end}) views={len(list(elements))}"


def main() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    strategy = (WatermarkStrategy.for_monotonous_timestamps()
                .with_timestamp_assigner(lambda view, _: view[1]))
    views = env.from_collection(VIEWS).assign_timestamps_and_watermarks(strategy)
    by_page = views.key_by(lambda view: view[0])

    by_page.window(TumblingEventTimeWindows.of(Time.seconds(1))) \
        .process(Describe("tumbling"), Types.STRING()).print()
    by_page.window(SlidingEventTimeWindows.of(Time.seconds(2), Time.seconds(1))) \
        .process(Describe("sliding"), Types.STRING()).print()
    by_page.window(EventTimeSessionWindows.with_gap(Time.seconds(1))) \
        .process(Describe("session"), Types.STRING()).print()
    by_page.count_window(2) \
        .apply(lambda key, window, views: [f"count    {key:5} views={len(list(views))}"],
               Types.STRING()).print()
    by_page.window(GlobalWindows.create()) \
        .trigger(PurgingTrigger.of(CountTrigger.of(3))) \
        .reduce(lambda a, b: (a[0], max(a[1], b[1]))) \
        .map(lambda v: f"global   {v[0]:5} latest of 3 views at {v[1]}", Types.STRING()).print()
    env.execute("window kinds")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
