"""The heartbeat decisions, on a manual clock: no sockets, no sleeps."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from strom.common.config_options import ConfigError
from strom.common.configuration import Configuration
from strom.heartbeat import HeartbeatLoop, HeartbeatMonitor, HeartbeatSettings, TargetLost
from strom.rpc.errors import RpcError
from strom.testing import ManualClock

SETTINGS = HeartbeatSettings(interval_ms=100, timeout_ms=500, rpc_failure_threshold=2)


def test_a_target_is_lost_only_after_the_timeout_without_heartbeats() -> None:
    clock = ManualClock(1_000)
    monitor: HeartbeatMonitor[str] = HeartbeatMonitor(SETTINGS, clock)
    monitor.monitor("tm-1")
    clock.advance(400)
    monitor.heartbeat_received("tm-1")
    clock.advance(500)
    assert monitor.expired() == []  # 500 ms since the last heartbeat: not yet over
    clock.advance(1)
    [lost] = monitor.expired()
    assert lost.target == "tm-1"
    assert "no heartbeat for 501 ms" in lost.reason and "heartbeat.timeout" in lost.reason
    assert "tm-1" not in monitor
    assert monitor.expired() == []  # reported once


def test_consecutive_rpc_failures_declare_a_target_lost_before_the_timeout() -> None:
    clock = ManualClock(0)
    monitor: HeartbeatMonitor[str] = HeartbeatMonitor(SETTINGS, clock)
    monitor.monitor("tm-1")
    assert monitor.rpc_failed("tm-1", "connection refused") is None
    monitor.heartbeat_received("tm-1")  # a success resets the count
    assert monitor.rpc_failed("tm-1", "connection refused") is None
    lost = monitor.rpc_failed("tm-1", "connection refused")
    assert lost is not None and lost.target == "tm-1"
    assert "2 heartbeat RPCs in a row failed" in lost.reason
    assert "connection refused" in lost.reason
    assert "tm-1" not in monitor


def test_a_threshold_of_minus_one_leaves_failed_rpcs_to_the_timeout() -> None:
    clock = ManualClock(0)
    settings = HeartbeatSettings(100, 500, rpc_failure_threshold=-1)
    monitor: HeartbeatMonitor[str] = HeartbeatMonitor(settings, clock)
    monitor.monitor("tm-1")
    assert all(monitor.rpc_failed("tm-1", "refused") is None for _ in range(10))
    clock.advance(501)
    assert [lost.target for lost in monitor.expired()] == ["tm-1"]


def test_unmonitored_targets_are_never_reported() -> None:
    clock = ManualClock(0)
    monitor: HeartbeatMonitor[str] = HeartbeatMonitor(SETTINGS, clock)
    monitor.monitor("tm-1")
    monitor.unmonitor("tm-1")
    clock.advance(10_000)
    assert monitor.expired() == []
    assert monitor.rpc_failed("tm-1", "x") is None


def test_settings_come_from_flink_keys_and_reject_a_timeout_below_the_interval() -> None:
    configuration = Configuration.from_dict({
        "heartbeat.interval": "200 ms", "heartbeat.timeout": "2 s",
        "heartbeat.rpc-failure-threshold": "3"})
    assert HeartbeatSettings.from_configuration(configuration) == HeartbeatSettings(200, 2000, 3)
    assert HeartbeatSettings.from_configuration(Configuration()) == HeartbeatSettings(
        10_000, 50_000, 2)
    with pytest.raises(ConfigError, match=r"heartbeat.timeout \(100 ms\) must be at least"):
        HeartbeatSettings(interval_ms=1000, timeout_ms=100)


class _Targets:
    """Heartbeat answers of fake targets: a payload, or an error to raise."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {}
        self.asked: list[str] = []

    async def request(self, target: str) -> Any:
        self.asked.append(target)
        answer = self.answers[target]
        if isinstance(answer, Exception):
            raise answer
        return answer


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_sender_reports_payloads_and_loses_a_target_whose_rpcs_fail() -> None:
    clock = ManualClock(0)
    targets = _Targets()
    lost: list[TargetLost[str]] = []
    payloads: list[tuple[str, Any]] = []

    async def scenario() -> None:
        loop: HeartbeatLoop[str] = HeartbeatLoop(
            "rm", SETTINGS, on_lost=lost.append, request=targets.request,
            on_payload=lambda t, p: payloads.append((t, p)), clock=clock)
        loop.monitor_target("a")
        loop.monitor_target("b")
        targets.answers = {"a": "report-a", "b": RpcError("cannot reach b")}
        loop.tick()
        await _settle()
        assert payloads == [("a", "report-a")] and lost == []
        loop.tick()
        await _settle()
        assert [x.target for x in lost] == ["b"] and "cannot reach b" in lost[0].reason
        loop.tick()
        await _settle()
        assert targets.asked.count("b") == 2  # a lost target is not asked again
        await loop.stop()

    asyncio.run(scenario())


def test_a_receiver_loses_a_sender_that_stops_sending() -> None:
    clock = ManualClock(0)
    lost: list[TargetLost[str]] = []

    async def scenario() -> None:
        loop: HeartbeatLoop[str] = HeartbeatLoop("tm", SETTINGS, on_lost=lost.append,
                                                 clock=clock)
        loop.monitor_target("rm")
        clock.advance(300)
        loop.heartbeat_received("rm")
        clock.advance(500)
        loop.tick()
        assert lost == []
        clock.advance(1)
        loop.tick()
        assert [x.target for x in lost] == ["rm"]
        await loop.stop()

    asyncio.run(scenario())


def test_a_slow_target_gets_one_heartbeat_request_at_a_time() -> None:
    clock = ManualClock(0)
    release = asyncio.Event

    async def scenario() -> None:
        gate = release()
        asked: list[str] = []

        async def request(target: str) -> str:
            asked.append(target)
            await gate.wait()
            return "ok"

        loop: HeartbeatLoop[str] = HeartbeatLoop("jm", SETTINGS, on_lost=lambda _: None,
                                                 request=request, clock=clock)
        loop.monitor_target("slow")
        for _ in range(3):
            loop.tick()
            await _settle()
        assert asked == ["slow"]
        gate.set()
        await _settle()
        loop.tick()
        await _settle()
        assert asked == ["slow", "slow"]
        await loop.stop()

    asyncio.run(scenario())


def test_a_probe_after_a_broken_connection_loses_a_dead_target_without_waiting() -> None:
    clock = ManualClock(0)
    targets = _Targets()
    lost: list[TargetLost[str]] = []

    async def scenario() -> None:
        loop: HeartbeatLoop[str] = HeartbeatLoop(
            "jm", SETTINGS, on_lost=lost.append, request=targets.request, clock=clock)
        loop.monitor_target("tcp://h:1/te")
        loop.monitor_target("tcp://h:2/te")
        targets.answers = {"tcp://h:1/te": RpcError("connection refused"),
                           "tcp://h:2/te": "fine"}
        loop.probe_peer("tcp://h:1")  # no tick: the clock and the interval play no part
        await _settle()
        assert [x.target for x in lost] == ["tcp://h:1/te"]
        assert targets.asked == ["tcp://h:1/te", "tcp://h:1/te"]
        await loop.stop()

    asyncio.run(scenario())


def test_a_probe_of_a_target_that_answers_over_a_new_connection_keeps_it() -> None:
    clock = ManualClock(0)
    targets = _Targets()
    lost: list[TargetLost[str]] = []

    async def scenario() -> None:
        loop: HeartbeatLoop[str] = HeartbeatLoop(
            "jm", SETTINGS, on_lost=lost.append, request=targets.request, clock=clock)
        loop.monitor_target("tcp://h:1/te")
        targets.answers = {"tcp://h:1/te": "fine"}
        loop.probe_peer("tcp://h:1")
        await _settle()
        targets.answers = {"tcp://h:1/te": RpcError("refused")}
        loop.tick()  # one failure after the probe succeeded: not yet lost
        await _settle()
        assert lost == [] and targets.asked == ["tcp://h:1/te"] * 2
        await loop.stop()

    asyncio.run(scenario())
