"""versitygw serving HTTPS with a certificate from a private CA made here with `cryptography`.

The CA is new for every test session: nothing on the machine trusts it, so a restore that
ignores the CA bundle it is given fails.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from drdrill.testbed import testbed_binary
from tests.integration.s3_server import (
    ACCESS_KEY,
    CANARY_SECRET,
    REGION,
    S3Server,
    _stop,
    free_port,
)


@dataclass(frozen=True)
class PrivateCa:
    ca_pem: Path
    cert_pem: Path
    key_pem: Path


def make_private_ca(folder: Path) -> PrivateCa:
    """A CA and a server certificate for localhost and 127.0.0.1 signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "drdrill test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    found = PrivateCa(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    found.ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    found.cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    found.key_pem.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    os.chmod(found.key_pem, 0o600)
    return found


def _wait_for_tls(port: int, ca: Path, process: subprocess.Popen[bytes]) -> None:
    context = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"versitygw (TLS) exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock, \
                    context.wrap_socket(sock, server_hostname="localhost"):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("versitygw (TLS) did not answer within 30 s")


@contextlib.contextmanager
def running_tls_versitygw(workdir: Path, ca: PrivateCa) -> Iterator[S3Server]:
    """versitygw on 127.0.0.1 serving HTTPS with `ca`'s server certificate."""
    data = workdir / "data"
    data.mkdir(parents=True)
    port = free_port()
    env = {**os.environ, "ROOT_ACCESS_KEY_ID": ACCESS_KEY, "ROOT_SECRET_ACCESS_KEY": CANARY_SECRET}
    with (workdir / "versitygw.log").open("wb") as log:
        process = subprocess.Popen(
            [str(testbed_binary("versitygw")), "--port", f"127.0.0.1:{port}",
             "--cert", str(ca.cert_pem), "--key", str(ca.key_pem), "--quiet",
             "--region", REGION, "posix", str(data)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        _wait_for_tls(port, ca.ca_pem, process)
        yield S3Server(f"https://localhost:{port}", "127.0.0.1", port, ACCESS_KEY,
                       CANARY_SECRET, data)
    finally:
        _stop(process)
