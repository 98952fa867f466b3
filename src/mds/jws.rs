//! Verifying a compact JWS (header.payload.signature) whose header carries an `x5c` chain: the
//! chain must lead to one of the given roots, and the leaf must have signed the blob. Nothing
//! of the payload is returned before both hold.

use super::MdsError;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use crypto_glue::ecdsa_p256::EcdsaP256Signature;
use crypto_glue::ecdsa_p384::EcdsaP384Signature;
use crypto_glue::traits::DecodeDer;
use crypto_glue::x509::{x509_verify_signature, Certificate, X509Store};
use serde::Deserialize;
use std::time::SystemTime;

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    x5c: Vec<String>,
}

/// The payload bytes of a JWS whose signature and chain verified.
pub struct Verified {
    pub payload: Vec<u8>,
}

pub fn verify(text: &str, roots: &[Certificate], now: SystemTime) -> Result<Verified, MdsError> {
    let text = text.trim();
    let mut parts = text.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(MdsError::NotABlob(
            "it is not a compact JWS (three base64url parts separated by dots)".into(),
        ));
    };
    let header_bytes = URL_SAFE_NO_PAD
        .decode(h64)
        .map_err(|_| MdsError::NotABlob("its header is not base64url".into()))?;
    let header: Header = serde_json::from_slice(&header_bytes)
        .map_err(|e| MdsError::NotABlob(format!("its header is not valid JSON ({e})")))?;
    let signature = URL_SAFE_NO_PAD
        .decode(s64)
        .map_err(|_| MdsError::NotABlob("its signature is not base64url".into()))?;
    if header.x5c.is_empty() {
        return Err(MdsError::Untrusted(
            "the blob carries no certificate chain (x5c)".into(),
        ));
    }
    let mut chain = Vec::with_capacity(header.x5c.len());
    for (i, c) in header.x5c.iter().enumerate() {
        let der = STANDARD.decode(c).map_err(|_| {
            MdsError::NotABlob(format!("certificate {} in x5c is not base64", i + 1))
        })?;
        let cert = Certificate::from_der(&der).map_err(|_| {
            MdsError::NotABlob(format!("certificate {} in x5c is not a certificate", i + 1))
        })?;
        chain.push(cert);
    }
    let (leaf, intermediates) = chain.split_first().expect("x5c is not empty");
    let store = X509Store::new(roots);
    store.verify(leaf, intermediates, now).map_err(|e| {
        MdsError::Untrusted(format!(
            "its certificate chain does not lead to a trusted root ({e:?})"
        ))
    })?;

    // JWS ECDSA signatures are raw r||s (RFC 7515); the certificate check wants DER.
    let signature_der = match header.alg.as_str() {
        "RS256" => signature,
        "ES256" => EcdsaP256Signature::from_slice(&signature)
            .map_err(|_| MdsError::Untrusted("the ES256 signature is malformed".into()))?
            .to_der()
            .as_bytes()
            .to_vec(),
        "ES384" => EcdsaP384Signature::from_slice(&signature)
            .map_err(|_| MdsError::Untrusted("the ES384 signature is malformed".into()))?
            .to_der()
            .as_bytes()
            .to_vec(),
        other => {
            return Err(MdsError::Untrusted(format!(
                "signature algorithm {other} is not accepted (RS256, ES256 or ES384)"
            )))
        }
    };
    let signed = format!("{h64}.{p64}");
    x509_verify_signature(signed.as_bytes(), &signature_der, leaf).map_err(|_| {
        MdsError::Untrusted("the signature does not match the blob's content".into())
    })?;
    let payload = URL_SAFE_NO_PAD
        .decode(p64)
        .map_err(|_| MdsError::NotABlob("its payload is not base64url".into()))?;
    Ok(Verified { payload })
}
