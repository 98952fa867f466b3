//! The virtual key's file: format, exclusive locking and atomic saves.
//!
//! The whole key lives in one JSON file. Secrets (credential keys, the attestation CA key) are
//! in it in the clear, which is why the file says at the top that it is not a security key and
//! is created readable by its owner only. A command holds an exclusive `flock` on the file for
//! as long as it has the key open, so two processes never interleave; saves write a locked
//! temporary file and rename it over the old one, so a crash never leaves half a key.

use super::profile::Profile;
use crate::device::DeviceError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The value of the top-level `keyward_virtual_key` field. Anyone opening the file learns
/// what it is before they see a secret.
pub const MARKER: &str =
    "keyward virtual key: NOT a security key. Software stand-in for tests, demos and training; \
     its secrets are stored in this file in the clear.";

/// Format 2: the key speaks CTAP on the wire (PIN stored as LEFT(SHA-256(PIN), 16),
/// credProtect levels, newest-first order). Format 1 files are refused, never reinterpreted.
pub const FORMAT: u32 = 2;

/// CTAP 2.1: eight PIN attempts.
pub const MAX_PIN_RETRIES: u32 = 8;
/// CTAP 2.1: after three wrong PINs in a row the key wants a power cycle.
pub const PIN_ATTEMPTS_BEFORE_POWER_CYCLE: u32 = 3;
pub const DEFAULT_MIN_PIN_LENGTH: u32 = 4;
pub const DEFAULT_SLOTS: u32 = 25;

/// How long `open` waits for another process to release the key.
const LOCK_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyState {
    pub keyward_virtual_key: String,
    pub format: u32,
    /// Per-key id, shown as the key's serial number.
    pub id: String,
    pub profile: Profile,
    /// Unix milliseconds of the last power-up (`create`, `replug`); reset is accepted only
    /// within ten seconds of it.
    pub powered_up_ms: u64,
    /// False after the key "disappeared" (knob) until `virtual replug`.
    pub plugged_in: bool,
    pub pin: Option<PinRecord>,
    pub pin_retries: u32,
    /// Wrong PINs since power-up; at three the key wants a power cycle.
    pub pin_failures_since_power_up: u32,
    pub min_pin_length: u32,
    pub min_pin_length_rp_ids: Vec<String>,
    pub force_pin_change: bool,
    pub always_uv: bool,
    pub slots: u32,
    /// AES-256-GCM key that wraps non-discoverable credentials into their IDs.
    #[serde(with = "hex::serde")]
    pub wrap_key: Vec<u8>,
    pub attestation: AttestationMaterial,
    /// Discoverable credentials, oldest first (getAssertion answers newest first).
    pub credentials: Vec<ResidentCredential>,
    /// Sign counters of non-discoverable credentials, by hex SHA-256 of the credential ID.
    pub counters: BTreeMap<String, u32>,
    pub knobs: Knobs,
}

/// The PIN as a real key stores it: LEFT(SHA-256(PIN), 16) (CTAP 2.1 §6.5.5.5). The PIN itself
/// never reaches the key in the clear, let alone the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinRecord {
    #[serde(with = "hex::serde")]
    pub hash: Vec<u8>,
    /// Length in code points, so raising the minimum can tell whether the PIN still meets it.
    pub code_points: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestationMaterial {
    /// The per-key virtual attestation CA: P-256 private scalar and self-signed certificate.
    #[serde(with = "hex::serde")]
    pub ca_key: Vec<u8>,
    #[serde(with = "hex::serde")]
    pub ca_cert: Vec<u8>,
    /// The attestation key and its leaf certificate (FIDO packed profile), signed by the CA.
    #[serde(with = "hex::serde")]
    pub leaf_key: Vec<u8>,
    #[serde(with = "hex::serde")]
    pub leaf_cert: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResidentCredential {
    #[serde(with = "hex::serde")]
    pub id: Vec<u8>,
    pub rp_id: String,
    pub rp_name: Option<String>,
    #[serde(with = "hex::serde")]
    pub user_id: Vec<u8>,
    pub user_name: Option<String>,
    pub user_display_name: Option<String>,
    #[serde(with = "hex::serde")]
    pub private_key: Vec<u8>,
    pub sign_count: u32,
    /// credProtect level 1..3 (CTAP 2.1 §12.1).
    pub cred_protect: u8,
}

/// Misbehaviour on demand, for tests. Touches are otherwise accepted at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Knobs {
    /// What happens at the next touch, then cleared.
    pub next_touch: Option<TouchOutcome>,
    /// Answer this many more commands, then vanish until `virtual replug`.
    pub unplug_after_commands: Option<u32>,
    /// Answer the next command with this CTAP status byte, then cleared.
    pub fail_next_with: Option<u8>,
    /// Sign assertions over the wrong data, so their signatures do not verify.
    pub bad_assertion_signature: bool,
    /// Attest with a leaf certificate outside the FIDO packed profile.
    pub attestation_out_of_profile: bool,
    /// Put another AAGUID in authenticator data than the one in the certificate.
    pub attestation_wrong_aaguid: bool,
    /// Answer every PIN with "wrong PIN" (retries are not spent).
    pub refuse_pin: bool,
    /// Every touch comes this many milliseconds after the key asks for it (a person slow to
    /// touch), so a test can stop keyward while it waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub touch_after_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TouchOutcome {
    Deny,
    Timeout,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub fn state_error(path: &Path, message: impl Into<String>) -> DeviceError {
    DeviceError::VirtualState {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Parse a file's bytes as a virtual key. `Ok(None)` means "not a virtual key at all"
/// (so folder discovery can skip it); a file that says it is a key but cannot be read is an
/// error.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Option<KeyState>, DeviceError> {
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            if looks_like_key(bytes) {
                return Err(state_error(
                    path,
                    format!(
                        "the file is damaged ({e}); restore it from a copy or create a new key \
                         with `keyward virtual create` under another name"
                    ),
                ));
            }
            return Ok(None);
        }
    };
    if value.get("keyward_virtual_key").is_none() {
        return Ok(None);
    }
    // The format first: an old key's fields mean something else now.
    let format = value.get("format").and_then(|f| f.as_u64());
    if format != Some(u64::from(FORMAT)) {
        return Err(state_error(
            path,
            format!(
                "this virtual key was made by an older keyward (file format {}; this keyward \
                 reads format {FORMAT}) and cannot be used any more: create it again with \
                 `keyward virtual create`",
                format
                    .map(|f| f.to_string())
                    .unwrap_or_else(|| "unknown".into())
            ),
        ));
    }
    let state: KeyState = serde_json::from_value(value).map_err(|e| {
        state_error(
            path,
            format!(
                "the file is a keyward virtual key but is damaged ({e}); restore it from a copy \
                 or create a new key with `keyward virtual create` under another name"
            ),
        )
    })?;
    Ok(Some(state))
}

fn looks_like_key(bytes: &[u8]) -> bool {
    bytes
        .windows(b"keyward_virtual_key".len())
        .any(|w| w == b"keyward_virtual_key")
}

/// Read a key file without locking it. Saves are atomic renames, so a reader always sees a
/// whole version. Errors when the file is not a virtual key. Copies of it left by dead
/// processes (they hold its secrets) are removed first.
pub fn read(path: &Path) -> Result<KeyState, DeviceError> {
    crate::temp_file::remove_stale(path);
    let bytes = std::fs::read(path).map_err(|e| not_found(path, &e))?;
    parse(path, &bytes)?.ok_or_else(|| {
        state_error(
            path,
            "this file is not a keyward virtual key; give the file made by `keyward virtual create`",
        )
    })
}

fn not_found(path: &Path, e: &std::io::Error) -> DeviceError {
    if e.kind() == std::io::ErrorKind::NotFound {
        DeviceError::NotFound {
            spec: format!("virtual:{}", path.display()),
            reason: "no such file; create one with `keyward virtual create FILE`".into(),
        }
    } else {
        state_error(path, format!("cannot read it: {e}"))
    }
}

/// An open, exclusively locked key file.
pub struct LockedFile {
    path: PathBuf,
    /// Holds the lock; replaced by the new file's handle at every save.
    file: File,
}

impl LockedFile {
    /// Open and lock `path`, waiting a little for another keyward process to finish with it.
    pub fn open(path: &Path) -> Result<(LockedFile, KeyState), DeviceError> {
        crate::temp_file::remove_stale(path);
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .open(path)
                .map_err(|e| not_found(path, &e))?;
            if !try_lock(&file).map_err(|e| state_error(path, format!("cannot lock it: {e}")))? {
                if Instant::now() >= deadline {
                    return Err(state_error(
                        path,
                        "another keyward process is using this virtual key; wait for it to finish \
                         and try again",
                    ));
                }
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            // A save by the previous holder renames a new file over the path: our handle may
            // be the old, replaced one. Only the file still at the path counts.
            if !same_file(&file, path) {
                continue;
            }
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)
                .map_err(|e| state_error(path, format!("cannot read it: {e}")))?;
            let state = parse(path, &bytes)?.ok_or_else(|| {
                state_error(
                    path,
                    "this file is not a keyward virtual key; give the file made by \
                     `keyward virtual create`",
                )
            })?;
            return Ok((
                LockedFile {
                    path: path.to_path_buf(),
                    file,
                },
                state,
            ));
        }
    }

    /// Write a new key file; refuses to replace anything already at `path`. Written whole
    /// under a temporary name first: a killed run never leaves an empty file blocking the name.
    pub fn create(path: &Path, state: &KeyState) -> Result<LockedFile, DeviceError> {
        let bytes = serialise(path, state)?;
        let exists = || {
            state_error(
                path,
                "a file already exists there; keyward never overwrites it. Choose another name \
                 or remove the old file yourself",
            )
        };
        if path.exists() {
            return Err(exists());
        }
        let write_err = |e: std::io::Error| state_error(path, format!("cannot create it: {e}"));
        crate::temp_file::remove_stale(path);
        let mut tmp = crate::temp_file::TempFile::beside(path).map_err(write_err)?;
        let file = tmp.file();
        let _ = try_lock(file);
        file.write_all(&bytes)
            .and_then(|_| file.sync_all())
            .map_err(write_err)?;
        let file = match tmp.place_new(path) {
            Ok(Some(f)) => f,
            Ok(None) => return Err(write_err(std::io::ErrorKind::NotFound.into())),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(exists()),
            Err(e) => return Err(write_err(e)),
        };
        Ok(LockedFile {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Replace the file atomically with `state`, keeping the lock.
    pub fn save(&mut self, state: &KeyState) -> Result<(), DeviceError> {
        let path = &self.path;
        let bytes = serialise(path, state)?;
        let write_err = |e: std::io::Error| state_error(path, format!("cannot save it: {e}"));
        let mut tmp = crate::temp_file::TempFile::beside(path).map_err(write_err)?;
        let file = tmp.file();
        // Lock the new file before it takes the path, so no other process can lock it first.
        try_lock(file)
            .and_then(|_| file.write_all(&bytes))
            .and_then(|_| file.sync_all())
            .map_err(write_err)?;
        if let Some(file) = tmp.replace(path).map_err(write_err)? {
            self.file = file;
        }
        Ok(())
    }
}

fn serialise(path: &Path, state: &KeyState) -> Result<Vec<u8>, DeviceError> {
    let mut bytes = serde_json::to_vec_pretty(state)
        .map_err(|e| state_error(path, format!("cannot encode it: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Ok(true) when we now hold the exclusive lock, Ok(false) when someone else does.
#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor we own; no memory is shared with the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(err)
    }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, _path: &Path) -> bool {
    true
}
