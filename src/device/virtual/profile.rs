//! What kind of key a virtual key pretends to be, fixed when it is created.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The kinds of key a virtual key can be. Each answers getInfo like the generation of real
/// keys it stands for, and refuses what that generation cannot do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// A CTAP 2.1 key: credential management, authenticatorConfig, PIN protocol 2.
    Ctap21,
    /// A CTAP 2.0 key: PIN and discoverable credentials, but no credential management or
    /// config commands.
    Ctap20,
    /// A U2F-only key: no PIN, no discoverable credentials, `fido-u2f` attestation.
    U2f,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Ctap21 => "ctap21",
            Profile::Ctap20 => "ctap20",
            Profile::U2f => "u2f",
        }
    }

    pub fn product(self) -> &'static str {
        match self {
            Profile::Ctap21 => "Virtual CTAP 2.1 key",
            Profile::Ctap20 => "Virtual CTAP 2.0 key",
            Profile::U2f => "Virtual U2F key",
        }
    }

    /// Fixed per profile so tools that look a model up by AAGUID see one model per profile.
    /// They spell "keyward" and "virt21"/"virt20" in ASCII, so no real key uses them.
    pub fn aaguid(self) -> Option<Uuid> {
        match self {
            Profile::Ctap21 => Some(Uuid::from_u128(0x6b65_7977_6172_4421_a000_7669_7274_3231)),
            Profile::Ctap20 => Some(Uuid::from_u128(0x6b65_7977_6172_4420_a000_7669_7274_3230)),
            Profile::U2f => None,
        }
    }

    pub fn is_fido2(self) -> bool {
        self != Profile::U2f
    }

    pub fn is_ctap21(self) -> bool {
        self == Profile::Ctap21
    }

    pub fn versions(self) -> Vec<String> {
        let v: &[&str] = match self {
            Profile::Ctap21 => &["U2F_V2", "FIDO_2_0", "FIDO_2_1"],
            Profile::Ctap20 => &["U2F_V2", "FIDO_2_0"],
            Profile::U2f => &["U2F_V2"],
        };
        v.iter().map(|s| s.to_string()).collect()
    }

    pub fn extensions(self) -> Vec<String> {
        let v: &[&str] = match self {
            Profile::Ctap21 => &["credProtect", "minPinLength"],
            Profile::Ctap20 => &[],
            Profile::U2f => &[],
        };
        v.iter().map(|s| s.to_string()).collect()
    }

    pub fn pin_uv_protocols(self) -> Vec<u32> {
        match self {
            Profile::Ctap21 => vec![2, 1],
            Profile::Ctap20 => vec![1],
            Profile::U2f => vec![],
        }
    }

    /// getInfo options for the key's current state.
    pub fn options(self, pin_set: bool, always_uv: bool) -> BTreeMap<String, bool> {
        let mut o = BTreeMap::new();
        let mut put = |k: &str, v: bool| {
            o.insert(k.to_string(), v);
        };
        match self {
            Profile::Ctap21 => {
                put("rk", true);
                put("up", true);
                put("plat", false);
                put("clientPin", pin_set);
                put("credMgmt", true);
                put("setMinPINLength", true);
                put("authnrCfg", true);
                put("alwaysUv", always_uv);
                put("pinUvAuthToken", true);
                put("makeCredUvNotRqd", true);
            }
            Profile::Ctap20 => {
                put("rk", true);
                put("up", true);
                put("plat", false);
                put("clientPin", pin_set);
            }
            Profile::U2f => {}
        }
        o
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
