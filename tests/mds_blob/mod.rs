//! FIDO Metadata Service blobs for the tests, signed under a test root made here (as the FIDO
//! Alliance signs theirs), for `keyward mds import --test-root`.
#![allow(dead_code)]

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use crypto_glue::ecdsa_p256::{
    new_key, EcdsaP256DerSignature, EcdsaP256Signature, EcdsaP256SigningKey,
};
use crypto_glue::traits::{EncodeDer, EncodePem, LineEndingPem, Signer, ToExtension};
use crypto_glue::x509::{
    profile::cabf::Root, uuid_to_serial, BasicConstraints, Builder, CertBuilderError, Certificate,
    CertificateBuilder, Extension, Name, Profile, SubjectPublicKeyInfoOwned,
    SubjectPublicKeyInfoRef, TbsCertificate, Validity,
};
use serde_json::{json, Value};
use std::str::FromStr;
use std::time::Duration;

/// A leaf certificate profile for the blob signer: CA=false, nothing else.
struct Leaf {
    issuer: Name,
    subject: Name,
}

impl Profile for Leaf {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        _spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> Result<Vec<Extension>, CertBuilderError> {
        Ok(vec![BasicConstraints {
            ca: false,
            path_len_constraint: None,
        }
        .to_extension(&self.subject, &[])?])
    }
}

/// A root CA and a blob-signing leaf under it, as the FIDO Alliance has (but ours).
pub struct TestSigner {
    pub root: Certificate,
    pub leaf: Certificate,
    pub leaf_key: EcdsaP256SigningKey,
}

fn spki(key: &EcdsaP256SigningKey) -> SubjectPublicKeyInfoOwned {
    SubjectPublicKeyInfoOwned::from_key(key.verifying_key()).expect("spki")
}

pub fn test_signer(name: &str) -> TestSigner {
    let validity = Validity::from_now(Duration::from_secs(86400 * 30)).unwrap();
    let root_key = EcdsaP256SigningKey::from(&new_key());
    let root_name =
        Name::from_str(&format!("CN={name} Test MDS Root,O=keyward tests,C=US")).unwrap();
    let root = CertificateBuilder::new(
        Root::new(false, root_name.clone()).unwrap(),
        uuid_to_serial(uuid::Uuid::new_v4()),
        validity,
        spki(&root_key),
    )
    .unwrap()
    .build::<EcdsaP256SigningKey, EcdsaP256DerSignature>(&root_key)
    .unwrap();
    let leaf_key = EcdsaP256SigningKey::from(&new_key());
    let leaf = CertificateBuilder::new(
        Leaf {
            issuer: root_name,
            subject: Name::from_str(&format!("CN={name} MDS Signer,O=keyward tests,C=US")).unwrap(),
        },
        uuid_to_serial(uuid::Uuid::new_v4()),
        validity,
        spki(&leaf_key),
    )
    .unwrap()
    .build::<EcdsaP256SigningKey, EcdsaP256DerSignature>(&root_key)
    .unwrap();
    TestSigner {
        root,
        leaf,
        leaf_key,
    }
}

impl TestSigner {
    pub fn root_pem(&self) -> String {
        self.root.to_pem(LineEndingPem::LF).unwrap()
    }

    /// A compact JWS over `payload`, ES256 with a raw r||s signature as RFC 7515 wants.
    pub fn sign(&self, payload: &Value) -> String {
        let header = json!({
            "alg": "ES256",
            "typ": "JWT",
            "x5c": [STANDARD.encode(self.leaf.to_der().unwrap())],
        });
        let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
        let p = URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload).unwrap());
        let sig: EcdsaP256Signature = self.leaf_key.sign(format!("{h}.{p}").as_bytes());
        format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }
}

/// An MDS3 payload listing one model.
pub fn payload(
    serial: u64,
    aaguid: &str,
    description: &str,
    root_der_b64: &str,
    status: &str,
) -> Value {
    json!({
        "legalHeader": "test data made by keyward's tests",
        "no": serial,
        "nextUpdate": "2099-01-01",
        "entries": [{
            "aaguid": aaguid,
            "metadataStatement": {
                "legalHeader": "test",
                "aaguid": aaguid,
                "description": description,
                "authenticatorVersion": 1,
                "protocolFamily": "fido2",
                "schema": 3,
                "upv": [{"major": 1, "minor": 1}],
                "attestationTypes": ["basic_full"],
                "attestationRootCertificates": [root_der_b64],
                "someFieldAddedNextYear": true
            },
            "statusReports": [{"status": status, "effectiveDate": "2024-01-01"}],
            "timeOfLastStatusChange": "2024-01-01"
        }]
    })
}
