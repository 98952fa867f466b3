//! The WebAuthn ceremony as a browser would hand it to a website, so any relying-party library
//! can check what a key produced: clientDataJSON built the way browsers build it, and the
//! `PublicKeyCredential` JSON (`toJSON()` shape, base64url without padding).

use crate::device::{Assertion, MadeCredential};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;

/// `webauthn.create` or `webauthn.get`.
#[derive(Debug, Clone, Copy)]
pub enum CeremonyType {
    Create,
    Get,
}

impl CeremonyType {
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyType::Create => "webauthn.create",
            CeremonyType::Get => "webauthn.get",
        }
    }
}

/// Field order and spelling as Chrome and Firefox write it: `type`, `challenge` (base64url
/// of the random bytes), `origin` (scheme and host, no trailing slash), `crossOrigin`; no
/// `tokenBinding`.
#[derive(Serialize)]
struct ClientData<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    challenge: String,
    origin: String,
    #[serde(rename = "crossOrigin")]
    cross_origin: bool,
}

pub fn client_data_json(kind: CeremonyType, challenge: &[u8], rp_id: &str) -> Vec<u8> {
    serde_json::to_vec(&ClientData {
        kind: kind.as_str(),
        challenge: URL_SAFE_NO_PAD.encode(challenge),
        origin: format!("https://{rp_id}"),
        cross_origin: false,
    })
    .expect("client data serialises")
}

/// A fresh random challenge, as a website makes one.
pub fn random_challenge() -> [u8; 32] {
    let mut b = [0u8; 32];
    crypto_glue::rand::fill(&mut b[..]);
    b
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[derive(Debug, Clone, Serialize)]
pub struct AttestationResponse {
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    #[serde(rename = "attestationObject")]
    pub attestation_object: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AssertionResponse {
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    #[serde(rename = "authenticatorData")]
    pub authenticator_data: String,
    pub signature: String,
    #[serde(rename = "userHandle")]
    pub user_handle: Option<String>,
}

/// A `PublicKeyCredential` in JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Credential<R> {
    pub id: String,
    #[serde(rename = "rawId")]
    pub raw_id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub response: R,
}

pub fn registration(made: &MadeCredential, client_data: &[u8]) -> Credential<AttestationResponse> {
    Credential {
        id: b64(&made.credential_id),
        raw_id: b64(&made.credential_id),
        kind: "public-key",
        response: AttestationResponse {
            client_data_json: b64(client_data),
            attestation_object: b64(&made.attestation_object),
        },
    }
}

pub fn assertion(a: &Assertion, client_data: &[u8]) -> Credential<AssertionResponse> {
    Credential {
        id: b64(&a.credential_id),
        raw_id: b64(&a.credential_id),
        kind: "public-key",
        response: AssertionResponse {
            client_data_json: b64(client_data),
            authenticator_data: b64(&a.auth_data),
            signature: b64(&a.signature),
            user_handle: a.user_id.as_deref().map(b64),
        },
    }
}

/// What `key test --json` exports: the registration and, when it got that far, the sign-in.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ceremony {
    pub registration: Option<Credential<AttestationResponse>>,
    pub assertion: Option<Credential<AssertionResponse>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_data_is_written_as_a_browser_writes_it() {
        let cd = client_data_json(CeremonyType::Create, &[0xFB, 0xFF, 0x01], "example.com");
        assert_eq!(
            String::from_utf8(cd).unwrap(),
            r#"{"type":"webauthn.create","challenge":"-_8B","origin":"https://example.com","crossOrigin":false}"#
        );
    }
}
