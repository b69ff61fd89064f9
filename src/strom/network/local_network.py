"""The in-process connection manager: finds the channel between a producer subtask and a
consumer subtask, whichever of the two asks first.

Every TaskExecutor of an embedded cluster shares one; with the TCP data plane each
TaskExecutor's :class:`~strom.network.environment.NetworkEnvironment` has its own.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Sequence
from typing import Any

from strom.network.local_channel import LocalChannel

__all__ = ["ChannelKey", "LocalNetwork"]

#: (job id, attempt of the job's execution graph, edge id, producer subtask, consumer subtask)
ChannelKey = tuple[Hashable, int, str, int, int]


class LocalNetwork:
    def __init__(self) -> None:
        self._channels: dict[ChannelKey, LocalChannel] = {}
        self._lock = threading.Lock()

    def channel(self, key: ChannelKey) -> LocalChannel:
        """The channel for ``key``, created (without credit) by whichever side asks first;
        the receiver then announces its credit on it."""
        return self.channels([key])[0]

    def channels(self, keys: Sequence[ChannelKey]) -> list[LocalChannel]:
        """The channels for ``keys``, as :meth:`channel` finds them.

        At high parallelism hundreds of task threads wire their channels at the same time;
        a lock here made them queue behind each other (a convoy: every hand-over of the lock
        waits for the GIL). ``dict.setdefault`` with these keys is atomic, so whichever side
        asks first creates the channel and both get the same one, without a lock."""
        found = self._channels
        out = []
        for key in keys:
            channel = found.get(key)
            if channel is None:
                channel = found.setdefault(key, LocalChannel())
            out.append(channel)
        return out

    def remove(self, key: ChannelKey) -> None:
        with self._lock:
            self._channels.pop(key, None)

    def release_job(self, job_id: Hashable) -> None:
        with self._lock:
            for key in [k for k in list(self._channels) if k[0] == job_id]:
                self._channels.pop(key, None)

    def stats(self) -> dict[str, Any]:
        return {"channels": len(self._channels)}
