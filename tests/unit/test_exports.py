"""The public surface, locked: a change here must be deliberate (update this test with it)."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "strom": [
        "__version__",
    ],
    "strom.common": [
        "ByteArraySchema", "CompletableFuture", "ConfigError", "ConfigOption", "ConfigOptions",
        "Configuration",
        "DeserializationSchema", "Duration", "Encoder", "ExecutionConfig", "Instant", "JobClient", "JobExecutionResult", "JobID", "JobStatus",
        "Row", "RowKind", "RuntimeExecutionMode", "SerializationSchema", "SimpleStringSchema",
        "Time",
        "TimestampAssigner", "TypeInformation", "Types", "Watermark", "WatermarkGenerator",
        "WatermarkOutput", "WatermarkStrategy",
    ],
    "strom.common.security": [
        "REST_TOKEN_ENV", "InternalTls", "SecurityConfigError", "auth_headers",
        "client_ssl_context", "internal_tls", "rest_scheme", "rest_server_ssl_context",
        "rest_token", "token_accepted",
    ],
    "strom.datastream": [
        "AggregateFunction", "AllWindowFunction", "AllWindowedStream",
        "BroadcastConnectedStream", "BroadcastProcessFunction", "BroadcastStream",
        "CheckpointConfig", "CheckpointingMode", "CloseableIterator", "CoFlatMapFunction", "CoMapFunction", "CoProcessFunction",
        "ConnectedStreams", "CountWindow", "DataStream", "DataStreamSink",
        "ExternalizedCheckpointRetention", "FilterFunction",
        "FlatMapFunction", "GlobalWindow", "KeySelector", "KeyedBroadcastProcessFunction",
        "KeyedCoProcessFunction", "KeyedProcessFunction", "KeyedStream", "MapFunction",
        "MemorySize", "MergingWindowAssigner", "OutputTag", "Partitioner",
        "ProcessAllWindowFunction", "ProcessFunction", "ProcessWindowFunction", "ReduceFunction",
        "RuntimeContext", "RuntimeExecutionMode", "SinkFunction", "SlotSharingGroup",
        "StreamExecutionEnvironment", "TimeDomain", "TimeWindow", "TimerService", "Trigger",
        "TriggerResult", "Window", "WindowAssigner", "WindowFunction", "WindowedStream",
    ],
    "strom.datastream.slot_sharing_group": [
        "MemorySize", "SlotSharingGroup",
    ],
    "strom.datastream.window": [
        "ContinuousEventTimeTrigger", "ContinuousProcessingTimeTrigger",
        "CountSlidingWindowAssigner", "CountTrigger", "CountTumblingWindowAssigner",
        "CountWindow", "CountWindowSerializer", "DynamicEventTimeSessionWindows",
        "DynamicProcessingTimeSessionWindows", "EventTimeSessionWindows", "EventTimeTrigger",
        "GlobalWindow", "GlobalWindowSerializer", "GlobalWindows", "MergeCallback",
        "MergingWindowAssigner", "NeverTrigger", "OnMergeContext",
        "ProcessingTimeSessionWindows", "ProcessingTimeTrigger", "PurgingTrigger",
        "SessionWindowTimeGapExtractor", "SlidingEventTimeWindows",
        "SlidingProcessingTimeWindows", "TimeWindow", "TimeWindowSerializer", "Trigger",
        "TriggerContext", "TriggerResult", "TumblingEventTimeWindows",
        "TumblingProcessingTimeWindows", "Window", "WindowAssigner", "WindowAssignerContext",
    ],
    "strom.datastream.state": [
        "AggregatingState", "AggregatingStateDescriptor", "AppendingState", "BroadcastState",
        "ListState", "ListStateDescriptor", "MapState", "MapStateDescriptor", "MergingState",
        "OperatorStateStore", "ReadOnlyBroadcastState", "ReducingState",
        "ReducingStateDescriptor", "State", "StateDescriptor", "StateTtlConfig", "ValueState",
        "ValueStateDescriptor",
    ],
    "strom.datastream.connectors": [
        "Boundedness", "BucketAssigner", "Committer", "DefaultRollingPolicy",
        "DeliveryGuarantee", "FileSink", "FileSource", "FileSourceBuilder", "InputStatus",
        "NumberSequenceSource", "OnCheckpointRollingPolicy", "OutputFileConfig", "ReaderOutput",
        "RollingPolicy", "Sink", "SinkWriter", "SinkWriterContext", "Source", "SourceReader",
        "SourceReaderContext", "SourceSplit", "SplitEnumerator", "SplitEnumeratorContext",
        "StreamFormat",
    ],
    "strom.datastream.connectors.file_system": [
        "BucketAssigner", "DefaultRollingPolicy", "FileSink", "FileSource", "FileSourceBuilder",
        "OnCheckpointRollingPolicy", "OutputFileConfig", "RollingPolicy", "StreamFormat",
    ],
    "strom.datastream.connectors.number_seq": [
        "NumberSequenceSource",
    ],
    "strom.testing": [
        "ClusterLeakError", "CollectSink", "Latch", "ManualClock", "MiniClusterFixture",
        "TestingSource",
        "processing_time_deadlines", "settle_processing_time", "wait_until",
    ],
    "strom.testing.process_cluster": [
        "ClusterProcess", "ProcessCluster",
    ],
    "strom.testing.tls": [
        "CertificateFiles", "make_certificates",
    ],
    "strom.testing.zookeeper": [
        "DEFAULT_ZOOKEEPER_JAR", "REQUIRE_ZOOKEEPER_ENV", "ZOOKEEPER_JAR_ENV", "ZooKeeperServer",
        "free_port", "zookeeper_available", "zookeeper_jar",
    ],
    "strom.ha.zookeeper": [
        "ZooKeeperHaServices",
    ],
    "strom.heartbeat": [
        "HeartbeatLoop", "HeartbeatMonitor", "HeartbeatSettings", "TargetLost", "monotonic_ms",
    ],
    "strom.metrics": [
        "Counter", "Distribution", "Meter", "MetricGroup",
    ],
    "strom.state.savepoint": [
        "OperatorInfo", "SavepointReader", "read",
    ],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names(module: str) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(PUBLIC[module])
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name} is exported but missing"
