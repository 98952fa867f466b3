use super::trust::{self, TrustSources};
use super::{CheckId, Checks, Report, Status};
use crate::device::{AssertionRequest, Authenticator, DeviceError, KeyInfo, MakeCredentialRequest};
use crate::webauthn_export::CeremonyType;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use crypto_glue::s256::Sha256;
use crypto_glue::traits::{DecodeDer, Digest};
use crypto_glue::x509::{Certificate, ObjectIdentifier};
use serde_cbor_2::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;
use webauthn_rs_core::attestation::assert_packed_attest_req;
use webauthn_rs_core::error::WebauthnError;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, AuthenticatorAssertionResponseRaw,
    AuthenticatorAttestationResponseRaw, Credential, PublicKeyCredential,
    RegisterPublicKeyCredential, UserVerificationPolicy,
};
use webauthn_rs_core::WebauthnCore;

/// The relying party keyward plays for its own test. `.invalid` can never be a real website, so
/// the credential made here can never be confused with one for a real account.
const RP_ID: &str = "selftest.keyward.invalid";
const RP_NAME: &str = "keyward self-test";
/// id-fido-gen-ce-aaguid: the AAGUID a FIDO attestation certificate names.
const OID_FIDO_AAGUID: &str = "1.3.6.1.4.1.45724.1.1.4";

/// What happened with the PIN before the ceremony.
#[derive(Debug, Clone)]
pub enum PinOutcome {
    /// The key accepted the PIN; the ceremony uses it.
    Unlocked,
    /// The key supports a PIN but has none.
    NotSet,
    /// A U2F-only key: no PIN at all.
    Unsupported,
    /// The key refused the PIN: the message says how.
    Refused(String),
}

fn origin() -> url::Url {
    url::Url::parse(&format!("https://{RP_ID}")).expect("static origin parses")
}

fn client_data(kind: CeremonyType, challenge: &[u8]) -> Vec<u8> {
    crate::webauthn_export::client_data_json(kind, challenge, RP_ID)
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(data);
    h.finalize().into()
}

/// Errors that are about the key going away or a person declining, not about a check: these
/// end the command with their own exit code.
fn is_environmental(e: &DeviceError) -> bool {
    matches!(
        e,
        DeviceError::Disconnected | DeviceError::Timeout | DeviceError::OperationDenied
    )
}

/// The fields of an attestation object, read independently of webauthn-rs so each check can be
/// decided on its own.
struct AttestationParts {
    fmt: String,
    auth_data: Vec<u8>,
    leaf: Option<Certificate>,
}

fn parse_attestation(bytes: &[u8]) -> Option<AttestationParts> {
    let Value::Map(map) = serde_cbor_2::from_slice::<Value>(bytes).ok()? else {
        return None;
    };
    let get = |k: &str| map.get(&Value::Text(k.into()));
    let fmt = match get("fmt")? {
        Value::Text(s) => s.clone(),
        _ => return None,
    };
    let auth_data = match get("authData")? {
        Value::Bytes(b) => b.clone(),
        _ => return None,
    };
    let leaf = match get("attStmt") {
        Some(Value::Map(st)) => match st.get(&Value::Text("x5c".into())) {
            Some(Value::Array(a)) => match a.first() {
                Some(Value::Bytes(der)) => Certificate::from_der(der).ok(),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    };
    Some(AttestationParts {
        fmt,
        auth_data,
        leaf,
    })
}

/// AAGUID from authenticator data with attested credential data (flag AT).
fn auth_data_aaguid(auth_data: &[u8]) -> Option<Uuid> {
    if auth_data.len() < 53 || auth_data[32] & 0x40 == 0 {
        return None;
    }
    Uuid::from_slice(&auth_data[37..53]).ok()
}

/// The AAGUID named in the certificate's id-fido-gen-ce-aaguid extension: `Ok(None)` when the
/// certificate does not name one, `Err` when the extension is malformed.
fn certificate_aaguid(cert: &Certificate) -> Result<Option<Uuid>, ()> {
    let oid = ObjectIdentifier::new_unwrap(OID_FIDO_AAGUID);
    let Some(ext) = cert
        .tbs_certificate()
        .extensions()
        .and_then(|exts| exts.iter().find(|e| e.extn_id == oid))
    else {
        return Ok(None);
    };
    // The extension value is a DER OCTET STRING of 16 bytes.
    let v = ext.extn_value.as_bytes();
    if v.len() == 18 && v[0] == 0x04 && v[1] == 0x10 {
        Uuid::from_slice(&v[2..]).map(Some).map_err(|_| ())
    } else {
        Err(())
    }
}

/// Strip the attestation so a credential whose attestation failed can still be used to test
/// signing in: the assertion check is about the credential key, not the attestation.
fn without_attestation(auth_data: &[u8]) -> Vec<u8> {
    let mut map = BTreeMap::new();
    map.insert(Value::Text("fmt".into()), Value::Text("none".into()));
    map.insert(Value::Text("attStmt".into()), Value::Map(BTreeMap::new()));
    map.insert(
        Value::Text("authData".into()),
        Value::Bytes(auth_data.to_vec()),
    );
    serde_cbor_2::to_vec(&Value::Map(map)).expect("CBOR encodes")
}

fn webauthn_error_name(e: &WebauthnError) -> String {
    format!("{e:?}")
}

/// Run the ceremony against an open key whose `info` was read and whose PIN (if any) was dealt
/// with by the caller. Returns Err only for a key that went away, timed out, or was declined.
pub fn run(
    key: &mut dyn Authenticator,
    info: &KeyInfo,
    pin: PinOutcome,
    sources: &TrustSources,
) -> Result<Report, DeviceError> {
    let mut checks = Checks::default();
    let is_virtual = key.descriptor().is_virtual();
    let mut trusted_by = None;
    let mut maker_confirmed = None;

    checks.set(
        CheckId::KeyAnswers,
        Status::Pass,
        format!("the key answered getInfo ({})", info.versions.join(", ")),
        None,
    );
    let use_uv = match &pin {
        PinOutcome::Unlocked => true,
        PinOutcome::NotSet => {
            checks.set(
                CheckId::PinVerified,
                Status::Warn,
                "not checked: this key has no PIN yet, so the test ran without user verification",
                Some("set a PIN with `keyward key pin set`, then run the test again"),
            );
            false
        }
        PinOutcome::Unsupported => {
            checks.set(
                CheckId::PinVerified,
                Status::Skipped,
                "not applicable: a U2F-only key has no PIN",
                None,
            );
            false
        }
        PinOutcome::Refused(why) => {
            checks.set(
                CheckId::PinVerified,
                Status::Fail,
                format!("the key refused the PIN: {why}"),
                Some("check the PIN; if it is right and the key still refuses it, do not issue this key"),
            );
            checks.skip_rest("not run: the PIN check failed");
            return Ok(finish(checks, None, None, is_virtual));
        }
    };
    let policy = if use_uv {
        UserVerificationPolicy::Required
    } else {
        UserVerificationPolicy::Discouraged_DO_NOT_USE
    };

    let rp = WebauthnCore::new_unsafe_experts_only(
        RP_NAME,
        RP_ID,
        vec![origin()],
        Duration::from_secs(60),
        None,
        None,
    );

    // Registration.
    let user_id: [u8; 16] = *Uuid::new_v4().as_bytes();
    let builder = rp
        .new_challenge_register_builder(&user_id, "keyward-self-test", "keyward self-test")
        .expect("static user is valid")
        .attestation(AttestationConveyancePreference::Direct)
        .user_verification_policy(policy)
        .require_resident_key(false);
    let (challenge, reg_state) = rp
        .generate_challenge_register(builder)
        .expect("registration challenge");
    let cdj = client_data(
        CeremonyType::Create,
        challenge.public_key.challenge.as_ref(),
    );
    let made = match key.make_credential(&MakeCredentialRequest {
        client_data_hash: sha256(&cdj),
        rp_id: RP_ID.into(),
        rp_name: Some(RP_NAME.into()),
        user_id: user_id.to_vec(),
        user_name: "keyward-self-test".into(),
        user_display_name: Some("keyward self-test".into()),
        discoverable: false,
        user_verification: use_uv,
        exclude_credentials: Vec::new(),
    }) {
        Ok(m) => m,
        Err(e) if is_environmental(&e) => return Err(e),
        Err(e) => {
            checks.set(
                CheckId::KeyAnswers,
                Status::Fail,
                format!("the key answered getInfo but could not create a test credential: {e}"),
                None,
            );
            checks.skip_rest("not run: the key created no credential");
            return Ok(finish(checks, None, None, is_virtual));
        }
    };
    checks.set(
        CheckId::KeyAnswers,
        Status::Pass,
        format!(
            "the key answered getInfo ({}) and created a non-discoverable test credential (no slot used)",
            info.versions.join(", ")
        ),
        None,
    );

    checks.webauthn.registration = Some(crate::webauthn_export::registration(&made, &cdj));
    let parts = parse_attestation(&made.attestation_object);
    let fmt = parts.as_ref().map(|p| p.fmt.clone()).unwrap_or_default();
    let reg = |attestation_object: Vec<u8>| RegisterPublicKeyCredential {
        id: URL_SAFE_NO_PAD.encode(&made.credential_id),
        raw_id: made.credential_id.clone(),
        response: AuthenticatorAttestationResponseRaw {
            attestation_object,
            client_data_json: cdj.clone(),
            transports: None,
        },
        type_: "public-key".into(),
        extensions: Default::default(),
    };
    let registered =
        rp.register_credential(&reg(made.attestation_object.clone()), &reg_state, None);

    // Attestation signature, as webauthn-rs verified it. Its checks run in order (signature,
    // certificate profile, AAGUID), so a later error means the signature held.
    match &registered {
        Ok(_) if fmt == "none" => checks.set(
            CheckId::AttestationSignature,
            Status::Warn,
            "the key gave no attestation (format \"none\"): nothing proves who made it",
            Some("use a key that gives direct attestation"),
        ),
        Ok(_) => checks.set(
            CheckId::AttestationSignature,
            Status::Pass,
            format!("{fmt} attestation verified by webauthn-rs"),
            None,
        ),
        Err(WebauthnError::AttestationCertificateRequirementsNotMet)
        | Err(WebauthnError::AttestationCertificateAAGUIDMismatch) => checks.set(
            CheckId::AttestationSignature,
            Status::Pass,
            format!("{fmt} attestation signature verified by webauthn-rs"),
            None,
        ),
        Err(WebauthnError::UserNotVerified) => {
            checks.set(
                CheckId::PinVerified,
                Status::Fail,
                "the key accepted the PIN but did not mark the new credential as user-verified",
                Some("do not issue this key"),
            );
            checks.set(
                CheckId::AttestationSignature,
                Status::Skipped,
                "not checked: registration was refused because user verification is missing",
                None,
            );
        }
        Err(e) => checks.set(
            CheckId::AttestationSignature,
            Status::Fail,
            format!(
                "the {fmt} attestation does not verify ({})",
                webauthn_error_name(e)
            ),
            Some("do not issue this key: it does not prove what it is"),
        ),
    }
    if use_uv && checks.get(CheckId::PinVerified).is_none() {
        if made.user_verified {
            checks.set(
                CheckId::PinVerified,
                Status::Pass,
                "the key checked the PIN and marked the credential as user-verified",
                None,
            );
        } else {
            checks.set(
                CheckId::PinVerified,
                Status::Fail,
                "the key accepted the PIN but did not mark the new credential as user-verified",
                Some("do not issue this key"),
            );
        }
    }

    // Certificate profile and AAGUID, decided independently of the library's order.
    let auth_aaguid = parts.as_ref().and_then(|p| auth_data_aaguid(&p.auth_data));
    match (fmt.as_str(), parts.as_ref().and_then(|p| p.leaf.as_ref())) {
        ("packed", Some(leaf)) => {
            match assert_packed_attest_req(leaf) {
                Ok(()) => checks.set(
                    CheckId::AttestationCertificate,
                    Status::Pass,
                    format!(
                        "version 3, subject {}, not a CA",
                        leaf.tbs_certificate().subject()
                    ),
                    None,
                ),
                Err(_) => checks.set(
                    CheckId::AttestationCertificate,
                    Status::Fail,
                    format!(
                        "the attestation certificate ({}) breaks the FIDO packed profile (needs \
                         version 3, subject C, O, OU=\"Authenticator Attestation\", CN, and CA=false)",
                        leaf.tbs_certificate().subject()
                    ),
                    Some("do not issue this key: its attestation certificate is not a FIDO one"),
                ),
            }
            match certificate_aaguid(leaf) {
                Ok(Some(c)) if Some(c) == auth_aaguid => checks.set(
                    CheckId::AaguidMatchesCertificate,
                    Status::Pass,
                    format!("the key and its certificate both say AAGUID {c}"),
                    None,
                ),
                Ok(Some(c)) => checks.set(
                    CheckId::AaguidMatchesCertificate,
                    Status::Fail,
                    format!(
                        "the key claims AAGUID {} but its attestation certificate says {c}",
                        auth_aaguid.map(|a| a.to_string()).unwrap_or_else(|| "none".into())
                    ),
                    Some("do not issue this key: it claims to be a model its certificate does not vouch for"),
                ),
                Ok(None) => checks.set(
                    CheckId::AaguidMatchesCertificate,
                    Status::Warn,
                    "the certificate names no AAGUID (allowed when its root serves a single model); \
                     the metadata check below decides",
                    None,
                ),
                Err(()) => checks.set(
                    CheckId::AaguidMatchesCertificate,
                    Status::Fail,
                    "the certificate's AAGUID extension is malformed",
                    Some("do not issue this key"),
                ),
            }
        }
        ("fido-u2f", _) => {
            let na = "not applicable: U2F attestation has no FIDO2 certificate profile or AAGUID";
            checks.set(CheckId::AttestationCertificate, Status::Skipped, na, None);
            checks.set(CheckId::AaguidMatchesCertificate, Status::Skipped, na, None);
        }
        _ => {
            let why = format!("not checked: the key gave {fmt} attestation with no certificate");
            checks.set(CheckId::AttestationCertificate, Status::Skipped, &why, None);
            checks.set(
                CheckId::AaguidMatchesCertificate,
                Status::Skipped,
                why,
                None,
            );
        }
    }

    // Chain trust, only on an attestation that verified.
    let credential: Option<Credential> = match registered {
        Ok(c) => {
            if fmt == "none" {
                checks.set(
                    CheckId::AttestationChainTrusted,
                    Status::Warn,
                    "no attestation, so the maker cannot be confirmed",
                    None,
                );
            } else {
                // A virtual CA vouches for keyward's own virtual keys only, whatever the
                // caller passed: the backend decides, not anything the device says.
                let without_virtual;
                let sources = if is_virtual {
                    sources
                } else {
                    without_virtual = TrustSources {
                        virtual_root: None,
                        ..sources.clone()
                    };
                    &without_virtual
                };
                let v = trust::evaluate(&c.attestation.data, auth_aaguid, sources);
                trusted_by = v.trusted_by;
                maker_confirmed = v.maker;
                checks.set(
                    CheckId::AttestationChainTrusted,
                    v.status,
                    v.detail,
                    v.fix.as_deref(),
                );
            }
            Some(c)
        }
        Err(_) => {
            checks.set(
                CheckId::AttestationChainTrusted,
                Status::Skipped,
                "not checked: the attestation itself did not verify",
                None,
            );
            parts.as_ref().and_then(|p| {
                rp.register_credential(&reg(without_attestation(&p.auth_data)), &reg_state, None)
                    .ok()
            })
        }
    };

    let Some(credential) = credential else {
        checks.skip_rest("not run: no usable credential came out of registration");
        return Ok(finish(checks, trusted_by, maker_confirmed, is_virtual));
    };

    // Authentication with the new credential.
    let auth_builder = rp
        .new_challenge_authenticate_builder(vec![credential.clone()], None)
        .expect("one credential");
    let (auth_challenge, auth_state) = rp
        .generate_challenge_authenticate(auth_builder)
        .expect("authentication challenge");
    let cdj = client_data(
        CeremonyType::Get,
        auth_challenge.public_key.challenge.as_ref(),
    );
    let assertion = match key.get_assertion(&AssertionRequest {
        client_data_hash: sha256(&cdj),
        rp_id: RP_ID.into(),
        allow_credentials: vec![made.credential_id.clone()],
        user_verification: use_uv,
    }) {
        Ok(a) => a,
        Err(e) if is_environmental(&e) => return Err(e),
        Err(e) => {
            checks.set(
                CheckId::AssertionSignature,
                Status::Fail,
                format!("the key could not sign in with the credential it just made: {e}"),
                Some("do not issue this key"),
            );
            checks.skip_rest("not run: the key did not sign in");
            return Ok(finish(checks, trusted_by, maker_confirmed, is_virtual));
        }
    };
    checks.webauthn.assertion = Some(crate::webauthn_export::assertion(&assertion, &cdj));
    let response = PublicKeyCredential {
        id: URL_SAFE_NO_PAD.encode(&assertion.credential_id),
        raw_id: assertion.credential_id.clone(),
        response: AuthenticatorAssertionResponseRaw {
            authenticator_data: assertion.auth_data.clone(),
            client_data_json: cdj,
            signature: assertion.signature.clone(),
            user_handle: None,
        },
        extensions: Default::default(),
        type_: "public-key".into(),
    };
    let before = credential.counter;
    match rp.authenticate_credential(&response, &auth_state) {
        Ok(result) => {
            checks.set(
                CheckId::AssertionSignature,
                Status::Pass,
                "the sign-in signature verified with the credential's public key",
                None,
            );
            let after = result.counter();
            if before == 0 && after == 0 {
                checks.set(
                    CheckId::Counter,
                    Status::Warn,
                    "the key keeps no signature counter (allowed, but a cloned key could not be noticed)",
                    None,
                );
            } else {
                checks.set(
                    CheckId::Counter,
                    Status::Pass,
                    format!("the counter rose from {before} to {after}"),
                    None,
                );
            }
        }
        Err(WebauthnError::CredentialPossibleCompromise) => {
            checks.set(
                CheckId::AssertionSignature,
                Status::Pass,
                "the sign-in signature verified with the credential's public key",
                None,
            );
            checks.set(
                CheckId::Counter,
                Status::Fail,
                format!(
                    "the counter did not rise ({before} at registration, {} at sign-in): a sign of a cloned or faulty key",
                    assertion.sign_count
                ),
                Some("do not issue this key"),
            );
        }
        Err(WebauthnError::UserNotVerified) => {
            checks.set(
                CheckId::AssertionSignature,
                Status::Fail,
                "the sign-in was not user-verified although the PIN was given",
                Some("do not issue this key"),
            );
        }
        Err(e) => {
            checks.set(
                CheckId::AssertionSignature,
                Status::Fail,
                format!(
                    "the sign-in signature does not verify ({})",
                    webauthn_error_name(&e)
                ),
                Some("do not issue this key: it does not sign correctly"),
            );
        }
    }
    checks.skip_rest("not run: an earlier step failed");
    Ok(finish(checks, trusted_by, maker_confirmed, is_virtual))
}

fn finish(
    mut checks: Checks,
    trusted_by: Option<String>,
    maker_confirmed: Option<String>,
    is_virtual: bool,
) -> Report {
    let webauthn = std::mem::take(&mut checks.webauthn);
    let checks = checks.take_sorted();
    Report {
        ok: !checks.iter().any(|c| c.status == Status::Fail),
        checks,
        trusted_by,
        maker_confirmed,
        is_virtual,
        webauthn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::virtual_key::{self, Profile};
    use crate::device::*;
    use crate::pin::Pin;
    use std::time::Duration;

    /// A virtual key that shows itself as a hid key: its attestation chains to a virtual CA.
    struct PosingAsHid {
        inner: Box<dyn Authenticator>,
        desc: DeviceDescriptor,
    }

    impl Authenticator for PosingAsHid {
        fn descriptor(&self) -> &DeviceDescriptor {
            &self.desc
        }
        fn info(&mut self) -> Result<KeyInfo, DeviceError> {
            self.inner.info()
        }
        fn pin_retries(&mut self) -> Result<PinRetries, DeviceError> {
            self.inner.pin_retries()
        }
        fn set_pin(&mut self, p: &Pin) -> Result<(), DeviceError> {
            self.inner.set_pin(p)
        }
        fn change_pin(&mut self, c: &Pin, n: &Pin) -> Result<(), DeviceError> {
            self.inner.change_pin(c, n)
        }
        fn unlock(&mut self, p: &Pin) -> Result<(), DeviceError> {
            self.inner.unlock(p)
        }
        fn credential_metadata(&mut self) -> Result<CredentialMetadata, DeviceError> {
            self.inner.credential_metadata()
        }
        fn list_credentials(&mut self) -> Result<Vec<RpCredentials>, DeviceError> {
            self.inner.list_credentials()
        }
        fn delete_credential(&mut self, id: &[u8]) -> Result<(), DeviceError> {
            self.inner.delete_credential(id)
        }
        fn set_min_pin_length(
            &mut self,
            n: Option<u32>,
            rp_ids: &[String],
            force: bool,
        ) -> Result<(), DeviceError> {
            self.inner.set_min_pin_length(n, rp_ids, force)
        }
        fn toggle_always_uv(&mut self) -> Result<bool, DeviceError> {
            self.inner.toggle_always_uv()
        }
        fn make_credential(
            &mut self,
            r: &MakeCredentialRequest,
        ) -> Result<MadeCredential, DeviceError> {
            self.inner.make_credential(r)
        }
        fn get_assertion(&mut self, r: &AssertionRequest) -> Result<Assertion, DeviceError> {
            self.inner.get_assertion(r)
        }
        fn selection(&mut self, t: Duration) -> Result<(), DeviceError> {
            self.inner.selection(t)
        }
        fn wink(&mut self) -> Result<(), DeviceError> {
            self.inner.wink()
        }
        fn reset(&mut self) -> Result<(), DeviceError> {
            self.inner.reset()
        }
        fn virtual_attestation_root(&self) -> Option<Vec<u8>> {
            self.inner.virtual_attestation_root()
        }
    }

    fn trust_check(report: &Report) -> (Status, String) {
        let c = report
            .checks
            .iter()
            .find(|c| c.id == CheckId::AttestationChainTrusted)
            .expect("the chain check is reported");
        (c.status, c.detail.clone())
    }

    #[test]
    fn a_virtual_ca_never_vouches_for_a_key_the_backend_says_is_real() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let mut desc = virtual_key::create(&path, Profile::Ctap21, 25).unwrap();
        let mut genuine_virtual = virtual_key::open(&path).unwrap();
        let root = genuine_virtual.virtual_attestation_root();
        assert!(root.is_some());
        // Even a caller that hands over the virtual CA for this key gets no trust from it.
        let sources = TrustSources {
            virtual_root: root,
            ..TrustSources::default()
        };
        let run_on = |key: &mut dyn Authenticator| {
            let info = key.info().unwrap();
            run(key, &info, PinOutcome::NotSet, &sources).unwrap()
        };

        let report = run_on(genuine_virtual.as_mut());
        assert_eq!(trust_check(&report).0, Status::Pass);
        assert!(report.is_virtual);
        drop(genuine_virtual);

        let inner = virtual_key::open(&path).unwrap();
        desc.backend = Backend::Hid;
        desc.spec = "hid:/dev/hidraw9".into();
        let mut posing = PosingAsHid { inner, desc };
        let report = run_on(&mut posing);
        let (status, detail) = trust_check(&report);
        assert_ne!(status, Status::Pass, "{detail}");
        assert!(!detail.contains("virtual"), "{detail}");
        assert!(!report.is_virtual);
        assert!(report.trusted_by.is_none() && report.maker_confirmed.is_none());
    }
}
