//! The records the ledger keeps. These types are both the API other modules use and the rows of
//! `keyward ledger export` (so an export is a plain dump, and import puts back the same rows).

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// Who made a change: the help-desk operator when one was named, else the OS user running
/// keyward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub name: String,
    /// True when the name came from `--operator` (a help-desk session).
    pub operator: bool,
}

impl Actor {
    pub fn operator(name: impl Into<String>) -> Actor {
        Actor {
            name: name.into(),
            operator: true,
        }
    }

    /// The user running this process, from the environment or the password database.
    pub fn os_user() -> Actor {
        Actor {
            name: os_user_name(),
            operator: false,
        }
    }

    /// `--operator NAME` when given and not blank, else the OS user.
    pub fn from_operator(operator: Option<&str>) -> Actor {
        match operator.map(str::trim) {
            Some(name) if !name.is_empty() => Actor::operator(name),
            _ => Actor::os_user(),
        }
    }

    /// The form stored in the ledger: `operator:NAME` or `user:NAME`.
    pub fn stored(&self) -> String {
        if self.operator {
            format!("operator:{}", self.name)
        } else {
            format!("user:{}", self.name)
        }
    }

    pub fn from_stored(s: &str) -> Actor {
        match s.split_once(':') {
            Some(("operator", name)) => Actor::operator(name),
            Some(("user", name)) => Actor {
                name: name.to_string(),
                operator: false,
            },
            _ => Actor {
                name: s.to_string(),
                operator: false,
            },
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator {
            write!(f, "{} (operator)", self.name)
        } else {
            f.write_str(&self.name)
        }
    }
}

fn os_user_name() -> String {
    for var in ["USER", "LOGNAME", "USERNAME"] {
        if let Ok(v) = std::env::var(var) {
            if !v.trim().is_empty() {
                return v;
            }
        }
    }
    #[cfg(unix)]
    {
        // SAFETY: getpwuid returns a pointer into static storage or null; we copy the name out
        // at once and never keep the pointer.
        unsafe {
            let pw = libc::getpwuid(libc::getuid());
            if !pw.is_null() && !(*pw).pw_name.is_null() {
                let name = std::ffi::CStr::from_ptr((*pw).pw_name);
                return name.to_string_lossy().into_owned();
            }
            return format!("uid {}", libc::getuid());
        }
    }
    #[allow(unreachable_code)]
    "unknown user".to_string()
}

/// A person whose accounts get keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: i64,
    /// How people refer to them; unique in the ledger (compared without case).
    pub name: String,
    pub email: Option<String>,
    pub created_at: String,
}

/// One account at one provider, e.g. `google` + `ceo@example.com`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: i64,
    pub person_id: i64,
    /// The playbook id (`crate::playbook`), e.g. `google`, `microsoft-entra`, `apple`.
    pub playbook: String,
    /// Email, UPN or Apple Account name as the provider shows it.
    pub identifier: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    Active,
    Lost,
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Lost => "lost",
            KeyState::Retired => "retired",
        }
    }
    pub fn parse(s: &str) -> Option<KeyState> {
        match s {
            "active" => Some(KeyState::Active),
            "lost" => Some(KeyState::Lost),
            "retired" => Some(KeyState::Retired),
            _ => None,
        }
    }
}

/// What is known about a key's PIN after provisioning. Never the PIN itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinState {
    /// A PIN is set and the key demands a new one at first use: the person must change it.
    SetMustChange,
    /// A PIN is set (by the person, or issued without a forced change).
    Set,
    /// No PIN yet: the person sets it at enrollment.
    NotSetPersonSets,
}

impl PinState {
    pub fn as_str(self) -> &'static str {
        match self {
            PinState::SetMustChange => "set_must_change",
            PinState::Set => "set",
            PinState::NotSetPersonSets => "not_set_person_sets",
        }
    }
    pub fn parse(s: &str) -> Option<PinState> {
        match s {
            "set_must_change" => Some(PinState::SetMustChange),
            "set" => Some(PinState::Set),
            "not_set_person_sets" => Some(PinState::NotSetPersonSets),
            _ => None,
        }
    }
    /// What a key's own answers say: whether it has a PIN, and whether it demands a new one
    /// before its next use. `None` for a key without PIN support.
    pub fn seen(pin_set: Option<bool>, force_pin_change: bool) -> Option<PinState> {
        match pin_set {
            Some(true) if force_pin_change => Some(PinState::SetMustChange),
            Some(true) => Some(PinState::Set),
            Some(false) => Some(PinState::NotSetPersonSets),
            None => None,
        }
    }
    pub fn describe(self) -> &'static str {
        match self {
            PinState::SetMustChange => "PIN set; the person must change it at first use",
            PinState::Set => "PIN set",
            PinState::NotSetPersonSets => "no PIN; the person sets it at enrollment",
        }
    }
}

/// A security key given to a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    pub id: i64,
    pub person_id: i64,
    /// What is written on the key, e.g. "Key A". Unique per person.
    pub label: String,
    pub aaguid: Option<Uuid>,
    pub model: Option<String>,
    /// Where the key reveals one (USB serial); many keys do not.
    pub serial: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub state: KeyState,
    /// Why it was marked lost or retired.
    pub state_reason: Option<String>,
    pub pin_state: Option<PinState>,
    /// Where the person keeps it, in their words ("on my keyring"); none until asked.
    #[serde(default)]
    pub location: Option<String>,
}

/// What backs the claim that a key is enrolled in an account, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// The credential (RP ID and user name) was listed on the key itself.
    SeenOnKey,
    /// The provider's API reported the key (e.g. Microsoft Graph fido2Methods).
    ReportedByProvider,
    /// A help-desk operator watched it being done.
    ConfirmedByOperator,
    /// The person said it was done.
    ConfirmedByPerson,
}

impl Evidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::SeenOnKey => "seen_on_key",
            Evidence::ReportedByProvider => "reported_by_provider",
            Evidence::ConfirmedByOperator => "confirmed_by_operator",
            Evidence::ConfirmedByPerson => "confirmed_by_person",
        }
    }
    pub fn parse(s: &str) -> Option<Evidence> {
        match s {
            "seen_on_key" => Some(Evidence::SeenOnKey),
            "reported_by_provider" => Some(Evidence::ReportedByProvider),
            "confirmed_by_operator" => Some(Evidence::ConfirmedByOperator),
            "confirmed_by_person" => Some(Evidence::ConfirmedByPerson),
            _ => None,
        }
    }
    pub fn describe(self) -> &'static str {
        match self {
            Evidence::SeenOnKey => "seen on the key",
            Evidence::ReportedByProvider => "reported by the provider",
            Evidence::ConfirmedByOperator => "confirmed by an operator",
            Evidence::ConfirmedByPerson => "confirmed by the person",
        }
    }
}

/// What was seen, where there was something to see.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rp_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Lowercase hex, as `keyward key credentials list` shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<String>,
    /// Free text, e.g. the provider's method id or what the operator saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One key in one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    pub id: i64,
    pub account_id: i64,
    pub key_id: i64,
    pub enrolled_at: String,
    pub evidence: Evidence,
    pub detail: EvidenceDetail,
    /// Set when the key was lost or retired: the account needs another key in its place.
    pub needs_replacement: bool,
}

/// The reason recorded with a method the person says they removed themselves during
/// `keyward enroll` (whoever is recorded as the actor only wrote it down).
pub const REMOVED_BY_PERSON: &str = "removed by the person during keyward enroll";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodStatus {
    /// Still on: to be disabled.
    Present,
    Removed,
    /// Kept on purpose (e.g. Apple's mandatory trusted phone number); the reason is recorded.
    Kept,
    /// Nobody has checked yet.
    Unknown,
    /// Was never set up on the account, or was already off when someone looked: nothing was
    /// removed, and nothing remains.
    Absent,
}

impl MethodStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MethodStatus::Present => "present",
            MethodStatus::Removed => "removed",
            MethodStatus::Kept => "kept",
            MethodStatus::Unknown => "unknown",
            MethodStatus::Absent => "absent",
        }
    }
    pub fn parse(s: &str) -> Option<MethodStatus> {
        match s {
            "present" => Some(MethodStatus::Present),
            "removed" => Some(MethodStatus::Removed),
            "kept" => Some(MethodStatus::Kept),
            "unknown" => Some(MethodStatus::Unknown),
            "absent" => Some(MethodStatus::Absent),
            _ => None,
        }
    }
    /// Present and unknown methods are what remains to be done.
    pub fn remains(self) -> bool {
        matches!(self, MethodStatus::Present | MethodStatus::Unknown)
    }
}

/// A weaker sign-in method on one account, as last recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodRecord {
    pub account_id: i64,
    /// A method id from the playbook vocabulary, e.g. `sms`, `totp`, `backup_codes`.
    pub method: String,
    pub status: MethodStatus,
    /// Required for `kept`; optional otherwise.
    pub reason: Option<String>,
    pub updated_at: String,
    /// `Actor::stored()` form.
    pub updated_by: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotStatus {
    Done,
    Failed,
}

impl SlotStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SlotStatus::Done => "done",
            SlotStatus::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<SlotStatus> {
        match s {
            "done" => Some(SlotStatus::Done),
            "failed" => Some(SlotStatus::Failed),
            _ => None,
        }
    }
}

/// One slot of a provisioning roster (issue 6): a key prepared, or an attempt that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionSlot {
    /// The caller's stable slot name, e.g. `roster.csv/Ada Lovelace/Key A`.
    pub slot: String,
    pub person_id: i64,
    pub label: String,
    pub status: SlotStatus,
    pub key_id: Option<i64>,
    pub reason: Option<String>,
    pub at: String,
}

/// A named point a flow has passed for a person (e.g. `readiness.Key A`), so a rerun resumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub person_id: i64,
    pub name: String,
    pub at: String,
}

/// One entry of the append-only audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    /// `Actor::stored()` form.
    pub actor: String,
    /// e.g. `person.add`, `enrollment.record`, `method.set`, `key.lost`.
    pub action: String,
    /// What it is about, in words a person reads: `Ada Lovelace / google:ada@example.com`.
    pub subject: String,
    /// The change itself, as JSON text.
    pub detail: String,
    /// Hex SHA-256 of the previous entry (64 zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 of this entry, `prev_hash` included.
    pub hash: String,
}

/// Input for [`crate::ledger::Writer::register_key`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewKey {
    pub label: String,
    pub aaguid: Option<Uuid>,
    pub model: Option<String>,
    pub serial: Option<String>,
}

/// Input for [`crate::ledger::Writer::record_enrollment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEnrollment {
    pub account_id: i64,
    pub key_id: i64,
    pub evidence: Evidence,
    pub detail: EvidenceDetail,
}

/// What a key says about itself when asked after a change (never its PIN): how a change to it
/// is settled, and what the audit entry that settles it states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySeen {
    pub pin_set: Option<bool>,
    pub force_pin_change: bool,
    /// PIN attempts left, when the key has a PIN.
    pub retries: Option<u32>,
}

impl KeySeen {
    pub fn pin_state(&self) -> Option<PinState> {
        PinState::seen(self.pin_set, self.force_pin_change)
    }
}

/// What a change did to the passkeys on a key, beyond its PIN: recorded with the settle, in
/// the same transaction, so the ledger never goes on saying a key opens an account after its
/// passkey for that account is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyErased {
    /// Nothing erased (a PIN or policy change, or an erase the key refused).
    Nothing,
    /// The key was reset: every passkey on it is gone.
    Everything,
    /// One passkey was deleted; its credential ID in lowercase hex.
    Credential(String),
}

/// A change to a key begun outside the ledger and not settled yet (a crash in between).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyChange {
    pub key_id: i64,
    /// `set_pin`, `change_pin`, `policy`, `reset` or `erase`.
    pub change: String,
    pub started_at: String,
    pub started_by: String,
}
