"""strom's coverage of PyFlink 2.3's public DataStream surface.

``IN_STROM`` lists, per scope (a module's ``__all__`` or a class's public methods), the
PyFlink names strom has; a test fails when strom loses one. ``NOT_IN_STROM`` lists the
others with the reason (README: "PyFlink names not in strom"). When PyFlink's wheel is
unpacked (``make test`` does it; ``STROM_PYFLINK_EXAMPLES`` points into it), a further
test checks the two lists against PyFlink's sources, so a new gap or a stale entry shows.

Run as a script to print the differences: ``python tests/unit/test_pyflink_surface.py``.
PyFlink is never imported: its sources are read with ``ast``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

#: scope → (file in PyFlink's package, class (dotted) or None for the module's ``__all__``,
#: the strom object as "module:attribute.attribute", "" when strom has none)
SCOPES: dict[str, tuple[str, str | None, str]] = {
    "pyflink.datastream": ("datastream/__init__.py", None, "strom.datastream:"),
    "pyflink.common": ("common/__init__.py", None, "strom.common:"),
    "pyflink.common.time": ("common/time.py", None, "strom.common.time:"),
    "pyflink.common.typeinfo": ("common/typeinfo.py", None, "strom.common.typeinfo:"),
    "pyflink.datastream.functions": ("datastream/functions.py", None,
                                     "strom.datastream.functions:"),
    "pyflink.datastream.state": ("datastream/state.py", None, "strom.datastream.state:"),
    "pyflink.datastream.window": ("datastream/window.py", None, "strom.datastream.window:"),
    "pyflink.datastream.connectors": ("datastream/connectors/__init__.py", None,
                                      "strom.datastream.connectors:"),
    "pyflink.datastream.connectors.file_system": (
        "datastream/connectors/file_system.py", None, "strom.datastream.connectors.file_system:"),
    "pyflink.datastream.connectors.number_seq": (
        "datastream/connectors/number_seq.py", None, "strom.datastream.connectors.number_seq:"),
    "StreamExecutionEnvironment": ("datastream/stream_execution_environment.py",
                                   "StreamExecutionEnvironment",
                                   "strom.datastream:StreamExecutionEnvironment"),
    "DataStream": ("datastream/data_stream.py", "DataStream", "strom.datastream:DataStream"),
    "KeyedStream": ("datastream/data_stream.py", "KeyedStream", "strom.datastream:KeyedStream"),
    "WindowedStream": ("datastream/data_stream.py", "WindowedStream",
                       "strom.datastream:WindowedStream"),
    "AllWindowedStream": ("datastream/data_stream.py", "AllWindowedStream",
                          "strom.datastream:AllWindowedStream"),
    "ConnectedStreams": ("datastream/data_stream.py", "ConnectedStreams",
                         "strom.datastream:ConnectedStreams"),
    "BroadcastStream": ("datastream/data_stream.py", "BroadcastStream",
                        "strom.datastream:BroadcastStream"),
    "BroadcastConnectedStream": ("datastream/data_stream.py", "BroadcastConnectedStream",
                                 "strom.datastream:BroadcastConnectedStream"),
    "DataStreamSink": ("datastream/data_stream.py", "DataStreamSink",
                       "strom.datastream:DataStreamSink"),
    "CheckpointConfig": ("datastream/checkpoint_config.py", "CheckpointConfig",
                         "strom.datastream:CheckpointConfig"),
    "ExecutionConfig": ("common/execution_config.py", "ExecutionConfig",
                        "strom.common:ExecutionConfig"),
    "RuntimeContext": ("datastream/functions.py", "RuntimeContext",
                       "strom.datastream:RuntimeContext"),
    "SlotSharingGroup": ("datastream/slot_sharing_group.py", "SlotSharingGroup",
                         "strom.datastream:SlotSharingGroup"),
    "SlotSharingGroup.Builder": ("datastream/slot_sharing_group.py", "SlotSharingGroup.Builder",
                                 "strom.datastream:SlotSharingGroup.Builder"),
    "MemorySize": ("datastream/slot_sharing_group.py", "MemorySize",
                   "strom.datastream:MemorySize"),
    "ContinuousEventTimeTrigger": ("datastream/window.py", "ContinuousEventTimeTrigger",
                                   "strom.datastream.window:ContinuousEventTimeTrigger"),
    "ContinuousProcessingTimeTrigger": (
        "datastream/window.py", "ContinuousProcessingTimeTrigger",
        "strom.datastream.window:ContinuousProcessingTimeTrigger"),
}

#: PyFlink's file → the strom module whose classes of the same name take the same
#: constructor parameters (PyFlink's classes are read from the file, the strom module's
#: attribute of that name is compared when it exists)
CONSTRUCTOR_MODULES: dict[str, str] = {
    "common/typeinfo.py": "strom.common.typeinfo",
    "common/time.py": "strom.common.time",
    "common/types.py": "strom.common.types",
    "common/configuration.py": "strom.common.configuration",
    "common/config_options.py": "strom.common.config_options",
    "common/serialization.py": "strom.common.serialization",
    "common/watermark_strategy.py": "strom.common.watermark_strategy",
    "common/execution_config.py": "strom.common",
    "datastream/window.py": "strom.datastream.window",
    "datastream/state.py": "strom.datastream.state",
    "datastream/functions.py": "strom.datastream.functions",
    "datastream/output_tag.py": "strom.datastream.output_tag",
    "datastream/slot_sharing_group.py": "strom.datastream",
    "datastream/connectors/file_system.py": "strom.datastream.connectors.file_system",
    "datastream/connectors/number_seq.py": "strom.datastream.connectors.number_seq",
}

#: PyFlink constructors that take a Java object or class name, which strom builds itself
JAVA_CONSTRUCTORS = {"SinkFunction"}

IN_STROM: dict[str, list[str]] = {
    "pyflink.common.time": ["Duration", "Instant", "Time"],
    "pyflink.common.typeinfo": ["TypeInformation", "Types"],
    "pyflink.datastream.functions": [
        "AggregateFunction", "AllWindowFunction", "BroadcastProcessFunction",
        "CoFlatMapFunction", "CoMapFunction", "CoProcessFunction", "FilterFunction",
        "FlatMapFunction", "KeySelector", "KeyedBroadcastProcessFunction",
        "KeyedCoProcessFunction", "KeyedProcessFunction", "MapFunction", "Partitioner",
        "ProcessAllWindowFunction", "ProcessFunction", "ProcessWindowFunction",
        "ReduceFunction", "RuntimeContext", "SinkFunction", "TimerService", "WindowFunction",
    ],
    "pyflink.datastream.state": [
        "AggregatingState", "AggregatingStateDescriptor", "BroadcastState", "ListState",
        "ListStateDescriptor", "MapState", "MapStateDescriptor", "OperatorStateStore",
        "ReadOnlyBroadcastState", "ReducingState", "ReducingStateDescriptor", "StateTtlConfig",
        "ValueState", "ValueStateDescriptor",
    ],
    "pyflink.datastream.window": [
        "ContinuousEventTimeTrigger", "ContinuousProcessingTimeTrigger",
        "CountSlidingWindowAssigner", "CountTrigger", "CountTumblingWindowAssigner",
        "CountWindow", "CountWindowSerializer", "DynamicEventTimeSessionWindows",
        "DynamicProcessingTimeSessionWindows", "EventTimeSessionWindows", "EventTimeTrigger",
        "GlobalWindow", "GlobalWindowSerializer", "GlobalWindows", "MergingWindowAssigner",
        "NeverTrigger", "ProcessingTimeSessionWindows", "ProcessingTimeTrigger",
        "PurgingTrigger", "SessionWindowTimeGapExtractor", "SlidingEventTimeWindows",
        "SlidingProcessingTimeWindows", "TimeWindow", "TimeWindowSerializer", "Trigger",
        "TriggerResult", "TumblingEventTimeWindows", "TumblingProcessingTimeWindows", "Window",
        "WindowAssigner",
    ],
    "pyflink.datastream.connectors": ["DeliveryGuarantee", "Sink", "Source"],
    "pyflink.datastream.connectors.file_system": [
        "BucketAssigner", "FileSink", "FileSource", "FileSourceBuilder", "OutputFileConfig",
        "RollingPolicy", "StreamFormat",
    ],
    "pyflink.datastream.connectors.number_seq": ["NumberSequenceSource"],
    "pyflink.datastream": [
        "AggregateFunction", "BroadcastConnectedStream", "BroadcastProcessFunction",
        "BroadcastStream", "CheckpointConfig", "CheckpointingMode", "CoFlatMapFunction",
        "CoMapFunction", "CoProcessFunction", "ConnectedStreams", "CountWindow", "DataStream",
        "DataStreamSink", "ExternalizedCheckpointRetention", "FilterFunction",
        "FlatMapFunction", "GlobalWindow", "KeySelector", "KeyedBroadcastProcessFunction",
        "KeyedCoProcessFunction", "KeyedProcessFunction", "KeyedStream", "MapFunction",
        "MemorySize", "MergingWindowAssigner", "OutputTag", "Partitioner", "ProcessFunction",
        "ProcessWindowFunction", "ReduceFunction", "RuntimeContext", "RuntimeExecutionMode",
        "SinkFunction", "SlotSharingGroup", "StreamExecutionEnvironment", "TimeDomain",
        "TimeWindow", "TimerService", "Trigger", "TriggerResult", "Window", "WindowAssigner",
        "WindowFunction", "WindowedStream"
    ],
    "pyflink.common": [
        "ByteArraySchema", "CompletableFuture", "ConfigOption", "ConfigOptions", "Configuration",
        "DeserializationSchema", "Duration", "Encoder", "ExecutionConfig", "Instant",
        "JobClient", "JobExecutionResult", "JobID", "JobStatus", "Row", "RowKind",
        "SerializationSchema", "SimpleStringSchema", "Time", "TypeInformation", "Types",
        "WatermarkStrategy"
    ],
    "StreamExecutionEnvironment": [
        "add_classpaths", "add_jars", "add_python_archive", "add_python_file", "add_source",
        "close", "configure", "disable_operator_chaining", "enable_checkpointing", "execute",
        "execute_async", "from_collection", "from_source", "get_buffer_timeout",
        "get_checkpoint_config", "get_checkpoint_interval", "get_checkpointing_consistency_mode",
        "get_checkpointing_mode", "get_config",
        "get_default_local_parallelism", "get_default_savepoint_directory",
        "get_execution_environment", "get_execution_plan",
        "get_max_parallelism", "get_parallelism", "is_chaining_enabled",
        "is_chaining_of_operators_with_different_max_parallelism_enabled",
        "is_force_unaligned_checkpoints", "is_unaligned_checkpoints_enabled",
        "register_slot_sharing_group", "set_buffer_timeout", "set_default_local_parallelism",
        "set_default_savepoint_directory",
        "set_max_parallelism", "set_parallelism", "set_python_executable",
        "set_python_requirements", "set_runtime_mode"
    ],
    "DataStream": [
        "add_sink", "assign_timestamps_and_watermarks", "broadcast", "connect",
        "disable_chaining", "execute_and_collect", "filter", "flat_map", "force_non_parallel",
        "forward", "get_execution_config", "get_execution_environment", "get_name",
        "get_side_output", "get_type", "key_by", "map", "name", "partition_custom", "print",
        "process", "project", "rebalance", "rescale", "set_buffer_timeout", "set_description",
        "set_max_parallelism", "set_parallelism", "set_uid_hash", "shuffle", "sink_to",
        "slot_sharing_group", "start_new_chain", "uid", "union", "window_all"
    ],
    "KeyedStream": [
        "add_sink", "assign_timestamps_and_watermarks", "broadcast", "connect", "count_window",
        "disable_chaining", "execute_and_collect", "filter", "flat_map", "force_non_parallel",
        "forward", "get_execution_config", "get_execution_environment", "get_name",
        "get_side_output", "get_type", "key_by", "map", "max", "max_by", "min", "min_by",
        "name", "partition_custom", "print", "process", "project", "rebalance", "reduce",
        "rescale", "set_buffer_timeout", "set_description", "set_max_parallelism",
        "set_parallelism", "set_uid_hash", "shuffle", "sink_to", "slot_sharing_group",
        "start_new_chain", "sum", "uid", "union", "window", "window_all"
    ],
    "WindowedStream": [
        "aggregate", "allowed_lateness", "apply", "get_execution_environment", "get_input_type",
        "process", "reduce", "side_output_late_data", "trigger"
    ],
    "AllWindowedStream": [
        "aggregate", "allowed_lateness", "apply", "get_execution_environment", "get_input_type",
        "process", "reduce", "side_output_late_data", "trigger"
    ],
    "ConnectedStreams": [
        "flat_map", "key_by", "map", "process"
    ],
    "BroadcastStream": [
    ],
    "BroadcastConnectedStream": [
        "process"
    ],
    "DataStreamSink": [
        "disable_chaining", "name", "set_description", "set_parallelism", "set_uid_hash",
        "slot_sharing_group", "uid"
    ],
    "CheckpointConfig": [
        "disable_unaligned_checkpoints", "enable_unaligned_checkpoints",
        "get_aligned_checkpoint_timeout", "get_alignment_timeout", "get_checkpoint_interval",
        "get_checkpoint_timeout", "get_checkpointing_mode",
        "get_externalized_checkpoint_retention", "get_max_concurrent_checkpoints",
        "get_min_pause_between_checkpoints", "get_tolerable_checkpoint_failure_number",
        "is_checkpointing_enabled", "is_externalized_checkpoints_enabled",
        "is_fail_on_checkpointing_errors", "is_force_unaligned_checkpoints",
        "is_unaligned_checkpoints_enabled", "set_aligned_checkpoint_timeout",
        "set_alignment_timeout", "set_checkpoint_interval", "set_checkpoint_timeout",
        "set_checkpointing_mode", "set_externalized_checkpoint_retention",
        "set_fail_on_checkpointing_errors", "set_force_unaligned_checkpoints",
        "set_max_concurrent_checkpoints", "set_min_pause_between_checkpoints",
        "set_tolerable_checkpoint_failure_number",
    ],
    "ExecutionConfig": [
        "disable_object_reuse", "enable_object_reuse", "get_auto_watermark_interval",
        "get_global_job_parameters", "get_latency_tracking_interval", "get_max_parallelism",
        "get_parallelism", "is_object_reuse_enabled", "set_auto_watermark_interval",
        "set_global_job_parameters", "set_latency_tracking_interval", "set_max_parallelism",
        "set_parallelism"
    ],
    "RuntimeContext": [
        "get_aggregating_state", "get_attempt_number", "get_index_of_this_subtask",
        "get_job_parameter", "get_list_state", "get_map_state",
        "get_max_number_of_parallel_subtasks", "get_metrics_group",
        "get_number_of_parallel_subtasks", "get_reducing_state", "get_state", "get_task_name",
        "get_task_name_with_subtasks"
    ],
    "SlotSharingGroup": [
        "builder", "get_cpu_cores", "get_external_resources", "get_managed_memory", "get_name",
        "get_task_heap_memory", "get_task_off_heap_memory"
    ],
    "SlotSharingGroup.Builder": [
        "build", "set_cpu_cores", "set_external_resource", "set_managed_memory",
        "set_managed_memory_mb", "set_task_heap_memory", "set_task_heap_memory_mb",
        "set_task_off_heap_memory", "set_task_off_heap_memory_mb"
    ],
    "MemorySize": [
        "get_bytes", "get_gibi_bytes", "get_kibi_bytes", "get_mebi_bytes", "get_tebi_bytes",
        "of_mebi_bytes"
    ],
    "ContinuousEventTimeTrigger": [
        "can_merge", "clear", "of", "on_element", "on_event_time", "on_merge",
        "on_processing_time", "register_next_fire_timestamp"
    ],
    "ContinuousProcessingTimeTrigger": [
        "can_merge", "clear", "of", "on_element", "on_event_time", "on_merge",
        "on_processing_time", "register_next_fire_timestamp"
    ],
}

STATE_OBJECTS = ("PyFlink 2.x has no method that takes a state backend or checkpoint storage "
                 "object; set state.backend.type and execution.checkpointing.* keys")
CHANGELOG = "the changelog state backend is not implemented"
ASYNC_IO = "async I/O is not implemented yet"
RESTARTS = ("PyFlink 2.x has no method that takes a restart strategy configuration; set the "
            "restart-strategy.* keys")
JAVA_ONLY = "wraps a Java object or JVM feature; strom runs no JVM"
JAVA_SERIALIZERS = "Java serializers (Kryo, Avro, POJO); strom pickles Python values"
LEGACY = "legacy or deprecated in Flink"
NOT_YET = "not implemented yet"

#: scope → {name: reason}
NOT_IN_STROM: dict[str, dict[str, str]] = {
    "pyflink.datastream": {
        **dict.fromkeys(["AsyncDataStream", "AsyncFunction", "AsyncRetryPredicate",
                         "AsyncRetryStrategy"], ASYNC_IO),
        **dict.fromkeys(["CheckpointStorage",
                         "CustomCheckpointStorage", "CustomStateBackend",
                         "EmbeddedRocksDBStateBackend",
                         "FileSystemCheckpointStorage", "HashMapStateBackend",
                         "JobManagerCheckpointStorage", "PredefinedOptions", "StateBackend"],
                        STATE_OBJECTS),
        "SourceFunction": LEGACY,
    },
    "pyflink.common": {
        "AssignerWithPeriodicWatermarksWrapper": JAVA_ONLY,
        "InputDependencyConstraint": LEGACY,
        "RestartStrategies": RESTARTS,
        "RestartStrategyConfiguration": RESTARTS,
        "TypeSerializer": JAVA_SERIALIZERS,
    },
    "pyflink.datastream.functions": {
        **dict.fromkeys(["AsyncFunction", "AsyncFunctionDescriptor", "AsyncRetryPredicate",
                         "AsyncRetryStrategy"], ASYNC_IO),
        "BaseBroadcastProcessFunction": NOT_YET,
        "SourceFunction": LEGACY,
    },
    "pyflink.datastream.connectors.file_system": {
        "BulkFormat": JAVA_ONLY,
        "FileEnumeratorProvider": JAVA_ONLY,
        "FileSplitAssignerProvider": JAVA_ONLY,
        "FileCompactStrategy": NOT_YET,
        "FileCompactor": NOT_YET,
        "StreamingFileSink": LEGACY,
    },
    "StreamExecutionEnvironment": {
        "create_input": JAVA_ONLY,
        "register_cached_file": NOT_YET,
        **dict.fromkeys(["enable_changelog_state_backend", "is_changelog_state_backend_enabled"],
                        CHANGELOG),
    },
    "DataStream": {"cache": NOT_YET},
    "KeyedStream": {"cache": NOT_YET},
    "ExecutionConfig": {
        **dict.fromkeys([
            "disable_closure_cleaner", "disable_force_avro", "disable_force_kryo",
            "disable_generic_types", "enable_closure_cleaner", "enable_force_avro",
            "enable_force_kryo", "enable_generic_types", "get_default_kryo_serializer_classes",
            "get_registered_kryo_types", "get_registered_pojo_types",
            "has_generic_types_disabled", "is_closure_cleaner_enabled", "is_force_avro_enabled",
            "is_force_kryo_enabled",
        ], JAVA_SERIALIZERS),
        **dict.fromkeys(["disable_auto_generated_uids", "enable_auto_generated_uids",
                         "has_auto_generated_uids_enabled", "is_use_snapshot_compression",
                         "set_use_snapshot_compression"], NOT_YET),
        **dict.fromkeys(["get_task_cancellation_interval", "get_task_cancellation_timeout",
                         "set_task_cancellation_interval", "set_task_cancellation_timeout"],
                        NOT_YET),
    },
    "SlotSharingGroup": {"get_java_slot_sharing_group": JAVA_ONLY},
    "MemorySize": {"get_java_memory_size": JAVA_ONLY},
}


# ---------------------------------------------------------------- reading both sides
def strom_object(scope: str) -> Any:
    target = SCOPES[scope][2]
    if not target:
        return None
    module, _, attributes = target.partition(":")
    obj: Any = importlib.import_module(module)
    for attribute in filter(None, attributes.split(".")):
        obj = getattr(obj, attribute)
    return obj


def strom_has(scope: str, name: str) -> bool:
    obj = strom_object(scope)
    if obj is None:
        return False
    if SCOPES[scope][1] is None:  # a module: its public surface is __all__
        return name in obj.__all__
    return hasattr(obj, name)


def _classes(tree: ast.Module | ast.ClassDef, prefix: str = "") -> dict[str, ast.ClassDef]:
    found: dict[str, ast.ClassDef] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            found[prefix + node.name] = node
            found.update(_classes(node, f"{prefix}{node.name}."))
    return found


def _public_methods(classes: dict[str, ast.ClassDef], name: str) -> dict[str, ast.FunctionDef]:
    node = classes[name]
    methods: dict[str, ast.FunctionDef] = {}
    for base in node.bases:  # bases in the same file (KeyedStream extends DataStream)
        if isinstance(base, ast.Name) and base.id in classes:
            methods.update(_public_methods(classes, base.id))
    for f in node.body:
        if isinstance(f, ast.FunctionDef) and not f.name.startswith("_"):
            methods[f.name] = f
    return methods


def pyflink_names(pyflink_dir: Path, scope: str) -> set[str]:
    """PyFlink's public names in ``scope``, read from its sources."""
    path, cls, _ = SCOPES[scope]
    tree = ast.parse((pyflink_dir / path).read_text(encoding="utf-8"))
    if cls is not None:
        return set(_public_methods(_classes(tree), cls))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    raise AssertionError(f"{path} in PyFlink has no __all__")


def parameter_mismatches(pyflink_dir: Path, scope: str) -> list[str]:
    """Methods strom has whose parameters differ from PyFlink's: PyFlink's parameter names
    must lead strom's, in order, so that positional and keyword calls port unchanged."""
    path, cls, _ = SCOPES[scope]
    obj = strom_object(scope)
    if cls is None or obj is None:
        return []
    tree = ast.parse((pyflink_dir / path).read_text(encoding="utf-8"))
    mismatches = []
    for name, node in sorted(_public_methods(_classes(tree), cls).items()):
        if not hasattr(obj, name):
            continue
        args = node.args
        theirs = [a.arg for a in args.posonlyargs + args.args if a.arg not in ("self", "cls")]
        parameters = inspect.signature(getattr(obj, name)).parameters.values()
        kinds = {p.kind for p in parameters}
        if kinds == {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD} or (
                kinds == {inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.VAR_POSITIONAL,
                          inspect.Parameter.VAR_KEYWORD} and len(parameters) == 3):
            continue  # a method that refuses (KeyedStream.shuffle and the like)
        ours = [p.name for p in parameters if p.name not in ("self", "cls")
                and p.kind is not inspect.Parameter.VAR_KEYWORD]
        ours_named = [p for p in ours if p != (getattr(args.vararg, "arg", None))]
        if theirs != ours_named[:len(theirs)] or (args.vararg is not None and not any(
                p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)):
            mismatches.append(f"{name}: PyFlink {theirs}, strom {ours}")
    return mismatches


def _constructor_parameters(classes: dict[str, ast.ClassDef], name: str) -> list[str] | None:
    """PyFlink's ``__init__`` parameters of ``name`` (inherited from a base in the same file,
    none for other bases), or None when the constructor wraps a Java object (``j_...`` first)."""
    for f in classes[name].body:
        if isinstance(f, ast.FunctionDef) and f.name == "__init__":
            names = [a.arg for a in f.args.posonlyargs + f.args.args + f.args.kwonlyargs
                     if a.arg != "self"]
            if f.args.vararg is not None:
                names.append("*" + f.args.vararg.arg)
            if names and names[0].startswith("j_"):
                return None
            return [n for n in names if not n.startswith("j_")]
    for base in classes[name].bases:
        if isinstance(base, ast.Name) and base.id in classes:
            return _constructor_parameters(classes, base.id)
    return []


def constructor_mismatches(pyflink_dir: Path) -> list[str]:
    """Classes whose constructor parameters differ from PyFlink's: PyFlink's names must lead
    strom's, in order, so ``RowTypeInfo(field_types=...)`` ports unchanged."""
    mismatches = []
    for path, module_name in sorted(CONSTRUCTOR_MODULES.items()):
        module = importlib.import_module(module_name)
        classes = _classes(ast.parse((pyflink_dir / path).read_text(encoding="utf-8")))
        for name in sorted(classes):
            obj: Any = module
            for attribute in name.split("."):
                obj = getattr(obj, attribute, None)
            if (not isinstance(obj, type) or name.rpartition(".")[2].startswith("_")
                    or name in JAVA_CONSTRUCTORS or issubclass(obj, Enum)):
                continue
            theirs = _constructor_parameters(classes, name)
            if theirs is None:
                continue
            parameters = [p for p in inspect.signature(obj).parameters.values()
                          if p.kind is not inspect.Parameter.VAR_KEYWORD]
            ours = [("*" if p.kind is inspect.Parameter.VAR_POSITIONAL else "") + p.name
                    for p in parameters]
            if theirs != ours[:len(theirs)]:
                mismatches.append(f"{path} {name}: PyFlink {theirs}, strom {ours}")
    return mismatches


def find_pyflink() -> Path | None:
    """PyFlink's unpacked package: from STROM_PYFLINK_EXAMPLES (its examples directory), or
    where ``make test`` unpacks the wheel."""
    candidates = []
    examples = os.environ.get("STROM_PYFLINK_EXAMPLES")
    if examples:
        candidates.append(Path(examples).parent)
    root = Path(__file__).resolve().parents[2]
    candidates += sorted(root.glob(".venv/pyflink-*/wheel/pyflink"))
    for candidate in candidates:
        if (candidate / "datastream" / "__init__.py").is_file():
            return candidate
    return None


# ---------------------------------------------------------------- tests
@pytest.mark.parametrize("scope", sorted(IN_STROM))
def test_strom_keeps_the_pyflink_names_it_has(scope: str) -> None:
    lost = [name for name in IN_STROM[scope] if not strom_has(scope, name)]
    assert not lost, f"strom lost PyFlink names in {scope}: {lost}"


@pytest.mark.parametrize("scope", sorted(NOT_IN_STROM))
def test_names_listed_as_missing_are_missing(scope: str) -> None:
    present = [name for name in NOT_IN_STROM[scope] if strom_has(scope, name)]
    assert not present, (
        f"strom now has {present} in {scope}: move them from NOT_IN_STROM to IN_STROM "
        "(and out of README's 'PyFlink names not in strom')."
    )
    assert not set(NOT_IN_STROM[scope]) & set(IN_STROM.get(scope, []))


@pytest.mark.parametrize("scope", sorted(SCOPES))
def test_the_lists_cover_pyflink_exactly(scope: str) -> None:
    pyflink_dir = find_pyflink()
    if pyflink_dir is None:
        pytest.skip("PyFlink's wheel is not unpacked (run `make test`, or set "
                    "STROM_PYFLINK_EXAMPLES to its pyflink/examples directory)")
    pyflink = pyflink_names(pyflink_dir, scope)
    listed = set(IN_STROM.get(scope, [])) | set(NOT_IN_STROM.get(scope, {}))
    assert sorted(pyflink - listed) == [], f"PyFlink names of {scope} in neither list"
    assert sorted(listed - pyflink) == [], f"listed names of {scope} that PyFlink lacks"


@pytest.mark.parametrize("scope", sorted(s for s, (_, cls, obj) in SCOPES.items() if cls and obj))
def test_methods_take_pyflinks_parameters(scope: str) -> None:
    pyflink_dir = find_pyflink()
    if pyflink_dir is None:
        pytest.skip("PyFlink's wheel is not unpacked (run `make test`, or set "
                    "STROM_PYFLINK_EXAMPLES to its pyflink/examples directory)")
    assert parameter_mismatches(pyflink_dir, scope) == []


def test_constructors_take_pyflinks_parameters() -> None:
    pyflink_dir = find_pyflink()
    if pyflink_dir is None:
        pytest.skip("PyFlink's wheel is not unpacked (run `make test`, or set "
                    "STROM_PYFLINK_EXAMPLES to its pyflink/examples directory)")
    assert constructor_mismatches(pyflink_dir) == []


def test_type_information_constructors_take_pyflinks_keywords() -> None:
    """Keyword calls written for PyFlink build the same types as ``Types``."""
    from strom.common.typeinfo import (
        LocalTimeTypeInfo,
        MapTypeInfo,
        RowTypeInfo,
        SqlTimeTypeInfo,
        TupleTypeInfo,
        Types,
    )

    assert RowTypeInfo(field_types=[Types.INT()], field_names=["a"]) == Types.ROW_NAMED(
        ["a"], [Types.INT()])
    assert TupleTypeInfo(field_types=[Types.INT()]) == Types.TUPLE([Types.INT()])
    assert MapTypeInfo(key_type_info=Types.STRING(), value_type_info=Types.INT()) == Types.MAP(
        Types.STRING(), Types.INT())
    local_date = LocalTimeTypeInfo(time_type=LocalTimeTypeInfo.TimeType.LOCAL_DATE)
    assert local_date == Types.LOCAL_DATE()
    assert Types.LOCAL_DATE_TIME() == LocalTimeTypeInfo(
        LocalTimeTypeInfo.TimeType.LOCAL_DATE_TIME)
    assert SqlTimeTypeInfo.TIMESTAMP() == Types.SQL_TIMESTAMP()
    with pytest.raises(TypeError, match=r"takes a LocalTimeTypeInfo\.TimeType"):
        LocalTimeTypeInfo("LocalDate")  # type: ignore[arg-type]


def test_the_surface_check_reads_pyflink_and_sees_a_gap() -> None:
    """The comparison itself: a name strom lacks shows as missing, one it has does not."""
    assert strom_has("StreamExecutionEnvironment", "add_python_file")
    assert not strom_has("StreamExecutionEnvironment", "create_input")
    assert strom_has("pyflink.datastream", "SlotSharingGroup")
    assert not strom_has("pyflink.datastream", "_validation")  # modules: __all__ only


def differences(pyflink_dir: Path) -> dict[str, dict[str, str]]:
    """Per scope, PyFlink's names strom lacks, with the listed reason ("unlisted" if none)."""
    result = {}
    for scope in SCOPES:
        missing = sorted(n for n in pyflink_names(pyflink_dir, scope) if not strom_has(scope, n))
        if missing:
            reasons = NOT_IN_STROM.get(scope, {})
            result[scope] = {name: reasons.get(name, "unlisted") for name in missing}
    return result


if __name__ == "__main__":
    found = Path(sys.argv[1]) if len(sys.argv) > 1 else find_pyflink()
    if found is None:
        sys.exit("PyFlink's package not found: give its directory (…/wheel/pyflink).")
    for scope, missing in differences(found).items():
        print(f"{scope}:")
        for name, reason in missing.items():
            print(f"  {name:45} {reason}")
