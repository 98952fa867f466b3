use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Which kind of key this is. Shown to people ("virtual: not a security key") but never used
/// outside `device/` to change behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Hid,
    Virtual,
}

/// A key that is present, before it is opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceDescriptor {
    /// The `--device` value that opens exactly this key, e.g. `hid:/dev/hidraw3` or
    /// `virtual:/tmp/a.key`.
    pub spec: String,
    pub backend: Backend,
    pub vendor_id: Option<u16>,
    pub product_id: Option<u16>,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
    pub serial: Option<String>,
}

impl DeviceDescriptor {
    /// A virtual key is software: it must never be mistaken for a security key.
    pub fn is_virtual(&self) -> bool {
        self.backend == Backend::Virtual
    }

    /// One line a person can recognise the key by.
    pub fn display_name(&self) -> String {
        let name = match (&self.manufacturer, &self.product) {
            (Some(m), Some(p)) if !p.starts_with(m.as_str()) => format!("{m} {p}"),
            (_, Some(p)) => p.clone(),
            (Some(m), None) => m.clone(),
            (None, None) => "FIDO key".to_string(),
        };
        let mut s = if self.is_virtual() {
            format!("{name} (virtual: not a security key)")
        } else {
            name
        };
        if let Some(serial) = &self.serial {
            s.push_str(&format!(", serial {serial}"));
        }
        s.push_str(&format!(" [{}]", self.spec));
        s
    }
}

/// authenticatorGetInfo in domain terms. A U2F-only key reports `versions = ["U2F_V2"]` and
/// no AAGUID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// "U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1".
    pub versions: Vec<String>,
    pub aaguid: Option<Uuid>,
    /// getInfo options such as rk, up, uv, clientPin, credMgmt, alwaysUv, setMinPINLength.
    pub options: BTreeMap<String, bool>,
    pub extensions: Vec<String>,
    pub pin_uv_protocols: Vec<u32>,
    /// Minimum PIN length in Unicode code points (4 when the key does not say).
    pub min_pin_length: u32,
    pub force_pin_change: bool,
    pub firmware_version: Option<u64>,
    pub remaining_discoverable_credentials: Option<u32>,
    pub transports: Vec<String>,
    /// COSE algorithm identifiers, e.g. -7 for ES256.
    pub algorithms: Vec<i64>,
}

impl KeyInfo {
    fn has_version(&self, v: &str) -> bool {
        self.versions.iter().any(|x| x == v)
    }
    fn option(&self, name: &str) -> Option<bool> {
        self.options.get(name).copied()
    }
    /// The key speaks CTAP2 (FIDO2), not only U2F.
    pub fn supports_fido2(&self) -> bool {
        self.versions.iter().any(|v| v.starts_with("FIDO_2"))
    }
    pub fn supports_u2f(&self) -> bool {
        self.has_version("U2F_V2")
    }
    pub fn supports_ctap21(&self) -> bool {
        self.has_version("FIDO_2_1")
    }
    /// `Some(true)` when a PIN is set, `Some(false)` when the key supports a PIN but has none,
    /// `None` when it has no PIN support at all.
    pub fn pin_is_set(&self) -> Option<bool> {
        self.option("clientPin")
    }
    pub fn supports_discoverable(&self) -> bool {
        self.option("rk") == Some(true)
    }
    /// Final or pre-release CTAP 2.1 credential management.
    pub fn supports_credential_management(&self) -> bool {
        self.option("credMgmt") == Some(true) || self.option("credentialMgmtPreview") == Some(true)
    }
    pub fn supports_min_pin_length(&self) -> bool {
        self.option("setMinPINLength") == Some(true)
    }
    pub fn supports_always_uv(&self) -> bool {
        self.option("alwaysUv").is_some() && self.option("authnrCfg") == Some(true)
    }
    pub fn always_uv(&self) -> bool {
        self.option("alwaysUv") == Some(true)
    }
}

/// Result of getPinRetries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinRetries {
    pub retries: u32,
    /// Three wrong PINs in a row: the key refuses further attempts until it is unplugged.
    pub power_cycle_required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialMetadata {
    pub existing: u32,
    pub remaining: u32,
}

/// Binary fields serialise as lowercase hex in JSON output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCredential {
    #[serde(with = "hex::serde")]
    pub credential_id: Vec<u8>,
    #[serde(with = "hex::serde")]
    pub user_id: Vec<u8>,
    pub user_name: Option<String>,
    pub user_display_name: Option<String>,
    /// credProtect level 1..3 where the key reports it.
    pub cred_protect: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpCredentials {
    pub rp_id: String,
    pub rp_name: Option<String>,
    pub credentials: Vec<StoredCredential>,
}

/// What a relying party (a website, or keyward's own self-test) asks the key to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MakeCredentialRequest {
    /// SHA-256 of the clientDataJSON.
    pub client_data_hash: [u8; 32],
    pub rp_id: String,
    pub rp_name: Option<String>,
    pub user_id: Vec<u8>,
    pub user_name: String,
    pub user_display_name: Option<String>,
    /// Ask for a discoverable (resident) credential.
    pub discoverable: bool,
    /// Use the token from `unlock` (the PIN) for user verification.
    pub user_verification: bool,
    pub exclude_credentials: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MadeCredential {
    #[serde(with = "hex::serde")]
    pub credential_id: Vec<u8>,
    /// The raw CBOR attestationObject: {fmt, authData, attStmt}.
    #[serde(with = "hex::serde")]
    pub attestation_object: Vec<u8>,
    /// "packed", "fido-u2f" or "none".
    pub attestation_format: String,
    #[serde(with = "hex::serde")]
    pub auth_data: Vec<u8>,
    pub aaguid: Option<Uuid>,
    /// DER certificates from x5c, leaf first.
    pub attestation_certificates: Vec<Vec<u8>>,
    pub user_verified: bool,
    pub sign_count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionRequest {
    pub client_data_hash: [u8; 32],
    pub rp_id: String,
    /// Empty means "any discoverable credential for this RP".
    pub allow_credentials: Vec<Vec<u8>>,
    pub user_verification: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assertion {
    #[serde(with = "hex::serde")]
    pub credential_id: Vec<u8>,
    #[serde(with = "hex::serde")]
    pub auth_data: Vec<u8>,
    #[serde(with = "hex::serde")]
    pub signature: Vec<u8>,
    pub user_id: Option<Vec<u8>>,
    pub sign_count: u32,
    pub user_verified: bool,
}
