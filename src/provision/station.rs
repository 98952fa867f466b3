//! Preparing one key for one slot, through the [`Authenticator`] trait only.
//!
//! The order matters: the first PIN is set before anything that needs it, the credential check
//! comes as soon as a PIN exists to read them, the self-test before always-UV (a key without a
//! PIN could not be tested after), and the forced PIN change last because a key that demands a
//! new PIN refuses everything else.

use super::events::PinState;
use super::journal::KeyRecord;
use super::pin_gen;
use super::policy::{FirstPin, Policy};
use crate::device::{Authenticator, DeviceError, KeyInfo};
use crate::pin::Pin;

/// Why a key was not prepared.
#[derive(Debug)]
pub enum Problem {
    /// Nothing was changed on the key; the slot still waits for a key.
    Refused(String),
    /// The key failed part-way; `changed` says whether it may already have been altered.
    Failed { reason: String, changed: bool },
    /// Something outside the key failed (no randomness): the run cannot go on.
    Fatal(super::ProvisionError),
}

/// A key ready to be recorded, with the first PIN to deliver (if the policy makes one).
pub struct Prepared {
    pub record: KeyRecord,
    pub first_pin: Option<Pin>,
}

/// The self-test hook: runs on the prepared, unlocked key; `Err` says which check failed.
pub type SelfTest<'a> = dyn FnMut(&mut dyn Authenticator, Option<&Pin>) -> Result<(), String> + 'a;

pub fn prepare(
    key: &mut dyn Authenticator,
    policy: &Policy,
    self_test: Option<&mut SelfTest<'_>>,
) -> Result<Prepared, Problem> {
    let mut changed = false;
    let failed = |e: DeviceError, changed: bool| Problem::Failed {
        reason: e.to_string(),
        changed,
    };

    let mut info = key.info().map_err(|e| failed(e, false))?;
    check_capabilities(&info, policy).map_err(Problem::Refused)?;

    if info.pin_is_set() == Some(true) {
        let why = if info.force_pin_change {
            "a PIN is already set (and must be changed)"
        } else {
            "a PIN is already set"
        };
        erase_if_allowed(key, policy, why)?;
        changed = true;
        info = key.info().map_err(|e| failed(e, true))?;
    }

    let first_pin = match policy.first_pin {
        FirstPin::SetAtEnrollment => None,
        FirstPin::Random => {
            let key_min = info.min_pin_length.max(policy.min_pin_length);
            if policy.random_pin_length < info.min_pin_length {
                let reason = format!(
                    "this key requires PINs of at least {} characters and the policy's \
                     random_pin_length is {}",
                    info.min_pin_length, policy.random_pin_length
                );
                // After an erase the key is no longer as it came: that is a failure, not a
                // refusal that left it alone.
                return Err(if changed {
                    Problem::Failed { reason, changed }
                } else {
                    Problem::Refused(reason)
                });
            }
            let mut pin = pin_gen::random_digits(policy.random_pin_length, key_min)
                .map_err(Problem::Fatal)?;
            key.set_pin(&pin).map_err(|e| {
                let maybe_set = reply_lost(&e);
                failed(e, changed || maybe_set)
            })?;
            changed = true;
            key.unlock(&pin).map_err(|e| failed(e, true))?;
            // Passkeys can only be counted once a PIN exists, so this check comes after ours.
            let existing = if info.supports_credential_management() {
                key.credential_metadata()
                    .map_err(|e| failed(e, true))?
                    .existing
            } else {
                0
            };
            if existing > 0 {
                let why = format!("it holds {existing} passkey(s) from earlier use");
                if !policy.erase_non_fresh_keys {
                    return Err(Problem::Failed {
                        reason: format!(
                            "the key is not fresh: {why}; keyward gave it a PIN while checking, \
                             which is not kept: reset the key (`keyward key reset`) before \
                             using it again"
                        ),
                        changed: true,
                    });
                }
                // Whatever the erase did, the key already holds the PIN set above.
                erase_if_allowed(key, policy, &why).map_err(|p| match p {
                    Problem::Refused(reason) | Problem::Failed { reason, .. } => Problem::Failed {
                        reason,
                        changed: true,
                    },
                    other => other,
                })?;
                info = key.info().map_err(|e| failed(e, true))?;
                pin = pin_gen::random_digits(policy.random_pin_length, key_min)
                    .map_err(Problem::Fatal)?;
                key.set_pin(&pin).map_err(|e| failed(e, true))?;
                key.unlock(&pin).map_err(|e| failed(e, true))?;
            }
            Some(pin)
        }
    };

    // Before always-UV: a key left without a PIN for its person could not be tested after.
    let mut self_tested = false;
    if let Some(test) = self_test {
        test(key, first_pin.as_ref()).map_err(|reason| Problem::Failed {
            reason: format!("self-test failed: {reason}"),
            changed,
        })?;
        self_tested = true;
    }

    if policy.always_uv && !info.always_uv() {
        let on = key.toggle_always_uv().map_err(|e| failed(e, changed))?;
        changed = true;
        if !on {
            return Err(Problem::Failed {
                reason: "the key did not switch always-UV on".into(),
                changed,
            });
        }
    }

    let raise_min = policy.min_pin_length > info.min_pin_length;
    if raise_min || policy.force_pin_change || !policy.min_pin_length_rp_ids.is_empty() {
        key.set_min_pin_length(
            raise_min.then_some(policy.min_pin_length),
            &policy.min_pin_length_rp_ids,
            policy.force_pin_change,
        )
        .map_err(|e| failed(e, changed))?;
        changed = true;
    }

    // What the key says now is what gets recorded, not what we asked for.
    let after = key.info().map_err(|e| failed(e, changed))?;
    let pin_state = match (after.pin_is_set(), after.force_pin_change) {
        (Some(true), true) => PinState::SetMustChange,
        (Some(true), false) => PinState::Set,
        _ => PinState::NotSetPersonSetsAtEnrollment,
    };
    let expected = match (policy.first_pin, policy.force_pin_change) {
        (FirstPin::SetAtEnrollment, _) => PinState::NotSetPersonSetsAtEnrollment,
        (FirstPin::Random, true) => PinState::SetMustChange,
        (FirstPin::Random, false) => PinState::Set,
    };
    if pin_state != expected {
        return Err(Problem::Failed {
            reason: format!(
                "after preparation the key reports \"{}\" instead of \"{}\"",
                pin_state.describe(),
                expected.describe()
            ),
            changed,
        });
    }
    let descriptor = key.descriptor();
    Ok(Prepared {
        record: KeyRecord {
            serial: descriptor.serial.clone(),
            aaguid: after.aaguid.or(info.aaguid),
            model: model_name(key),
            pin_state,
            min_pin_length: after.min_pin_length,
            always_uv: after.always_uv(),
            self_tested,
        },
        first_pin,
    })
}

/// The command may have taken effect on the key although no answer came back.
fn reply_lost(e: &DeviceError) -> bool {
    matches!(
        e,
        DeviceError::Disconnected | DeviceError::Timeout | DeviceError::Transport { .. }
    )
}

/// The model as a person reads it, e.g. "Yubico YubiKey 5 NFC".
pub fn model_name(key: &dyn Authenticator) -> String {
    let d = key.descriptor();
    match (&d.manufacturer, &d.product) {
        (Some(m), Some(p)) if !p.starts_with(m.as_str()) => format!("{m} {p}"),
        (_, Some(p)) => p.clone(),
        (Some(m), None) => m.clone(),
        (None, None) => "FIDO key".into(),
    }
}

/// What the policy needs that the key cannot do is a refusal before anything is touched.
fn check_capabilities(info: &KeyInfo, policy: &Policy) -> Result<(), String> {
    if !info.supports_fido2() {
        return Err("a U2F-only key cannot hold a PIN; use a FIDO2 key".into());
    }
    if info.pin_is_set().is_none() {
        return Err("the key does not support a PIN".into());
    }
    let needs_config = policy.min_pin_length > info.min_pin_length
        || policy.force_pin_change
        || !policy.min_pin_length_rp_ids.is_empty();
    if needs_config && !info.supports_min_pin_length() {
        return Err(format!(
            "the policy needs a minimum PIN length of {}{} and this key cannot enforce one \
             (it needs CTAP 2.1)",
            policy.min_pin_length,
            if policy.force_pin_change {
                " and a forced PIN change"
            } else {
                ""
            }
        ));
    }
    if policy.always_uv && !info.supports_always_uv() {
        return Err("the policy turns always-UV on and this key has no such setting".into());
    }
    Ok(())
}

/// A key that is not fresh is refused, unless the policy allows erasing it; the erase still
/// needs the key's own reset window (about 10 seconds after it was plugged in) and a touch.
fn erase_if_allowed(
    key: &mut dyn Authenticator,
    policy: &Policy,
    why: &str,
) -> Result<(), Problem> {
    if !policy.erase_non_fresh_keys {
        return Err(Problem::Refused(format!(
            "the key is not fresh: {why}; the policy does not allow erasing keys \
             (erase_non_fresh_keys = false)"
        )));
    }
    match key.reset() {
        Ok(()) => Ok(()),
        Err(DeviceError::NotAllowed { .. }) => Err(Problem::Refused(format!(
            "the key is not fresh ({why}) and must be erased, which a key only accepts within \
             about 10 seconds of being plugged in: take it out and insert it again"
        ))),
        Err(DeviceError::OperationDenied) | Err(DeviceError::Timeout) => Err(Problem::Refused(
            format!("the key is not fresh ({why}) and the erase was not confirmed by a touch"),
        )),
        Err(e) => Err(Problem::Failed {
            reason: format!("erasing the non-fresh key failed: {e}"),
            changed: false,
        }),
    }
}
