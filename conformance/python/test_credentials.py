"""makeCredential and getAssertion: discoverable, PIN-authorised, excludeList, credProtect,
allow lists, newest-first getNextAssertion. Every signature is verified."""

import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from fido2.ctap import CtapError
from fido2.ctap2.pin import ClientPin

from helpers import (
    FLAG,
    P,
    PIN,
    client_data_hash,
    descriptor,
    get_assertion,
    make_credential,
    rp,
    token,
    user,
    verify,
    ES256,
)

E = CtapError.ERR


def with_pin(ctap, protocol, permissions, rp_id="example.com"):
    ClientPin(ctap, protocol).set_pin(PIN)
    return (protocol, token(ctap, protocol, permissions, rp_id))


def test_non_discoverable_credential_then_assertion_with_allow_list(ctap):
    att = make_credential(ctap)
    assert att.fmt == "packed"
    assert att.auth_data.flags & FLAG.AT and att.auth_data.flags & FLAG.UP
    assert not att.auth_data.flags & FLAG.UV, "no PIN given, so no user verification"
    assert att.auth_data.credential_data.aaguid == ctap.info.aaguid
    resp, cdh = get_assertion(ctap, allow=[descriptor(att)])
    verify(resp, cdh, att)
    assert resp.credential["id"] == att.auth_data.credential_data.credential_id
    assert resp.auth_data.rp_id_hash == hashlib.sha256(b"example.com").digest()
    # The signature covers exactly this clientDataHash.
    with pytest.raises(InvalidSignature):
        verify(resp, client_data_hash(), att)


def test_signature_counter_increases(ctap):
    att = make_credential(ctap)
    first, cdh1 = get_assertion(ctap, allow=[descriptor(att)])
    second, cdh2 = get_assertion(ctap, allow=[descriptor(att)])
    verify(first, cdh1, att)
    verify(second, cdh2, att)
    assert second.auth_data.counter > first.auth_data.counter


def test_discoverable_credential_with_pin_uv_auth_param(ctap, protocol):
    auth = with_pin(ctap, protocol, P.MAKE_CREDENTIAL | P.GET_ASSERTION)
    att = make_credential(ctap, rk=True, auth=auth)
    assert att.auth_data.flags & FLAG.UV
    # The touch spent the token's mc/ga permissions (CTAP 2.1 §6.1.2 step 14,
    # clearPinUvAuthTokenPermissionsExceptLbw): the same token no longer signs in.
    with pytest.raises(CtapError) as e:
        get_assertion(ctap, auth=auth)
    assert e.value.code == E.PIN_AUTH_INVALID
    auth = (protocol, token(ctap, protocol, P.GET_ASSERTION, "example.com"))
    resp, cdh = get_assertion(ctap, auth=auth)
    verify(resp, cdh, att)
    assert resp.auth_data.flags & FLAG.UV
    assert resp.user["id"] == user("alice")["id"]


def test_discoverable_credential_needs_the_pin_once_one_is_set(ctap, protocol):
    ClientPin(ctap, protocol).set_pin(PIN)
    with pytest.raises(CtapError) as e:
        make_credential(ctap, rk=True)
    assert e.value.code == E.PUAT_REQUIRED


def test_wrong_pin_uv_auth_param_is_refused(ctap, protocol):
    proto, tok = with_pin(ctap, protocol, P.MAKE_CREDENTIAL)
    cdh = client_data_hash()
    with pytest.raises(CtapError) as e:
        ctap.make_credential(
            cdh, rp(), user("alice"), ES256, options={"rk": True},
            pin_uv_param=proto.authenticate(tok, client_data_hash()),  # MAC over another hash
            pin_uv_protocol=proto.VERSION,
        )
    assert e.value.code == E.PIN_AUTH_INVALID


def test_exclude_list_refuses_a_second_registration(ctap):
    att = make_credential(ctap, rk=True)
    with pytest.raises(CtapError) as e:
        make_credential(ctap, rk=True, name="alice", exclude=[descriptor(att)])
    assert e.value.code == E.CREDENTIAL_EXCLUDED
    # An unknown credential in the exclude list does not stop registration.
    other = dict(descriptor(att), id=bytes(len(descriptor(att)["id"])))
    make_credential(ctap, rk=True, name="bob", exclude=[other])


def test_newest_first_without_allow_list_then_get_next_assertion(ctap):
    names = ["ann", "ben", "cat"]
    made = [make_credential(ctap, rk=True, name=n) for n in names]
    make_credential(ctap, "other.example", rk=True, name="dan")
    first, cdh = get_assertion(ctap)
    assert first.number_of_credentials == 3
    responses = [first] + [ctap.get_next_assertion() for _ in range(2)]
    got = [r.credential["id"] for r in responses]
    want = [a.auth_data.credential_data.credential_id for a in reversed(made)]
    assert got == want, "newest credential first"
    for resp, att, name in zip(responses, reversed(made), reversed(names)):
        verify(resp, cdh, att)
        assert resp.user["id"] == user(name)["id"]
    assert all(r.number_of_credentials is None for r in responses[1:])
    with pytest.raises(CtapError) as e:
        ctap.get_next_assertion()
    assert e.value.code == E.NOT_ALLOWED


def test_get_next_assertion_without_a_pending_list_is_not_allowed(ctap):
    with pytest.raises(CtapError) as e:
        ctap.get_next_assertion()
    assert e.value.code == E.NOT_ALLOWED


def test_single_credential_has_no_number_of_credentials(ctap):
    att = make_credential(ctap, rk=True)
    resp, cdh = get_assertion(ctap)
    verify(resp, cdh, att)
    assert resp.number_of_credentials is None


def test_assertion_for_an_unknown_rp_finds_no_credentials(ctap):
    make_credential(ctap, rk=True)
    with pytest.raises(CtapError) as e:
        get_assertion(ctap, "nobody.example")
    assert e.value.code == E.NO_CREDENTIALS


def test_allow_list_credential_of_another_rp_is_not_used(ctap):
    att = make_credential(ctap, "example.com")
    with pytest.raises(CtapError) as e:
        get_assertion(ctap, "other.example", allow=[descriptor(att)])
    assert e.value.code == E.NO_CREDENTIALS


def test_up_false_assertion_is_silent(ctap):
    att = make_credential(ctap)
    resp, cdh = get_assertion(ctap, allow=[descriptor(att)], options={"up": False})
    verify(resp, cdh, att)
    assert not resp.auth_data.flags & FLAG.UP


def test_cred_protect_uv_required(ctap, protocol):
    auth = with_pin(ctap, protocol, P.MAKE_CREDENTIAL | P.GET_ASSERTION)
    att = make_credential(ctap, rk=True, auth=auth, extensions={"credProtect": 3})
    assert att.auth_data.extensions == {"credProtect": 3}
    auth = (protocol, token(ctap, protocol, P.GET_ASSERTION, "example.com"))
    # Without user verification the credential does not exist, with or without allow list.
    for allow in (None, [descriptor(att)]):
        with pytest.raises(CtapError) as e:
            get_assertion(ctap, allow=allow)
        assert e.value.code == E.NO_CREDENTIALS
    resp, cdh = get_assertion(ctap, auth=auth)
    verify(resp, cdh, att)


def test_cred_protect_optional_with_credential_id_list(ctap):
    att = make_credential(ctap, rk=True, extensions={"credProtect": 2})
    assert att.auth_data.extensions == {"credProtect": 2}
    with pytest.raises(CtapError) as e:
        get_assertion(ctap)
    assert e.value.code == E.NO_CREDENTIALS
    resp, cdh = get_assertion(ctap, allow=[descriptor(att)])
    verify(resp, cdh, att)


def test_cred_protect_hides_only_protected_credentials(ctap):
    open_cred = make_credential(ctap, rk=True, name="open")
    make_credential(ctap, rk=True, name="guarded", extensions={"credProtect": 2})
    resp, cdh = get_assertion(ctap)
    assert resp.number_of_credentials is None
    assert resp.credential["id"] == open_cred.auth_data.credential_data.credential_id
    verify(resp, cdh, open_cred)
