"""Keyed state with a time-to-live: a per-user click counter that forgets idle users.

The count lives in a ValueState whose entries expire 1 s (processing time) after their last
write, so a user who comes back after a pause starts a new session. A ``--pause--`` record
makes the function wait 1.5 s to show it.
"""

from __future__ import annotations

import time

from strom.common import Time, Types
from strom.datastream import KeyedProcessFunction, StreamExecutionEnvironment
from strom.datastream.state import StateTtlConfig, ValueStateDescriptor

EVENTS = ["ana", "ben", "ana", "ana", "ben", "--pause--", "ana", "ben", "ben"]


class SessionCounter(KeyedProcessFunction):
    def open(self, runtime_context):
        descriptor = ValueStateDescriptor("clicks", Types.INT())
        descriptor.enable_time_to_live(
            StateTtlConfig.new_builder(Time.seconds(1))
            .set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)
            .set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
            .build()
        )
        self.clicks = runtime_context.get_state(descriptor)

    def process_element(self, user, ctx):
        if user == "--pause--":
            time.sleep(1.5)
            return
        count = (self.clicks.value() or 0) + 1
        self.clicks.update(count)
        yield f"{user}: click {count} of this session"


def main() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    (env.from_collection(EVENTS)
        .key_by(lambda user: "all" if user == "--pause--" else user)
        .process(SessionCounter())
        .print())
    env.execute("click sessions with state TTL")


if __name__ == "__main__":
    main()
