"""Locks the public surface of strom.common: a change here must be deliberate."""

import strom.common

EXPECTED = {
    "ByteArraySchema",
    "ConfigError",
    "ConfigOption",
    "Configuration",
    "Duration",
    "Encoder",
    "ExecutionConfig",
    "Instant",
    "JobClient",
    "JobExecutionResult",
    "JobID",
    "JobStatus",
    "Row",
    "RowKind",
    "RuntimeExecutionMode",
    "SimpleStringSchema",
    "Time",
    "TimestampAssigner",
    "TypeInformation",
    "Types",
    "Watermark",
    "WatermarkGenerator",
    "WatermarkOutput",
    "WatermarkStrategy",
}


def test_public_surface() -> None:
    assert set(strom.common.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(strom.common, name).__name__ == name
