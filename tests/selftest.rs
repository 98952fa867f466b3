//! Issue 5: `keyward key test` (self-test ceremony), `keyward mds import` (FIDO metadata, with
//! test blobs made here under a test root), and `keyward key check` (readiness per playbook).
mod common;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::Sandbox;
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

const PIN: &str = "482915";

// ---------------------------------------------------------------- test MDS blobs

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
struct TestSigner {
    root: Certificate,
    leaf: Certificate,
    leaf_key: EcdsaP256SigningKey,
}

fn spki(key: &EcdsaP256SigningKey) -> SubjectPublicKeyInfoOwned {
    SubjectPublicKeyInfoOwned::from_key(key.verifying_key()).expect("spki")
}

fn test_signer(name: &str) -> TestSigner {
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
    fn root_pem(&self) -> String {
        self.root.to_pem(LineEndingPem::LF).unwrap()
    }

    /// A compact JWS over `payload`, ES256 with a raw r||s signature as RFC 7515 wants.
    fn sign(&self, payload: &Value) -> String {
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
fn payload(
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

fn write(sb: &Sandbox, name: &str, text: &str) -> String {
    let p = sb.path(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

const SOME_AAGUID: &str = "2fc0579f-8113-47ea-b116-bb5a8db9202a";

#[test]
fn mds_blob_under_a_test_root_is_imported_and_labelled_test() {
    let sb = Sandbox::new();
    let signer = test_signer("A");
    let root_b64 = STANDARD.encode(signer.root.to_der().unwrap());
    let blob = write(
        &sb,
        "blob.jwt",
        &signer.sign(&payload(
            7,
            SOME_AAGUID,
            "Model X",
            &root_b64,
            "FIDO_CERTIFIED_L1",
        )),
    );
    let root = write(&sb, "root.pem", &signer.root_pem());

    let r = sb
        .run(&["mds", "import", &blob, "--test-root", &root, "--json"])
        .ok();
    let j = r.json();
    assert_eq!(j["serial"], 7);
    assert_eq!(j["models"], 1);
    assert_eq!(j["fido_alliance"], false);
    assert!(j["signed_by"].as_str().unwrap().contains("TEST"), "{j}");

    let s = sb.run(&["mds", "status"]).ok();
    assert!(s.stdout.contains("no. 7"), "{}", s.stdout);
    assert!(s.stdout.contains("TEST metadata"), "{}", s.stdout);
}

#[test]
fn mds_blob_is_refused_without_the_fido_root_and_when_tampered() {
    let sb = Sandbox::new();
    let signer = test_signer("B");
    let root_b64 = STANDARD.encode(signer.root.to_der().unwrap());
    let good = signer.sign(&payload(
        3,
        SOME_AAGUID,
        "Model X",
        &root_b64,
        "FIDO_CERTIFIED_L1",
    ));
    let root = write(&sb, "root.pem", &signer.root_pem());

    // Not chaining to the FIDO Alliance: refused without --test-root, nothing cached.
    let blob = write(&sb, "good.jwt", &good);
    let r = sb.run(&["mds", "import", &blob]).expect_code(12);
    assert!(
        r.stderr.contains("does not lead to a trusted root"),
        "{}",
        r.stderr
    );
    let s = sb.run(&["mds", "status", "--json"]).ok();
    assert_eq!(s.json()["imported"], false);

    // A good import, then a tampered blob: refused, and the cache still holds serial 3.
    sb.run(&["mds", "import", &blob, "--test-root", &root]).ok();
    let mut parts: Vec<String> = good.split('.').map(String::from).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&payload(
            4,
            SOME_AAGUID,
            "Model X (evil)",
            &root_b64,
            "FIDO_CERTIFIED_L3",
        ))
        .unwrap(),
    );
    let tampered = write(&sb, "tampered.jwt", &parts.join("."));
    let r = sb
        .run(&["mds", "import", &tampered, "--test-root", &root])
        .expect_code(12);
    assert!(
        r.stderr.contains("signature does not match"),
        "{}",
        r.stderr
    );

    // Signed under another root than the one given.
    let other = test_signer("C");
    let foreign = write(
        &sb,
        "foreign.jwt",
        &other.sign(&payload(
            5,
            SOME_AAGUID,
            "M",
            &root_b64,
            "FIDO_CERTIFIED_L1",
        )),
    );
    sb.run(&["mds", "import", &foreign, "--test-root", &root])
        .expect_code(12);

    // Not a blob at all.
    let junk = write(&sb, "junk.jwt", "hello");
    let r = sb
        .run(&["mds", "import", &junk, "--test-root", &root])
        .expect_code(12);
    assert!(r.stderr.contains("not a compact JWS"), "{}", r.stderr);

    // Signed correctly but not metadata: refused as a whole.
    let notmd = write(&sb, "notmd.jwt", &signer.sign(&json!({"hello": 1})));
    let r = sb
        .run(&["mds", "import", &notmd, "--test-root", &root])
        .expect_code(12);
    assert!(r.stderr.contains("not FIDO metadata"), "{}", r.stderr);

    let s = sb.run(&["mds", "status", "--json"]).ok();
    assert_eq!(
        s.json()["serial"],
        3,
        "the cache must be untouched by refused blobs"
    );
}

#[test]
fn a_damaged_cache_is_reported_not_used() {
    let sb = Sandbox::new();
    let signer = test_signer("D");
    let root_b64 = STANDARD.encode(signer.root.to_der().unwrap());
    let blob = write(
        &sb,
        "blob.jwt",
        &signer.sign(&payload(
            9,
            SOME_AAGUID,
            "Model X",
            &root_b64,
            "FIDO_CERTIFIED_L1",
        )),
    );
    let root = write(&sb, "root.pem", &signer.root_pem());
    sb.run(&["mds", "import", &blob, "--test-root", &root]).ok();
    let cache = sb.path("home/.local/share/keyward/mds/metadata.json");
    let text = std::fs::read_to_string(&cache).unwrap();
    std::fs::write(&cache, text.replace("\"blob\": \"", "\"blob\": \"x")).unwrap();
    let r = sb.run(&["mds", "status"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("damaged or was edited"), "{}", r.stderr);
}
