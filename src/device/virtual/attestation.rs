//! Keys, certificates and attestation statements of a virtual key.
//!
//! Each virtual key has its own attestation CA (CA=true, keyCertSign) and a leaf certificate
//! that follows the FIDO packed-attestation profile (v3; subject C, O, OU="Authenticator
//! Attestation", CN; CA=false; the AAGUID extension), so a relying party library verifies a
//! virtual key's attestation exactly as it verifies a real key's, trusting the CA.

use crypto_glue::ecdsa_p256::{
    EcdsaP256DerSignature, EcdsaP256PrivateKey, EcdsaP256SigningKey, EcdsaP256VerifyingKey,
};
use crypto_glue::traits::DecodeDer;
use crypto_glue::traits::{EncodeDer, SignatureEncoding, Signer};
use crypto_glue::x509::{
    AuthorityKeyIdentifier, BasicConstraints, Builder, CertBuilderError, Certificate,
    CertificateBuilder, Extension, KeyUsage, KeyUsages, Name, ObjectIdentifier, OctetString,
    Profile as CertProfile, SerialNumber, SubjectKeyIdentifier, SubjectPublicKeyInfoOwned,
    SubjectPublicKeyInfoRef, TbsCertificate, Time, Validity,
};
use serde_cbor_2::Value;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

/// id-fido-gen-ce-aaguid.
const FIDO_AAGUID_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.45724.1.1.4");
/// COSE ES256.
pub const ALG_ES256: i128 = -7;

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    crypto_glue::rand::fill(&mut b[..]);
    b
}

pub fn new_private_key() -> Vec<u8> {
    crypto_glue::ecdsa_p256::new_key().to_bytes().to_vec()
}

pub fn signing_key(private: &[u8]) -> Result<EcdsaP256SigningKey, String> {
    EcdsaP256PrivateKey::from_slice(private)
        .map(EcdsaP256SigningKey::from)
        .map_err(|_| "a stored private key is not a valid P-256 key".to_string())
}

/// DER ECDSA signature over `data` (SHA-256 inside).
pub fn sign(private: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
    let key = signing_key(private)?;
    let sig: EcdsaP256DerSignature = key.sign(data);
    Ok(sig.to_vec())
}

/// The uncompressed public point's x and y.
pub fn public_xy(private: &[u8]) -> Result<([u8; 32], [u8; 32]), String> {
    let key = signing_key(private)?;
    let point = EcdsaP256VerifyingKey::from(&key).to_sec1_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err("public key has no coordinates".into());
    };
    let mut ox = [0u8; 32];
    let mut oy = [0u8; 32];
    ox.copy_from_slice(x);
    oy.copy_from_slice(y);
    Ok((ox, oy))
}

/// COSE_Key for an ES256 public key, in CTAP canonical order (1, 3, -1, -2, -3).
pub fn cose_public_key(private: &[u8]) -> Result<Vec<u8>, String> {
    let (x, y) = public_xy(private)?;
    let mut out = vec![0xA5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20];
    out.extend_from_slice(&x);
    out.extend_from_slice(&[0x22, 0x58, 0x20]);
    out.extend_from_slice(&y);
    Ok(out)
}

/// The uncompressed SEC1 point (0x04 || x || y), as U2F uses.
pub fn raw_public_key(private: &[u8]) -> Result<Vec<u8>, String> {
    let (x, y) = public_xy(private)?;
    let mut out = vec![0x04];
    out.extend_from_slice(&x);
    out.extend_from_slice(&y);
    Ok(out)
}

fn cert_error(e: impl std::fmt::Display) -> String {
    format!("building a certificate failed: {e}")
}

fn spki(private: &[u8]) -> Result<SubjectPublicKeyInfoOwned, String> {
    let key = signing_key(private)?;
    SubjectPublicKeyInfoOwned::from_key(&EcdsaP256VerifyingKey::from(&key)).map_err(cert_error)
}

fn serial() -> Result<SerialNumber, String> {
    let mut bytes = random_bytes::<16>();
    // A positive INTEGER whose first byte is not zero.
    bytes[0] = (bytes[0] & 0x7F) | 0x01;
    SerialNumber::new(&bytes).map_err(cert_error)
}

fn validity() -> Result<Validity, String> {
    let day = Duration::from_secs(86_400);
    let now = std::time::SystemTime::now();
    let not_before = Time::try_from(now - day).map_err(cert_error)?;
    let not_after = Time::try_from(now + day * 365 * 20).map_err(cert_error)?;
    Ok(Validity::new(not_before, not_after))
}

fn name(s: &str) -> Result<Name, String> {
    Name::from_str(s).map_err(cert_error)
}

/// Issued certificates: a CA or an attestation leaf.
struct VirtualProfile {
    issuer: Option<Name>,
    subject: Name,
    ca: bool,
    aaguid: Option<[u8; 16]>,
}

impl CertProfile for VirtualProfile {
    fn get_issuer(&self, subject: &Name) -> Name {
        self.issuer.clone().unwrap_or_else(|| subject.clone())
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> Result<Vec<Extension>, CertBuilderError> {
        use crypto_glue::traits::ToExtension;
        let mut ext: Vec<Extension> = Vec::new();
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        let issuer_ski = SubjectKeyIdentifier::try_from(issuer_spk)?;
        ext.push(
            AuthorityKeyIdentifier {
                key_identifier: Some(issuer_ski.0.clone()),
                ..Default::default()
            }
            .to_extension(tbs.subject(), &ext)?,
        );
        ext.push(
            BasicConstraints {
                ca: self.ca,
                path_len_constraint: if self.ca { Some(0) } else { None },
            }
            .to_extension(tbs.subject(), &ext)?,
        );
        let usage = if self.ca {
            KeyUsages::KeyCertSign | KeyUsages::CRLSign
        } else {
            KeyUsages::DigitalSignature.into()
        };
        ext.push(KeyUsage(usage).to_extension(tbs.subject(), &ext)?);
        ext.push(ski.to_extension(tbs.subject(), &ext)?);
        if let Some(aaguid) = self.aaguid {
            let inner = OctetString::new(aaguid.to_vec())?.to_der()?;
            ext.push(Extension {
                extn_id: FIDO_AAGUID_OID,
                critical: false,
                extn_value: OctetString::new(inner)?,
            });
        }
        Ok(ext)
    }
}

fn build(
    profile: VirtualProfile,
    subject_key: &[u8],
    issuer_key: &[u8],
) -> Result<Vec<u8>, String> {
    let builder = CertificateBuilder::new(profile, serial()?, validity()?, spki(subject_key)?)
        .map_err(cert_error)?;
    let signer = signing_key(issuer_key)?;
    let cert = builder
        .build::<EcdsaP256SigningKey, EcdsaP256DerSignature>(&signer)
        .map_err(cert_error)?;
    cert.to_der().map_err(cert_error)
}

/// A new per-key virtual attestation CA: (private key, DER certificate).
pub fn new_ca(key_id: &str) -> Result<(Vec<u8>, Vec<u8>), String> {
    let key = new_private_key();
    let subject = name(&format!(
        "CN=keyward virtual attestation CA {key_id},O=keyward virtual keys (NOT security keys),C=ZZ"
    ))?;
    let cert = build(
        VirtualProfile {
            issuer: None,
            subject,
            ca: true,
            aaguid: None,
        },
        &key,
        &key,
    )?;
    Ok((key, cert))
}

/// An attestation leaf signed by the CA: (private key, DER certificate). `in_profile = false`
/// makes a certificate that breaks the FIDO packed profile (wrong OU, CA=true), for tests.
pub fn new_leaf(
    ca_key: &[u8],
    ca_cert: &[u8],
    aaguid: Option<Uuid>,
    in_profile: bool,
    leaf_key: Option<&[u8]>,
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let key = leaf_key.map(<[u8]>::to_vec).unwrap_or_else(new_private_key);
    let issuer = Certificate::from_der(ca_cert)
        .map_err(cert_error)?
        .tbs_certificate()
        .subject()
        .clone();
    let ou = if in_profile {
        "Authenticator Attestation"
    } else {
        "Virtual Key Testing"
    };
    let subject = name(&format!(
        "CN=keyward virtual key attestation,OU={ou},O=keyward virtual keys (NOT security keys),C=ZZ"
    ))?;
    let cert = build(
        VirtualProfile {
            issuer: Some(issuer),
            subject,
            ca: !in_profile,
            aaguid: aaguid.map(|a| *a.as_bytes()),
        },
        &key,
        ca_key,
    )?;
    Ok((key, cert))
}

/// A CBOR map with text keys.
fn text_map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::Text(k.to_string()), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// `packed` attStmt: alg, sig over authData || clientDataHash, x5c [leaf].
pub fn packed_statement(
    leaf_key: &[u8],
    leaf_cert: &[u8],
    auth_data: &[u8],
    client_data_hash: &[u8; 32],
) -> Result<Value, String> {
    let mut signed = auth_data.to_vec();
    signed.extend_from_slice(client_data_hash);
    let sig = sign(leaf_key, &signed)?;
    Ok(text_map(vec![
        ("alg", Value::Integer(ALG_ES256)),
        ("sig", Value::Bytes(sig)),
        ("x5c", Value::Array(vec![Value::Bytes(leaf_cert.to_vec())])),
    ]))
}
