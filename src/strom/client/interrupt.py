"""What ``execute()`` does when the user presses Ctrl-C: cancel the job, say so, and return
within a short grace time even if a user function never returns.

A task thread blocked in a user function (a ``time.sleep``, a socket read) cannot be
interrupted; slot threads are daemon threads, so the process exits without them. A second
Ctrl-C while waiting skips the rest of the wait.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from strom.common.job import JobClient

__all__ = ["CANCEL_GRACE_S", "InterruptDeferred", "cancel_after_interrupt", "defer_interrupt"]

#: how long Ctrl-C waits for a cancelled job to end before exiting without it
CANCEL_GRACE_S = 3.0


def cancel_after_interrupt(client: JobClient, job_name: str, grace_s: float = CANCEL_GRACE_S,
                           out: TextIO | None = None) -> bool:
    """Cancel the job of ``client`` and wait up to ``grace_s`` for it to end, reporting on
    ``out`` (stderr). True if it ended in time."""
    out = out or sys.stderr
    job = f"'{job_name}' ({client.get_job_id()})"
    print(f"Cancelling job {job}... (press Ctrl-C again to exit at once)", file=out,
          flush=True)
    deadline = time.monotonic() + grace_s
    try:
        client.cancel()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                status = client.get_job_status().result(timeout=left)
            except Exception:  # the cluster stops or the job is gone: nothing to wait for
                break
            if status.is_globally_terminal_state():
                print(f"Job {job} is {status.name}.", file=out, flush=True)
                return True
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    except KeyboardInterrupt:
        print(f"Exiting without waiting for job {job} to end.", file=out, flush=True)
        return False
    print(f"Job {job} did not end within {grace_s:g} s: a user function has not returned. "
          "Exiting without waiting for it.", file=out, flush=True)
    return False


class InterruptDeferred:
    """Whether a Ctrl-C arrived while :func:`defer_interrupt` held it back."""

    def __init__(self) -> None:
        self.pressed = False
        self.released = False

    def release(self) -> None:
        """From now on a Ctrl-C raises KeyboardInterrupt at once; one held back raises now.
        Call it inside the ``try`` that cancels the job on KeyboardInterrupt, so no moment
        is left where a Ctrl-C escapes without cancelling."""
        self.released = True
        if self.pressed:
            raise KeyboardInterrupt


@contextmanager
def defer_interrupt() -> Iterator[InterruptDeferred]:
    """Hold back the first Ctrl-C while a job is being submitted: its tasks may already run
    when it comes, and only once ``execute()`` has the job's client can it cancel the job.
    A second Ctrl-C, or any Ctrl-C after :meth:`InterruptDeferred.release`, interrupts at
    once. Python's handler comes back only when the block ends, after the caller handled
    the interrupt. Does nothing outside the main thread or when the program installed its
    own SIGINT handler.
    """
    deferred = InterruptDeferred()
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield deferred
        return

    def hold_back(signum: int, frame: Any) -> None:
        if deferred.pressed or deferred.released:
            raise KeyboardInterrupt
        deferred.pressed = True

    signal.signal(signal.SIGINT, hold_back)
    try:
        yield deferred
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
