//! The virtual key: a software CTAP 2.1 authenticator whose whole state lives in one file.
//!
//! It is for tests, demos and help-desk training, never for protecting an account: its
//! secrets sit in the file in the clear, and everything it shows says "virtual: not a security
//! key". It is reached only on the wire: it receives the CTAPHID reports a USB key would and
//! answers with bytes ([`wire`]), through the same CTAP host as real keys. It behaves as
//! CTAP 2.1 says a key behaves (PIN/UV auth protocols 1 and 2, tokens with permissions, PIN
//! retries, power cycles, slots, the reset window, credProtect, real P-256 credentials and
//! packed attestation), and can misbehave on demand through [`Knobs`] stored in the file.

mod attestation;
mod credential;
mod ctap;
mod profile;
mod state;
mod u2f;
mod wire;

pub use profile::Profile;
pub use state::{Knobs, TouchOutcome, DEFAULT_SLOTS, MARKER};
pub use wire::{VirtualServer, VirtualTransport};

use super::{Authenticator, Backend, CtapKey, DeviceDescriptor, DeviceError};
use state::{state_error, AttestationMaterial, KeyState, LockedFile};
use std::path::{Path, PathBuf};

/// The most discoverable slots a virtual key can be created with.
pub const MAX_SLOTS: u32 = 1000;

/// Larger files in a `virtual-dir` folder are not virtual keys (a full key with every slot
/// used is well under this).
const MAX_KEY_FILE_BYTES: u64 = 4 * 1024 * 1024;

fn spec(path: &Path) -> String {
    format!("virtual:{}", path.display())
}

fn descriptor_of(path: &Path, state: &KeyState) -> DeviceDescriptor {
    DeviceDescriptor {
        spec: spec(path),
        backend: Backend::Virtual,
        vendor_id: None,
        product_id: None,
        manufacturer: Some("keyward".into()),
        product: Some(state.profile.product().into()),
        serial: Some(state.id.clone()),
    }
}

fn unplugged(path: &Path) -> DeviceError {
    DeviceError::NotFound {
        spec: spec(path),
        reason: format!(
            "the virtual key is unplugged; plug it back in with `keyward virtual replug {}`",
            path.display()
        ),
    }
}

/// The key in `path`, as if plugged in. An unplugged key is not found.
pub fn descriptor(path: &Path) -> Result<DeviceDescriptor, DeviceError> {
    let state = state::read(path)?;
    if !state.plugged_in {
        return Err(unplugged(path));
    }
    Ok(descriptor_of(path, &state))
}

/// Every plugged-in virtual key file in `dir`, sorted by file name. Files that are not
/// virtual keys are ignored; a damaged key file is an error rather than silently skipped.
pub fn discover_dir(dir: &Path) -> Result<Vec<DeviceDescriptor>, DeviceError> {
    let entries = std::fs::read_dir(dir).map_err(|e| DeviceError::NotFound {
        spec: format!("virtual-dir:{}", dir.display()),
        reason: format!("cannot read the folder: {e}"),
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            // Our own temporary files during a save.
            !p.file_name()
                .map(|n| n.to_string_lossy().starts_with('.'))
                .unwrap_or(false)
        })
        .collect();
    paths.sort();
    let mut found = Vec::new();
    for path in paths {
        // Key files are a few kilobytes; whatever else shares the folder is not read whole.
        let small = std::fs::metadata(&path)
            .map(|m| m.len() <= MAX_KEY_FILE_BYTES)
            .unwrap_or(false);
        if !small {
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if let Some(state) = state::parse(&path, &bytes)? {
            if state.plugged_in {
                found.push(descriptor_of(&path, &state));
            }
        }
    }
    Ok(found)
}

/// Create a new virtual key file (mode 0600). Refuses to replace an existing file.
pub fn create(path: &Path, profile: Profile, slots: u32) -> Result<DeviceDescriptor, DeviceError> {
    if slots == 0 && profile.is_fido2() || slots > MAX_SLOTS {
        return Err(state_error(
            path,
            format!("--slots must be between 1 and {MAX_SLOTS}"),
        ));
    }
    if path.exists() {
        return Err(state_error(
            path,
            "a file already exists there; keyward never overwrites it. Choose another name or \
             remove the old file yourself",
        ));
    }
    let id = hex::encode_upper(attestation::random_bytes::<4>());
    let fail = |m: String| state_error(path, m);
    let (ca_key, ca_cert) = attestation::new_ca(&id).map_err(fail)?;
    let (leaf_key, leaf_cert) =
        attestation::new_leaf(&ca_key, &ca_cert, profile.aaguid(), true, None).map_err(fail)?;
    let state = KeyState {
        keyward_virtual_key: MARKER.into(),
        format: state::FORMAT,
        id,
        profile,
        powered_up_ms: state::now_ms(),
        plugged_in: true,
        pin: None,
        pin_retries: state::MAX_PIN_RETRIES,
        pin_failures_since_power_up: 0,
        min_pin_length: state::DEFAULT_MIN_PIN_LENGTH,
        min_pin_length_rp_ids: Vec::new(),
        force_pin_change: false,
        always_uv: false,
        slots: if profile.is_fido2() { slots } else { 0 },
        wrap_key: attestation::random_bytes::<32>().to_vec(),
        attestation: AttestationMaterial {
            ca_key,
            ca_cert,
            leaf_key,
            leaf_cert,
        },
        credentials: Vec::new(),
        counters: Default::default(),
        knobs: Knobs::default(),
    };
    LockedFile::create(path, &state)?;
    Ok(descriptor_of(path, &state))
}

/// Power-cycle the key: plug it back in if it disappeared, clear the "three wrong PINs"
/// block, and restart the ten-second reset window.
pub fn replug(path: &Path) -> Result<DeviceDescriptor, DeviceError> {
    let (mut file, mut state) = LockedFile::open(path)?;
    state.plugged_in = true;
    state.powered_up_ms = state::now_ms();
    state.pin_failures_since_power_up = 0;
    state.knobs.unplug_after_commands = None;
    file.save(&state)?;
    Ok(descriptor_of(path, &state))
}

/// Unplug the key now (it stays unplugged until [`replug`]).
pub fn unplug(path: &Path) -> Result<(), DeviceError> {
    let (mut file, mut state) = LockedFile::open(path)?;
    state.plugged_in = false;
    file.save(&state)
}

/// The knobs currently set on a key.
pub fn knobs(path: &Path) -> Result<Knobs, DeviceError> {
    Ok(state::read(path)?.knobs)
}

/// Change the knobs; `change` gets the current ones. Returns the new set.
pub fn set_knobs(path: &Path, change: impl FnOnce(&mut Knobs)) -> Result<Knobs, DeviceError> {
    let (mut file, mut state) = LockedFile::open(path)?;
    change(&mut state.knobs);
    file.save(&state)?;
    Ok(state.knobs)
}

/// Pretend the key was powered up `seconds` ago (tests of the reset window need no sleep).
pub fn set_powered_up_ago(path: &Path, seconds: u64) -> Result<(), DeviceError> {
    let (mut file, mut state) = LockedFile::open(path)?;
    state.powered_up_ms = state::now_ms().saturating_sub(seconds.saturating_mul(1000));
    file.save(&state)
}

/// What a virtual key is, for `keyward virtual` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VirtualStatus {
    pub device: DeviceDescriptor,
    pub profile: Profile,
    pub plugged_in: bool,
    pub slots: u32,
    pub discoverable_credentials: u32,
    pub knobs: Knobs,
}

pub fn status(path: &Path) -> Result<VirtualStatus, DeviceError> {
    let state = state::read(path)?;
    Ok(VirtualStatus {
        device: descriptor_of(path, &state),
        profile: state.profile,
        plugged_in: state.plugged_in,
        slots: state.slots,
        discoverable_credentials: state.credentials.len() as u32,
        knobs: state.knobs,
    })
}

/// Power up the key in `path` and hold its file locked: the authenticator, not yet on a wire.
fn power_up(path: &Path) -> Result<(VirtualServer, DeviceDescriptor, Vec<u8>), DeviceError> {
    let (file, state) = LockedFile::open(path)?;
    if !state.plugged_in {
        return Err(unplugged(path));
    }
    let desc = descriptor_of(path, &state);
    let auth = ctap::VirtualAuthenticator::new(path.to_path_buf(), file, state);
    let root = auth.attestation_root();
    Ok((VirtualServer::new(auth), desc, root))
}

/// Open the key in `path` as a host sees it: our CTAP host speaking CTAPHID to it in process.
/// The file stays locked until the returned key is dropped.
pub fn open(path: &Path) -> Result<Box<dyn Authenticator>, DeviceError> {
    let (server, desc, root) = power_up(path)?;
    let transport = VirtualTransport::new(server);
    Ok(Box::new(
        CtapKey::open(Box::new(transport), desc)?.with_virtual_root(root),
    ))
}

/// `keyward virtual serve FILE --stdio`: answer raw CTAPHID reports on stdin/stdout.
pub fn serve_stdio(path: &Path) -> Result<(), DeviceError> {
    let (server, _, _) = power_up(path)?;
    wire::serve_stdio(server)
}

#[cfg(test)]
mod tests;
