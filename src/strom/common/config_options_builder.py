"""``ConfigOptions``: PyFlink's builder for a program's own configuration options.

>>> from strom.common import Configuration
>>> THRESHOLD = ConfigOptions.key("my.threshold").int_type().default_value(10)
>>> Configuration().get(THRESHOLD), Configuration.from_dict({"my.threshold": "3"}).get(THRESHOLD)
(10, 3)
"""

from __future__ import annotations

import re
from typing import Any, Generic, TypeVar

from strom.common._option_types import BOOL, FLOAT, INT, STRING, OptionType
from strom.common.config_options import ConfigOption

__all__ = ["ConfigOptions"]

T = TypeVar("T")

_LONG_RE = re.compile(r"[+-]?\d+")
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1


def _parse_long(text: str) -> int:
    stripped = text.strip()
    if not _LONG_RE.fullmatch(stripped) or not _LONG_MIN <= int(stripped) <= _LONG_MAX:
        raise ValueError(f"not a 64-bit integer: {text!r}")
    return int(stripped)


def _coerce_long(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (
            _LONG_MIN <= value <= _LONG_MAX):
        raise TypeError("a 64-bit integer")
    return value


#: Java's ``long`` (``int_type`` is Java's 32-bit ``int``)
LONG: OptionType[int] = OptionType("long", _parse_long, str, _coerce_long,
                                   "an integer such as '4'")


class ConfigOptions:
    """``ConfigOptions.key(name).<type>_type().default_value(v)`` (or ``no_default_value()``)
    makes a :class:`~strom.common.ConfigOption` to read with ``Configuration.get``."""

    @staticmethod
    def key(key: str) -> ConfigOptions.OptionBuilder:
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"ConfigOptions.key() takes a non-empty key (a str), got {key!r}.")
        return ConfigOptions.OptionBuilder(key)

    class OptionBuilder:
        def __init__(self, key: str) -> None:
            self._key = key

        def boolean_type(self) -> ConfigOptions.TypedConfigOptionBuilder[bool]:
            return ConfigOptions.TypedConfigOptionBuilder(self._key, BOOL)

        def int_type(self) -> ConfigOptions.TypedConfigOptionBuilder[int]:
            return ConfigOptions.TypedConfigOptionBuilder(self._key, INT)

        def long_type(self) -> ConfigOptions.TypedConfigOptionBuilder[int]:
            return ConfigOptions.TypedConfigOptionBuilder(self._key, LONG)

        def float_type(self) -> ConfigOptions.TypedConfigOptionBuilder[float]:
            return ConfigOptions.TypedConfigOptionBuilder(self._key, FLOAT)

        def double_type(self) -> ConfigOptions.TypedConfigOptionBuilder[float]:
            return ConfigOptions.TypedConfigOptionBuilder(self._key, FLOAT)

        def string_type(self) -> ConfigOptions.TypedConfigOptionBuilder[str]:
            return ConfigOptions.TypedConfigOptionBuilder(self._key, STRING)

    class TypedConfigOptionBuilder(Generic[T]):
        def __init__(self, key: str, option_type: OptionType[T]) -> None:
            self._key = key
            self._type = option_type

        def default_value(self, value: T) -> ConfigOption[T]:
            try:
                typed = self._type.coerce(value)
            except TypeError as exc:
                raise TypeError(
                    f"The default of '{self._key}' must be {exc.args[0]}, got {value!r}."
                ) from None
            return ConfigOption(self._key, self._type, typed)

        def no_default_value(self) -> ConfigOption[T]:
            return ConfigOption(self._key, self._type, None)
