"""Encoders and (de)serialization schemas (PyFlink's ``pyflink.common.serialization``).

``Encoder.simple_string_encoder()`` writes one record per line, as Flink's
``SimpleStringEncoder`` writes ``record.toString()`` plus ``\\n``; the text of typed
records is :func:`~strom.common.typeinfo.to_java_string` with Java's ``Row.toString``.
"""

from __future__ import annotations

import codecs
from abc import ABC, abstractmethod
from typing import Any

from strom.common.typeinfo import TypeInformation, to_java_string

__all__ = [
    "ByteArraySchema",
    "DeserializationSchema",
    "Encoder",
    "SerializationSchema",
    "SimpleStringSchema",
]


def _check_charset(charset: str) -> str:
    try:
        codecs.lookup(charset)
    except (LookupError, TypeError):
        raise ValueError(
            f"Unknown charset {charset!r}; use a name such as 'UTF-8', 'US-ASCII' or 'ISO-8859-1'."
        ) from None
    return charset


class Encoder:
    """Turns a record into the bytes a row-format file sink writes.

    >>> Encoder.simple_string_encoder().encode(("a", 1))
    b"('a', 1)\\n"
    """

    __slots__ = ("_charset",)

    def __init__(self, charset: str = "UTF-8") -> None:
        self._charset = _check_charset(charset)

    @staticmethod
    def simple_string_encoder(charset: str = "UTF-8") -> Encoder:
        """One line per record: its text (Python ``str()`` for untyped records, Java's
        ``toString`` for typed ones) and ``\\n``, encoded with ``charset``."""
        return Encoder(charset)

    @property
    def charset(self) -> str:
        return self._charset

    def encode(self, value: Any, type_info: TypeInformation | None = None) -> bytes:
        text = to_java_string(value, type_info, row_style="java")
        return (text + "\n").encode(self._charset)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Encoder):
            return codecs.lookup(self._charset).name == codecs.lookup(other._charset).name
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Encoder", codecs.lookup(self._charset).name))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Encoder, (self._charset,))

    def __repr__(self) -> str:
        return f"Encoder.simple_string_encoder({self._charset!r})"


class SerializationSchema(ABC):
    """Turns a record into bytes (for sinks such as Kafka)."""

    @abstractmethod
    def serialize(self, element: Any) -> bytes:
        """The bytes of ``element``."""


class DeserializationSchema(ABC):
    """Turns bytes into a record (for sources such as Kafka)."""

    @abstractmethod
    def deserialize(self, message: bytes) -> Any:
        """The record encoded by ``message``."""

    def is_end_of_stream(self, next_element: Any) -> bool:
        """Whether ``next_element`` ends the stream; never, by default."""
        return False


class SimpleStringSchema(SerializationSchema, DeserializationSchema):
    """Strings to and from bytes in one charset (``UTF-8`` by default)."""

    def __init__(self, charset: str = "UTF-8") -> None:
        self._charset = _check_charset(charset)

    @property
    def charset(self) -> str:
        return self._charset

    def serialize(self, element: Any) -> bytes:
        if not isinstance(element, str):
            raise TypeError(
                f"SimpleStringSchema serializes strings, got {type(element).__name__}: "
                f"{element!r}. Map the stream to str first."
            )
        return element.encode(self._charset)

    def deserialize(self, message: bytes) -> str:
        return bytes(message).decode(self._charset)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SimpleStringSchema):
            return codecs.lookup(self._charset).name == codecs.lookup(other._charset).name
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("SimpleStringSchema", codecs.lookup(self._charset).name))

    def __repr__(self) -> str:
        return f"SimpleStringSchema({self._charset!r})"


class ByteArraySchema(SerializationSchema, DeserializationSchema):
    """Bytes passed through unchanged."""

    def serialize(self, element: Any) -> bytes:
        if not isinstance(element, bytes | bytearray | memoryview):
            raise TypeError(
                f"ByteArraySchema serializes bytes, got {type(element).__name__}: {element!r}."
            )
        return bytes(element)

    def deserialize(self, message: bytes) -> bytes:
        return bytes(message)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ByteArraySchema)

    def __hash__(self) -> int:
        return hash("ByteArraySchema")

    def __repr__(self) -> str:
        return "ByteArraySchema()"
