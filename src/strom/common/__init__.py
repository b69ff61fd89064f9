"""Common API of strom (PyFlink's ``pyflink.common``): configuration, time, types, rows,
watermark strategies, serialization and job handles. ``CompletableFuture`` is
``concurrent.futures.Future``: what strom's JobClient returns where PyFlink's returns its
CompletableFuture (same methods: ``result``, ``done``, ``cancel``, ``exception``).

The public surface is this module's ``__all__``; submodules hold the implementations.
"""

from concurrent.futures import Future as CompletableFuture

from strom.common.config_options import ConfigError, ConfigOption
from strom.common.config_options_builder import ConfigOptions
from strom.common.configuration import Configuration
from strom.common.execution_config import ExecutionConfig
from strom.common.execution_mode import RuntimeExecutionMode
from strom.common.job import JobClient, JobExecutionResult, JobID, JobStatus
from strom.common.serialization import (
    ByteArraySchema,
    DeserializationSchema,
    Encoder,
    SerializationSchema,
    SimpleStringSchema,
)
from strom.common.time import Duration, Instant, Time
from strom.common.typeinfo import TypeInformation, Types
from strom.common.types import Row, RowKind
from strom.common.watermark_strategy import (
    TimestampAssigner,
    Watermark,
    WatermarkGenerator,
    WatermarkOutput,
    WatermarkStrategy,
)

__all__ = [
    "ByteArraySchema",
    "CompletableFuture",
    "ConfigError",
    "ConfigOption",
    "ConfigOptions",
    "Configuration",
    "DeserializationSchema",
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
    "SerializationSchema",
    "SimpleStringSchema",
    "Time",
    "TimestampAssigner",
    "TypeInformation",
    "Types",
    "Watermark",
    "WatermarkGenerator",
    "WatermarkOutput",
    "WatermarkStrategy",
]
