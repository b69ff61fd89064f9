"""Certificates for the security tests: made once per session with ``openssl``."""

from __future__ import annotations

from pathlib import Path

import pytest

from strom.testing.tls import CertificateFiles, make_certificates


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    """A CA and a certificate it signed for localhost / 127.0.0.1."""
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def rogue(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    """Another CA and its certificate: valid, but not trusted by ``certs``' CA."""
    return make_certificates(tmp_path_factory.mktemp("rogue"), name="rogue")


@pytest.fixture
def cert_dir(certs: CertificateFiles) -> Path:
    return certs.ca.parent
