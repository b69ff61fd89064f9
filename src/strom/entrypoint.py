"""What every strom process does around its components: the exit codes and the wait for a
stop request (Flink's ClusterEntrypoint and TaskManagerRunner share this).

Exit codes: 0 after a requested stop (SIGTERM, SIGINT), 1 when the process could not start,
2 when it failed while running.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any, TextIO

from strom.rpc.service import RpcService

__all__ = ["EXIT_RUNTIME_FAILURE", "EXIT_STARTUP_FAILURE", "configure_process_logging",
           "serve_until_stopped"]

log = logging.getLogger(__name__)

EXIT_STARTUP_FAILURE = 1
EXIT_RUNTIME_FAILURE = 2
#: how often the process checks that its RPC loop still runs
_WATCH_INTERVAL_S = 0.5


#: loggers whose DEBUG lines a cluster process's log shows: registrations and their retries
_PROCESS_DEBUG_LOGGERS = ("strom.jobmanager.resourcemanager", "strom.taskmanager")


def configure_process_logging(level: int = logging.INFO) -> None:
    """Log lines with time, level and logger to stderr (a cluster process's log file),
    registrations included (they are DEBUG in an embedded cluster, whose user's program
    may log at INFO)."""
    logging.basicConfig(level=level,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    for name in _PROCESS_DEBUG_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)


def serve_until_stopped(rpc: RpcService, stop: Callable[[], None], what: str,
                        out: TextIO, failure: Callable[[], str | None] | None = None) -> int:
    """Wait for SIGTERM/SIGINT (exit 0), the death of the RPC loop, or ``failure()`` naming
    a reason to give up (exit 2, the reason printed), then stop."""
    stopping = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        log.info("%s: got %s, stopping", what, signal.Signals(signum).name)
        stopping.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    code = 0
    try:
        while not stopping.wait(_WATCH_INTERVAL_S):
            if not rpc.loop.is_running():
                log.error("%s: its RPC loop stopped unexpectedly", what)
                code = EXIT_RUNTIME_FAILURE
                break
            reason = failure() if failure is not None else None
            if reason:
                log.error("%s gives up: %s", what, reason)
                print(f"{what} gives up: {reason}", file=out, flush=True)
                code = EXIT_RUNTIME_FAILURE
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    try:
        stop()
    except Exception:
        log.exception("%s did not stop cleanly", what)
        code = code or EXIT_RUNTIME_FAILURE
    print(f"{what} stopped", file=out, flush=True)
    return code

