"""TLS contexts from PEM files, and the REST bearer token.

Two independent sides, as in Flink:

* **internal** (``security.ssl.internal.*``): RPC between the JobManager and TaskManagers,
  and the data connections between TaskManagers. Always mutual: both ends present
  ``security.ssl.internal.cert`` and accept only a peer whose certificate a CA in
  ``security.ssl.internal.truststore`` signed. Host names are not checked (Flink does not
  either): peers are reached at addresses the cluster hands out, and one certificate for
  the whole cluster is the usual setup. :func:`internal_tls` builds both contexts.
* **REST** (``security.ssl.rest.*``): HTTPS for the REST API and web UI.
  :func:`rest_server_ssl_context` for the server; :func:`client_ssl_context` for clients
  (the CLI, :class:`strom.client.rest.RestClient`), which trust
  ``security.ssl.rest.truststore`` (else the system's CAs) and check the host name unless
  ``security.ssl.verify-hostname`` is false. With
  ``security.ssl.rest.authentication-enabled`` the server requires client certificates and
  clients present ``security.ssl.rest.cert``.

``security.rest.token`` (strom's own) makes the REST server require ``Authorization:
Bearer <token>`` on every request (:func:`token_accepted`, a constant-time comparison);
clients send it (:func:`auth_headers`), from the configuration or the ``STROM_REST_TOKEN``
environment variable.

A configuration that cannot work (TLS on without a certificate, a file that is missing, a
key that does not belong to its certificate) raises :class:`SecurityConfigError` naming the
key and the file, when the process starts.
"""

from __future__ import annotations

import hmac
import os
import ssl
from dataclasses import dataclass
from typing import Any

from strom.common.config_options import ConfigError, ConfigOption
from strom.common.config_options_security import (
    REST_TOKEN,
    SSL_INTERNAL_CERT,
    SSL_INTERNAL_ENABLED,
    SSL_INTERNAL_KEY,
    SSL_INTERNAL_TRUSTSTORE,
    SSL_REST_AUTHENTICATION_ENABLED,
    SSL_REST_CERT,
    SSL_REST_ENABLED,
    SSL_REST_KEY,
    SSL_REST_TRUSTSTORE,
    SSL_VERIFY_HOSTNAME,
)
from strom.common.configuration import Configuration

__all__ = [
    "REST_TOKEN_ENV",
    "InternalTls",
    "SecurityConfigError",
    "auth_headers",
    "client_ssl_context",
    "internal_tls",
    "rest_scheme",
    "rest_server_ssl_context",
    "rest_token",
    "token_accepted",
]

#: the environment variable clients read the REST token from when the configuration has none
REST_TOKEN_ENV = "STROM_REST_TOKEN"


class SecurityConfigError(ConfigError):
    """A TLS or token setting that cannot work; the message names the key and the file."""


@dataclass(frozen=True)
class InternalTls:
    """The two contexts of internal connections: ``server`` for the ports this process
    listens on, ``client`` for connections it opens (both present the certificate and
    require the peer's)."""

    server: ssl.SSLContext
    client: ssl.SSLContext


def _path(configuration: Configuration, option: ConfigOption[str], why: str) -> str:
    value = configuration.get(option)
    if not value:
        raise SecurityConfigError(
            f"{option.key} is not set, but {why}. Set it to a PEM file, e.g. "
            f"-D{option.key}=/path/to/file.pem (README, 'Security').")
    if not os.path.isfile(value):
        raise SecurityConfigError(
            f"{option.key} names {value!r}, which is not a readable file. Point it at an "
            "existing PEM file.")
    return value


def _load_chain(context: ssl.SSLContext, configuration: Configuration,
                cert_option: ConfigOption[str], key_option: ConfigOption[str],
                why: str) -> None:
    cert = _path(configuration, cert_option, why)
    key = _path(configuration, key_option, why)
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as e:
        if "KEY_VALUES_MISMATCH" in str(e) or "key values mismatch" in str(e):
            problem = "the private key does not belong to the certificate"
        else:
            problem = f"they are not a PEM certificate and its unencrypted PEM key ({e})"
        raise SecurityConfigError(
            f"Cannot use {cert_option.key}={cert!r} with {key_option.key}={key!r}: {problem}. "
            "Give the certificate and the key made with it.") from None


def _load_trust(context: ssl.SSLContext, configuration: Configuration,
                option: ConfigOption[str], why: str) -> None:
    path = _path(configuration, option, why)
    try:
        context.load_verify_locations(cafile=path)
    except ssl.SSLError as e:
        raise SecurityConfigError(
            f"{option.key}={path!r} holds no PEM CA certificate ({e}). Give a PEM bundle of "
            "the CA certificates to trust.") from None


def _enabled(configuration: Configuration | None, option: ConfigOption[bool]) -> bool:
    if configuration is None:
        return False
    return configuration.get(option) is True


def internal_tls(configuration: Configuration | None) -> InternalTls | None:
    """The internal TLS contexts, or ``None`` when ``security.ssl.internal.enabled`` is off.

    Both sides verify the peer's certificate against ``security.ssl.internal.truststore``
    and present ``security.ssl.internal.cert``; host names are not checked."""
    if not _enabled(configuration, SSL_INTERNAL_ENABLED):
        return None
    assert configuration is not None
    why = f"{SSL_INTERNAL_ENABLED.key} is true"
    # bare contexts: only the truststore's CAs are trusted, never the system's
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    for context in (server, client):
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        _load_chain(context, configuration, SSL_INTERNAL_CERT, SSL_INTERNAL_KEY, why)
        _load_trust(context, configuration, SSL_INTERNAL_TRUSTSTORE, why)
    server.verify_mode = ssl.CERT_REQUIRED  # mutual authentication, always
    client.check_hostname = False
    client.verify_mode = ssl.CERT_REQUIRED
    return InternalTls(server, client)


def rest_server_ssl_context(configuration: Configuration | None) -> ssl.SSLContext | None:
    """The REST server's context, or ``None`` when ``security.ssl.rest.enabled`` is off."""
    if not _enabled(configuration, SSL_REST_ENABLED):
        return None
    assert configuration is not None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_chain(context, configuration, SSL_REST_CERT, SSL_REST_KEY,
                f"{SSL_REST_ENABLED.key} is true")
    if configuration.get(SSL_REST_AUTHENTICATION_ENABLED):
        _load_trust(context, configuration, SSL_REST_TRUSTSTORE,
                    f"{SSL_REST_AUTHENTICATION_ENABLED.key} is true")
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_ssl_context(configuration: Configuration | None) -> ssl.SSLContext | None:
    """The context a REST client uses for ``https://`` URLs, or ``None`` (Python's default
    context) when ``security.ssl.rest.enabled`` is off."""
    if not _enabled(configuration, SSL_REST_ENABLED):
        return None
    assert configuration is not None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificate and host name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if configuration.get(SSL_REST_TRUSTSTORE):
        _load_trust(context, configuration, SSL_REST_TRUSTSTORE, "it is set")
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if configuration.get(SSL_REST_AUTHENTICATION_ENABLED):
        _load_chain(context, configuration, SSL_REST_CERT, SSL_REST_KEY,
                    f"{SSL_REST_AUTHENTICATION_ENABLED.key} is true")
    if configuration.get(SSL_VERIFY_HOSTNAME) is False:
        context.check_hostname = False
    return context


def rest_scheme(configuration: Configuration | None) -> str:
    """``https`` when ``security.ssl.rest.enabled``, else ``http``."""
    return "https" if _enabled(configuration, SSL_REST_ENABLED) else "http"


def rest_token(configuration: Configuration | None, environment: Any = None) -> str | None:
    """The REST token a client sends: ``security.rest.token``, else ``STROM_REST_TOKEN``."""
    token = configuration.get(REST_TOKEN) if configuration is not None else None
    if not token:
        token = (os.environ if environment is None else environment).get(REST_TOKEN_ENV)
    return token or None


def auth_headers(configuration: Configuration | None) -> dict[str, str]:
    """The headers a REST client adds: ``Authorization: Bearer <token>`` when a token is
    configured (:func:`rest_token`), else none."""
    token = rest_token(configuration)
    return {"Authorization": f"Bearer {token}"} if token else {}


def token_accepted(expected: str, authorization: str | None) -> bool:
    """Whether an ``Authorization`` header carries the bearer token ``expected``; compares
    in constant time, so the answer's timing does not tell how much of a guess was right."""
    if not authorization:
        return False
    scheme, _, given = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())
