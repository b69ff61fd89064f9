"""Throw-away certificates for TLS tests, made with the ``openssl`` command.

:func:`make_certificates` writes a CA and a certificate it signed (for ``localhost`` and
``127.0.0.1``) into a directory; call it twice with different ``name`` s for a second,
unrelated CA whose certificates the first one does not trust::

    good = make_certificates(tmp_path)
    rogue = make_certificates(tmp_path, name="rogue")
    config = {**good.internal_config(), **good.rest_config()}
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CertificateFiles", "make_certificates"]

_EXTENSIONS = """\
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
"""


@dataclass(frozen=True)
class CertificateFiles:
    """PEM files: ``ca`` (the CA's certificate, a truststore), ``cert`` and ``key`` (a
    certificate the CA signed, for ``localhost`` and ``127.0.0.1``, and its key)."""

    ca: Path
    cert: Path
    key: Path

    def internal_config(self) -> dict[str, str]:
        """The keys that turn on internal TLS with these files."""
        return {"security.ssl.internal.enabled": "true",
                "security.ssl.internal.cert": str(self.cert),
                "security.ssl.internal.key": str(self.key),
                "security.ssl.internal.truststore": str(self.ca)}

    def rest_config(self, authentication: bool = False) -> dict[str, str]:
        """The keys that turn on REST TLS (and mutual authentication) with these files."""
        config = {"security.ssl.rest.enabled": "true",
                  "security.ssl.rest.cert": str(self.cert),
                  "security.ssl.rest.key": str(self.key),
                  "security.ssl.rest.truststore": str(self.ca)}
        if authentication:
            config["security.ssl.rest.authentication-enabled"] = "true"
        return config


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed ({done.returncode}):\n"
                           f"{done.stderr}")


def make_certificates(directory: str | Path, name: str = "strom") -> CertificateFiles:
    """A CA ``<name>-ca.pem`` and a certificate ``<name>.pem`` / ``<name>-key.pem`` it
    signed, valid for a day, in ``directory``. Needs the ``openssl`` command."""
    if shutil.which("openssl") is None:
        raise RuntimeError("make_certificates needs the openssl command; install OpenSSL.")
    where = Path(directory)
    where.mkdir(parents=True, exist_ok=True)
    ca, ca_key = f"{name}-ca.pem", f"{name}-ca-key.pem"
    cert, key, request = f"{name}.pem", f"{name}-key.pem", f"{name}.csr"
    extensions = f"{name}.ext"
    (where / extensions).write_text(_EXTENSIONS)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", f"/CN={name} test CA", "-keyout", ca_key, "-out", ca, cwd=where)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-keyout", key, "-out", request, cwd=where)
    _openssl("x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key,
             "-CAcreateserial", "-days", "1", "-extfile", extensions, "-out", cert, cwd=where)
    return CertificateFiles(where / ca, where / cert, where / key)
