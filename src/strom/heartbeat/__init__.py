"""Heartbeats between the cluster's components (Flink's ``runtime.heartbeat``).

:class:`~strom.heartbeat.monitor.HeartbeatMonitor` decides, without I/O, which targets are
alive: it is told when a heartbeat arrived or a heartbeat RPC failed and, asked at any time,
names the targets whose last heartbeat is older than ``heartbeat.timeout``.
:class:`~strom.heartbeat.loop.HeartbeatLoop` drives one on an endpoint's loop: as a sender it
asks each target for a heartbeat every ``heartbeat.interval``; as a receiver it only checks
that heartbeats keep arriving. Either way it reports lost targets to its owner.
"""

from strom.heartbeat.loop import HeartbeatLoop, monotonic_ms
from strom.heartbeat.monitor import HeartbeatMonitor, HeartbeatSettings, TargetLost

__all__ = ["HeartbeatLoop", "HeartbeatMonitor", "HeartbeatSettings", "TargetLost",
           "monotonic_ms"]
