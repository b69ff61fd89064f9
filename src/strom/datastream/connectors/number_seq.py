"""``NumberSequenceSource`` (PyFlink's ``pyflink.datastream.connectors.number_seq``)."""

from __future__ import annotations

from strom.connectors.sequence import NumberSequenceSource

__all__ = ["NumberSequenceSource"]
