"""authenticatorConfig: setMinPINLength (with force change and RP IDs), toggleAlwaysUv."""

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import Config
from fido2.ctap2.pin import ClientPin

from helpers import P, PIN, get_assertion, descriptor, make_credential, token

E = CtapError.ERR
LONG_PIN = "31415926"


def config(ctap, protocol, pin=PIN):
    return Config(ctap, protocol, token(ctap, protocol, P.AUTHENTICATOR_CFG, pin=pin))


def test_raising_min_pin_length_above_the_pin_forces_a_change(ctap, protocol):
    pin = ClientPin(ctap, protocol)
    pin.set_pin(PIN)  # 6 digits
    config(ctap, protocol).set_min_pin_length(8)
    info = ctap.get_info()
    assert info.min_pin_length == 8
    assert info.force_pin_change is True
    # The PIN is still right, but nothing is authorised until it is changed.
    with pytest.raises(CtapError) as e:
        pin.get_pin_token(PIN, P.MAKE_CREDENTIAL, "example.com")
    assert e.value.code == E.PIN_POLICY_VIOLATION
    with pytest.raises(CtapError) as e:
        pin.change_pin(PIN, "1234567")  # 7 < 8
    assert e.value.code == E.PIN_POLICY_VIOLATION
    pin.change_pin(PIN, LONG_PIN)
    assert ctap.get_info().force_pin_change is False
    assert len(pin.get_pin_token(LONG_PIN, P.MAKE_CREDENTIAL, "example.com")) == 32


def test_force_change_alone_demands_a_different_pin(ctap, protocol):
    pin = ClientPin(ctap, protocol)
    pin.set_pin(PIN)
    config(ctap, protocol).set_min_pin_length(force_change_pin=True)
    assert ctap.get_info().force_pin_change is True
    assert ctap.get_info().min_pin_length == 4
    with pytest.raises(CtapError) as e:
        pin.change_pin(PIN, PIN)
    assert e.value.code == E.PIN_POLICY_VIOLATION
    pin.change_pin(PIN, LONG_PIN)
    assert ctap.get_info().force_pin_change is False


def test_min_pin_length_never_decreases(ctap, protocol):
    ClientPin(ctap, protocol).set_pin(LONG_PIN)
    config(ctap, protocol, LONG_PIN).set_min_pin_length(6)
    with pytest.raises(CtapError) as e:
        config(ctap, protocol, LONG_PIN).set_min_pin_length(5)
    assert e.value.code == E.PIN_POLICY_VIOLATION
    assert ctap.get_info().min_pin_length == 6


def test_min_pin_length_extension_for_listed_rp(ctap, protocol):
    ClientPin(ctap, protocol).set_pin(LONG_PIN)
    config(ctap, protocol, LONG_PIN).set_min_pin_length(7, rp_ids=["example.com"])
    tok = token(ctap, protocol, P.MAKE_CREDENTIAL, "example.com", pin=LONG_PIN)
    att = make_credential(ctap, "example.com", rk=True, auth=(protocol, tok), extensions={"minPinLength": True})
    assert att.auth_data.extensions == {"minPinLength": 7}
    tok = token(ctap, protocol, P.MAKE_CREDENTIAL, "other.example", pin=LONG_PIN)
    att = make_credential(ctap, "other.example", rk=True, auth=(protocol, tok), extensions={"minPinLength": True})
    assert not (att.auth_data.extensions or {}).get("minPinLength"), "an unlisted RP learns nothing"


def test_config_needs_its_permission(ctap, protocol):
    ClientPin(ctap, protocol).set_pin(PIN)
    tok = token(ctap, protocol, P.CREDENTIAL_MGMT)
    with pytest.raises(CtapError) as e:
        Config(ctap, protocol, tok).toggle_always_uv()
    assert e.value.code == E.PIN_AUTH_INVALID
    assert ctap.get_info().options["alwaysUv"] is False


def test_config_without_pin_auth_once_a_pin_is_set(ctap, protocol):
    ClientPin(ctap, protocol).set_pin(PIN)
    with pytest.raises(CtapError) as e:
        Config(ctap).toggle_always_uv()
    assert e.value.code == E.PUAT_REQUIRED


def test_toggle_always_uv(ctap, protocol):
    ClientPin(ctap, protocol).set_pin(PIN)
    att = make_credential(ctap)  # non-discoverable, no PIN needed yet
    config(ctap, protocol).toggle_always_uv()
    assert ctap.get_info().options["alwaysUv"] is True
    with pytest.raises(CtapError) as e:
        make_credential(ctap)
    assert e.value.code == E.PUAT_REQUIRED
    with pytest.raises(CtapError) as e:
        get_assertion(ctap, allow=[descriptor(att)])
    assert e.value.code == E.PUAT_REQUIRED
    config(ctap, protocol).toggle_always_uv()
    assert ctap.get_info().options["alwaysUv"] is False
    get_assertion(ctap, allow=[descriptor(att)])
