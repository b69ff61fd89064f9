"""The namespace used by keyed state that belongs to no window."""

from __future__ import annotations

__all__ = ["VOID_NAMESPACE", "VoidNamespace"]


class VoidNamespace:
    """The type of :data:`VOID_NAMESPACE`; it has exactly one instance, also after pickling."""

    __slots__ = ()
    _instance: VoidNamespace | None = None

    def __new__(cls) -> VoidNamespace:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __reduce__(self) -> str:
        # Pickled by reference to the module global, so identity survives a round trip.
        return "VOID_NAMESPACE"

    def __repr__(self) -> str:
        return "VOID_NAMESPACE"


VOID_NAMESPACE = VoidNamespace()
"""The namespace of keyed state outside windows (what ``RuntimeContext.get_state`` uses)."""
