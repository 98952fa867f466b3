"""Issue 14: the passkey registration keyward posts to Microsoft Graph, verified by a WebAuthn
implementation keyward does not use itself (python-fido2's server), and a tampered one refused.

The registrations come from the Rust test `registrations_for_the_independent_check`
(tests/entra.rs), which runs `keyward entra register` against the local Graph double with
virtual keys and saves each POST fido2Methods body with the challenge Graph issued.
"""

import copy
import json
import os
import pathlib
import shutil
import subprocess

import pytest
from fido2 import cbor
from fido2.attestation import Attestation, InvalidSignature
from fido2.server import Fido2Server
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import AttestationObject, CollectedClientData

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def registrations(tmp_path_factory):
    if shutil.which("cargo") is None:
        pytest.skip("cargo is needed to run keyward against the Graph double")
    out = tmp_path_factory.mktemp("entra")
    env = dict(os.environ, KEYWARD_GRAPH_DOUBLE_SAVE=str(out))
    subprocess.run(
        ["cargo", "test", "--quiet", "--test", "entra", "--",
         "--exact", "registrations_for_the_independent_check", "--include-ignored"],
        cwd=ROOT, env=env, check=True, timeout=1800,
    )
    saved = [json.loads(p.read_text()) for p in sorted(out.glob("registration-*.json"))]
    assert len(saved) == 2, "one ctap21 and one ctap20 virtual key registered"
    return saved


def verify_attestation(attestation_object: AttestationObject, client_data_hash: bytes):
    # The attestation statement's signature over authData || clientDataHash, with the
    # certificate it carries (packed, x5c): python-fido2's own verifier for the format.
    verifier = Attestation.for_type(attestation_object.fmt)()
    verifier.verify(attestation_object.att_stmt, attestation_object.auth_data, client_data_hash)


def complete(saved, body=None):
    body = body or saved["body"]
    server = Fido2Server(
        {"id": saved["rp_id"], "name": "Microsoft"},
        attestation="direct",
        verify_attestation=verify_attestation,
    )
    state = {"challenge": saved["challenge"], "user_verification": saved["user_verification"]}
    pkc = body["publicKeyCredential"]
    return server.register_complete(state, {
        "id": pkc["id"],
        "rawId": pkc["id"],
        "type": "public-key",
        "response": pkc["response"],
        "clientExtensionResults": pkc.get("clientExtensionResults", {}),
    })


def test_registration_verifies_in_an_independent_webauthn_server(registrations):
    for saved in registrations:
        auth_data = complete(saved)
        assert auth_data.is_user_verified()
        assert auth_data.credential_data.credential_id == websafe_decode(
            saved["body"]["publicKeyCredential"]["id"])
        client = CollectedClientData(websafe_decode(
            saved["body"]["publicKeyCredential"]["response"]["clientDataJSON"]))
        assert client.origin == "https://login.microsoftonline.com"
        assert client.cross_origin is False


def test_tampered_attestation_is_refused(registrations):
    saved = registrations[0]
    body = copy.deepcopy(saved["body"])
    response = body["publicKeyCredential"]["response"]
    obj = cbor.decode(websafe_decode(response["attestationObject"]))
    auth = bytearray(obj["authData"])
    auth[33] ^= 0x01  # the signature counter: covered by the attestation signature
    obj["authData"] = bytes(auth)
    response["attestationObject"] = websafe_encode(cbor.encode(obj))
    with pytest.raises(InvalidSignature):
        complete(saved, body)


def test_client_data_from_another_origin_is_refused(registrations):
    saved = registrations[0]
    body = copy.deepcopy(saved["body"])
    response = body["publicKeyCredential"]["response"]
    cdj = json.loads(websafe_decode(response["clientDataJSON"]))
    cdj["origin"] = "https://login.microsoftonline.com.evil.example"
    response["clientDataJSON"] = websafe_encode(json.dumps(cdj, separators=(",", ":")).encode())
    with pytest.raises(ValueError):
        complete(saved, body)
