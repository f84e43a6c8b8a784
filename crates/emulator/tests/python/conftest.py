"""Starts the vaultsync emulator binary and wires the official Azure SDKs to it.

The binary path comes from VAULTSYNC_EMULATOR_BIN (required: the suite fails, never skips,
without it). *.localhost names are resolved to 127.0.0.1 in-process, since system DNS may not.
"""
import json
import os
import socket
import subprocess
import tempfile

import pytest
import requests
from azure.identity import ClientAssertionCredential
from azure.keyvault.certificates import CertificateClient
from azure.keyvault.secrets import SecretClient

TENANT = "tenant-py"
CLIENT = "app-py"
SUBJECT = "system:serviceaccount:py:reader"
VAULT = "pyvault"

_real_getaddrinfo = socket.getaddrinfo


def _getaddrinfo(host, *args, **kwargs):
    # Vault hosts such as pyvault.vault.localhost must reach the loopback emulator.
    if isinstance(host, str) and (host == "localhost" or host.endswith(".localhost")):
        host = "127.0.0.1"
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _getaddrinfo


class Emulator:
    def __init__(self, proc, info, ca_file):
        self.proc = proc
        self.port = info["port"]
        self.authority = info["authority_host"]
        self.control_url = info["control_url"]
        self.ca_file = ca_file

    def vault_url(self, vault=VAULT):
        return f"https://{vault}.vault.localhost:{self.port}/"

    def post(self, path, body):
        r = requests.post(f"{self.control_url}{path}", json=body, verify=self.ca_file, timeout=10)
        r.raise_for_status()
        return r.json()

    def mint(self):
        return self.post("/test-issuer/token", {"subject": SUBJECT, "expires_in": 600})["token"]

    def counters(self):
        r = requests.get(f"{self.control_url}/counters", verify=self.ca_file, timeout=10)
        return r.json()


@pytest.fixture(scope="session")
def emulator():
    binary = os.environ.get("VAULTSYNC_EMULATOR_BIN")
    if not binary:
        pytest.fail("VAULTSYNC_EMULATOR_BIN is not set (path of the vaultsync-emulator binary)")
    tmp = tempfile.mkdtemp()
    ca_file = os.path.join(tmp, "ca.pem")
    proc = subprocess.Popen(
        [binary, "--port", "0", "--test-issuer", "--challenge-port", "--ca-out", ca_file],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        pytest.fail("emulator exited before printing its ready line")
    emu = Emulator(proc, json.loads(line), ca_file)
    emu.post("/vaults", {"name": VAULT, "tenant": TENANT})
    emu.post("/apps", {"tenant": TENANT, "client_id": CLIENT})
    emu.post("/federated-credentials", {"client_id": CLIENT, "subject": SUBJECT})
    emu.post(
        "/role-assignments",
        {
            "client_id": CLIENT,
            "vault": VAULT,
            "permissions": [
                "SecretsRead",
                "SecretsWrite",
                "CertificatesRead",
                "List",
                "CertificatesWrite",
            ],
        },
    )
    yield emu
    proc.terminate()
    assert proc.wait(timeout=10) == 0, "emulator exits cleanly on SIGTERM"


@pytest.fixture(scope="session")
def credential(emulator):
    return ClientAssertionCredential(
        TENANT,
        CLIENT,
        func=emulator.mint,
        authority=emulator.authority,
        connection_verify=emulator.ca_file,
    )


@pytest.fixture(scope="session")
def secrets(emulator, credential):
    # Challenge resource verification stays on (the default).
    return SecretClient(emulator.vault_url(), credential, connection_verify=emulator.ca_file)


@pytest.fixture(scope="session")
def certificates(emulator, credential):
    return CertificateClient(emulator.vault_url(), credential, connection_verify=emulator.ca_file)
