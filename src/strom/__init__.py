"""strom: a stateful, distributed stream processor in pure Python with Apache Flink's
architecture and PyFlink's DataStream API.

Start with :mod:`strom.datastream` (``StreamExecutionEnvironment``) and :mod:`strom.common`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
