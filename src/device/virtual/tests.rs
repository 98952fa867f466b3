use super::*;
use crate::device::{AssertionRequest, MadeCredential, MakeCredentialRequest};
use crate::pin::Pin;
use crypto_glue::traits::DecodeDer;
use crypto_glue::x509::{x509_verify_signature, Certificate, X509Store};

/// A key reached as every caller reaches it: the CTAP host over the virtual wire.
fn key(profile: Profile) -> (tempfile::TempDir, PathBuf, Box<dyn Authenticator>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.key");
    create(&path, profile, 2).unwrap();
    let k = open(&path).unwrap();
    (dir, path, k)
}

fn request(rp: &str, user: &str, discoverable: bool, uv: bool) -> MakeCredentialRequest {
    MakeCredentialRequest {
        client_data_hash: [9; 32],
        rp_id: rp.into(),
        rp_name: None,
        user_id: user.as_bytes().to_vec(),
        user_name: user.into(),
        user_display_name: None,
        discoverable,
        user_verification: uv,
        exclude_credentials: vec![],
    }
}

fn att_stmt(made: &MadeCredential) -> (Vec<u8>, Vec<u8>) {
    use serde_cbor_2::Value;
    let v: Value = serde_cbor_2::from_slice(&made.attestation_object).unwrap();
    let Value::Map(m) = v else {
        panic!("not a map")
    };
    let Some(Value::Map(st)) = m.get(&Value::Text("attStmt".into())) else {
        panic!("no attStmt")
    };
    let Some(Value::Bytes(sig)) = st.get(&Value::Text("sig".into())) else {
        panic!("no sig")
    };
    let Some(Value::Array(x5c)) = st.get(&Value::Text("x5c".into())) else {
        panic!("no x5c")
    };
    let Value::Bytes(leaf) = &x5c[0] else {
        panic!("x5c not bytes")
    };
    (sig.clone(), leaf.clone())
}

#[test]
fn packed_attestation_follows_the_fido_profile_and_chains_to_the_key_ca() {
    let (_d, _p, mut k) = key(Profile::Ctap21);
    let made = k
        .make_credential(&request("example.com", "a", false, false))
        .unwrap();
    assert_eq!(made.attestation_format, "packed");
    let (sig, leaf_der) = att_stmt(&made);
    let leaf = Certificate::from_der(&leaf_der).unwrap();
    webauthn_rs_core::attestation::assert_packed_attest_req(&leaf).unwrap();
    let mut signed = made.auth_data.clone();
    signed.extend_from_slice(&[9; 32]);
    x509_verify_signature(&signed, &sig, &leaf).unwrap();
    let root = Certificate::from_der(&k.virtual_attestation_root().unwrap()).unwrap();
    X509Store::new(&[root])
        .verify(&leaf, &[], std::time::SystemTime::now())
        .unwrap();
    // AAGUID in authData (after rpIdHash, flags, counter) is the profile's.
    assert_eq!(
        &made.auth_data[37..53],
        Profile::Ctap21.aaguid().unwrap().as_bytes()
    );
}

#[test]
fn knobs_break_attestation_and_assertions_as_asked() {
    let (_d, path, k) = key(Profile::Ctap21);
    drop(k);
    set_knobs(&path, |n| {
        n.attestation_out_of_profile = true;
        n.attestation_wrong_aaguid = true;
        n.bad_assertion_signature = true;
    })
    .unwrap();
    let mut k = open(&path).unwrap();
    let made = k
        .make_credential(&request("example.com", "a", false, false))
        .unwrap();
    let (_, leaf_der) = att_stmt(&made);
    let leaf = Certificate::from_der(&leaf_der).unwrap();
    assert!(webauthn_rs_core::attestation::assert_packed_attest_req(&leaf).is_err());
    assert_ne!(
        &made.auth_data[37..53],
        Profile::Ctap21.aaguid().unwrap().as_bytes()
    );
    let a = k
        .get_assertion(&AssertionRequest {
            client_data_hash: [1; 32],
            rp_id: "example.com".into(),
            allow_credentials: vec![made.credential_id.clone()],
            user_verification: false,
        })
        .unwrap();
    let mut signed = a.auth_data.clone();
    signed.extend_from_slice(&[1; 32]);
    let st = state::read(&path).unwrap();
    let (private, _) = credential::unwrap(
        &st.wrap_key,
        &credential::sha256(b"example.com"),
        &made.credential_id,
    )
    .unwrap();
    let good = attestation::sign(&private, &signed).unwrap();
    // Verify with the credential's own public key, via a throwaway leaf certificate.
    let (_, cert) = attestation::new_leaf(
        &st.attestation.ca_key,
        &st.attestation.ca_cert,
        None,
        true,
        Some(&private),
    )
    .unwrap();
    let cert = Certificate::from_der(&cert).unwrap();
    assert!(x509_verify_signature(&signed, &good, &cert).is_ok());
    assert!(x509_verify_signature(&signed, &a.signature, &cert).is_err());
}

#[test]
fn non_discoverable_credentials_spend_no_slot_and_count_their_signatures() {
    let (_d, path, mut k) = key(Profile::Ctap21);
    let made = k
        .make_credential(&request("example.com", "a", false, false))
        .unwrap();
    assert!(state::read(&path).unwrap().credentials.is_empty());
    let req = AssertionRequest {
        client_data_hash: [1; 32],
        rp_id: "example.com".into(),
        allow_credentials: vec![made.credential_id.clone()],
        user_verification: false,
    };
    assert_eq!(k.get_assertion(&req).unwrap().sign_count, 1);
    assert_eq!(k.get_assertion(&req).unwrap().sign_count, 2);
    let other_rp = AssertionRequest {
        rp_id: "evil.example".into(),
        ..req
    };
    assert!(matches!(
        k.get_assertion(&other_rp),
        Err(DeviceError::NoCredentials)
    ));
}

#[test]
fn pin_retries_power_cycle_and_block_follow_ctap() {
    let (_d, path, mut k) = key(Profile::Ctap21);
    k.set_pin(&Pin::new("1234")).unwrap();
    for left in [7, 6] {
        assert!(matches!(
            k.unlock(&Pin::new("0000")),
            Err(DeviceError::PinInvalid { retries_left: Some(r) }) if r == left
        ));
    }
    assert!(matches!(
        k.unlock(&Pin::new("0000")),
        Err(DeviceError::PinAuthBlocked)
    ));
    // Even the right PIN is refused until a power cycle.
    assert!(matches!(
        k.unlock(&Pin::new("1234")),
        Err(DeviceError::PinAuthBlocked)
    ));
    drop(k);
    replug(&path).unwrap();
    let mut k = open(&path).unwrap();
    k.unlock(&Pin::new("1234")).unwrap();
    assert_eq!(k.pin_retries().unwrap().retries, 8);
}

#[test]
fn a_second_session_waits_for_the_first_and_sees_its_changes() {
    let (_d, path, mut k) = key(Profile::Ctap21);
    let p2 = path.clone();
    let t = std::thread::spawn(move || {
        let mut k2 = open(&p2).unwrap();
        k2.info().unwrap().pin_is_set()
    });
    std::thread::sleep(std::time::Duration::from_millis(100));
    k.set_pin(&Pin::new("1234")).unwrap();
    drop(k);
    assert_eq!(t.join().unwrap(), Some(true));
}

#[test]
fn the_file_never_holds_the_pin() {
    let (_d, path, mut k) = key(Profile::Ctap21);
    k.set_pin(&Pin::new("83917265")).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("83917265"));
}

// --- On the wire: raw CTAP, as any host would send it ---------------------------------------

mod wire_level {
    use super::*;
    use crate::device::ctap2::client_pin::{
        ClientPinRequest, ClientPinResponse, Permission, SubCommand,
    };
    use crate::device::ctap2::pin_protocol::{padded_pin, pin_hash, PinProtocol, Secret};
    use crate::device::ctap2::{command, decode_map, encode_map, int, text, text_map, CborMap};
    use crate::device::ctaphid::{frame, CMD_CBOR, CMD_INIT, CMD_KEEPALIVE};
    use serde_cbor_2::Value;

    fn authenticator(profile: Profile) -> (tempfile::TempDir, PathBuf, ctap::VirtualAuthenticator) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        create(&path, profile, 3).unwrap();
        let (file, state) = LockedFile::open(&path).unwrap();
        let a = ctap::VirtualAuthenticator::new(path.clone(), file, state);
        (dir, path, a)
    }

    fn call(a: &mut ctap::VirtualAuthenticator, cmd: u8, params: &[u8]) -> (u8, Vec<u8>) {
        let r = a.cbor(&[&[cmd][..], params].concat());
        (r[0], r[1..].to_vec())
    }

    fn pin_call(
        a: &mut ctap::VirtualAuthenticator,
        req: &ClientPinRequest,
    ) -> (u8, ClientPinResponse) {
        let (s, body) = call(a, command::CLIENT_PIN, &req.encode());
        (s, ClientPinResponse::decode(&body).unwrap_or_default())
    }

    fn shared(a: &mut ctap::VirtualAuthenticator, p: PinProtocol) -> (ClientPinRequest, Secret) {
        let (_, r) = pin_call(
            a,
            &ClientPinRequest::new(p.number(), SubCommand::GetKeyAgreement),
        );
        let (platform, secret) = p.encapsulate(&r.key_agreement.unwrap()).unwrap();
        let mut req = ClientPinRequest::new(p.number(), SubCommand::SetPin);
        req.key_agreement = Some(platform);
        (req, secret)
    }

    fn set_pin(a: &mut ctap::VirtualAuthenticator, p: PinProtocol, pin: &str) {
        let (mut req, s) = shared(a, p);
        let enc = p.encrypt(&s, &padded_pin(pin.as_bytes()));
        req.pin_uv_auth_param = Some(p.authenticate(&s, &enc));
        req.new_pin_enc = Some(enc);
        assert_eq!(pin_call(a, &req).0, 0);
    }

    fn token(
        a: &mut ctap::VirtualAuthenticator,
        p: PinProtocol,
        pin: &str,
        permissions: u8,
        rp: Option<&str>,
    ) -> Result<Secret, u8> {
        let (mut req, s) = shared(a, p);
        req.sub_command = SubCommand::GetPinUvAuthTokenUsingPinWithPermissions as u8;
        req.pin_hash_enc = Some(p.encrypt(&s, &pin_hash(pin.as_bytes())));
        req.permissions = Some(permissions);
        req.rp_id = rp.map(str::to_string);
        match pin_call(a, &req) {
            (0, r) => Ok(p.decrypt(&s, &r.pin_uv_auth_token.unwrap()).unwrap()),
            (status, _) => Err(status),
        }
    }

    fn make_credential(
        a: &mut ctap::VirtualAuthenticator,
        rp: &str,
        user: &[u8],
        rk: bool,
        cred_protect: Option<u8>,
        auth: Option<(PinProtocol, &[u8])>,
    ) -> (u8, Vec<u8>) {
        let mut m = CborMap::new();
        m.insert(int(1), Value::Bytes(vec![5; 32]));
        m.insert(int(2), text_map(vec![("id", text(rp))]));
        m.insert(
            int(3),
            text_map(vec![
                ("id", Value::Bytes(user.to_vec())),
                ("name", text("u")),
            ]),
        );
        m.insert(
            int(4),
            Value::Array(vec![text_map(vec![
                ("alg", int(-7)),
                ("type", text("public-key")),
            ])]),
        );
        if let Some(level) = cred_protect {
            m.insert(
                int(6),
                text_map(vec![("credProtect", int(i64::from(level)))]),
            );
        }
        if rk {
            m.insert(int(7), text_map(vec![("rk", Value::Bool(true))]));
        }
        if let Some((p, t)) = auth {
            m.insert(int(8), Value::Bytes(p.authenticate(t, &[5; 32])));
            m.insert(int(9), int(i64::from(p.number())));
        }
        call(a, command::MAKE_CREDENTIAL, &encode_map(m))
    }

    fn get_assertion(a: &mut ctap::VirtualAuthenticator, rp: &str) -> (u8, Vec<u8>) {
        let mut m = CborMap::new();
        m.insert(int(1), text(rp));
        m.insert(int(2), Value::Bytes(vec![6; 32]));
        call(a, command::GET_ASSERTION, &encode_map(m))
    }

    #[test]
    fn get_info_advertises_exactly_what_the_key_implements() {
        let (_d, _p, mut a) = authenticator(Profile::Ctap21);
        let (s, body) = call(&mut a, command::GET_INFO, &[]);
        assert_eq!(s, 0);
        let info = crate::device::ctap2::get_info::parse_info(&body).unwrap();
        assert_eq!(info.extensions, ["credProtect", "minPinLength"]);
        assert_eq!(info.pin_uv_protocols, [2, 1]);
        assert_eq!(info.options.get("pinUvAuthToken"), Some(&true));
        assert_eq!(info.options.get("credMgmt"), Some(&true));
        assert!(!info.extensions.iter().any(|e| e == "hmac-secret"));
        let (_d, _p, mut a) = authenticator(Profile::Ctap20);
        let (_, body) = call(&mut a, command::GET_INFO, &[]);
        let info = crate::device::ctap2::get_info::parse_info(&body).unwrap();
        assert!(info.extensions.is_empty() && info.pin_uv_protocols == [1]);
        // A CTAP 2.0 key knows no credential management, selection or config.
        for cmd in [
            command::CREDENTIAL_MANAGEMENT,
            command::SELECTION,
            command::CONFIG,
        ] {
            assert_eq!(
                call(&mut a, cmd, &[0xA0]).0,
                CtapStatusByte::INVALID_COMMAND
            );
        }
    }

    struct CtapStatusByte;
    impl CtapStatusByte {
        const INVALID_COMMAND: u8 = 0x01;
        const PIN_AUTH_INVALID: u8 = 0x33;
        const PUAT_REQUIRED: u8 = 0x36;
        const NO_CREDENTIALS: u8 = 0x2E;
        const UNAUTHORIZED_PERMISSION: u8 = 0x40;
        const PIN_INVALID: u8 = 0x31;
    }

    #[test]
    fn a_token_is_bound_to_its_rp_and_loses_its_rights_at_the_touch() {
        for p in [PinProtocol::V1, PinProtocol::V2] {
            let (_d, _p, mut a) = authenticator(Profile::Ctap21);
            set_pin(&mut a, p, "1234");
            assert_eq!(
                token(&mut a, p, "9999", Permission::MAKE_CREDENTIAL, None).err(),
                Some(CtapStatusByte::PIN_INVALID)
            );
            let t = token(
                &mut a,
                p,
                "1234",
                Permission::MAKE_CREDENTIAL,
                Some("a.example"),
            )
            .unwrap();
            let (s, _) = make_credential(&mut a, "b.example", b"u", false, None, Some((p, &t)));
            assert_eq!(s, CtapStatusByte::PIN_AUTH_INVALID, "another RP");
            let (s, _) = make_credential(&mut a, "a.example", b"u", false, None, Some((p, &t)));
            assert_eq!(s, 0);
            let (s, _) = make_credential(&mut a, "a.example", b"v", false, None, Some((p, &t)));
            assert_eq!(
                s,
                CtapStatusByte::PIN_AUTH_INVALID,
                "spent at the first touch"
            );
        }
    }

    #[test]
    fn permissions_the_key_does_not_offer_are_refused() {
        let (_d, _p, mut a) = authenticator(Profile::Ctap21);
        set_pin(&mut a, PinProtocol::V2, "1234");
        assert_eq!(
            token(
                &mut a,
                PinProtocol::V2,
                "1234",
                Permission::BIO_ENROLLMENT,
                None
            )
            .err(),
            Some(CtapStatusByte::UNAUTHORIZED_PERMISSION)
        );
    }

    #[test]
    fn a_passkey_needs_the_pin_and_cred_protect_three_hides_it_without() {
        let (_d, _p, mut a) = authenticator(Profile::Ctap21);
        set_pin(&mut a, PinProtocol::V2, "1234");
        let (s, _) = make_credential(&mut a, "a.example", b"u", true, Some(3), None);
        assert_eq!(s, CtapStatusByte::PUAT_REQUIRED);
        let t = token(
            &mut a,
            PinProtocol::V2,
            "1234",
            Permission::MAKE_CREDENTIAL,
            None,
        )
        .unwrap();
        let (s, body) = make_credential(
            &mut a,
            "a.example",
            b"u",
            true,
            Some(3),
            Some((PinProtocol::V2, &t)),
        );
        assert_eq!(s, 0);
        let m = decode_map(&body).unwrap();
        let Some(Value::Bytes(ad)) = m.get(&int(2)) else {
            panic!()
        };
        let ad = crate::device::auth_data::AuthData::parse(ad).unwrap();
        assert_eq!(
            ad.extensions,
            Some(crate::device::ctap2::encode(&text_map(vec![(
                "credProtect",
                int(3)
            )])))
        );
        assert_eq!(
            get_assertion(&mut a, "a.example").0,
            CtapStatusByte::NO_CREDENTIALS
        );
    }

    #[test]
    fn a_key_waiting_for_a_touch_says_so_before_it_answers() {
        let (_d, path, _) = {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("k.key");
            create(&path, Profile::Ctap21, 3).unwrap();
            (dir, path, ())
        };
        let (mut server, _, _) = power_up(&path).unwrap();
        let mut init = frame([0xFF; 4], CMD_INIT, &[1; 8]).unwrap();
        let answer = server.handle(&init.remove(0)).unwrap();
        let cid: [u8; 4] = answer[0][15..19].try_into().unwrap();
        let getinfo = frame(cid, CMD_CBOR, &[command::GET_INFO]).unwrap();
        let answer = server.handle(&getinfo[0]).unwrap();
        assert_eq!(answer[0][4], CMD_CBOR, "no touch, no keep-alive");
        let selection = frame(cid, CMD_CBOR, &[command::SELECTION]).unwrap();
        let answer = server.handle(&selection[0]).unwrap();
        assert_eq!(
            (answer[0][4], answer[0][7]),
            (CMD_KEEPALIVE, 0x02),
            "UPNEEDED"
        );
        assert_eq!((answer[1][4], answer[1][7]), (CMD_CBOR, 0x00));
        // A channel the key never gave out is refused.
        let stray = frame([1, 2, 3, 99], CMD_CBOR, &[command::GET_INFO]).unwrap();
        let answer = server.handle(&stray[0]).unwrap();
        assert_eq!((answer[0][4], answer[0][7]), (0xBF, 0x0B));
    }

    #[test]
    fn a_key_file_of_the_old_format_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.key");
        create(&path, Profile::Ctap21, 3).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("\"format\": 2", "\"format\": 1")).unwrap();
        let e = open(&path).err().unwrap().to_string();
        assert!(
            e.contains("older keyward") && e.contains("virtual create"),
            "{e}"
        );
    }
}
