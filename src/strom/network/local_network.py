"""The in-process connection manager: finds the channel between a producer subtask and a
consumer subtask, whichever of the two asks first.

Every TaskExecutor of an embedded cluster shares one; with the TCP data plane each
TaskExecutor's :class:`~strom.network.environment.NetworkEnvironment` has its own.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
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
        with self._lock:
            channel = self._channels.get(key)
            if channel is None:
                channel = LocalChannel()
                self._channels[key] = channel
            return channel

    def remove(self, key: ChannelKey) -> None:
        with self._lock:
            self._channels.pop(key, None)

    def release_job(self, job_id: Hashable) -> None:
        with self._lock:
            for key in [k for k in self._channels if k[0] == job_id]:
                del self._channels[key]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"channels": len(self._channels)}
