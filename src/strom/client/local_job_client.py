"""The JobClient of a job running on an embedded cluster that lives as long as the job."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

from strom.client.job_client import ClusterJobClient
from strom.common.job import JobClient, JobExecutionResult, JobID, JobStatus
from strom.jobmanager.job_result import JobResult

__all__ = ["LocalJobClient"]

#: how long stopping an embedded cluster itself may take, beyond waiting for its tasks
_CLUSTER_STOP_S = 30.0


class LocalJobClient(JobClient):
    """Follows the job and stops its MiniCluster once the job has ended and its result was
    read (or ``close()`` is called)."""

    def __init__(self, client: ClusterJobClient, cluster: Any) -> None:
        self._client = client
        self._cluster = cluster
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._result = client.get_job_result()
        self._final_status: JobStatus | None = None

    def get_job_id(self) -> JobID:
        return self._client.get_job_id()

    def get_job_status(self) -> concurrent.futures.Future[JobStatus]:
        return self._ask(self._client.get_job_status, lambda result: result.status)

    def cancel(self) -> concurrent.futures.Future[None]:
        return self._ask(self._client.cancel, lambda result: None)

    def _ask(self, call: Callable[[], concurrent.futures.Future[Any]],
             ended: Callable[[JobResult], Any]) -> concurrent.futures.Future[Any]:
        """``call()`` the cluster while the job runs; once it has ended, answer from its
        result. The job may end and the cluster stop (from another thread) between the look
        at the result and the call: a call that then fails is answered from the result too."""
        out: concurrent.futures.Future[Any] = concurrent.futures.Future()
        if self._result.done():
            out.set_result(ended(self._result.result()))
            return out

        def answered(source: concurrent.futures.Future[Any] | None,
                     error: BaseException | None = None) -> None:
            if source is not None:
                error = source.exception()
                if error is None:
                    out.set_result(source.result())
                    return
            # a result call the stopping cluster cancelled is no result
            if (self._result.done() and not self._result.cancelled()
                    and self._result.exception() is None):
                out.set_result(ended(self._result.result()))
            else:
                assert error is not None
                out.set_exception(error)

        try:
            asked = call()
        except Exception as e:  # the cluster's RPC service is already gone
            answered(None, e)
        else:
            asked.add_done_callback(answered)
        return out

    def stop_with_savepoint(self, advance_to_end_of_event_time: bool,
                            savepoint_directory: str | None = None
                            ) -> concurrent.futures.Future[str]:
        return self._client.stop_with_savepoint(advance_to_end_of_event_time,
                                                savepoint_directory)

    def trigger_savepoint(self, savepoint_directory: str | None = None
                          ) -> concurrent.futures.Future[str]:
        return self._client.trigger_savepoint(savepoint_directory)

    def get_accumulators(self) -> concurrent.futures.Future[dict[str, Any]]:
        return self._chain(lambda result: dict(result.accumulators))

    def get_job_execution_result(self) -> concurrent.futures.Future[JobExecutionResult]:
        from strom.client.job_client import raise_for_result

        return self._chain(raise_for_result)

    def _chain(self, convert: Any) -> concurrent.futures.Future[Any]:
        out: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def done(source: concurrent.futures.Future[Any]) -> None:
            try:
                out.set_result(convert(source.result()))
            except BaseException as e:
                out.set_exception(e)
            threading.Thread(target=self.close, name="strom-stop-local-cluster",
                             daemon=True).start()

        self._result.add_done_callback(done)
        return out

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the embedded cluster, cancelling the job if it still runs and waiting at most
        about ``timeout_s`` for it to end; returns once the cluster has stopped. A task stuck
        in a user function that does not return is left behind in its (daemon) thread."""
        with self._lock:
            cluster, self._cluster = self._cluster, None
        if cluster is None:  # another thread is stopping it: wait for that
            self._stopped.wait(timeout_s + _CLUSTER_STOP_S)
            return
        try:
            if not self._result.done():
                try:
                    self._client.cancel().result(timeout=max(timeout_s, 0.1))
                    self._result.result(timeout=timeout_s)
                except Exception:
                    pass
            cluster.stop(grace_s=min(timeout_s, cluster.stop_grace_s))
        finally:
            self._stopped.set()
