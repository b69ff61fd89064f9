r"""The Dispatcher: accepts jobs, starts one JobMaster per job, keeps their results.

With high availability it keeps its jobs in the recovery stores (:mod:`.job_recovery`): a
Dispatcher started by a new leader runs :meth:`Dispatcher.recover_jobs`, and one whose
JobManager loses its leadership :meth:`~Dispatcher.suspend`\ s its jobs for the next one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from strom.common.configuration import Configuration
from strom.common.job import JobID, JobStatus
from strom.common.process_files import LogFileInfo, ThreadInfo
from strom.graph.job_graph import JobGraph
from strom.ha.leader_election import STANDALONE_SESSION_ID
from strom.ha.services import HighAvailabilityServices, StandaloneHaServices
from strom.heartbeat import HeartbeatSettings
from strom.jobmanager.checkpoint.stats import CheckpointStatsSnapshot
from strom.jobmanager.cluster_info import (
    ClusterOverview,
    JobDetails,
    JobExceptions,
    JobSubmission,
    TaskManagerDetails,
)
from strom.jobmanager.flame_graph import FlameGraphSettings, FlameGraphType, VertexFlameGraph
from strom.jobmanager.job_files import JobFileStore
from strom.jobmanager.job_metrics import register_job_metrics
from strom.jobmanager.job_recovery import CheckpointServices, JobRecovery, result_of
from strom.jobmanager.job_result import JobResult
from strom.jobmanager.jobmaster import JobMaster
from strom.jobmanager.savepoints import (
    OperationCache,
    OperationResult,
    check_format,
    display_path,
    resolve_target_directory,
    storage_path,
)
from strom.jobmanager.vertex_flame_graphs import UnknownJobVertexError
from strom.metrics.groups import MetricGroup
from strom.rpc.gateways import (
    DispatcherGateway,
    JobMasterGateway,
    ResourceManagerGateway,
    TaskExecutorGateway,
)
from strom.rpc.messages import JobOverview, SerializedValue
from strom.rpc.service import RpcEndpoint, RpcService
from strom.runtime.python_path import acquire_python_path, release_python_path
from strom.taskmanager.file_service import TaskManagerDescription

__all__ = ["ClusterShutdownUnsupportedError", "Dispatcher", "DuplicateJobSubmissionError",
           "JobEndedError", "JobSuspendedError", "UnknownJobError", "UnknownTaskManagerError"]

log = logging.getLogger(__name__)


class UnknownJobError(KeyError):
    """No job with that id was submitted to this cluster."""

    def __str__(self) -> str:
        return f"No job with id {self.args[0]} is known to this cluster."


class DuplicateJobSubmissionError(ValueError):
    """A job with that id was already submitted."""


class JobSuspendedError(RuntimeError):
    """The JobManager lost its leadership while the job ran: the new leader runs it on."""


class JobEndedError(RuntimeError):
    """The job has ended: its coordinators are gone."""


class UnknownTaskManagerError(LookupError):
    """No TaskManager with that id is registered."""


class ClusterShutdownUnsupportedError(RuntimeError):
    """DELETE /cluster on a cluster that runs inside a program."""


class Dispatcher(RpcEndpoint):
    gateway = DispatcherGateway

    def __init__(self, rpc: RpcService, resource_manager_address: str,
                 name: str = "dispatcher", heartbeat: HeartbeatSettings | None = None,
                 job_files: JobFileStore | None = None,
                 restart_defaults: dict[str, str] | None = None,
                 default_savepoint_dir: str | None = None,
                 checkpoint_history: int = 10,
                 ha: HighAvailabilityServices | None = None,
                 fencing_token: str = STANDALONE_SESSION_ID,
                 recover_on_start: bool = False) -> None:
        super().__init__(rpc, name)
        #: the recovery stores (None: the standalone in-memory ones, owned here)
        self._owns_ha = ha is None
        self.ha: HighAvailabilityServices = ha or StandaloneHaServices(Configuration())
        self.recovery = JobRecovery(self.ha)
        #: the leader session id this Dispatcher acts under
        self.fencing_token = fencing_token
        #: recover the stored jobs in on_start (else whoever starts it calls recover_jobs)
        self.recover_on_start = recover_on_start
        #: each running job's checkpoint id counter and completed checkpoint store
        self._checkpoint_services: dict[JobID, CheckpointServices] = {}
        #: web.checkpoints.history: how many recent checkpoints REST lists per job
        self.checkpoint_history = checkpoint_history
        #: the cluster's restart-strategy.* and failover keys, for jobs that set none
        self.restart_defaults = dict(restart_defaults or {})
        #: the cluster-wide ``execution.checkpointing.savepoint-dir``
        self.default_savepoint_dir = default_savepoint_dir
        #: savepoints, checkpoints and disposals REST clients poll by trigger id
        self.operations = OperationCache(self.spawn)
        self.rm_address = resource_manager_address
        self.heartbeat = heartbeat
        self.job_masters: dict[JobID, JobMaster] = {}
        self.job_names: dict[JobID, str] = {}
        self.results: dict[JobID, JobResult] = {}
        #: what REST shows of ended jobs (Flink's ArchivedExecutionGraph)
        self.archived: dict[JobID, JobDetails] = {}
        self.archived_exceptions: dict[JobID, JobExceptions] = {}
        self.archived_checkpoint_stats: dict[JobID, CheckpointStatsSnapshot] = {}
        self.job_files = job_files or JobFileStore()
        self._result_futures: dict[JobID, asyncio.Future[JobResult]] = {}
        #: stops the JobManager process (set by its entrypoint; None in a MiniCluster)
        self.on_shutdown_requested: Callable[[], None] | None = None
        #: the JobManager's "jm" metric group (set by register_jobmanager_metrics; None: no
        #: metrics) and the "jm_job" group of each running job below it
        self.metric_group: MetricGroup | None = None
        self.job_metric_groups: dict[JobID, MetricGroup] = {}

    async def submit_job(self, job_graph: SerializedValue, job_id: JobID) -> JobID:
        """Start a JobMaster for the job. ``job_graph`` holds the JobGraph: the object itself
        over plain ``local://``, its cloudpickled bytes over a serializing transport."""
        return await self.submit_job_with_files(job_graph, job_id, JobSubmission())

    async def submit_job_with_files(self, job_graph: SerializedValue, job_id: JobID,
                                    submission: JobSubmission) -> JobID:
        if job_id in self.job_names or await self.recovery.has_result(job_id):
            raise DuplicateJobSubmissionError(
                f"Job {job_id} was already submitted to this cluster; submit it under a new "
                "job id (or none, and the cluster picks one).")
        stored = b""
        if self.recovery.persists_job_graphs:
            try:
                stored = job_graph.to_bytes()
            except Exception as e:
                raise TypeError(
                    f"Job {job_id} cannot be stored for high availability: its JobGraph "
                    f"does not pickle ({e}). Keep unpicklable objects (sockets, locks, open "
                    "files) out of the job's functions and create them in open().") from e
        graph = self._install_job(job_id, job_graph, submission)
        try:
            # before the JobMaster starts: a new leader must find every job that ran
            await self.recovery.persist(job_id, stored, submission)
        except BaseException:
            self.job_files.remove(job_id)
            raise
        await self._run_job(job_id, graph, submission)
        return job_id

    async def recover_jobs(self) -> list[JobID]:
        """As the new leader: run again every stored job that has no result (each from its
        latest completed checkpoint), and finish the cleanup of jobs that ended globally
        under an earlier leader (their results are answered here). Returns the ids of the
        jobs it runs again."""
        found = await self.recovery.recoverable_jobs()
        for entry in found.dirty:
            result = result_of(entry)
            job_id = result.job_id
            if job_id in self.job_names:
                continue
            self.job_names[job_id] = result.job_name
            self.results[job_id] = result
            future = self._result_futures[job_id] = self.rpc.loop.create_future()
            await self.recovery.clean_up_dirty(entry)
            future.set_result(result)
        recovered = []
        for stored in found.jobs:
            job_id = JobID(stored.job_id)
            if job_id in self.job_names:
                continue
            try:
                graph = self._install_job(job_id, SerializedValue.from_bytes(stored.graph),
                                          stored.submission)
                await self._run_job(job_id, graph, stored.submission)
            except Exception:
                log.exception("could not recover job %s from the job graph store; it stays "
                              "there for the next leader", job_id)
                continue
            log.info("recovered job %s (%s)", job_id, graph.name)
            recovered.append(job_id)
        return recovered

    async def suspend(self, reason: str = "this JobManager lost its leadership") -> None:
        """Leadership is revoked: every running job is suspended (Flink's SUSPENDED, not a
        global end: no result is written, its graph and checkpoints stay for the next
        leader), its tasks cancelled where reachable and its slots released. Callers
        waiting for a result here get a :class:`JobSuspendedError`."""
        job_masters = list(self.job_masters.values())
        await asyncio.gather(*(job_master.suspend(reason) for job_master in job_masters))
        for job_master in job_masters:
            job_id = job_master.job_id
            self.job_masters.pop(job_id, None)
            self.job_names.pop(job_id, None)
            self._checkpoint_services.pop(job_id, None)
            self.job_files.remove(job_id)
            self._close_job_metrics(job_id)
            future = self._result_futures.pop(job_id, None)
            if future is not None and not future.done():
                future.set_exception(JobSuspendedError(
                    f"Job {job_id} was suspended: {reason}. It goes on under the new leading "
                    "JobManager; ask that one for its result."))
                future.exception()  # nobody may be waiting
            await job_master.stop()

    async def on_start(self) -> None:
        if self.recover_on_start:
            await self.recover_jobs()

    def _install_job(self, job_id: JobID, job_graph: SerializedValue,
                     submission: JobSubmission) -> JobGraph:
        """The job's JobGraph, its shipped files installed here first (its functions may be
        pickled by reference to the shipped modules)."""
        python_path = self.job_files.install(job_id, submission)
        try:
            # the graph's functions may be pickled by reference to the shipped modules
            acquired = acquire_python_path(python_path)
            try:
                graph = job_graph.value()
            finally:
                release_python_path(acquired)
            if not isinstance(graph, JobGraph):
                raise TypeError(
                    f"submit_job() needs a JobGraph, got a {type(graph).__name__}.")
        except BaseException:
            self.job_files.remove(job_id)
            raise
        if python_path:
            # this machine's copies of the files replace the client's paths
            graph.config = {**graph.config, "python_path": python_path}
        if self.restart_defaults:
            # the job's own restart settings win over the cluster's
            restart = {**self.restart_defaults, **(graph.config.get("restart") or {})}
            graph.config = {**graph.config, "restart": restart}
        return graph

    async def _run_job(self, job_id: JobID, graph: JobGraph, submission: JobSubmission
                       ) -> None:
        self.job_names[job_id] = graph.name
        self._result_futures[job_id] = self.rpc.loop.create_future()
        try:
            services = await self.recovery.checkpoint_services(job_id)
        except BaseException:
            self.job_names.pop(job_id, None)
            self._result_futures.pop(job_id, None)
            self.job_files.remove(job_id)
            raise
        self._checkpoint_services[job_id] = services
        job_master = JobMaster(
            self.rpc, job_id, graph, self.rm_address,
            on_done=lambda result: self._job_done(result), heartbeat=self.heartbeat,
            job_files=submission, checkpoint_history=self.checkpoint_history,
            checkpoint_id_counter=services[0], completed_checkpoint_store=services[1],
            fencing_token=self.fencing_token,
        )
        job_master.flame_graph_settings = self.flame_graph_settings
        self.job_masters[job_id] = job_master
        self._open_job_metrics(job_master)
        await job_master.start()

    def _job_done(self, result: JobResult) -> None:
        self.results[result.job_id] = result
        job_master = self.job_masters.pop(result.job_id, None)
        if job_master is not None:
            self.archived[result.job_id] = job_master.details()
            self.archived_exceptions[result.job_id] = job_master.exception_history()
            self.archived_checkpoint_stats[result.job_id] = job_master.checkpoint_stats()
        self.job_files.remove(result.job_id)
        self._close_job_metrics(result.job_id)
        if job_master is not None:
            self.spawn(job_master.stop(), name=f"stop-jobmaster-{result.job_id}")
        self.spawn(self._job_terminated(job_master, result),
                   name=f"clean-up-job-{result.job_id}")

    async def _job_terminated(self, job_master: JobMaster | None, result: JobResult) -> None:
        """The job ended globally: its result is recorded (dirty) before anything of it is
        cleaned up, then its checkpoints are released, its graph and checkpoint pointers
        removed, and the result marked clean; then callers get the result."""
        job_id = result.job_id
        try:
            await self.recovery.record_result(result)
            if job_master is not None:
                await job_master.release_checkpoints(result.status)
            await self.recovery.clean_up(job_id, result.status,
                                         self._checkpoint_services.pop(job_id, None))
        except Exception:
            log.exception("cleaning up job %s failed; the next leading JobManager finishes "
                          "it (its result entry stays dirty)", job_id)
        finally:
            # also when the Dispatcher stops meanwhile: the job did end
            future = self._result_futures.get(job_id)
            if future is not None and not future.done():
                future.set_result(result)

    def _job_master(self, job_id: JobID) -> JobMasterGateway | None:
        job_master = self.job_masters.get(job_id)
        if job_master is None:
            return None
        return self.rpc.connect(job_master.address, JobMasterGateway)

    async def request_job_status(self, job_id: JobID) -> JobStatus:
        if job_id in self.results:
            return self.results[job_id].status
        gateway = self._job_master(job_id)
        if gateway is None:
            if job_id in self.job_names:
                # accepted, its JobMaster not made yet (its stores are being opened)
                return JobStatus.INITIALIZING
            raise UnknownJobError(job_id)
        return await gateway.request_job_status()

    async def request_job_result(self, job_id: JobID) -> JobResult:
        future = self._result_futures.get(job_id)
        if future is None:
            raise UnknownJobError(job_id)
        return await asyncio.shield(future)

    async def cancel_job(self, job_id: JobID) -> None:
        if job_id in self.results:
            return
        gateway = self._job_master(job_id)
        if gateway is None:
            raise UnknownJobError(job_id)
        await gateway.cancel()

    async def list_jobs(self) -> list[JobOverview]:
        return [JobOverview(job_id, name, await self.request_job_status(job_id))
                for job_id, name in list(self.job_names.items())]

    async def poll_job_result(self, job_id: JobID) -> JobResult | None:
        if job_id not in self.job_names:
            raise UnknownJobError(job_id)
        return self.results.get(job_id)

    async def request_job_details(self, job_id: JobID) -> JobDetails:
        archived = self.archived.get(job_id)
        if archived is not None:
            return archived
        gateway = self._job_master(job_id)
        if gateway is None:
            raise UnknownJobError(job_id)
        return await gateway.request_job_details()

    async def request_exception_history(self, job_id: JobID) -> JobExceptions:
        archived = self.archived_exceptions.get(job_id)
        if archived is not None:
            return archived
        gateway = self._job_master(job_id)
        if gateway is None:
            raise UnknownJobError(job_id)
        return await gateway.request_exception_history()

    async def list_job_details(self) -> list[JobDetails]:
        details = []
        for job_id in list(self.job_names):
            try:
                details.append(await self.request_job_details(job_id))
            except UnknownJobError:
                continue  # ended between the two looks; its archive is not written yet
        return details

    async def deliver_coordination_request(self, job_id: JobID, operator_id: str,
                                           request: bytes) -> bytes:
        gateway = self._job_master(job_id)
        if gateway is None:
            if job_id in self.results:
                status = self.results[job_id].status.value
                raise JobEndedError(
                    f"Job {job_id} has ended ({status}); its operator coordinators are gone. "
                    "Read how it ended at /jobs/:jobid/execution-result.")
            raise UnknownJobError(job_id)
        return await gateway.deliver_coordination_request(operator_id, request)

    # ------------------------------------------------------------------ checkpoint stats
    async def request_checkpoint_stats(self, job_id: JobID) -> CheckpointStatsSnapshot:
        archived = self.archived_checkpoint_stats.get(job_id)
        if archived is not None:
            return archived
        gateway = self._job_master(job_id)
        if gateway is None:
            raise UnknownJobError(job_id)
        return await gateway.request_checkpoint_stats()

    async def list_task_managers(self) -> list[TaskManagerDetails]:
        registered = await self.rpc.connect(self.rm_address, ResourceManagerGateway) \
            .list_task_managers()
        return [TaskManagerDetails(str(tm.resource_id), tm.address, tm.num_slots, tm.free_slots,
                                   tm.last_heartbeat)
                for tm in registered]

    async def request_cluster_overview(self) -> ClusterOverview:
        task_managers = await self.list_task_managers()
        statuses = [await self.request_job_status(job_id) for job_id in list(self.job_names)]
        return ClusterOverview(
            task_managers=len(task_managers),
            slots_total=sum(tm.slots_number for tm in task_managers),
            slots_available=sum(tm.free_slots for tm in task_managers),
            jobs_running=sum(1 for s in statuses if not s.is_globally_terminal_state()),
            jobs_finished=statuses.count(JobStatus.FINISHED),
            jobs_cancelled=statuses.count(JobStatus.CANCELED),
            jobs_failed=statuses.count(JobStatus.FAILED),
        )

    # ------------------------------------------------------------------ savepoints
    def _running_job_master(self, job_id: JobID, doing: str) -> JobMaster:
        job_master = self.job_masters.get(job_id)
        if job_master is not None:
            return job_master
        if job_id in self.results:
            status = self.results[job_id].status.value
            raise JobEndedError(
                f"Job {job_id} has ended ({status}); {doing} needs a running job. Resume it "
                "from its last savepoint with strom run -s <path>.")
        raise UnknownJobError(job_id)

    def _savepoint_target(self, job_id: JobID, target_dir: str | None) -> tuple[
            JobMasterGateway, str]:
        """The running job's JobMaster and the directory its savepoint goes to: the one
        asked for, the job's ``execution.checkpointing.savepoint-dir``, or the cluster's."""
        job_master = self._running_job_master(job_id, "a savepoint")
        checkpoint_config = job_master.job_graph.checkpoint_config
        job_default = None if checkpoint_config is None else checkpoint_config.savepoint_dir
        target = resolve_target_directory(target_dir, job_default, self.default_savepoint_dir)
        return self.rpc.connect(job_master.address, JobMasterGateway), storage_path(target)

    async def trigger_savepoint(self, job_id: JobID, target_dir: str | None,
                                format_type: str) -> str:
        format_type = check_format(format_type)
        gateway, target = self._savepoint_target(job_id, target_dir)
        return await gateway.trigger_savepoint(target, format_type, False)

    async def stop_with_savepoint(self, job_id: JobID, target_dir: str | None, drain: bool,
                                  format_type: str) -> str:
        format_type = check_format(format_type)
        gateway, target = self._savepoint_target(job_id, target_dir)
        return await gateway.stop_with_savepoint(target, drain, format_type)

    async def dispose_savepoint(self, path: str) -> None:
        from strom.state.checkpoint_storage import dispose_savepoint

        await self.rpc.loop.run_in_executor(None, dispose_savepoint, storage_path(path))

    async def trigger_checkpoint(self, job_id: JobID, full: bool) -> int:
        job_master = self._running_job_master(job_id, "a checkpoint")
        return await self.rpc.connect(job_master.address, JobMasterGateway) \
            .trigger_checkpoint(full)

    async def start_savepoint_operation(
        self, job_id: JobID, trigger_id: str, target_dir: str | None, format_type: str,
        cancel_job: bool,
    ) -> None:
        format_type = check_format(format_type)
        gateway, target = self._savepoint_target(job_id, target_dir)
        self.operations.start(f"savepoint:{job_id}:{trigger_id}",
                              gateway.trigger_savepoint(target, format_type, cancel_job),
                              _savepoint_completed)

    async def start_stop_with_savepoint_operation(
        self, job_id: JobID, trigger_id: str, target_dir: str | None, drain: bool,
        format_type: str,
    ) -> None:
        format_type = check_format(format_type)
        gateway, target = self._savepoint_target(job_id, target_dir)
        self.operations.start(f"savepoint:{job_id}:{trigger_id}",
                              gateway.stop_with_savepoint(target, drain, format_type),
                              _savepoint_completed)

    async def start_checkpoint_operation(self, job_id: JobID, trigger_id: str,
                                         full: bool) -> None:
        self._running_job_master(job_id, "a checkpoint")
        self.operations.start(f"checkpoint:{job_id}:{trigger_id}",
                              self.trigger_checkpoint(job_id, full),
                              lambda checkpoint_id: OperationResult(
                                  "COMPLETED", checkpoint_id=checkpoint_id))

    async def start_dispose_savepoint_operation(self, trigger_id: str, path: str) -> None:
        self.operations.start(f"disposal:{trigger_id}", self.dispose_savepoint(path),
                              lambda _: OperationResult("COMPLETED"))

    async def get_operation_result(self, kind: str, job_id: JobID | None,
                                   trigger_id: str) -> OperationResult:
        key = f"{kind}:{trigger_id}" if job_id is None else f"{kind}:{job_id}:{trigger_id}"
        what = (f"{kind} operation with trigger id {trigger_id}"
                + (f" for job {job_id}" if job_id is not None else ""))
        return self.operations.get(key, what)

    # ---- REST: TaskManagers' descriptions, logs and thread dumps; cluster shutdown
    async def _task_executor(self, task_manager_id: str) -> TaskExecutorGateway:
        task_managers = await self.list_task_managers()
        for tm in task_managers:
            if tm.resource_id == task_manager_id:
                return self.rpc.connect(tm.address, TaskExecutorGateway)
        raise UnknownTaskManagerError(
            f"No TaskManager with id {task_manager_id} is registered; the registered ones: "
            f"{', '.join(tm.resource_id for tm in task_managers) or 'none'} (see /taskmanagers).")

    async def request_task_manager_description(self, task_manager_id: str
                                               ) -> TaskManagerDescription:
        return await (await self._task_executor(task_manager_id)) \
            .request_task_manager_description()

    async def request_task_manager_log_list(self, task_manager_id: str) -> list[LogFileInfo]:
        return await (await self._task_executor(task_manager_id)).request_log_list()

    async def request_task_manager_log(self, task_manager_id: str, name: str,
                                       max_bytes: int) -> str:
        return await (await self._task_executor(task_manager_id)).request_log(name, max_bytes)

    async def request_task_manager_thread_dump(self, task_manager_id: str
                                               ) -> list[ThreadInfo]:
        return await (await self._task_executor(task_manager_id)).request_thread_dump()

    async def shutdown_cluster(self) -> None:
        """Shut the cluster down (REST's ``DELETE /cluster``): the JobManager process stops
        shortly after answering, as on SIGTERM (its running jobs are cancelled)."""
        if self.on_shutdown_requested is None:
            raise ClusterShutdownUnsupportedError(
                "This cluster runs inside a program (a MiniCluster) and stops when the "
                "program closes it; DELETE /cluster shuts down standalone clusters (`strom "
                "cluster start`, `strom jobmanager`).")
        log.info("Shutting the cluster down, as a REST client asked (DELETE /cluster)")
        # after the answer went out
        self.rpc.loop.call_later(0.2, self.on_shutdown_requested)

    # ---- flame graphs
    #: the cluster's ``rest.flamegraph.*`` settings, handed to each JobMaster
    flame_graph_settings = FlameGraphSettings()

    async def request_vertex_flame_graph(
        self, job_id: JobID, vertex_id: str, graph_type: FlameGraphType,
        subtask_index: int | None,
    ) -> VertexFlameGraph:
        archived = self.archived.get(job_id)
        if archived is not None:
            known = [v.vertex_id for v in archived.vertices]
            if vertex_id not in known:
                raise UnknownJobVertexError(vertex_id, job_id, known)
            return VertexFlameGraph.terminated()
        gateway = self._job_master(job_id)
        if gateway is None:
            raise UnknownJobError(job_id)
        return await gateway.request_vertex_flame_graph(vertex_id, graph_type, subtask_index)

    def leftovers(self) -> list[str]:
        running = [f"{self.address}: job {job_id} ({self.job_names.get(job_id)}) still runs"
                   for job_id in self.job_masters]
        return super().leftovers() + running + self.job_files.leftovers()

    async def on_stop(self) -> None:
        if self.recovery.persists_job_graphs:
            # with HA, stopping a JobManager does not end its jobs: the next leader goes on
            await self.suspend("its JobManager stopped")
        for job_master in list(self.job_masters.values()):
            await job_master.cancel()
        for job_master in list(self.job_masters.values()):
            await job_master.stop()
        for job_id in list(self.job_metric_groups):
            self._close_job_metrics(job_id)
        self.job_files.close()
        if self._owns_ha:
            self.ha.close()

    # ---- metrics
    def _open_job_metrics(self, job_master: JobMaster) -> None:
        if self.metric_group is not None:
            self.job_metric_groups[job_master.job_id] = register_job_metrics(
                self.metric_group, job_master)

    def _close_job_metrics(self, job_id: JobID) -> None:
        group = self.job_metric_groups.pop(job_id, None)
        if group is not None:
            group.close()


def _savepoint_completed(path: str) -> OperationResult:
    return OperationResult("COMPLETED", location=display_path(path))
