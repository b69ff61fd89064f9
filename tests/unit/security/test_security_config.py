"""The security keys: contexts built from PEM files, start-up errors that name the key and
the file, the token check, and what a client sends."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from strom.common.config_options import validate
from strom.common.configuration import Configuration
from strom.common.security import (
    SecurityConfigError,
    auth_headers,
    client_ssl_context,
    internal_tls,
    rest_scheme,
    rest_server_ssl_context,
    rest_token,
    token_accepted,
)
from strom.testing.tls import CertificateFiles


def config(**keys: str) -> Configuration:
    return Configuration.from_dict({k.replace("_", "."): v for k, v in keys.items()})


def test_nothing_is_built_while_tls_is_off() -> None:
    empty = Configuration()
    assert internal_tls(empty) is None and internal_tls(None) is None
    assert rest_server_ssl_context(empty) is None and client_ssl_context(empty) is None
    assert rest_scheme(empty) == "http"


def test_internal_tls_is_mutual_and_skips_host_names(certs: CertificateFiles) -> None:
    tls = internal_tls(Configuration.from_dict(certs.internal_config()))
    assert tls is not None
    assert tls.server.verify_mode is ssl.CERT_REQUIRED
    assert tls.client.verify_mode is ssl.CERT_REQUIRED and not tls.client.check_hostname
    # only the truststore's CA is trusted, never the system's
    assert [c["subject"] for c in tls.client.get_ca_certs()] == [
        ((("commonName", "strom test CA"),),)]


def test_rest_contexts(certs: CertificateFiles) -> None:
    plain = Configuration.from_dict(certs.rest_config())
    server = rest_server_ssl_context(plain)
    assert server is not None and server.verify_mode is ssl.CERT_NONE
    client = client_ssl_context(plain)
    assert client is not None and client.check_hostname
    assert rest_scheme(plain) == "https"
    mutual = Configuration.from_dict(certs.rest_config(authentication=True))
    server = rest_server_ssl_context(mutual)
    assert server is not None and server.verify_mode is ssl.CERT_REQUIRED
    unchecked = Configuration.from_dict({**certs.rest_config(),
                                         "security.ssl.verify-hostname": "false"})
    client = client_ssl_context(unchecked)
    assert client is not None and not client.check_hostname


def test_tls_on_without_a_certificate_names_the_key() -> None:
    with pytest.raises(SecurityConfigError,
                       match=r"security\.ssl\.internal\.cert is not set, but "
                             r"security\.ssl\.internal\.enabled is true"):
        internal_tls(config(security_ssl_internal_enabled="true"))
    with pytest.raises(SecurityConfigError, match=r"security\.ssl\.rest\.cert is not set"):
        rest_server_ssl_context(config(security_ssl_rest_enabled="true"))


def test_a_missing_file_names_the_key_and_the_file(certs: CertificateFiles,
                                                   tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.pem")
    keys = {**certs.internal_config(), "security.ssl.internal.truststore": missing}
    with pytest.raises(SecurityConfigError) as e:
        internal_tls(Configuration.from_dict(keys))
    assert "security.ssl.internal.truststore" in str(e.value) and missing in str(e.value)


def test_a_key_of_another_certificate_is_refused(certs: CertificateFiles,
                                                 rogue: CertificateFiles) -> None:
    keys = {**certs.rest_config(), "security.ssl.rest.key": str(rogue.key)}
    with pytest.raises(SecurityConfigError) as e:
        rest_server_ssl_context(Configuration.from_dict(keys))
    message = str(e.value)
    assert "does not belong to the certificate" in message
    assert str(certs.cert) in message and str(rogue.key) in message


def test_a_truststore_that_is_not_pem_is_refused(certs: CertificateFiles,
                                                 tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    keys = {**certs.internal_config(), "security.ssl.internal.truststore": str(junk)}
    with pytest.raises(SecurityConfigError, match=r"holds no PEM CA certificate"):
        internal_tls(Configuration.from_dict(keys))


def test_the_keys_are_known_and_typed() -> None:
    validate(config(security_ssl_internal_enabled="true", security_rest_token="t"))
    with pytest.raises(ValueError, match=r"security\.ssl\.rest\.enabled"):
        validate(config(security_ssl_rest_enabled="maybe"))
    with pytest.raises(ValueError, match=r"did you mean 'security\.rest\.token'"):
        validate(config(security_rest_tokn="t"))


def test_the_token_check() -> None:
    assert token_accepted("s3cret", "Bearer s3cret")
    assert token_accepted("s3cret", "bearer  s3cret ")
    assert not token_accepted("s3cret", None)
    assert not token_accepted("s3cret", "")
    assert not token_accepted("s3cret", "Bearer s3cre")
    assert not token_accepted("s3cret", "Basic s3cret")
    assert not token_accepted("s3cret", "s3cret")


def test_clients_send_the_token_from_the_configuration_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STROM_REST_TOKEN", raising=False)
    assert auth_headers(None) == {} and auth_headers(Configuration()) == {}
    assert auth_headers(config(security_rest_token="abc")) == {
        "Authorization": "Bearer abc"}
    monkeypatch.setenv("STROM_REST_TOKEN", "from-env")
    assert auth_headers(None) == {"Authorization": "Bearer from-env"}
    # the configuration wins over the environment
    assert rest_token(config(security_rest_token="abc")) == "abc"
