"""How a cluster process waits for its end: a stop request exits 0, a dead RPC loop 2."""

from __future__ import annotations

import io
import os
import signal
import threading

from strom.entrypoint import EXIT_RUNTIME_FAILURE, serve_until_stopped
from strom.rpc.service import RpcService
from strom.testing import wait_until


def test_sigterm_stops_the_process_gracefully_with_exit_code_0() -> None:
    rpc = RpcService("strom-test-rpc")
    stopped: list[bool] = []
    out = io.StringIO()
    handler_before = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        code = serve_until_stopped(rpc, lambda: stopped.append(True), "TaskManager", out)
    finally:
        timer.cancel()
        rpc.stop()
    assert code == 0 and stopped == [True]
    assert out.getvalue() == "TaskManager stopped\n"
    assert signal.getsignal(signal.SIGTERM) is handler_before  # restored


def test_a_process_whose_rpc_loop_died_exits_with_code_2() -> None:
    rpc = RpcService("strom-test-rpc")
    rpc.loop.call_soon_threadsafe(rpc.loop.stop)
    wait_until(lambda: not rpc.loop.is_running(), 10, "the RPC loop to stop")
    stopped: list[bool] = []
    try:
        code = serve_until_stopped(rpc, lambda: stopped.append(True), "JobManager",
                                   io.StringIO())
    finally:
        rpc.loop.close()
    assert code == EXIT_RUNTIME_FAILURE and stopped == [True]
