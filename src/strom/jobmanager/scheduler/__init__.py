"""The JobMaster's scheduling decisions without I/O: the scheduler core and its states,
restart strategies and failover strategies."""

from strom.jobmanager.scheduler.core import NoResourceAvailableError, SchedulerCore
from strom.jobmanager.scheduler.failover import FailoverStrategy, pipelined_regions
from strom.jobmanager.scheduler.restart_strategies import (
    ExponentialDelayRestartStrategy,
    FailureRateRestartStrategy,
    FixedDelayRestartStrategy,
    NoRestartStrategy,
    RestartStrategy,
    restart_strategy_from_config,
)

__all__ = [
    "ExponentialDelayRestartStrategy",
    "FailoverStrategy",
    "FailureRateRestartStrategy",
    "FixedDelayRestartStrategy",
    "NoResourceAvailableError",
    "NoRestartStrategy",
    "RestartStrategy",
    "SchedulerCore",
    "pipelined_regions",
    "restart_strategy_from_config",
]
