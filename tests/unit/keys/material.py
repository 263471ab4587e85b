"""Key material and encrypted fixtures made at test time: real `age-keygen`, `sops` and
`kubeseal` built by tools/build.sh, or (for Sealed Secrets, and only where a test says so)
the public-key half of the scheme with `cryptography`. Nothing encrypted is committed."""

from __future__ import annotations

import base64
import datetime
import functools
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]


def build_tool(name: str) -> Path:
    built = subprocess.run(["bash", str(ROOT / "tools" / "build.sh"), name],
                           capture_output=True, text=True, timeout=1800, check=False)
    assert built.returncode == 0, built.stderr[-3000:]
    return Path(built.stdout.strip().splitlines()[-1])


def age_keygen(age_keygen_binary: Path, path: Path) -> str:
    """A new age key file at `path`; returns its recipient (public key)."""
    subprocess.run([str(age_keygen_binary), "-o", str(path)], check=True, capture_output=True)
    return subprocess.run([str(age_keygen_binary), "-y", str(path)], check=True,
                          capture_output=True, text=True).stdout.strip()


def secret(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "type": "Opaque", "stringData": dict(data)}


def sops_encrypt(sops: Path, file: Path, *, recipient: str) -> None:
    """Encrypt `file` in place for `recipient`, as Flux's guide does (data/stringData only)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOPS_")}
    subprocess.run([str(sops), "--encrypt", "--age", recipient, "--encrypted-regex",
                    "^(data|stringData)$", "--in-place", str(file)],
                   check=True, capture_output=True, env=env, cwd=file.parent)


def sealing_key(folder: Path, *, name: str = "sealing") -> tuple[Path, Path, Any]:
    """A controller-like sealing key: (private key PEM, self-signed certificate, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sealed-secret")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(key, hashes.SHA256()))
    key_path, cert_path = folder / f"{name}.key", folder / f"{name}.crt"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path, key


def key_backup(path: Path, pems: list[Path], crts: list[Path]) -> None:
    """The controller's key backup as `kubectl get secret -l ...sealed-secrets-key -o yaml`
    writes it: a List of kubernetes.io/tls Secrets."""
    items = [{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
              "metadata": {"name": f"sealed-secrets-key{i}", "namespace": "kube-system",
                           "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
              "data": {"tls.crt": base64.b64encode(crt.read_bytes()).decode(),
                       "tls.key": base64.b64encode(pem.read_bytes()).decode()}}
             for i, (pem, crt) in enumerate(zip(pems, crts, strict=True))]
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))


def seal_value(public_key: Any, value: bytes, label: bytes) -> str:
    """One value sealed with the public key, by the scheme the controller opens (tests that
    must not depend on kubeseal)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    session = os.urandom(32)
    sealed_key = public_key.encrypt(session, padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(),
        label=label or None))
    blob = len(sealed_key).to_bytes(2, "big") + sealed_key + AESGCM(session).encrypt(
        bytes(12), value, None)
    return base64.b64encode(blob).decode()


def sealed_secret(name: str, namespace: str, encrypted: dict[str, str],
                  annotations: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": metadata,
            "spec": {"encryptedData": encrypted,
                     "template": {"metadata": {"name": name, "namespace": namespace}}}}


def kubeseal(kubeseal_binary: Path, cert: Path, document: dict[str, Any], *,
             scope: str = "strict") -> dict[str, Any]:
    """A SealedSecret made offline by the real kubeseal from a Secret and the certificate."""
    done = subprocess.run([str(kubeseal_binary), "--cert", str(cert), "--format", "yaml",
                           "--scope", scope], input=yaml.safe_dump(document), check=True,
                          capture_output=True, text=True)
    return dict(yaml.safe_load(done.stdout))


@dataclass(frozen=True)
class Tools:
    sops: Path
    age_keygen: Path
    kubeseal: Path | None  # None: the proxy does not serve it; seal with `seal_value`


@functools.cache
def tools() -> Tools:
    """sops, age-keygen and kubeseal from tools/build.sh (built once, side by side, into a
    cache outside the checkout; later runs reuse them)."""
    names = ("sops", "age-keygen", "kubeseal")
    builds = {name: subprocess.Popen(["bash", str(ROOT / "tools" / "build.sh"), name],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for name in names}
    found: dict[str, Path | None] = {}
    for name, build in builds.items():
        out, err = build.communicate(timeout=1800)
        if build.returncode != 0:
            assert name == "kubeseal", err[-3000:]
            found[name] = None
            continue
        found[name] = Path(out.strip().splitlines()[-1])
    sops, age_keygen_binary = found["sops"], found["age-keygen"]
    assert sops is not None and age_keygen_binary is not None
    return Tools(sops=sops, age_keygen=age_keygen_binary, kubeseal=found["kubeseal"])
