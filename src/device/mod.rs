//! The one seam to hardware.
//!
//! Everything outside this module talks to a security key through [`Authenticator`] and the
//! domain types below; it never learns whether the key is a real one over USB HID or the
//! software key kept in a file. Both are reached the same way: our CTAP 2.1 host
//! ([`ctap2::CtapKey`]) speaking CTAPHID over a [`transport::Transport`], which is USB HID
//! ([`transport::HidTransport`]) or the virtual key ([`virtual_key`]) answering bytes.

mod arrivals;
pub mod auth_data;
pub mod ctap2;
pub mod ctaphid;
mod error;
pub mod hid;
mod select;
pub mod transport;
mod types;
#[path = "virtual/mod.rs"]
pub mod virtual_key;

pub use arrivals::{arrivals, KeyArrivals};
pub use ctap2::CtapKey;
pub use error::{ctap_status_name, DeviceError};
pub use select::{access_problem, discover, open, select_by_touch, DeviceSpec};
pub use types::*;

use crate::pin::Pin;
use std::time::Duration;

/// How long we wait for a person to touch a key before giving up.
pub const TOUCH_TIMEOUT: Duration = Duration::from_secs(30);

/// A FIDO2/U2F security key, as keyward needs it.
///
/// A value is one open session with one key for the duration of one command. Operations that
/// need the PIN use the token acquired by [`Authenticator::unlock`], so a person enters the PIN
/// once per command however many sub-operations follow.
pub trait Authenticator: Send {
    /// Where the key is and what it says about itself at the USB level.
    fn descriptor(&self) -> &DeviceDescriptor;

    /// authenticatorGetInfo, in domain terms.
    fn info(&mut self) -> Result<KeyInfo, DeviceError>;

    /// How many PIN attempts remain, and whether the key wants a power cycle first.
    fn pin_retries(&mut self) -> Result<PinRetries, DeviceError>;

    /// Set the first PIN on a key that has none.
    fn set_pin(&mut self, new_pin: &Pin) -> Result<(), DeviceError>;

    /// Change the PIN. A wrong `current` costs one retry.
    fn change_pin(&mut self, current: &Pin, new_pin: &Pin) -> Result<(), DeviceError>;

    /// Verify the PIN once and keep the resulting PIN/UV auth token for the rest of this
    /// session. A wrong PIN costs one retry.
    fn unlock(&mut self, pin: &Pin) -> Result<(), DeviceError>;

    /// Number of discoverable credentials stored and slots remaining. Needs [`unlock`](Self::unlock).
    fn credential_metadata(&mut self) -> Result<CredentialMetadata, DeviceError>;

    /// Discoverable credentials grouped by relying party. Needs [`unlock`](Self::unlock).
    fn list_credentials(&mut self) -> Result<Vec<RpCredentials>, DeviceError>;

    /// Delete one discoverable credential. Needs [`unlock`](Self::unlock).
    fn delete_credential(&mut self, credential_id: &[u8]) -> Result<(), DeviceError>;

    /// authenticatorConfig setMinPINLength. `new_min` raises the minimum (it can never be
    /// lowered without a reset), `rp_ids` lists relying parties allowed to read it, and
    /// `force_change` makes the key demand a new PIN before the next use. Needs unlock.
    fn set_min_pin_length(
        &mut self,
        new_min: Option<u32>,
        rp_ids: &[String],
        force_change: bool,
    ) -> Result<(), DeviceError>;

    /// authenticatorConfig toggleAlwaysUv. Returns the new state. Needs unlock.
    fn toggle_always_uv(&mut self) -> Result<bool, DeviceError>;

    /// authenticatorMakeCredential (or U2F register on a U2F-only key). With
    /// `user_verification`, the unlocked PIN token is used.
    fn make_credential(
        &mut self,
        req: &MakeCredentialRequest,
    ) -> Result<MadeCredential, DeviceError>;

    /// authenticatorGetAssertion (or U2F authenticate on a U2F-only key).
    fn get_assertion(&mut self, req: &AssertionRequest) -> Result<Assertion, DeviceError>;

    /// authenticatorSelection: returns once the person touches this key.
    fn selection(&mut self, timeout: Duration) -> Result<(), DeviceError>;

    /// Make the key blink so a person can tell which one it is.
    fn wink(&mut self) -> Result<(), DeviceError>;

    /// authenticatorReset: erases every credential and the PIN. Only accepted within about
    /// ten seconds of power-up and after a touch. Callers must have asked for an explicit,
    /// specific confirmation first.
    fn reset(&mut self) -> Result<(), DeviceError>;

    /// credentialManagement updateUserInformation: a stored credential's user gets a new name
    /// and display name. Needs [`unlock`](Self::unlock).
    fn update_user_information(
        &mut self,
        _credential_id: &[u8],
        _user_id: &[u8],
        _name: Option<&str>,
        _display_name: Option<&str>,
    ) -> Result<(), DeviceError> {
        Err(DeviceError::Unsupported {
            what: "updating a credential's user information".into(),
        })
    }

    /// Every assertion a request matches (getAssertion, then getNextAssertion), newest
    /// credential first.
    fn get_assertions(&mut self, req: &AssertionRequest) -> Result<Vec<Assertion>, DeviceError> {
        Ok(vec![self.get_assertion(req)?])
    }

    /// DER of the virtual attestation CA when this is a virtual key (`None` for real keys). A
    /// self-test trusts it for that key only and reports "virtual: not a security key".
    fn virtual_attestation_root(&self) -> Option<Vec<u8>> {
        None
    }
}
