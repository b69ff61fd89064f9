"""Configuration options of TLS and the REST token (:mod:`strom.common.config_options`
validates them with the rest; :mod:`strom.common.security` reads them).

Flink's keys where Flink has them. Flink's ``*.keystore`` / ``*.truststore`` keys take Java
key stores; strom takes PEM files under its own keys: ``security.ssl.<side>.cert`` (the
certificate chain), ``.key`` (its private key) and ``.truststore`` (a PEM bundle of the CA
certificates to trust). ``security.rest.token`` is strom's own (Flink leaves REST
authentication to a proxy).
"""

from __future__ import annotations

from typing import Any

from strom.common._option_types import BOOL, STRING
from strom.common.config_options import ConfigOption

__all__ = [
    "SECURITY_OPTIONS",
    "SSL_INTERNAL_CERT",
    "SSL_INTERNAL_ENABLED",
    "SSL_INTERNAL_KEY",
    "SSL_INTERNAL_TRUSTSTORE",
    "SSL_REST_AUTHENTICATION_ENABLED",
    "SSL_REST_CERT",
    "SSL_REST_ENABLED",
    "SSL_REST_KEY",
    "SSL_REST_TRUSTSTORE",
    "SSL_VERIFY_HOSTNAME",
    "REST_TOKEN",
]

SSL_INTERNAL_ENABLED: ConfigOption[bool] = ConfigOption(
    "security.ssl.internal.enabled",
    BOOL,
    False,
    "TLS with mutual authentication on every internal connection: RPC between JobManager "
    "and TaskManagers, and the data connections between TaskManagers.",
)
SSL_INTERNAL_CERT: ConfigOption[str] = ConfigOption(
    "security.ssl.internal.cert",
    STRING,
    None,
    "PEM certificate (chain) every JobManager and TaskManager presents on internal "
    "connections (strom's key; Flink's security.ssl.internal.keystore takes a JKS).",
)
SSL_INTERNAL_KEY: ConfigOption[str] = ConfigOption(
    "security.ssl.internal.key",
    STRING,
    None,
    "PEM private key of security.ssl.internal.cert (unencrypted).",
)
SSL_INTERNAL_TRUSTSTORE: ConfigOption[str] = ConfigOption(
    "security.ssl.internal.truststore",
    STRING,
    None,
    "PEM bundle of the CA certificates a peer's internal certificate must be signed by.",
)
SSL_REST_ENABLED: ConfigOption[bool] = ConfigOption(
    "security.ssl.rest.enabled",
    BOOL,
    False,
    "Serve the REST API and web UI over HTTPS; clients (CLI, REST client) use HTTPS too.",
)
SSL_REST_CERT: ConfigOption[str] = ConfigOption(
    "security.ssl.rest.cert",
    STRING,
    None,
    "PEM certificate (chain) of the REST server (and of clients with "
    "security.ssl.rest.authentication-enabled).",
)
SSL_REST_KEY: ConfigOption[str] = ConfigOption(
    "security.ssl.rest.key",
    STRING,
    None,
    "PEM private key of security.ssl.rest.cert (unencrypted).",
)
SSL_REST_TRUSTSTORE: ConfigOption[str] = ConfigOption(
    "security.ssl.rest.truststore",
    STRING,
    None,
    "PEM bundle of CA certificates: clients trust the REST server signed by one (unset: "
    "the system's CAs); with authentication the server requires client certificates "
    "signed by one.",
)
SSL_REST_AUTHENTICATION_ENABLED: ConfigOption[bool] = ConfigOption(
    "security.ssl.rest.authentication-enabled",
    BOOL,
    False,
    "Mutual TLS on the REST endpoint: clients must present a certificate the server's "
    "security.ssl.rest.truststore trusts.",
)
SSL_VERIFY_HOSTNAME: ConfigOption[bool] = ConfigOption(
    "security.ssl.verify-hostname",
    BOOL,
    True,
    "REST clients check that the server's certificate names the host they dialled "
    "(internal connections never check host names, as in Flink).",
)
REST_TOKEN: ConfigOption[str] = ConfigOption(
    "security.rest.token",
    STRING,
    None,
    "strom's own: a secret every REST request must carry as 'Authorization: Bearer "
    "<token>' (clients send it; the STROM_REST_TOKEN environment variable works too).",
)

SECURITY_OPTIONS: tuple[ConfigOption[Any], ...] = (
    SSL_INTERNAL_ENABLED,
    SSL_INTERNAL_CERT,
    SSL_INTERNAL_KEY,
    SSL_INTERNAL_TRUSTSTORE,
    SSL_REST_ENABLED,
    SSL_REST_CERT,
    SSL_REST_KEY,
    SSL_REST_TRUSTSTORE,
    SSL_REST_AUTHENTICATION_ENABLED,
    SSL_VERIFY_HOSTNAME,
    REST_TOKEN,
)
