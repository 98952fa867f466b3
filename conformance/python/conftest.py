"""Fixtures for the python-fido2 suite against keyward's virtual key (docs/conformance.md)."""

from __future__ import annotations

import os

import pytest
from fido2.ctap2.pin import PinProtocolV1, PinProtocolV2

from keyward_bridge import VirtualKey, keyward_bin


@pytest.fixture
def key(tmp_path):
    """A fresh ctap21 virtual key file, unplugged at the end of the test."""
    if not os.access(keyward_bin(), os.X_OK):
        pytest.fail(
            f"{keyward_bin()} is not an executable keyward: run `cargo build --bin keyward` "
            "or set KEYWARD_BIN"
        )
    k = VirtualKey(tmp_path)
    yield k
    k.disconnect()


@pytest.fixture
def ctap(key):
    return key.connect()


@pytest.fixture(params=[PinProtocolV1, PinProtocolV2], ids=["pin-v1", "pin-v2"])
def protocol(request):
    return request.param()
