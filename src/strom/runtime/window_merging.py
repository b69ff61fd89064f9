"""The merging-window set: which session windows of a key are in flight, and which state
window holds each one's contents.

When windows merge, their contents are merged into the state namespace of one of them (the
*state window*) rather than moved to a namespace named after the new window, so one element's
arrival costs one state merge however often a session grows. The mapping
``window -> state window`` lives in a map state of the key (namespace ``VOID_NAMESPACE``), so
it is checkpointed and rescaled with the rest of the key's state. Semantics follow Flink's
``MergingWindowSet``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

from strom.datastream.window import MergeCallback, MergingWindowAssigner

__all__ = ["MergeFunction", "MergingWindowSet"]

MergeFunction = Callable[[Any, Collection[Any], Any, Collection[Any]], None]
"""``(merge_result, merged_windows, state_window_of_result, merged_state_windows)``: called
for each merge, before the mapping is persisted. ``merged_windows`` are the windows (not the
new one) that were merged away; ``merged_state_windows`` are the state namespaces to merge into
``state_window_of_result``."""


class _CollectMerges(MergeCallback[Any]):
    def __init__(self) -> None:
        self.merges: list[tuple[Any, set[Any]]] = []

    def merge(self, to_be_merged: Iterable[Any], merge_result: Any) -> None:
        self.merges.append((merge_result, set(to_be_merged)))


class MergingWindowSet:
    """One reusable object per operator: :meth:`load` reads the current key's mapping from
    ``state`` (a map state), the operations change it in memory, :meth:`persist` writes it
    back if it changed."""

    def __init__(self, assigner: MergingWindowAssigner[Any, Any], state: Any) -> None:
        self._assigner = assigner
        self._state = state
        self._mapping: dict[Any, Any] = {}
        self._changed = False

    def load(self) -> MergingWindowSet:
        self._mapping = dict(self._state.items())
        self._changed = False
        return self

    def persist(self) -> None:
        if not self._changed:
            return
        self._state.clear()
        if self._mapping:
            self._state.put_all(self._mapping)
        self._changed = False

    def windows(self) -> list[Any]:
        """The windows in flight (for tests and diagnostics)."""
        return list(self._mapping)

    def get_state_window(self, window: Any) -> Any | None:
        """The state namespace holding ``window``'s contents, or ``None`` if it is not in
        flight."""
        return self._mapping.get(window)

    def retire_window(self, window: Any) -> None:
        """Forget ``window`` (after it was cleaned up, or was late)."""
        if self._mapping.pop(window, None) is None:
            raise KeyError(f"window {window!r} is not in the in-flight window set")
        self._changed = True

    def add_window(self, new_window: Any, merge_function: MergeFunction) -> Any:
        """Add ``new_window``, merging it with in-flight windows as the assigner decides.

        Returns the window the new element belongs to now: ``new_window`` itself, or the
        merged window that absorbed it.
        """
        mapping = self._mapping
        if new_window in mapping:
            # In-flight windows never overlap each other, so an identical window merges with
            # nothing; it already has its state window.
            return new_window
        collector = _CollectMerges()
        self._assigner.merge_windows([*mapping, new_window], collector)

        result_window = new_window
        merged_new_window = False
        for merge_result, merged_windows in collector.merges:
            if new_window in merged_windows:
                merged_windows.discard(new_window)
                merged_new_window = True
                result_window = merge_result
            # keep the state namespace of one merged window for the merge result
            state_window = mapping[next(iter(merged_windows))]
            merged_state_windows = []
            for merged in merged_windows:
                old = mapping.pop(merged, None)
                if old is not None:
                    merged_state_windows.append(old)
            mapping[merge_result] = state_window
            merged_state_windows.remove(state_window)
            self._changed = True
            # A pre-existing window merged only with the new window into itself: no merge.
            if not (len(merged_windows) == 1 and merge_result in merged_windows):
                merge_function(merge_result, merged_windows, state_window, merged_state_windows)

        if not collector.merges or (result_window == new_window and not merged_new_window):
            mapping[result_window] = result_window
            self._changed = True
        return result_window
