"""getInfo and CTAPHID transport, as python-fido2 sees keyward's virtual key."""

import os

import pytest
from fido2.ctap import CtapError
from fido2.hid import CAPABILITY, CTAPHID
from fido2.webauthn import Aaguid


def test_get_info_advertises_ctap21_without_pin(ctap):
    info = ctap.get_info()
    assert "FIDO_2_1" in info.versions and "FIDO_2_0" in info.versions
    assert info.options.get("clientPin") is False, "no PIN set yet"
    assert info.options.get("rk") is True
    assert info.options.get("up") is True
    assert info.options.get("pinUvAuthToken") is True
    assert info.options.get("credMgmt") is True
    assert info.options.get("authnrCfg") is True
    assert info.options.get("setMinPINLength") is True
    assert info.options.get("alwaysUv") is False
    assert set(info.pin_uv_protocols) == {1, 2}
    assert info.pin_uv_protocols[0] == 2, "the preferred protocol comes first"
    assert "credProtect" in info.extensions and "minPinLength" in info.extensions
    assert {"type": "public-key", "alg": -7} in info.algorithms
    assert info.min_pin_length == 4
    assert info.force_pin_change is False
    assert info.aaguid != Aaguid.NONE, "a CTAP2 key has an AAGUID"
    assert info.max_msg_size >= 1024


def test_ctaphid_init_reports_cbor_capability(key, ctap):
    assert key.device.capabilities & CAPABILITY.CBOR
    assert key.device.version == 2, "CTAPHID protocol version"


def test_ctaphid_ping_echoes_a_multi_packet_message(key, ctap):
    payload = os.urandom(300)  # init packet + 5 continuation packets
    assert key.device.call(CTAPHID.PING, payload) == payload


def test_unknown_cbor_command_is_invalid_command(ctap):
    with pytest.raises(CtapError) as e:
        ctap.send_cbor(0x55)
    assert e.value.code == CtapError.ERR.INVALID_COMMAND


def test_info_survives_a_replug(key, ctap):
    aaguid = ctap.get_info().aaguid
    assert key.replug().get_info().aaguid == aaguid
