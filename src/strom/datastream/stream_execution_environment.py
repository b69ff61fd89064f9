"""StreamExecutionEnvironment: where a program starts, configures and runs its job.

``execute()`` runs the job on the embedded local cluster (the real JobManager and
TaskManager components in this process) and returns when it ends; a failing user function
makes it raise that function's exception.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import warnings
from typing import Any

from strom.common import config_options as opts
from strom.common.checkpointing import CheckpointCoordinatorConfiguration
from strom.common.configuration import Configuration
from strom.common.execution_config import ExecutionConfig
from strom.common.execution_mode import RuntimeExecutionMode
from strom.common.job import JobClient, JobExecutionResult, SavepointRestoreSettings
from strom.datastream._validation import check_parallelism, check_parallelism_or_default
from strom.datastream.checkpoint_config import CheckpointConfig, CheckpointingMode
from strom.datastream.data_stream import CloseableIterator, DataStream
from strom.datastream.slot_sharing_group import SlotSharingGroup
from strom.graph import operator_specs as specs
from strom.graph.job_graph import JobGraph, build_job_graph
from strom.graph.plan import execution_plan_json
from strom.graph.python_dependencies import (
    FILE_DELIMITER,
    PARAM_DELIMITER,
    PIPELINE_CLASSPATHS,
    PIPELINE_JARS,
    PYTHON_ARCHIVES,
    PYTHON_EXECUTABLE,
    PYTHON_FILES,
    PYTHON_REQUIREMENTS,
    PythonDependencies,
    check_archive,
    check_path,
)
from strom.graph.stream_graph import StreamGraph, build_stream_graph
from strom.graph.transformations import SinkTransformation, SourceTransformation, Transformation

__all__ = ["StreamExecutionEnvironment"]

DEFAULT_JOB_NAME = "Flink Streaming Job"
#: records per network buffer (strom's unit of a "buffer"; see taskmanager.memory.segment-size)
DEFAULT_BATCH_SIZE = 1024
#: the embedded cluster warns when a job needs more than this many slots per CPU core
OVERSUBSCRIPTION_WARNING_FACTOR = 4

_context = threading.local()


class PlanPrinted(Exception):
    """``strom info`` took the plan (``_context.plan``) instead of running the job."""

_local_parallelism: int | None = None


def _default_local_parallelism() -> int:
    return _local_parallelism or os.cpu_count() or 1


class StreamExecutionEnvironment:
    """The context in which a streaming program runs (PyFlink's API)."""

    def __init__(self, configuration: Configuration | None = None) -> None:
        self._configuration = Configuration(configuration) if configuration else Configuration()
        opts.validate(self._configuration)
        self._transformations: list[Transformation] = []
        self._execution_config = ExecutionConfig(self._configuration)
        self._slot_sharing_groups: dict[str, SlotSharingGroup] = {}

    @staticmethod
    def get_execution_environment(
        configuration: Configuration | None = None,
    ) -> StreamExecutionEnvironment:
        """A new environment; runs jobs on the embedded local cluster, or on the cluster a
        test fixture (``strom.testing``) installed."""
        context_configuration = getattr(_context, "configuration", None)
        if context_configuration is not None:
            merged = Configuration(context_configuration)
            if configuration is not None:
                merged.add_all(configuration)
            configuration = merged
        env = StreamExecutionEnvironment(configuration)
        cluster = getattr(_context, "cluster", None)
        if cluster is not None:
            env._cluster = cluster
            default_parallelism = getattr(_context, "parallelism", None)
            if default_parallelism and not env._configuration.contains(opts.PARALLELISM_DEFAULT):
                env.set_parallelism(default_parallelism)
        return env

    _cluster: Any = None
    #: execute_and_collect() is submitting: its results come back through this process
    _collecting = False

    # ------------------------------------------------------------ configuration
    def get_config(self) -> ExecutionConfig:
        return self._execution_config

    def configure(self, configuration: Configuration) -> StreamExecutionEnvironment:
        """Apply the given configuration keys on top of the current ones."""
        opts.validate(configuration)
        self._configuration.add_all(configuration)
        return self

    def set_parallelism(self, parallelism: int) -> StreamExecutionEnvironment:
        """The job's default parallelism: a positive integer, or -1 for the system default
        (see :meth:`get_parallelism`)."""
        self._configuration.set(opts.PARALLELISM_DEFAULT,
                                check_parallelism_or_default(parallelism))
        return self

    def get_parallelism(self) -> int:
        """The default parallelism: ``parallelism.default`` when set; otherwise (or when it is
        -1, "the system default"), as in Flink's local environment, the number of CPU cores."""
        if self._configuration.contains(opts.PARALLELISM_DEFAULT):
            parallelism = self._configuration.get_required(opts.PARALLELISM_DEFAULT)
            if parallelism > 0:
                return parallelism
        return _default_local_parallelism()

    @staticmethod
    def set_default_local_parallelism(parallelism: int) -> None:
        """The parallelism of environments whose configuration does not set one."""
        global _local_parallelism
        _local_parallelism = check_parallelism(parallelism)

    @staticmethod
    def get_default_local_parallelism() -> int:
        return _default_local_parallelism()

    def set_max_parallelism(self, max_parallelism: int) -> StreamExecutionEnvironment:
        check_parallelism(max_parallelism, "max parallelism")
        if max_parallelism > 32768:
            raise ValueError(
                f"The max parallelism must be at most 32768, got {max_parallelism}."
            )
        self._configuration.set(opts.MAX_PARALLELISM, max_parallelism)
        return self

    def get_max_parallelism(self) -> int:
        return self._configuration.get(opts.MAX_PARALLELISM) or -1

    def set_runtime_mode(self, execution_mode: RuntimeExecutionMode) -> StreamExecutionEnvironment:
        if not isinstance(execution_mode, RuntimeExecutionMode):
            raise TypeError(
                f"set_runtime_mode() takes a RuntimeExecutionMode (STREAMING, BATCH or "
                f"AUTOMATIC), got {execution_mode!r}"
            )
        self._configuration.set_string(opts.RUNTIME_MODE.key, execution_mode.name)
        return self

    def set_buffer_timeout(self, timeout_millis: int) -> StreamExecutionEnvironment:
        """Flush partially filled network buffers at the latest after this many ms
        (-1 disables the timeout: buffers go out when full or when the task is idle)."""
        if timeout_millis < -1:
            raise ValueError(f"The buffer timeout must be >= -1, got {timeout_millis}")
        if timeout_millis == -1:
            self._configuration.set(opts.BUFFER_TIMEOUT_ENABLED, False)
        else:
            self._configuration.set(opts.BUFFER_TIMEOUT_ENABLED, True)
            self._configuration.set_string(opts.BUFFER_TIMEOUT_INTERVAL.key, f"{timeout_millis} ms")
        return self

    def get_buffer_timeout(self) -> int:
        if not self._configuration.get(opts.BUFFER_TIMEOUT_ENABLED):
            return -1
        return self._configuration.get(opts.BUFFER_TIMEOUT_INTERVAL) or 0

    def disable_operator_chaining(self) -> StreamExecutionEnvironment:
        self._configuration.set(opts.OPERATOR_CHAINING, False)
        return self

    def is_chaining_enabled(self) -> bool:
        return self._configuration.get(opts.OPERATOR_CHAINING) is not False

    def is_chaining_of_operators_with_different_max_parallelism_enabled(self) -> bool:
        """Always true: strom chains operators whatever their max parallelism (Flink's
        default for ``pipeline.operator-chaining.chain-operators-with-different-max-parallelism``)."""
        return True

    def register_slot_sharing_group(
            self, slot_sharing_group: SlotSharingGroup) -> StreamExecutionEnvironment:
        """Give a slot sharing group its resources once; operators then join it by name
        (``slot_sharing_group("name")``). The resources are recorded on the job
        (``JobGraph.slot_sharing_groups``); strom's slots do not enforce them yet."""
        if not isinstance(slot_sharing_group, SlotSharingGroup):
            raise TypeError(
                "register_slot_sharing_group() takes a SlotSharingGroup "
                f"(SlotSharingGroup.builder(name)...build()), got {slot_sharing_group!r}."
            )
        if slot_sharing_group.has_resources():
            self._slot_sharing_groups[slot_sharing_group.get_name()] = slot_sharing_group
        else:
            self._slot_sharing_groups.pop(slot_sharing_group.get_name(), None)
        return self

    def enable_checkpointing(self, interval: int,
                             mode: CheckpointingMode | None = None) -> StreamExecutionEnvironment:
        """Checkpoint the job's state every ``interval`` milliseconds, exactly-once unless
        ``mode`` is ``CheckpointingMode.AT_LEAST_ONCE``."""
        config = self.get_checkpoint_config()
        config.set_checkpoint_interval(interval)
        if mode is not None:
            config.set_checkpointing_mode(mode)
        return self

    def get_checkpoint_config(self) -> CheckpointConfig:
        return CheckpointConfig(self._configuration)

    def get_checkpoint_interval(self) -> int:
        """The checkpoint interval in milliseconds, or -1 when checkpointing is disabled."""
        return self.get_checkpoint_config().get_checkpoint_interval()

    def get_checkpointing_mode(self) -> CheckpointingMode:
        return self.get_checkpoint_config().get_checkpointing_mode()

    def get_checkpointing_consistency_mode(self) -> CheckpointingMode:
        return self.get_checkpointing_mode()

    def is_unaligned_checkpoints_enabled(self) -> bool:
        """Whether checkpoints are unaligned (``execution.checkpointing.unaligned.enabled``)."""
        return self.get_checkpoint_config().is_unaligned_checkpoints_enabled()

    def is_force_unaligned_checkpoints(self) -> bool:
        return self.get_checkpoint_config().is_force_unaligned_checkpoints()

    def set_default_savepoint_directory(self, directory: str) -> StreamExecutionEnvironment:
        """Where savepoints go when they are triggered without a directory (sets
        ``execution.checkpointing.savepoint-dir``; any path or fsspec URL)."""
        self._configuration.set(opts.SAVEPOINT_DIRECTORY, directory)
        return self

    def get_default_savepoint_directory(self) -> str | None:
        """The job's default savepoint directory, or None."""
        return self._configuration.get(opts.SAVEPOINT_DIRECTORY)

    # ------------------------------------------------------------ dependencies
    def add_python_file(self, file_path: str) -> None:
        """Add a Python file, package directory, or zip/wheel/egg the job's functions import.

        Recorded under ``python.files`` (newest first, as PyFlink does) and shipped with the
        job. In the embedded local cluster the job's tasks find it on ``sys.path``: a
        directory itself, an archive itself, and the directory of a single file.
        """
        path = check_path(file_path, "python file")
        self._append_entry(PYTHON_FILES, path, first=True)

    def add_python_archive(self, archive_path: str, target_dir: str | None = None) -> None:
        """Add a zip archive (e.g. a packed virtualenv) to extract in the Python workers'
        working directory, under ``target_dir`` or the archive's name. Recorded under
        ``python.archives``; strom does not extract archives yet (its TaskManagers run in
        this process and see the client's files)."""
        path = check_archive(archive_path)
        if target_dir is not None:
            if not isinstance(target_dir, str) or not target_dir or any(
                    c in target_dir for c in (FILE_DELIMITER, PARAM_DELIMITER, "/", "\\")):
                raise ValueError(
                    "add_python_archive(): target_dir must be a plain directory name (no "
                    f"'/', ',' or '#'), got {target_dir!r}."
                )
            path = f"{path}{PARAM_DELIMITER}{target_dir}"
        self._append_entry(PYTHON_ARCHIVES, path, first=False)

    def set_python_requirements(self, requirements_file_path: str,
                                requirements_cache_dir: str | None = None) -> None:
        """Name a requirements.txt (and optionally a directory of downloaded packages) the
        Python workers install. Recorded under ``python.requirements``; strom does not
        install them yet: install them where the job runs."""
        value = check_path(requirements_file_path, "requirements file", directory=False)
        if requirements_cache_dir is not None:
            cache = check_path(requirements_cache_dir, "requirements cache directory",
                               directory=True)
            value = f"{value}{PARAM_DELIMITER}{cache}"
        self._configuration.set_string(PYTHON_REQUIREMENTS, value)

    def set_python_executable(self, python_exec: str) -> None:
        """The interpreter of the Python workers, e.g. ``"py_env.zip/py_env/bin/python"``
        inside an archive added with add_python_archive (so it is not checked here).
        Recorded under ``python.executable``; strom runs tasks in this interpreter for now."""
        if not isinstance(python_exec, str) or not python_exec:
            raise TypeError(
                f"set_python_executable() takes the interpreter's path (a str), got "
                f"{python_exec!r}."
            )
        self._configuration.set_string(PYTHON_EXECUTABLE, python_exec)

    def add_jars(self, *jars_path: str) -> None:
        """Accepted for PyFlink programs; strom runs no JVM, so jars have no effect."""
        self._record_jvm_paths("add_jars", PIPELINE_JARS, jars_path)

    def add_classpaths(self, *classpaths: str) -> None:
        """Accepted for PyFlink programs; strom runs no JVM, so classpaths have no effect."""
        self._record_jvm_paths("add_classpaths", PIPELINE_CLASSPATHS, classpaths)

    def _append_entry(self, key: str, entry: str, first: bool) -> None:
        entries = [e for e in self._configuration.get_string(key, "").split(FILE_DELIMITER) if e]
        entries = [entry, *entries] if first else [*entries, entry]
        self._configuration.set_string(key, FILE_DELIMITER.join(entries))

    def _record_jvm_paths(self, method: str, key: str, paths: tuple[str, ...]) -> None:
        for path in paths:
            if not isinstance(path, str):
                raise TypeError(f"{method}() takes paths (str), got {path!r}.")
        warnings.warn(
            f"{method}() has no effect in strom: strom runs no JVM and needs no jars or Java "
            f"classes (recorded under '{key}' only). Java connectors and formats are not "
            "available; use strom's connectors (strom.datastream.connectors) instead.",
            UserWarning, stacklevel=3,
        )
        old = [p for p in self._configuration.get_string(key, "").split(";") if p]
        self._configuration.set_string(key, ";".join([*old, *paths]))

    # ------------------------------------------------------------ sources
    def _add(self, transformation: Transformation) -> None:
        self._transformations.append(transformation)

    def from_collection(self, collection: list[Any], type_info: Any = None) -> DataStream:
        """A bounded, non-parallel stream of the given elements, in order.

        The stream holds the elements as they are now: changing the list afterwards (even
        while the job runs) does not change what the job reads. Unlike Flink, which
        serializes the elements here, strom copies only the list, not the elements, and the
        job hands the same objects to your functions without pickling them; a function that
        modifies its input in place modifies your objects.
        """
        from strom.connectors.collection import CollectionSource

        if isinstance(collection, str | bytes) or not hasattr(collection, "__iter__"):
            raise TypeError(f"from_collection() takes a list of elements, got {collection!r}")
        elements = _align_to_type(list(collection), type_info)
        t = SourceTransformation(
            name="Collection Source", output_type=type_info,
            spec=specs.SourceSpec(CollectionSource(elements), None),
            max_source_parallelism=1, bounded=True,
        )
        self._add(t)
        return DataStream(self, t)

    def from_source(self, source: Any, watermark_strategy: Any, source_name: str,
                    type_info: Any = None) -> DataStream:
        """A stream read by a split-based Source (FileSource, NumberSequenceSource, yours)."""
        from strom.datastream.connectors.base import Boundedness, Source

        if not isinstance(source, Source):
            raise TypeError(
                f"from_source() takes a Source (e.g. FileSource, NumberSequenceSource), got "
                f"{source!r}. Use from_collection() for a list."
            )
        if not hasattr(watermark_strategy, "create_watermark_generator"):
            raise TypeError(
                "from_source() needs a WatermarkStrategy, e.g. "
                "WatermarkStrategy.no_watermarks() or for_monotonous_timestamps(); got "
                f"{watermark_strategy!r}"
            )
        t = SourceTransformation(
            name=source_name, output_type=type_info,
            spec=specs.SourceSpec(source, watermark_strategy),
            max_source_parallelism=source.max_parallelism(),
            bounded=source.get_boundedness() is Boundedness.BOUNDED,
        )
        self._add(t)
        return DataStream(self, t)

    def add_source(self, source_func: Any, source_name: str = "Custom Source",
                   type_info: Any = None) -> DataStream:
        raise TypeError(
            "add_source() takes legacy Java SourceFunctions, which strom does not have. "
            "Implement strom.datastream.connectors.Source and use from_source(), or use "
            "from_collection()."
        )

    # ------------------------------------------------------------ graphs
    def _runtime_mode(self) -> str:
        mode = (self._configuration.get(opts.RUNTIME_MODE) or "STREAMING").upper()
        if mode == "AUTOMATIC":
            bounded = all(getattr(t, "bounded", True) for t in self._transformations
                          if isinstance(t, SourceTransformation))
            return "BATCH" if bounded else "STREAMING"
        return mode

    def _stream_graph(self, job_name: str | None) -> StreamGraph:
        name = job_name or self._configuration.get(opts.PIPELINE_NAME) or DEFAULT_JOB_NAME
        return build_stream_graph(
            self._transformations, job_name=str(name),
            default_parallelism=self.get_parallelism(),
            max_parallelism=self.get_max_parallelism(),
            chaining_enabled=self.is_chaining_enabled(),
            runtime_mode=self._runtime_mode(),
            slot_sharing_groups=self._slot_sharing_groups,
        )

    def _job_graph(self, job_name: str | None) -> JobGraph:
        config = self._configuration
        python_dependencies = PythonDependencies.from_configuration(config)
        job_graph = build_job_graph(self._stream_graph(job_name))
        job_graph.python_dependencies = python_dependencies
        job_graph.savepoint_restore_settings = SavepointRestoreSettings.from_configuration(config)
        if job_graph.runtime_mode != "BATCH":
            self._warn_about_unfinishable_file_sinks()
        job_graph.config = {
            "is_batch": job_graph.runtime_mode == "BATCH",
            "auto_watermark_interval": self._execution_config.get_auto_watermark_interval(),
            "buffer_timeout": self.get_buffer_timeout(),
            "batch_size": DEFAULT_BATCH_SIZE,
            "buffers_per_channel": config.get(opts.BUFFERS_PER_CHANNEL),
            "floating_buffers_per_gate": config.get(opts.FLOATING_BUFFERS_PER_GATE),
            "state_backend": config.get(opts.STATE_BACKEND_TYPE),
            "state_backend_options": _state_backend_options(config),
            "job_parameters": self._execution_config.get_global_job_parameters(),
            # sys.path entries for the job's python files (this machine's paths: a remote
            # TaskManager will rewrite them to where it received the files)
            "python_path": python_dependencies.python_path(),
            # restart-strategy.* and jobmanager.execution.failover-strategy as set for the
            # job: the JobMaster's restart settings
            "restart": {
                key: config.get_string(key, "") for key in sorted(config.key_set())
                if opts.option_for_key(key) in opts.RESTART_OPTIONS
            },
        }
        checkpointing = CheckpointCoordinatorConfiguration.from_configuration(config)
        job_graph.checkpoint_config = checkpointing
        # tasks with several input channels align barriers only for exactly-once
        job_graph.config["exactly_once"] = checkpointing.exactly_once
        # the sources' checkpoint barriers are unaligned (savepoints never are)
        job_graph.config["unaligned"] = checkpointing.unaligned
        self._transformations = []
        return job_graph

    def _warn_about_unfinishable_file_sinks(self) -> None:
        """A FileSink finishes its part files on checkpoints or at the end of the input, so
        under an unbounded source without checkpointing it never finishes one (as in Flink)."""
        if self._configuration.get(opts.CHECKPOINTING_INTERVAL) is not None:
            return
        from strom.datastream.connectors.file_system import FileSink

        for sink in self._transformations:
            spec = getattr(sink, "spec", None)
            if not (isinstance(sink, SinkTransformation)
                    and isinstance(getattr(spec, "sink", None), FileSink)):
                continue
            unbounded = _unbounded_sources(sink)
            if unbounded:
                _warn_user(
                    f"The FileSink '{sink.name}' reads from the unbounded source "
                    f"'{unbounded[0].name}' and checkpointing is off, so it will never finish "
                    "a part file: they stay in-progress or pending (hidden '.part-*' files) "
                    "because part files are committed on checkpoints or at the end of a "
                    "bounded input. Use a bounded source, or enable checkpointing "
                    "(env.enable_checkpointing(interval_ms)).",
                    UserWarning,
                )

    def get_execution_plan(self) -> str:
        """The dataflow as the JSON Flink's plan visualizer reads."""
        return execution_plan_json(self._stream_graph(None))

    # ------------------------------------------------------------ execution
    def _local_cluster(self, job_graph: JobGraph, collect: bool = False) -> Any:
        from strom.minicluster import MiniCluster

        task_managers = self._configuration.get(opts.MINICLUSTER_NUM_TASKMANAGERS) or 1
        slots_needed = sum(job_graph.max_parallelism_needed().values())
        cores = os.cpu_count() or 1
        if slots_needed > OVERSUBSCRIPTION_WARNING_FACTOR * cores:
            _warn_user(
                f"Job '{job_graph.name}' needs {slots_needed} task slots but this machine has "
                f"{cores} CPU cores. The embedded local cluster runs one thread or process per "
                "slot: a parallelism far above the cores adds set-up work and switching, not "
                "speed. Lower the parallelism "
                "(env.set_parallelism(), parallelism.default, or strom run -p) to about "
                f"{cores}.",
                UserWarning,
            )
        mode = _local_taskmanager_mode(self._configuration, slots_needed, collect)
        if mode == "process":
            # one slot per process: each slot gets its own interpreter, so its own core
            task_managers, slots = max(task_managers, slots_needed), 1
        else:
            slots = max(1, math.ceil(slots_needed / task_managers))
        ask_timeout_s = (self._configuration.get(opts.ASK_TIMEOUT) or 10_000) / 1000.0
        # strom run shows a local job's progress through the REST API, as for a remote one
        rest_port = 0 if getattr(_context, "on_local_submit", None) is not None else None
        return MiniCluster(task_managers, slots, ask_timeout_s=ask_timeout_s,
                           taskmanagers=mode, rest_port=rest_port,
                           configuration=self._configuration).start()

    def execute_async(self, job_name: str | None = None) -> JobClient:
        """Submit the job and return at once with a JobClient that follows it."""
        if getattr(_context, "plan_only", False):
            _context.plan = self.get_execution_plan()  # strom info prints it
            raise PlanPrinted()
        job_graph = self._job_graph(job_name)
        if self._cluster is not None:
            return self._cluster.submit(job_graph)  # type: ignore[no-any-return]
        cluster = self._local_cluster(job_graph, collect=self._collecting)
        try:
            client = cluster.submit(job_graph)
        except BaseException:
            cluster.stop()
            raise
        from strom.client.local_job_client import LocalJobClient

        local_client = LocalJobClient(client, cluster)
        on_local_submit = getattr(_context, "on_local_submit", None)
        if on_local_submit is not None and cluster.rest_server is not None:
            on_local_submit(local_client, job_graph.name, cluster.rest_url)
        return local_client

    def execute(self, job_name: str | None = None) -> JobExecutionResult:
        """Run the job to its end. A failing user function re-raises here with its own type
        and traceback (a note names the operator)."""
        from strom.client.interrupt import defer_interrupt

        # a Ctrl-C while submitting is held back; the handler stays ours until the try below
        # has run, so a Ctrl-C at any moment after submission cancels the job
        with defer_interrupt() as interrupt:
            client = self.execute_async(job_name)
            interrupted = False
            try:
                interrupt.release()
                return client.get_job_execution_result().result()
            except KeyboardInterrupt:
                # Ctrl-C: cancel, say so, and let the interrupt end the program promptly even
                # when a user function blocks (a second Ctrl-C skips the wait).
                from strom.client.interrupt import cancel_after_interrupt

                interrupted = True
                name = (job_name or self._configuration.get(opts.PIPELINE_NAME)
                        or DEFAULT_JOB_NAME)
                cancel_after_interrupt(client, str(name))
                raise KeyboardInterrupt from None
            finally:
                close = getattr(client, "close", None)
                if close is not None:
                    close(timeout_s=0.0) if interrupted else close()

    def _execute_collect(self, collect_id: str, job_name: str | None,
                         stream_transformation: Transformation) -> CloseableIterator:
        from strom.client.collect import CollectJob
        from strom.runtime.collect import (
            CollectBuffer,
            register_collect_buffer,
            unregister_collect_buffer,
        )

        buffer = CollectBuffer()
        register_collect_buffer(collect_id, buffer)
        try:
            self._collecting = True
            client = self.execute_async(job_name)
        except BaseException:
            unregister_collect_buffer(collect_id)
            raise
        finally:
            self._collecting = False
        # on a remote cluster the results come through the JobMaster, not this process
        collect_results = getattr(client, "collect_results", None)
        source = collect_results(collect_id) if collect_results is not None else buffer
        job = CollectJob(collect_id, source, client)
        return CloseableIterator(job.batches(), job.close)

    def close(self) -> None:
        """Release the environment (nothing stays running between jobs)."""
        self._transformations = []


#: overrides ``execution.local.taskmanagers: auto`` (strom's pytest plugin sets ``thread``)
LOCAL_TASKMANAGERS_ENV = "STROM_LOCAL_TASKMANAGERS"


def _local_taskmanager_mode(configuration: Configuration, slots_needed: int,
                            collect: bool) -> str:
    """``thread`` or ``process``: how the embedded cluster runs the job's TaskManagers."""
    mode: str = configuration.get_required(opts.LOCAL_TASKMANAGERS)
    if mode == "auto":
        override = os.environ.get(LOCAL_TASKMANAGERS_ENV, "").strip().lower()
        if override not in ("", "auto", "thread", "process"):
            raise ValueError(
                f"{LOCAL_TASKMANAGERS_ENV}={override!r} is not a TaskManager mode; use auto, "
                "thread or process.")
        mode = override if override in ("thread", "process") else (
            "process" if slots_needed > 1 else "thread")
    if collect:
        # execute_and_collect() hands results over in this process (no remote collect yet)
        return "thread"
    return mode


def _unbounded_sources(sink: Transformation) -> list[SourceTransformation]:
    """The unbounded sources upstream of ``sink``."""
    found: list[SourceTransformation] = []
    seen: set[int] = set()
    todo = [sink]
    while todo:
        t = todo.pop()
        if t.id in seen:
            continue
        seen.add(t.id)
        if isinstance(t, SourceTransformation) and not t.bounded:
            found.append(t)
        todo.extend(t.inputs)
    return found


def _warn_user(message: str, category: type[Warning]) -> None:
    """Warn, attributing the warning to the first caller outside strom (the user's line)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    level, frame = 2, sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        level += 1
        frame = frame.f_back  # type: ignore[assignment]
    warnings.warn(message, category, stacklevel=level)


def _align_to_type(elements: list[Any], type_info: Any) -> list[Any]:
    """As PyFlink does: with a row type, tuples and lists become Rows with its field names."""
    from strom.common.typeinfo import RowTypeInfo
    from strom.common.types import Row

    if not isinstance(type_info, RowTypeInfo):
        return elements
    names = type_info.get_field_names()
    aligned = []
    for e in elements:
        if isinstance(e, Row):
            aligned.append(e)
        elif isinstance(e, tuple | list):
            if len(e) != len(names):
                raise ValueError(
                    f"from_collection(): element {e!r} has {len(e)} fields but the row type "
                    f"has {len(names)} ({', '.join(names)})."
                )
            aligned.append(Row(**dict(zip(names, e))))
        else:
            raise TypeError(
                f"from_collection(): element {e!r} does not match the row type; give tuples, "
                "lists or Rows."
            )
    return aligned


def _state_backend_options(config: Configuration) -> dict[str, str]:
    """The configuration entries the keyed state backend reads (``state.backend.rocksdb.*``,
    ``io.tmp.dirs`` and whether checkpoints are incremental), as strings in the options'
    syntax."""
    keys = {"io.tmp.dirs", "execution.checkpointing.incremental", "state.backend.incremental"}
    return {
        key: value for key, value in config.to_dict().items()
        if key.startswith("state.backend.rocksdb.") or key in keys
    }
