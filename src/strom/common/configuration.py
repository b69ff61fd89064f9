"""``Configuration``: Flink's string-keyed, string-valued settings with typed access.

As in Flink, every value is stored as a string; getters parse on read. The untyped API is
PyFlink's (``get_string``/``set_integer``/...), the typed API goes through a
:class:`~strom.common.config_options.ConfigOption` (``config.get(PARALLELISM_DEFAULT)``).

Unlike Flink, a value stored under the key of an option strom knows is checked when it is
stored, whichever way it comes in (a setter, ``from_dict``, ``config.yaml``, ``-D``): a
malformed or out-of-range value raises ``ConfigError`` there, naming the key, the value
and what is allowed, instead of failing (or being ignored) when the job runs.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from os import PathLike
from typing import Any, TypeVar

import yaml

from strom.common.config_options import MAP, ConfigError, ConfigOption, option_for_key
from strom.common.config_options import format_duration_ms as _format_duration_ms
from strom.common.config_options import format_map as _format_map
from strom.common.config_options import parse_bool as _parse_bool
from strom.common.config_options import parse_float as _parse_float
from strom.common.time import Duration, Time

__all__ = ["Configuration"]

T = TypeVar("T")

_LONG_RE = re.compile(r"\s*[+-]?\d+\s*")


def _invalid(key: str, raw: str, expected: str) -> ConfigError:
    return ConfigError(f"Invalid value for '{key}': got {raw!r}; expected {expected}.")


def _to_config_string(value: Any) -> str | None:
    """The stored form of a plain Python value given in a dict or YAML file."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Duration | Time):
        return _format_duration_ms(value.to_milliseconds())
    if isinstance(value, Mapping):
        return _format_map({str(k): _to_config_string(v) or "" for k, v in value.items()})
    if isinstance(value, list | tuple):
        return ";".join(_to_config_string(v) or "" for v in value)
    return str(value)


class Configuration:
    """A set of configuration entries, every value stored as a string (as in Flink).

    >>> config = Configuration().set_integer("parallelism.default", 4)
    >>> config.get_string("parallelism.default", "1"), config.get_integer("parallelism.default", 1)
    ('4', 4)

    Getters return ``default_value`` for a missing key and raise
    :class:`~strom.common.config_options.ConfigError`, naming the key, when the stored text
    does not parse. Setters return the configuration, so they chain; for the key of a known
    option they check the value first:

    >>> Configuration().set_string("parallelism.default", "0")
    Traceback (most recent call last):
    ...
    strom.common.config_options.ConfigError: Invalid value for 'parallelism.default': got '0'; expected an integer >= 1, or -1 (the system default: the number of CPU cores locally).
    """

    __slots__ = ("_data",)
    __hash__ = None  # type: ignore[assignment]  # mutable

    def __init__(self, other: Configuration | None = None) -> None:
        self._data: dict[str, str] = dict(other._data) if other is not None else {}

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> Configuration:
        """A configuration of ``mapping``'s entries. Values may be strings or plain Python
        values: booleans become ``true``/``false``, ``Duration``/``Time`` become ``"200 ms"``
        style text, dicts become ``k1:v1,k2:v2``, lists become ``a;b``; ``None`` is skipped.
        """
        config = cls()
        for key, value in mapping.items():
            text = _to_config_string(value)
            if text is not None:
                config._store(str(key), text)
        return config

    @classmethod
    def from_yaml_file(cls, path: str | PathLike[str]) -> Configuration:
        """Load Flink's ``config.yaml``: nested mappings flatten to dotted keys
        (``rest: {port: 8081}`` is ``rest.port``), scalars are stored as strings (YAML
        booleans as ``true``/``false``), lists as ``a;b``, null values are skipped.

        Raises ``ConfigError`` naming the file (and line and column for YAML syntax
        errors) when the file cannot be read, is not a mapping, or holds a value a known
        option does not allow.
        """
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise ConfigError(
                f"Cannot read configuration file '{path}': {exc.strerror or exc}."
            ) from exc
        try:
            document = yaml.safe_load(text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = exc.problem or exc.context or "invalid YAML"
            raise ConfigError(
                f"Invalid YAML in configuration file '{path}'{where}: {problem}. "
                "Fix the file or remove the offending entry."
            ) from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"Invalid YAML in configuration file '{path}': {exc}.") from None
        if document is None:
            return cls()
        if not isinstance(document, Mapping):
            raise ConfigError(
                f"Configuration file '{path}' must hold a mapping of keys to values, got a "
                f"{type(document).__name__} at the top level."
            )
        config = cls()
        try:
            config._flatten_into(document, "")
        except ConfigError as exc:
            raise ConfigError(f"In configuration file '{path}': {exc}") from None
        return config

    def _flatten_into(self, mapping: Mapping[Any, Any], prefix: str) -> None:
        for key, value in mapping.items():
            full_key = f"{prefix}{key}"
            if isinstance(value, Mapping):
                self._flatten_into(value, full_key + ".")
                continue
            text = _to_config_string(value)
            if text is not None:
                self._store(full_key, text)

    def _store(self, key: str, text: str) -> None:
        """Store ``text`` under ``key``, checked first when ``key`` belongs to a known
        option (its own key or a fallback key)."""
        option = option_for_key(key)
        if option is not None:
            option.parse(text, key)
        self._data[key] = text

    # -- untyped access (PyFlink's API) -------------------------------------------------

    def get_string(self, key: str, default_value: str) -> str:
        return self._data.get(key, default_value)

    def set_string(self, key: str, value: str) -> Configuration:
        self._store(key, str(value))
        return self

    def get_integer(self, key: str, default_value: int) -> int:
        raw = self._data.get(key)
        if raw is None:
            return default_value
        if not _LONG_RE.fullmatch(raw):
            raise _invalid(key, raw, "an integer such as '4'")
        return int(raw)

    def set_integer(self, key: str, value: int) -> Configuration:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(
                f"set_integer('{key}', ...) needs an int, got {value!r} ({type(value).__name__})."
            )
        self._store(key, str(value))
        return self

    def get_boolean(self, key: str, default_value: bool) -> bool:
        raw = self._data.get(key)
        if raw is None:
            return default_value
        try:
            return _parse_bool(raw)
        except ValueError:
            raise _invalid(key, raw, "'true' or 'false'") from None

    def set_boolean(self, key: str, value: bool) -> Configuration:
        self._store(key, "true" if value else "false")
        return self

    def get_float(self, key: str, default_value: float) -> float:
        raw = self._data.get(key)
        if raw is None:
            return default_value
        try:
            return _parse_float(raw)
        except ValueError:
            raise _invalid(key, raw, "a number such as '0.5'") from None

    def set_float(self, key: str, value: float) -> Configuration:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(
                f"set_float('{key}', ...) needs a number, got {value!r} ({type(value).__name__})."
            )
        self._store(key, repr(float(value)))
        return self

    def get_bytearray(self, key: str, default_value: bytes | bytearray) -> bytearray:
        """Bytes stored base64-encoded (as Flink stores ``byte[]`` values)."""
        raw = self._data.get(key)
        if raw is None:
            return bytearray(default_value)
        try:
            return bytearray(base64.b64decode(raw.encode("ascii"), validate=True))
        except (binascii.Error, UnicodeEncodeError):
            raise _invalid(key, raw, "base64-encoded bytes") from None

    def set_bytearray(self, key: str, value: bytes | bytearray) -> Configuration:
        self._data[key] = base64.b64encode(bytes(value)).decode("ascii")
        return self

    def key_set(self) -> set[str]:
        return set(self._data)

    def contains_key(self, key: str) -> bool:
        return key in self._data

    def to_dict(self) -> dict[str, str]:
        """A copy of all entries, key to stored string."""
        return dict(self._data)

    def remove_config(self, key: str) -> bool:
        """Remove ``key``; whether it was present."""
        return self._data.pop(key, None) is not None

    def add_all(self, other: Configuration, prefix: str | None = None) -> Configuration:
        """Copy every entry of ``other`` into this configuration, keys prefixed with
        ``prefix`` when given."""
        for key, value in other._data.items():
            self._store((prefix or "") + key, value)
        return self

    def add_all_to_dict(self, target: dict[str, Any]) -> None:
        """Copy every entry into ``target``."""
        target.update(self._data)

    # -- typed access ------------------------------------------------------------------

    def _map_entries(self, key: str) -> dict[str, str] | None:
        prefix = key + "."
        entries = {k[len(prefix) :]: v for k, v in self._data.items() if k.startswith(prefix)}
        return entries or None

    def get(self, option: ConfigOption[T]) -> T | None:
        """The option's value: its own key, else its fallback keys, else (for map options)
        the entries under ``key.``, else its default. Malformed text raises ``ConfigError``."""
        raw = self._data.get(option.key)
        if raw is not None:
            return option.parse(raw, option.key)
        for fallback in option.fallback_keys:
            raw = self._data.get(fallback)
            if raw is not None:
                return option.parse(raw, fallback)
        if option.type is MAP:
            entries = self._map_entries(option.key)
            if entries is not None:
                return entries  # type: ignore[return-value]
        return option.default

    def get_required(self, option: ConfigOption[T]) -> T:
        """Like :meth:`get`, typed without ``None``: raises ``ConfigError`` when the option
        is neither set nor has a default."""
        value = self.get(option)
        if value is None:
            raise ConfigError(
                f"Configuration '{option.key}' is not set and has no default; set it in "
                f"config.yaml or with -D{option.key}=<value>."
            )
        return value

    def set(self, option: ConfigOption[Any], value: Any) -> Configuration:
        """Store ``value`` (typed, or text in the option's syntax) under the option's key;
        ``None`` removes it. Raises ``ConfigError`` for a value of the wrong type or text
        that does not parse."""
        if value is None:
            self._data.pop(option.key, None)
        else:
            self._data[option.key] = option.to_string(value)
        return self

    def contains(self, option: ConfigOption[Any]) -> bool:
        """Whether the option is set explicitly (own key, fallback key or map entries)."""
        if option.key in self._data or any(k in self._data for k in option.fallback_keys):
            return True
        return option.type is MAP and self._map_entries(option.key) is not None

    # -- dunder ------------------------------------------------------------------------

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Configuration):
            return self._data == other._data
        return NotImplemented

    def __repr__(self) -> str:
        return f"Configuration({self._data!r})"

    def __str__(self) -> str:
        return "{" + ", ".join(f"{k}={v}" for k, v in self._data.items()) + "}"
