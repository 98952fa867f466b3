"""clientPIN on PIN/UV auth protocols 1 and 2: set, change, tokens, permissions, blocking."""

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import CredentialManagement
from fido2.ctap2.pin import ClientPin

from helpers import FLAG, OTHER_PIN, P, PIN, WRONG_PIN, make_credential, token


def err(excinfo):
    return excinfo.value.code


def test_set_pin_turns_client_pin_on_with_eight_retries(key, ctap, protocol):
    pin = ClientPin(ctap, protocol)
    pin.set_pin(PIN)
    assert ctap.get_info().options["clientPin"] is True
    assert pin.get_pin_retries()[0] == 8


def test_set_pin_twice_is_refused(ctap, protocol):
    ClientPin(ctap, protocol).set_pin(PIN)
    with pytest.raises(CtapError) as e:
        ClientPin(ctap, protocol).set_pin(OTHER_PIN)
    assert err(e) == CtapError.ERR.PIN_AUTH_INVALID


def test_set_pin_shorter_than_minimum_is_a_policy_violation(ctap, protocol):
    # python-fido2 refuses short PINs itself, so build setPIN as its set_pin does, unchecked.
    pin = ClientPin(ctap, protocol)
    key_agreement, shared_secret = pin._get_shared_secret()
    new_pin_enc = protocol.encrypt(shared_secret, b"123".ljust(64, b"\0"))
    with pytest.raises(CtapError) as e:
        ctap.client_pin(
            protocol.VERSION,
            ClientPin.CMD.SET_PIN,
            key_agreement=key_agreement,
            new_pin_enc=new_pin_enc,
            pin_uv_param=protocol.authenticate(shared_secret, new_pin_enc),
        )
    assert err(e) == CtapError.ERR.PIN_POLICY_VIOLATION
    assert ctap.get_info().options["clientPin"] is False


def test_get_pin_token_without_pin_set(ctap, protocol):
    with pytest.raises(CtapError) as e:
        token(ctap, protocol, P.MAKE_CREDENTIAL, "example.com")
    assert err(e) == CtapError.ERR.PIN_NOT_SET


def test_change_pin_then_only_the_new_pin_works(ctap, protocol):
    pin = ClientPin(ctap, protocol)
    pin.set_pin(PIN)
    pin.change_pin(PIN, OTHER_PIN)
    with pytest.raises(CtapError) as e:
        pin.get_pin_token(PIN, P.CREDENTIAL_MGMT)
    assert err(e) == CtapError.ERR.PIN_INVALID
    assert pin.get_pin_retries()[0] == 7
    assert len(pin.get_pin_token(OTHER_PIN, P.CREDENTIAL_MGMT)) == 32
    assert pin.get_pin_retries()[0] == 8, "the right PIN restores every retry"


def test_change_pin_with_wrong_current_pin_costs_a_retry(ctap, protocol):
    pin = ClientPin(ctap, protocol)
    pin.set_pin(PIN)
    with pytest.raises(CtapError) as e:
        pin.change_pin(WRONG_PIN, OTHER_PIN)
    assert err(e) == CtapError.ERR.PIN_INVALID
    assert pin.get_pin_retries()[0] == 7
    pin.get_pin_token(PIN, P.MAKE_CREDENTIAL, "example.com")


def test_legacy_get_pin_token_authorises_make_credential(ctap, protocol):
    pin = ClientPin(ctap, protocol)
    pin.set_pin(PIN)
    tok = pin.get_pin_token(PIN)  # no permissions: getPinToken (0x05)
    att = make_credential(ctap, rk=True, auth=(protocol, tok))
    assert att.auth_data.flags & FLAG.UV and att.auth_data.flags & FLAG.UP


def test_token_with_make_credential_permission_is_bound_to_its_rp(ctap, protocol):
    ClientPin(ctap, protocol).set_pin(PIN)
    tok = token(ctap, protocol, P.MAKE_CREDENTIAL, "example.com")
    make_credential(ctap, "example.com", rk=True, auth=(protocol, tok))
    with pytest.raises(CtapError) as e:
        make_credential(ctap, "other.example", rk=True, auth=(protocol, tok))
    assert err(e) == CtapError.ERR.PIN_AUTH_INVALID


def test_token_without_make_credential_permission_is_refused(ctap, protocol):
    ClientPin(ctap, protocol).set_pin(PIN)
    tok = token(ctap, protocol, P.CREDENTIAL_MGMT)
    with pytest.raises(CtapError) as e:
        make_credential(ctap, rk=True, auth=(protocol, tok))
    assert err(e) == CtapError.ERR.PIN_AUTH_INVALID


def test_credential_management_needs_its_permission(ctap, protocol):
    ClientPin(ctap, protocol).set_pin(PIN)
    tok = token(ctap, protocol, P.MAKE_CREDENTIAL, "example.com")
    with pytest.raises(CtapError) as e:
        CredentialManagement(ctap, protocol, tok).get_metadata()
    assert err(e) == CtapError.ERR.PIN_AUTH_INVALID
    good = token(ctap, protocol, P.CREDENTIAL_MGMT)
    assert CredentialManagement(ctap, protocol, good).get_metadata()[1] == 0


def test_zero_permissions_are_an_invalid_parameter(ctap, protocol):
    ClientPin(ctap, protocol).set_pin(PIN)
    with pytest.raises(CtapError) as e:
        token(ctap, protocol, P(0))
    assert err(e) == CtapError.ERR.INVALID_PARAMETER


def test_a_new_token_invalidates_the_previous_one(ctap, protocol):
    ClientPin(ctap, protocol).set_pin(PIN)
    first = token(ctap, protocol, P.MAKE_CREDENTIAL, "example.com")
    token(ctap, protocol, P.MAKE_CREDENTIAL, "example.com")
    with pytest.raises(CtapError) as e:
        make_credential(ctap, rk=True, auth=(protocol, first))
    assert err(e) == CtapError.ERR.PIN_AUTH_INVALID


def test_right_pin_after_wrong_ones_restores_retries(ctap, protocol):
    pin = ClientPin(ctap, protocol)
    pin.set_pin(PIN)
    for left in (7, 6):
        with pytest.raises(CtapError) as e:
            pin.get_pin_token(WRONG_PIN, P.CREDENTIAL_MGMT)
        assert err(e) == CtapError.ERR.PIN_INVALID
        assert pin.get_pin_retries()[0] == left
    pin.get_pin_token(PIN, P.CREDENTIAL_MGMT)
    assert pin.get_pin_retries()[0] == 8


def _wrong(ctap, protocol, expected):
    with pytest.raises(CtapError) as e:
        ClientPin(ctap, protocol).get_pin_token(WRONG_PIN, P.CREDENTIAL_MGMT)
    assert err(e) == expected


def test_wrong_pins_down_to_blocked(key, ctap, protocol):
    """3 in a row needs a power cycle (`virtual replug`); 8 in all blocks the PIN for good."""
    ClientPin(ctap, protocol).set_pin(PIN)
    E = CtapError.ERR
    _wrong(ctap, protocol, E.PIN_INVALID)  # 7 left
    _wrong(ctap, protocol, E.PIN_INVALID)  # 6 left
    _wrong(ctap, protocol, E.PIN_AUTH_BLOCKED)  # 5 left, third in a row
    # Until the power cycle even the right PIN is refused, and it costs nothing.
    with pytest.raises(CtapError) as e:
        ClientPin(ctap, protocol).get_pin_token(PIN, P.CREDENTIAL_MGMT)
    assert err(e) == E.PIN_AUTH_BLOCKED
    assert ClientPin(ctap, protocol).get_pin_retries()[0] == 5

    ctap = key.replug()
    _wrong(ctap, protocol, E.PIN_INVALID)  # 4
    _wrong(ctap, protocol, E.PIN_INVALID)  # 3
    _wrong(ctap, protocol, E.PIN_AUTH_BLOCKED)  # 2

    ctap = key.replug()
    _wrong(ctap, protocol, E.PIN_INVALID)  # 1
    _wrong(ctap, protocol, E.PIN_BLOCKED)  # 0: blocked
    assert ClientPin(ctap, protocol).get_pin_retries()[0] == 0
    with pytest.raises(CtapError) as e:
        ClientPin(ctap, protocol).get_pin_token(PIN, P.CREDENTIAL_MGMT)
    assert err(e) == E.PIN_BLOCKED

    # A power cycle does not unblock it; only a reset does.
    ctap = key.replug()
    with pytest.raises(CtapError) as e:
        ClientPin(ctap, protocol).get_pin_token(PIN, P.CREDENTIAL_MGMT)
    assert err(e) == E.PIN_BLOCKED
    ctap.reset()
    assert ctap.get_info().options["clientPin"] is False
    ClientPin(ctap, protocol).set_pin(PIN)
    assert ClientPin(ctap, protocol).get_pin_retries()[0] == 8
