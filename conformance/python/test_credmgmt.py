"""authenticatorCredentialManagement: metadata, enumerate RPs and credentials, delete, update."""

import hashlib

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import CredentialManagement as CM
from fido2.ctap2.pin import ClientPin

from helpers import P, PIN, descriptor, get_assertion, make_credential, token, user

E = CtapError.ERR


def setup(ctap, protocol):
    """A PIN, then alice and bob on example.com and carol on other.example. Returns the
    credential management session, the credentials made, and the free slots before them."""
    ClientPin(ctap, protocol).set_pin(PIN)
    free = CM(ctap, protocol, token(ctap, protocol, P.CREDENTIAL_MGMT)).get_metadata()[
        CM.RESULT.MAX_REMAINING_COUNT
    ]
    mc = {}

    def make(rp_id, name):
        tok = token(ctap, protocol, P.MAKE_CREDENTIAL, rp_id)
        att = make_credential(ctap, rp_id, name, rk=True, auth=(protocol, tok))
        mc[(rp_id, name)] = att
        return att

    make("example.com", "alice")
    make("example.com", "bob")
    make("other.example", "carol")
    cm = CM(ctap, protocol, token(ctap, protocol, P.CREDENTIAL_MGMT))
    return cm, mc, free


def listing(cm):
    out = {}
    for r in cm.enumerate_rps():
        rp_id = r[CM.RESULT.RP]["id"]
        assert r[CM.RESULT.RP_ID_HASH] == hashlib.sha256(rp_id.encode()).digest()
        out[rp_id] = cm.enumerate_creds(r[CM.RESULT.RP_ID_HASH])
    return out


def test_metadata_counts_slots(ctap, protocol):
    cm, _, free = setup(ctap, protocol)
    meta = cm.get_metadata()
    assert meta[CM.RESULT.EXISTING_CRED_COUNT] == 3
    assert meta[CM.RESULT.MAX_REMAINING_COUNT] == free - 3


def test_enumerate_rps_and_credentials(ctap, protocol):
    cm, made, _ = setup(ctap, protocol)
    found = listing(cm)
    assert set(found) == {"example.com", "other.example"}
    for rp_id, creds in found.items():
        names = {c[CM.RESULT.USER]["name"] for c in creds}
        assert names == {n for (r, n) in made if r == rp_id}
        for c in creds:
            att = made[(rp_id, c[CM.RESULT.USER]["name"])]
            assert c[CM.RESULT.CREDENTIAL_ID]["id"] == att.auth_data.credential_data.credential_id
            assert c[CM.RESULT.USER]["id"] == user(c[CM.RESULT.USER]["name"])["id"]
            # The public key listed is the one the credential was made with.
            assert dict(c[CM.RESULT.PUBLIC_KEY]) == dict(att.auth_data.credential_data.public_key)


def test_enumerate_on_an_empty_key(ctap, protocol):
    ClientPin(ctap, protocol).set_pin(PIN)
    cm = CM(ctap, protocol, token(ctap, protocol, P.CREDENTIAL_MGMT))
    assert cm.get_metadata()[CM.RESULT.EXISTING_CRED_COUNT] == 0
    # CTAP 2.1 answers NO_CREDENTIALS; some keys (fido-authenticator) answer totalRPs = 0.
    # Either way a host lists nothing: python-fido2 accepts both, and so must keyward.
    assert cm.enumerate_rps() == []


def test_delete_credential(ctap, protocol):
    cm, made, free = setup(ctap, protocol)
    gone = made[("example.com", "alice")]
    cm.delete_cred(descriptor(gone))
    found = listing(cm)
    assert [c[CM.RESULT.USER]["name"] for c in found["example.com"]] == ["bob"]
    assert cm.get_metadata()[CM.RESULT.EXISTING_CRED_COUNT] == 2
    assert cm.get_metadata()[CM.RESULT.MAX_REMAINING_COUNT] == free - 2
    with pytest.raises(CtapError) as e:
        cm.delete_cred(descriptor(gone))
    assert e.value.code == E.NO_CREDENTIALS
    tok = token(ctap, protocol, P.GET_ASSERTION, "example.com")
    with pytest.raises(CtapError) as e:
        get_assertion(ctap, allow=[descriptor(gone)], auth=(protocol, tok))
    assert e.value.code == E.NO_CREDENTIALS


def test_deleting_the_last_credential_of_an_rp_removes_the_rp(ctap, protocol):
    cm, made, _ = setup(ctap, protocol)
    cm.delete_cred(descriptor(made[("other.example", "carol")]))
    assert set(listing(cm)) == {"example.com"}


def test_update_user_information(ctap, protocol):
    cm, made, _ = setup(ctap, protocol)
    att = made[("example.com", "bob")]
    new_user = {"id": user("bob")["id"], "name": "robert", "displayName": "Robert B."}
    cm.update_user_info(descriptor(att), new_user)
    by_id = {c[CM.RESULT.CREDENTIAL_ID]["id"]: c[CM.RESULT.USER] for c in listing(cm)["example.com"]}
    assert by_id[att.auth_data.credential_data.credential_id] == new_user


def test_update_user_information_with_another_user_id_is_refused(ctap, protocol):
    cm, made, _ = setup(ctap, protocol)
    att = made[("example.com", "bob")]
    with pytest.raises(CtapError) as e:
        cm.update_user_info(descriptor(att), {"id": b"someone else", "name": "eve"})
    assert e.value.code == E.INVALID_PARAMETER


def test_a_stale_pin_auth_param_is_refused(ctap, protocol):
    cm, _, _ = setup(ctap, protocol)
    token(ctap, protocol, P.CREDENTIAL_MGMT)  # a new token voids the one `cm` holds
    with pytest.raises(CtapError) as e:
        cm.get_metadata()
    assert e.value.code == E.PIN_AUTH_INVALID
