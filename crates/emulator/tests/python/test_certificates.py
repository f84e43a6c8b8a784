"""azure-keyvault-certificates against the emulator: import, get, and backing-secret download in
PKCS#12 and PEM forms, parsed with `cryptography`."""
import base64
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from azure.keyvault.certificates import CertificateContentType, CertificatePolicy


def _cert(subject, issuer, key, issuer_key, ca):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return b.sign(issuer_key, hashes.SHA256())


def chain():
    """root -> intermediate -> leaf, EC P-256; returns (leaf key, [leaf, inter, root])."""
    rk, ik, lk = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _cert("py root", "py root", rk, rk, True)
    inter = _cert("py inter", "py root", ik, rk, True)
    leaf = _cert("py leaf", "py inter", lk, ik, False)
    return lk, [leaf, inter, root]


def _backing_secret(secrets, cert):
    name, version = cert.secret_id.rstrip("/").split("/")[-2:]
    s = secrets.get_secret(name, version)
    assert s.properties.managed is True
    return s


def test_pfx_import_get_and_download(certificates, secrets):
    key, certs = chain()
    pfx = pkcs12.serialize_key_and_certificates(
        b"py", key, certs[0], [certs[1], certs[2]], serialization.BestAvailableEncryption(b"pw")
    )
    policy = CertificatePolicy.get_default()
    imported = certificates.import_certificate("py-pfx", pfx, password="pw", policy=policy)
    got = certificates.get_certificate("py-pfx")
    assert got.id == imported.id
    assert got.cer == certs[0].public_bytes(serialization.Encoding.DER)
    assert got.properties.x509_thumbprint == certs[0].fingerprint(hashes.SHA1())
    assert got.policy.content_type == CertificateContentType.pkcs12

    s = _backing_secret(secrets, got)
    assert s.properties.content_type == "application/x-pkcs12"
    k, leaf, extra = pkcs12.load_key_and_certificates(base64.b64decode(s.value), None)
    assert leaf == certs[0]
    assert set(extra) == {certs[1], certs[2]}
    assert k.public_key().public_numbers() == key.public_key().public_numbers()


def test_pem_import_get_and_download(certificates, secrets):
    key, certs = chain()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Chain out of order on purpose: the backing secret must come back leaf first.
    body = key_pem + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [certs[2], certs[0], certs[1]])
    policy = CertificatePolicy(issuer_name="Unknown", subject="CN=py leaf", content_type=CertificateContentType.pem)
    certificates.import_certificate("py-pem", body, policy=policy)
    got = certificates.get_certificate("py-pem")
    assert got.cer == certs[0].public_bytes(serialization.Encoding.DER)
    policy = certificates.get_certificate_policy("py-pem")
    assert policy.content_type == CertificateContentType.pem

    s = _backing_secret(secrets, got)
    assert s.properties.content_type == "application/x-pem-file"
    data = s.value.encode()
    assert data.startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded_key = serialization.load_pem_private_key(data, None)
    assert loaded_key.public_key().public_numbers() == key.public_key().public_numbers()
    assert x509.load_pem_x509_certificates(data) == certs
    versions = list(certificates.list_properties_of_certificate_versions("py-pem"))
    assert len(versions) == 1
    assert any(c.name == "py-pem" for c in certificates.list_properties_of_certificates())
