"""Small CTAP2 building blocks shared by the scenarios: requests as a platform sends them."""

from __future__ import annotations

import hashlib
import os

from fido2.attestation import Attestation
from fido2.ctap2 import Ctap2
from fido2.ctap2.pin import ClientPin, PinProtocol
from fido2.webauthn import AuthenticatorData

PIN = "314159"
OTHER_PIN = "271828"
WRONG_PIN = "000000"
ES256 = [{"type": "public-key", "alg": -7}]
FLAG = AuthenticatorData.FLAG
P = ClientPin.PERMISSION


def client_data_hash() -> bytes:
    return hashlib.sha256(os.urandom(32)).digest()


def rp(rp_id: str = "example.com") -> dict:
    return {"id": rp_id, "name": rp_id}


def user(name: str) -> dict:
    return {"id": hashlib.sha256(name.encode()).digest()[:16], "name": name, "displayName": name.title()}


def token(ctap: Ctap2, protocol: PinProtocol, permissions, rp_id: str | None = None, pin: str = PIN) -> bytes:
    return ClientPin(ctap, protocol).get_pin_token(pin, permissions, rp_id)


def make_credential(
    ctap: Ctap2,
    rp_id: str = "example.com",
    name: str = "alice",
    *,
    rk: bool = False,
    auth: tuple[PinProtocol, bytes] | None = None,
    exclude=None,
    extensions=None,
):
    """makeCredential; with `auth` = (protocol, token) the request carries pinUvAuthParam."""
    cdh = client_data_hash()
    kwargs = {}
    if auth is not None:
        protocol, tok = auth
        kwargs = {"pin_uv_param": protocol.authenticate(tok, cdh), "pin_uv_protocol": protocol.VERSION}
    att = ctap.make_credential(
        cdh,
        rp(rp_id),
        user(name),
        ES256,
        exclude_list=exclude,
        extensions=extensions,
        options={"rk": True} if rk else None,
        **kwargs,
    )
    # The attestation must verify with python-fido2's own verifier for its format.
    Attestation.for_type(att.fmt)().verify(att.att_stmt, att.auth_data, cdh)
    assert att.auth_data.rp_id_hash == hashlib.sha256(rp_id.encode()).digest()
    return att


def descriptor(att) -> dict:
    return {"type": "public-key", "id": att.auth_data.credential_data.credential_id}


def get_assertion(ctap: Ctap2, rp_id: str = "example.com", allow=None, auth=None, options=None):
    """getAssertion, returning (response, clientDataHash) for signature checks."""
    cdh = client_data_hash()
    kwargs = {}
    if auth is not None:
        protocol, tok = auth
        kwargs = {"pin_uv_param": protocol.authenticate(tok, cdh), "pin_uv_protocol": protocol.VERSION}
    resp = ctap.get_assertion(rp_id, cdh, allow_list=allow, options=options, **kwargs)
    return resp, cdh


def verify(resp, cdh: bytes, att) -> None:
    """The assertion's signature verifies under the credential's public key (raises if not)."""
    resp.verify(cdh, att.auth_data.credential_data.public_key)
