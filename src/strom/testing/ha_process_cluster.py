"""A high-availability cluster of real processes on loopback, for tests and benchmarks:
several JobManagers with ``high-availability.type: zookeeper`` (one leads, the others stand
by) and TaskManagers that find the leading ResourceManager through ZooKeeper.

::

    with ZooKeeperServer(tmp_path / "zk") as zk, \\
            HaProcessCluster(zk.connect_string, tmp_path, jobmanagers=2) as cluster:
        leader = cluster.leader()           # the JobManager whose REST answers itself
        ...                                 # submit through leader.extra["rest"]
        cluster.kill(leader)                # kill -9
        cluster.start_jobmanager()          # a new standby
        cluster.leader()                    # a standby took over

The ZooKeeper server is the caller's (:mod:`strom.testing.zookeeper`): a test may stop and
restart it under the cluster. Every process binds 127.0.0.1 on a free port, and is ended by
its pid (SIGTERM, then SIGKILL) when the block ends, also when the test failed; the logs of
every process are printed then.

Which JobManager leads is seen as a client sees it, through REST: the leader answers
``/overview`` itself (200), a standby redirects (307) to the leader, and while no leader is
known every JobManager answers 503.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from strom.processes import ClusterProcess, spawn_process
from strom.rpc.gateways import TaskExecutorGateway
from strom.rpc.messages import ExecutionState
from strom.rpc.service import RpcService

__all__ = ["HA_TIMEOUTS", "HaProcessCluster", "RestAnswer", "rest_get"]

#: short timeouts, so that a failover takes seconds (Flink's defaults: heartbeats 10 s / 50 s,
#: ZooKeeper session 60 s)
HA_TIMEOUTS = {
    "heartbeat.interval": "1 s",
    "heartbeat.timeout": "5 s",
    "high-availability.zookeeper.client.session-timeout": "4 s",
    "high-availability.zookeeper.client.connection-timeout": "2 s",
    "high-availability.zookeeper.client.retry-wait": "500 ms",
    "cluster.registration.error-delay": "200 ms",
}

_RPC_READY = re.compile(r"ready at (tcp://[^\s/]+)")
_REST_URL = re.compile(r"REST (https?://[^\s)]+)")
_TM_READY = re.compile(r"TaskManager (\w+) ready at (tcp://\S+)")
#: how long a process may take to say it is ready (imports are slow on a loaded machine)
START_TIMEOUT_S = 60.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report a redirect as it is (the caller wants to see who redirects, and where)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


class RestAnswer:
    """One REST answer: the HTTP status (0 when nobody answered), its body as JSON (or
    ``None``) and the ``Location`` header of a redirect."""

    def __init__(self, status: int, body: Any = None, location: str | None = None) -> None:
        self.status = status
        self.body = body
        self.location = location

    def __repr__(self) -> str:
        return f"RestAnswer({self.status}, {self.body!r}, location={self.location!r})"


def rest_get(base_url: str, path: str, timeout_s: float = 5.0) -> RestAnswer:
    """``GET base_url + path`` without following redirects."""
    try:
        with _OPENER.open(base_url + path, timeout=timeout_s) as response:
            return RestAnswer(response.status, _json(response.read()))
    except urllib.error.HTTPError as e:
        return RestAnswer(e.code, _json(e.read()), e.headers.get("Location"))
    except (OSError, ValueError):  # refused, reset, timed out: nobody answered
        return RestAnswer(0)


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


class HaProcessCluster:
    """``jobmanagers`` JobManagers and ``task_managers`` TaskManagers (``slots`` each) with
    ZooKeeper high availability at ``quorum``; the storage directory and the logs go under
    ``work_dir`` (see the module docstring). ``config`` adds ``-D`` keys to every process
    (after :data:`HA_TIMEOUTS`)."""

    def __init__(self, quorum: str, work_dir: str | Path, jobmanagers: int = 2,
                 task_managers: int = 2, slots: int = 1,
                 config: dict[str, str] | None = None) -> None:
        self.work_dir = Path(work_dir)
        self.log_dir = self.work_dir / "log"
        self.num_jobmanagers = jobmanagers
        self.num_task_managers = task_managers
        self.slots = slots
        self.config = {
            "high-availability.type": "zookeeper",
            "high-availability.zookeeper.quorum": quorum,
            "high-availability.storageDir": str(self.work_dir / "ha"),
            "high-availability.cluster-id": "/strom-test",
            **HA_TIMEOUTS,
            **(config or {}),
        }
        self.jobmanagers: list[ClusterProcess] = []
        self.task_managers: list[ClusterProcess] = []
        self._all: list[ClusterProcess] = []
        self._frozen: set[int] = set()
        self._rpc: RpcService | None = None

    # ------------------------------------------------------------------ processes
    def _spawn(self, name: str, command: list[str], config: dict[str, str]) -> ClusterProcess:
        log_file = self.log_dir / f"{name}-{len(self._all)}.log"
        process = spawn_process(name, command, config, log_file)
        self._all.append(process)
        return process

    def start_jobmanager(self) -> ClusterProcess:
        """Start one more JobManager; it joins the election. Its REST URL is
        ``extra["rest"]``."""
        config = {**self.config, "rest.port": "0", "rest.bind-address": "127.0.0.1",
                  "rest.address": "127.0.0.1", "jobmanager.bind-host": "127.0.0.1",
                  "jobmanager.rpc.address": "127.0.0.1",
                  "high-availability.jobmanager.port": "0"}
        process = self._spawn("jobmanager", ["jobmanager"], config)
        ready = process.wait_for_log(_RPC_READY.pattern, START_TIMEOUT_S)
        process.address = ready.group(1)
        rest = _REST_URL.search(process.log(), ready.start())
        if rest is None:
            raise AssertionError(f"the JobManager's ready line names no REST URL ('REST "
                                 f"http://host:port'):\n{process.log()[-4000:]}")
        process.extra["rest"] = rest.group(1)
        self.jobmanagers.append(process)
        return process

    def start_task_manager(self) -> ClusterProcess:
        """Start one more TaskManager; it finds the leading ResourceManager in ZooKeeper."""
        config = {"taskmanager.numberOfTaskSlots": str(self.slots), **self.config,
                  "taskmanager.bind-host": "127.0.0.1"}
        process = self._spawn("taskmanager", ["taskmanager"], config)
        match = process.wait_for_log(_TM_READY.pattern, START_TIMEOUT_S)
        process.extra["resource_id"] = match.group(1)
        process.address = match.group(2)
        self.task_managers.append(process)
        return process

    def start(self) -> HaProcessCluster:
        try:
            for _ in range(self.num_jobmanagers):
                self.start_jobmanager()
            for _ in range(self.num_task_managers):
                self.start_task_manager()
            self.wait_for_task_managers(self.num_task_managers)
        except BaseException:
            self.stop()
            raise
        return self

    def kill(self, process: ClusterProcess) -> None:
        """``kill -9`` one of the processes."""
        process.kill()

    def freeze(self, process: ClusterProcess) -> None:
        """``kill -STOP``: the process keeps its sockets but does nothing (as a process in a
        long pause would), until :meth:`thaw`. REST is not asked of a frozen JobManager."""
        self._frozen.add(process.pid)
        os.kill(process.pid, signal.SIGSTOP)

    def thaw(self, process: ClusterProcess) -> None:
        """``kill -CONT`` a frozen process."""
        os.kill(process.pid, signal.SIGCONT)
        self._frozen.discard(process.pid)

    def live_jobmanagers(self) -> list[ClusterProcess]:
        """The JobManagers that run and are not frozen."""
        return [p for p in self.jobmanagers if p.running() and p.pid not in self._frozen]

    # ------------------------------------------------------------------ the leader, via REST
    def leader(self, timeout_s: float = 60.0) -> ClusterProcess:
        """The live JobManager that answers REST itself (its Dispatcher runs), once there is
        one; raises ``TimeoutError`` with every JobManager's answer and the logs."""
        deadline = time.monotonic() + timeout_s
        while True:
            answers = {p.pid: (p, rest_get(p.extra["rest"], "/overview"))
                       for p in self.live_jobmanagers()}
            leaders = [p for p, answer in answers.values() if answer.status == 200]
            if len(leaders) == 1:
                return leaders[0]
            if time.monotonic() > deadline:
                seen = "; ".join(f"pid {pid}: {answer}" for pid, (_, answer) in answers.items())
                raise TimeoutError(f"{len(leaders)} JobManagers lead after {timeout_s} s "
                                   f"(expected one). Their REST answers: {seen}\n{self.logs()}")
            time.sleep(0.05)

    def leaders(self) -> list[ClusterProcess]:
        """The live JobManagers that answer REST themselves now (at most one, unless two
        believe they lead)."""
        return [p for p in self.live_jobmanagers()
                if rest_get(p.extra["rest"], "/overview").status == 200]

    def rest_statuses(self) -> dict[int, int]:
        """pid -> the HTTP status of ``/overview`` on each live JobManager (0: no answer)."""
        return {p.pid: rest_get(p.extra["rest"], "/overview").status
                for p in self.live_jobmanagers()}

    def job_state(self, job_id: str) -> str | None:
        """The job's state as the leader's REST API reports it (``/jobs/:jobid``); ``None``
        while no JobManager leads or the leader does not know the job."""
        for process in self.live_jobmanagers():
            answer = rest_get(process.extra["rest"], f"/jobs/{job_id}")
            if answer.status == 200 and isinstance(answer.body, dict):
                return str(answer.body.get("state"))
        return None

    def job_failure(self, job_id: str) -> str | None:
        """Why the job failed, as the leader's REST API says (the failure cause of
        ``/jobs/:jobid/execution-result``, else the newest entry of ``/jobs/:jobid/exceptions``);
        ``None`` when it says nothing."""
        for process in self.live_jobmanagers():
            rest = process.extra["rest"]
            result = rest_get(rest, f"/jobs/{job_id}/execution-result")
            if result.status != 200 or not isinstance(result.body, dict):
                continue
            cause = (result.body.get("job-execution-result") or {}).get("failure-cause")
            if cause:
                return f"{cause.get('class')}: {cause.get('stack-trace')}"
            exceptions = rest_get(rest, f"/jobs/{job_id}/exceptions")
            if exceptions.status == 200 and isinstance(exceptions.body, dict):
                return exceptions.body.get("root-exception")
        return None

    def jobs_overview(self, leader: ClusterProcess) -> dict[str, str]:
        """job id -> state, as ``leader`` lists them (``/jobs/overview``)."""
        answer = rest_get(leader.extra["rest"], "/jobs/overview")
        assert answer.status == 200, f"/jobs/overview of pid {leader.pid}: {answer}"
        return {job["jid"]: job["state"] for job in answer.body["jobs"]}

    # ------------------------------------------------------------------ TaskManagers
    @property
    def rpc(self) -> RpcService:
        if self._rpc is None:
            self._rpc = RpcService("strom-test-client-rpc", mode="tcp")
        return self._rpc

    def running_tasks(self) -> dict[str, list[str]]:
        """resource id -> the names of the tasks RUNNING there, of every live TaskManager
        that answers."""
        running = {}
        for tm in self.task_managers:
            if not tm.running():
                continue
            gateway: TaskExecutorGateway = self.rpc.connect(tm.address, TaskExecutorGateway)
            try:
                statuses = self.rpc.run_sync(gateway.request_task_status(), timeout=10)
            except Exception:
                continue
            running[tm.extra["resource_id"]] = [
                s.name for s in statuses if s.state is ExecutionState.RUNNING]
        return running

    def registered_task_managers(self, leader: ClusterProcess) -> int:
        """How many TaskManagers ``leader`` lists (``/taskmanagers``); -1 if it does not
        answer."""
        answer = rest_get(leader.extra["rest"], "/taskmanagers")
        if answer.status != 200 or not isinstance(answer.body, dict):
            return -1
        return len(answer.body.get("taskmanagers", []))

    def wait_for_task_managers(self, count: int, timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until the leader lists ``count`` TaskManagers."""
        deadline = time.monotonic() + timeout_s
        while True:
            leader = self.leader(max(0.0, deadline - time.monotonic()))
            registered = self.registered_task_managers(leader)
            if registered == count:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{registered} TaskManagers registered at the leader (pid "
                                   f"{leader.pid}) after {timeout_s} s, expected {count}."
                                   f"\n{self.logs()}")
            time.sleep(0.05)

    # ------------------------------------------------------------------ teardown
    def logs(self) -> str:
        return "\n".join(f"----- {p.name} (pid {p.pid}, exit {p.popen.poll()}) {p.log_file}\n"
                         f"{p.log()}" for p in self._all)

    def stop(self) -> None:
        """End every process this cluster started, then the client: the TaskManagers first,
        then the JobManagers newest first (the standbys before the leader, which is most often
        the oldest, so that leadership does not move from one to the next as they stop)."""
        try:
            for pid in list(self._frozen):
                os.kill(pid, signal.SIGCONT)  # a stopped process cannot handle SIGTERM
            self._frozen.clear()
            for process in sorted(reversed(self._all), key=lambda p: p.name == "jobmanager"):
                process.stop()
        finally:
            if self._rpc is not None:
                self._rpc.stop()
                self._rpc = None

    def __enter__(self) -> HaProcessCluster:
        return self.start()

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        try:
            self.stop()
        finally:
            if exc_type is not None:
                print(f"Logs of the strom processes:\n{self.logs()}", file=sys.stderr)
