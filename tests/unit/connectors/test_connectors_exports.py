"""The connector packages re-export the same classes (the names themselves are locked in
tests/unit/test_exports.py)."""

from __future__ import annotations

import strom.connectors
import strom.datastream.connectors
from strom.datastream.connectors import file_system, number_seq


def test_datastream_connectors_reexport_the_implementations() -> None:
    assert strom.datastream.connectors.FileSink is file_system.FileSink
    assert strom.datastream.connectors.NumberSequenceSource is number_seq.NumberSequenceSource
    assert set(file_system.__all__) <= set(strom.datastream.connectors.__all__)


def test_runtime_connectors_public_surface() -> None:
    for name in strom.connectors.__all__:
        assert getattr(strom.connectors, name) is not None
