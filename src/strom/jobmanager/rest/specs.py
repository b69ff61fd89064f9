"""One spec per REST endpoint, declared once (Flink's ``*Headers`` classes, e.g.
``JobDetailsHeaders``): method, path, request and response types, status code, description.

The server routes by them, the client (:mod:`strom.client.rest`) builds requests
from them, and the OpenAPI document (:mod:`strom.jobmanager.rest.openapi`) is generated
from them. A new endpoint is a spec here plus a handler in
:mod:`strom.jobmanager.rest.handlers`.

Paths use Flink's ``:name`` placeholders; every path is also served under ``/v1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from strom.jobmanager.flame_graph import VertexFlameGraph
from strom.jobmanager.rest import checkpoint_messages as cm
from strom.jobmanager.rest import cluster_messages as clm
from strom.jobmanager.rest import job_messages as jm
from strom.jobmanager.rest import messages as m

__all__ = [
    "ALL_SPECS", "CANCEL_JOB", "CLUSTER_OVERVIEW", "COORDINATION_REQUEST", "EndpointSpec", "JOB_DETAILS",
    "JOB_EXCEPTIONS", "JOB_EXECUTION_RESULT", "JOBS_OVERVIEW", "LIST_JOBS", "QueryParameter",
    "SUBMIT_JOB", "TASK_MANAGERS", "CHECKPOINT_STATUS", "CHECKPOINT_TRIGGER", "SAVEPOINT_DISPOSAL",
    "SAVEPOINT_DISPOSAL_STATUS", "SAVEPOINT_STATUS", "SAVEPOINT_TRIGGER", "STOP_WITH_SAVEPOINT",
    # checkpoint statistics and the job's checkpoint metrics
    "CHECKPOINT_CONFIG", "CHECKPOINT_DETAILS", "CHECKPOINT_SPECS", "CHECKPOINT_STATISTICS",
    "CHECKPOINT_SUBTASK_DETAILS", "JOB_METRICS",
    # web submit
    "JAR_DELETE", "JAR_LIST", "JAR_RUN", "JAR_SPECS", "JAR_UPLOAD",
]

R = TypeVar("R")


@dataclass(frozen=True)
class QueryParameter:
    name: str
    description: str
    required: bool = False
    #: the accepted values, when only some are
    choices: tuple[str, ...] = ()
    #: its JSON schema type: "string", "integer", or "boolean"
    kind: str = "string"
    #: a regular expression the value matches (OpenAPI ``pattern``)
    pattern: str | None = None


@dataclass(frozen=True)
class EndpointSpec(Generic[R]):
    method: str
    #: Flink's path with ``:name`` placeholders, e.g. ``/jobs/:jobid``
    path: str
    response: type[R]
    status: int
    description: str
    #: the JSON body's type (for multipart requests: the ``request`` part's type)
    request: type | None = None
    query: tuple[QueryParameter, ...] = ()
    #: the body is multipart/form-data (a ``request`` JSON part plus files)
    multipart: bool = False
    #: what the response is: JSON (a Struct or list), or text (a ``str`` response)
    content_type: str = "application/json"
    #: error statuses beyond 400/404/500 it may answer
    errors: tuple[int, ...] = ()

    @property
    def path_parameters(self) -> tuple[str, ...]:
        return tuple(p[1:] for p in self.path.split("/") if p.startswith(":"))

    @property
    def operation_id(self) -> str:
        return f"{self.method.lower()}{self.path.replace('/:', '_').replace('/', '_')}"

    def url(self, **path_parameters: Any) -> str:
        """The path with its placeholders filled in."""
        parts = []
        for part in self.path.split("/"):
            if part.startswith(":"):
                parts.append(str(path_parameters[part[1:]]))
            else:
                parts.append(part)
        return "/".join(parts)


CLUSTER_OVERVIEW = EndpointSpec(
    "GET", "/overview", m.ClusterOverviewInfo, 200,
    "Returns an overview over the cluster: TaskManagers, slots and jobs by state.",
)
TASK_MANAGERS = EndpointSpec(
    "GET", "/taskmanagers", m.TaskManagersInfo, 200,
    "Returns an overview over all TaskManagers.",
)
LIST_JOBS = EndpointSpec(
    "GET", "/jobs", m.JobIdsWithStatusOverview, 200,
    "Returns an overview over all jobs and their current state.",
)
SUBMIT_JOB = EndpointSpec(
    "POST", "/jobs", m.JobSubmitResponse, 202,
    "Submits a job. A multipart/form-data request: a 'request' part with the "
    "JobSubmitRequest JSON and one file part per file it names (the serialized JobGraph "
    "and the job's Python files).",
    request=m.JobSubmitRequest, multipart=True,
)
JOBS_OVERVIEW = EndpointSpec(
    "GET", "/jobs/overview", m.MultipleJobsDetails, 200,
    "Returns an overview over all jobs.",
)
JOB_DETAILS = EndpointSpec(
    "GET", "/jobs/:jobid", m.JobDetailsInfo, 200,
    "Returns details of a job: its state, timestamps and vertices.",
)
JOB_EXECUTION_RESULT = EndpointSpec(
    "GET", "/jobs/:jobid/execution-result", m.JobExecutionResultResponse, 200,
    "Returns the result of a job execution: status IN_PROGRESS while it runs, then "
    "COMPLETED with the result (and the failure cause of a failed job).",
)
CANCEL_JOB = EndpointSpec(
    "PATCH", "/jobs/:jobid", m.EmptyResponse, 202,
    "Terminates a job.",
    query=(QueryParameter("mode", "The termination mode: 'cancel' (the default).",
                          choices=("cancel",)),),
)

JOB_EXCEPTIONS = EndpointSpec(
    "GET", "/jobs/:jobid/exceptions", m.JobExceptionsInfo, 200,
    "Returns the failures of a job, newest first: each with its exception, stack trace, "
    "time, task and TaskManager, and the failures that came with it.",
    query=(QueryParameter("maxExceptions", "At most this many entries (the newest)."),),
)

COORDINATION_REQUEST = EndpointSpec(
    "POST", "/jobs/:jobid/coordinators/:operatorid", m.CoordinationResponse, 200,
    "Sends a request to an operator coordinator of a running job and returns its answer "
    "(how execute_and_collect fetches results from a remote cluster).",
    request=m.CoordinationRequest,
)

SAVEPOINT_TRIGGER = EndpointSpec(
    "POST", "/jobs/:jobid/savepoints", m.TriggerResponse, 202,
    "Triggers a savepoint, and optionally cancels the job afterwards. This async operation "
    "returns a 'request-id' to poll at /jobs/:jobid/savepoints/:triggerid.",
    request=m.SavepointTriggerRequest,
)
SAVEPOINT_STATUS = EndpointSpec(
    "GET", "/jobs/:jobid/savepoints/:triggerid", m.SavepointStatusResponse, 200,
    "Returns the status of a savepoint operation (also of a stop-with-savepoint): "
    "IN_PROGRESS, or COMPLETED with the savepoint's location or the failure cause.",
)
STOP_WITH_SAVEPOINT = EndpointSpec(
    "POST", "/jobs/:jobid/stop", m.TriggerResponse, 202,
    "Stops a job with a savepoint; with drain, MAX_WATERMARK is emitted before the last "
    "checkpoint barrier so that all event-time timers fire. Poll the returned 'request-id' "
    "at /jobs/:jobid/savepoints/:triggerid.",
    request=m.StopWithSavepointRequest,
)
CHECKPOINT_TRIGGER = EndpointSpec(
    "POST", "/jobs/:jobid/checkpoints", m.TriggerResponse, 202,
    "Triggers a checkpoint. This async operation returns a 'request-id' to poll at "
    "/jobs/:jobid/checkpoints/:triggerid.",
    request=m.CheckpointTriggerRequest,
)
CHECKPOINT_STATUS = EndpointSpec(
    "GET", "/jobs/:jobid/checkpoints/:triggerid", m.CheckpointStatusResponse, 200,
    "Returns the status of a checkpoint trigger operation: IN_PROGRESS, or COMPLETED with "
    "the checkpoint's id or the failure cause.",
)
SAVEPOINT_DISPOSAL = EndpointSpec(
    "POST", "/savepoint-disposal", m.TriggerResponse, 202,
    "Triggers the disposal of a savepoint (its directory is deleted). Poll the returned "
    "'request-id' at /savepoint-disposal/:triggerid.",
    request=m.SavepointDisposalRequest,
)
SAVEPOINT_DISPOSAL_STATUS = EndpointSpec(
    "GET", "/savepoint-disposal/:triggerid", m.OperationStatusResponse, 200,
    "Returns the status of a savepoint disposal operation.",
)

ALL_SPECS: tuple[EndpointSpec[Any], ...] = (
    CLUSTER_OVERVIEW, TASK_MANAGERS, LIST_JOBS, SUBMIT_JOB, JOBS_OVERVIEW, JOB_DETAILS,
    JOB_EXECUTION_RESULT, CANCEL_JOB, JOB_EXCEPTIONS, COORDINATION_REQUEST, SAVEPOINT_TRIGGER,
    SAVEPOINT_STATUS, STOP_WITH_SAVEPOINT, CHECKPOINT_TRIGGER, CHECKPOINT_STATUS,
    SAVEPOINT_DISPOSAL, SAVEPOINT_DISPOSAL_STATUS,
)

# ---------------------------------------------------------------- checkpoint statistics,
# config and the job's checkpoint metrics; handlers in checkpoint_handlers
CHECKPOINT_STATISTICS = EndpointSpec(
    "GET", "/jobs/:jobid/checkpoints", cm.CheckpointingStatistics, 200,
    "Returns checkpointing statistics for a job: counts, summary statistics over the "
    "completed checkpoints, the latest completed/savepoint/failed/restored and the most "
    "recent checkpoints (web.checkpoints.history).",
)
CHECKPOINT_CONFIG = EndpointSpec(
    "GET", "/jobs/:jobid/checkpoints/config", cm.CheckpointConfigInfo, 200,
    "Returns the checkpointing configuration of a job.",
)
CHECKPOINT_DETAILS = EndpointSpec(
    "GET", "/jobs/:jobid/checkpoints/details/:checkpointid", cm.CheckpointStatistics, 200,
    "Returns details for a checkpoint, with its statistics per vertex.",
)
CHECKPOINT_SUBTASK_DETAILS = EndpointSpec(
    "GET", "/jobs/:jobid/checkpoints/details/:checkpointid/subtasks/:vertexid",
    cm.TaskCheckpointStatisticsWithSubtaskDetails, 200,
    "Returns checkpoint statistics for a task and its subtasks.",
)
JOB_METRICS = EndpointSpec(
    "GET", "/jobs/:jobid/metrics", list[cm.JobMetric], 200,
    "Provides access to job metrics (strom: the checkpoint metrics). Without 'get', the "
    "available metric ids.",
    query=(QueryParameter("get", "Comma-separated list of metric ids to return."),),
)
CHECKPOINT_SPECS: tuple[EndpointSpec[Any], ...] = (
    CHECKPOINT_STATISTICS, CHECKPOINT_CONFIG, CHECKPOINT_DETAILS, CHECKPOINT_SUBTASK_DETAILS,
    JOB_METRICS,
)
ALL_SPECS = ALL_SPECS + CHECKPOINT_SPECS

# ---------------------------------------------------------------- web submit: Flink's /jars
# API for Python job files; handlers in jar_handlers (guarded by web.submit.enable)
from strom.jobmanager.rest import jar_messages as jar_m  # noqa: E402

JAR_UPLOAD = EndpointSpec(
    "POST", "/jars/upload", jar_m.JarUploadResponse, 200,
    "Uploads a Python job file for web submit: multipart/form-data with the file in a part "
    "named 'jarfile' (a .py file). Answers the stored path; its file name is the jar id.",
    multipart=True,
)
JAR_LIST = EndpointSpec(
    "GET", "/jars", jar_m.JarListInfo, 200,
    "Returns the uploaded Python job files.",
)
JAR_DELETE = EndpointSpec(
    "DELETE", "/jars/:jarid", m.EmptyResponse, 200,
    "Deletes an uploaded Python job file.",
)
JAR_RUN = EndpointSpec(
    "POST", "/jars/:jarid/run", jar_m.JarRunResponse, 200,
    "Runs an uploaded Python job file as 'strom run -d' does, against this JobManager, and "
    "answers the id of the job it submitted (400 with the program's output when it fails "
    "before submitting one).",
    request=jar_m.JarRunRequest,
)
JAR_SPECS: tuple[EndpointSpec[Any], ...] = (JAR_UPLOAD, JAR_LIST, JAR_DELETE, JAR_RUN)
ALL_SPECS = ALL_SPECS + JAR_SPECS

# ---------------------------------------------------------------- cluster, JobManager,
# TaskManagers, jobs and vertices (issue 10); handlers in cluster_handlers,
# taskmanager_handlers, vertex_handlers and metric_handlers
_GET = QueryParameter("get", "Comma-separated list of metric ids to return; without it, the "
                      "ids of the available metrics.")
_AGG = QueryParameter("agg", "Comma-separated aggregations: min, max, avg, sum, skew (all "
                      "when left out).", pattern="^(min|max|avg|sum|skew)(,(min|max|avg|sum|skew))*$")
_TEXT = "text/plain"

DASHBOARD_CONFIG = EndpointSpec(
    "GET", "/config", clm.DashboardConfiguration, 200,
    "Returns the configuration of the web UI (refresh interval, time zone, version, "
    "features).",
)
JOBMANAGER_CONFIG = EndpointSpec(
    "GET", "/jobmanager/config", list[clm.ClusterConfigurationEntry], 200,
    "Returns the cluster configuration as key/value entries.",
)
JOBMANAGER_ENVIRONMENT = EndpointSpec(
    "GET", "/jobmanager/environment", clm.EnvironmentInfo, 200,
    "Returns the JobManager's environment: its Python interpreter and sys.path.",
)
JOBMANAGER_LOGS = EndpointSpec(
    "GET", "/jobmanager/logs", clm.LogListInfo, 200,
    "Returns the list of log files in the JobManager's log directory.",
)
JOBMANAGER_LOG_FILE = EndpointSpec(
    "GET", "/jobmanager/logs/:filename", str, 200,
    "Returns a log file of the JobManager's log directory (its last 8 MiB).",
    content_type=_TEXT,
)
JOBMANAGER_LOG = EndpointSpec(
    "GET", "/jobmanager/log", str, 200,
    "Returns the JobManager's log (its last 8 MiB).", content_type=_TEXT,
)
JOBMANAGER_STDOUT = EndpointSpec(
    "GET", "/jobmanager/stdout", str, 200,
    "Returns the JobManager's stdout (strom writes stdout and the log to one file).",
    content_type=_TEXT,
)
JOBMANAGER_METRICS = EndpointSpec(
    "GET", "/jobmanager/metrics", list[clm.Metric], 200,
    "Provides access to JobManager metrics.", query=(_GET,),
)
JOBMANAGER_THREAD_DUMP = EndpointSpec(
    "GET", "/jobmanager/thread-dump", clm.ThreadDumpInfo, 200,
    "Returns the stacks of the JobManager's Python threads.",
)
SHUTDOWN_CLUSTER = EndpointSpec(
    "DELETE", "/cluster", m.EmptyResponse, 200,
    "Shuts the cluster down: the JobManager process stops (its jobs are cancelled).",
    errors=(409,),
)

TASK_MANAGERS_METRICS = EndpointSpec(
    "GET", "/taskmanagers/metrics", list[clm.AggregatedMetric], 200,
    "Provides access to aggregated TaskManager metrics.",
    query=(_GET, _AGG, QueryParameter("taskmanagers", "Comma-separated list of TaskManager "
                                      "ids to aggregate over (all when left out).")),
)
TASK_MANAGER_DETAILS = EndpointSpec(
    "GET", "/taskmanagers/:taskmanagerid", clm.TaskManagerDetailsInfo, 200,
    "Returns details of a TaskManager: slots, hardware, allocated slots and metrics.",
)
TASK_MANAGER_LOGS = EndpointSpec(
    "GET", "/taskmanagers/:taskmanagerid/logs", clm.LogListInfo, 200,
    "Returns the list of log files in the TaskManager's log directory.",
)
TASK_MANAGER_LOG_FILE = EndpointSpec(
    "GET", "/taskmanagers/:taskmanagerid/logs/:filename", str, 200,
    "Returns a log file of the TaskManager's log directory (its last 8 MiB).",
    content_type=_TEXT,
)
TASK_MANAGER_LOG = EndpointSpec(
    "GET", "/taskmanagers/:taskmanagerid/log", str, 200,
    "Returns the TaskManager's log (its last 8 MiB).", content_type=_TEXT,
)
TASK_MANAGER_STDOUT = EndpointSpec(
    "GET", "/taskmanagers/:taskmanagerid/stdout", str, 200,
    "Returns the TaskManager's stdout (strom writes stdout and the log to one file).",
    content_type=_TEXT,
)
TASK_MANAGER_METRICS = EndpointSpec(
    "GET", "/taskmanagers/:taskmanagerid/metrics", list[clm.Metric], 200,
    "Provides access to TaskManager metrics.", query=(_GET,),
)
TASK_MANAGER_THREAD_DUMP = EndpointSpec(
    "GET", "/taskmanagers/:taskmanagerid/thread-dump", clm.ThreadDumpInfo, 200,
    "Returns the stacks of the TaskManager's Python threads.",
)

JOBS_METRICS = EndpointSpec(
    "GET", "/jobs/metrics", list[clm.AggregatedMetric], 200,
    "Provides access to aggregated job metrics.",
    query=(_GET, _AGG, QueryParameter("jobs", "Comma-separated list of job ids to aggregate "
                                      "over (all when left out).")),
)
JOB_STATUS = EndpointSpec(
    "GET", "/jobs/:jobid/status", jm.JobStatusInfo, 200, "Returns the current status of a job.",
)
JOB_PLAN = EndpointSpec(
    "GET", "/jobs/:jobid/plan", jm.JobPlanInfo, 200, "Returns the dataflow plan of a job.",
)
JOB_CONFIG = EndpointSpec(
    "GET", "/jobs/:jobid/config", jm.JobConfigInfo, 200,
    "Returns the configuration of a job.",
)
JOB_ACCUMULATORS = EndpointSpec(
    "GET", "/jobs/:jobid/accumulators", jm.JobAccumulatorsInfo, 200,
    "Returns the accumulators of a job (strom has no user accumulators: empty lists).",
    query=(QueryParameter("includeSerializedValue", "Whether to include serialized "
                          "accumulator values.", kind="boolean"),),
)
JOB_RESCALING = EndpointSpec(
    "PATCH", "/jobs/:jobid/rescaling", m.TriggerResponse, 200,
    "Rescaling a running job is not supported (as in Flink since 1.9): stop it with a "
    "savepoint and run it again from there with a new parallelism.",
    query=(QueryParameter("parallelism", "The new parallelism.", required=True,
                          kind="integer"),),
)
JOB_RESCALING_STATUS = EndpointSpec(
    "GET", "/jobs/:jobid/rescaling/:triggerid", m.OperationStatusResponse, 200,
    "The status of a rescaling operation (there are none: see PATCH /jobs/:jobid/rescaling).",
)

_VERTEX = "/jobs/:jobid/vertices/:vertexid"
VERTEX_DETAILS = EndpointSpec(
    "GET", _VERTEX, jm.VertexDetailsInfo, 200,
    "Returns details of a task, with a summary for each of its subtasks.",
)
VERTEX_SUBTASK_TIMES = EndpointSpec(
    "GET", _VERTEX + "/subtasktimes", jm.SubtasksTimesInfo, 200,
    "Returns when each subtask of a task entered each state.",
)
VERTEX_TASK_MANAGERS = EndpointSpec(
    "GET", _VERTEX + "/taskmanagers", jm.JobVertexTaskManagersInfo, 200,
    "Returns the task's subtasks grouped by the TaskManager they run on.",
)
VERTEX_WATERMARKS = EndpointSpec(
    "GET", _VERTEX + "/watermarks", list[clm.Metric], 200,
    "Returns the current input watermark of each subtask of a task.",
)
VERTEX_METRICS = EndpointSpec(
    "GET", _VERTEX + "/metrics", list[clm.Metric], 200,
    "Provides access to task metrics ('<subtask>.<name>').", query=(_GET,),
)
SUBTASKS_METRICS = EndpointSpec(
    "GET", _VERTEX + "/subtasks/metrics", list[clm.AggregatedMetric], 200,
    "Provides access to aggregated subtask metrics.",
    query=(_GET, _AGG, QueryParameter("subtasks", "Comma-separated subtask indexes or "
                                      "ranges, e.g. 1,3,5-9 (all when left out).",
                                      pattern=r"^\d+(-\d+)?(,\d+(-\d+)?)*$")),
)
SUBTASKS_ACCUMULATORS = EndpointSpec(
    "GET", _VERTEX + "/subtasks/accumulators", jm.SubtasksAllAccumulatorsInfo, 200,
    "Returns the accumulators of every subtask of a task (none in strom).",
)
SUBTASK_DETAILS = EndpointSpec(
    "GET", _VERTEX + "/subtasks/:subtaskindex", jm.SubtaskExecutionAttemptDetailsInfo, 200,
    "Returns details of the current attempt of a subtask.",
)
SUBTASK_ATTEMPT = EndpointSpec(
    "GET", _VERTEX + "/subtasks/:subtaskindex/attempts/:attempt",
    jm.SubtaskExecutionAttemptDetailsInfo, 200,
    "Returns details of an attempt of a subtask (strom keeps the current attempt only).",
)
SUBTASK_METRICS = EndpointSpec(
    "GET", _VERTEX + "/subtasks/:subtaskindex/metrics", list[clm.Metric], 200,
    "Provides access to subtask metrics.", query=(_GET,),
)
VERTEX_ACCUMULATORS = EndpointSpec(
    "GET", _VERTEX + "/accumulators", jm.JobVertexAccumulatorsInfo, 200,
    "Returns the accumulators of a task (none in strom).",
)
VERTEX_BACKPRESSURE = EndpointSpec(
    "GET", _VERTEX + "/backpressure", jm.JobVertexBackPressureInfo, 200,
    "Returns the back pressure of a task and its subtasks: ratio = back-pressured time per "
    "second / 1000; level ok (<= 0.10), low (<= 0.5) or high.",
)

#: the order matters: a fixed path (/jobs/metrics) before the one with a parameter there
#: (/jobs/:jobid) that would match it too
REST_API_SPECS: tuple[EndpointSpec[Any], ...] = (
    DASHBOARD_CONFIG, JOBMANAGER_CONFIG, JOBMANAGER_ENVIRONMENT, JOBMANAGER_LOGS,
    JOBMANAGER_LOG_FILE, JOBMANAGER_LOG, JOBMANAGER_STDOUT, JOBMANAGER_METRICS,
    JOBMANAGER_THREAD_DUMP, SHUTDOWN_CLUSTER,
    TASK_MANAGERS_METRICS, TASK_MANAGER_DETAILS, TASK_MANAGER_LOGS, TASK_MANAGER_LOG_FILE,
    TASK_MANAGER_LOG, TASK_MANAGER_STDOUT, TASK_MANAGER_METRICS, TASK_MANAGER_THREAD_DUMP,
    JOBS_METRICS, JOB_STATUS, JOB_PLAN, JOB_CONFIG, JOB_ACCUMULATORS, JOB_RESCALING,
    JOB_RESCALING_STATUS,
    VERTEX_SUBTASK_TIMES, VERTEX_TASK_MANAGERS, VERTEX_WATERMARKS, VERTEX_METRICS,
    SUBTASKS_METRICS, SUBTASKS_ACCUMULATORS, SUBTASK_METRICS, SUBTASK_ATTEMPT,
    SUBTASK_DETAILS, VERTEX_ACCUMULATORS, VERTEX_BACKPRESSURE, VERTEX_DETAILS,
)
ALL_SPECS = ALL_SPECS + REST_API_SPECS

# ---------------------------------------------------------------- flame graphs; handler in
# flamegraph_handlers
JOB_VERTEX_FLAME_GRAPH = EndpointSpec(
    "GET", "/jobs/:jobid/vertices/:vertexid/flamegraph", VertexFlameGraph, 200,
    "Returns the flame graph of a job vertex (or one of its subtasks) from samples of its "
    "tasks' Python stacks: 'data' is the tree of frames, each counting the samples it was "
    "on the stack in. Without data, 'endTimestamp' says why: -3 the first samples are being "
    "taken (ask again), -2 flame graphs are disabled (rest.flamegraph.enabled), -1 the "
    "vertex or subtask has ended.",
    query=(QueryParameter("type", "Which samples: FULL (the default), ON_CPU (working) or "
                                  "OFF_CPU (waiting).",
                          choices=("FULL", "ON_CPU", "OFF_CPU")),
           QueryParameter("subtaskindex", "Only this subtask (0-based) instead of all.")),
)
FLAME_GRAPH_SPECS: tuple[EndpointSpec[Any], ...] = (JOB_VERTEX_FLAME_GRAPH,)
ALL_SPECS = ALL_SPECS + FLAME_GRAPH_SPECS
__all__ += ["FLAME_GRAPH_SPECS", "JOB_VERTEX_FLAME_GRAPH"]
