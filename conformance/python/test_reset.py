"""authenticatorReset inside and outside the power-up window."""

import pytest
from fido2.ctap import CtapError
from fido2.ctap2.pin import ClientPin

from helpers import P, PIN, get_assertion, make_credential, token


def test_reset_inside_the_window_erases_pin_and_credentials(key, ctap, protocol):
    ClientPin(ctap, protocol).set_pin(PIN)
    tok = token(ctap, protocol, P.MAKE_CREDENTIAL, "example.com")
    make_credential(ctap, rk=True, auth=(protocol, tok))
    ctap = key.replug()  # opens the 10-second window
    ctap.reset()
    info = ctap.get_info()
    assert info.options["clientPin"] is False
    with pytest.raises(CtapError) as e:
        get_assertion(ctap)
    assert e.value.code == CtapError.ERR.NO_CREDENTIALS
    ClientPin(ctap, protocol).set_pin(PIN)  # a fresh key again


def test_reset_outside_the_window_is_not_allowed(key, ctap, protocol):
    ClientPin(ctap, protocol).set_pin(PIN)
    ctap = key.knob("--powered-up-ago", "60")
    with pytest.raises(CtapError) as e:
        ctap.reset()
    assert e.value.code == CtapError.ERR.NOT_ALLOWED
    assert ctap.get_info().options["clientPin"] is True
    assert len(token(ctap, protocol, P.CREDENTIAL_MGMT)) == 32, "the PIN survived"
