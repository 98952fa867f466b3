//! The virtual key's CTAP1/U2F side (CTAPHID_MSG): register, authenticate and version, for
//! every profile (all announce U2F_V2).
//!
//! Reference: FIDO U2F Raw Message Formats v1.2, §4 and §5.

use super::attestation as att;
use super::credential;
use super::ctap::VirtualAuthenticator;
use super::state::TouchOutcome;
use crate::device::ctap2::u2f::{
    INS_AUTHENTICATE, INS_REGISTER, INS_VERSION, P1_CHECK_ONLY, SW_CONDITIONS_NOT_SATISFIED,
    SW_INS_NOT_SUPPORTED, SW_OK, SW_SECURITY_STATUS_NOT_SATISFIED, SW_WRONG_DATA,
};
use crate::device::TOUCH_TIMEOUT;
use std::time::Instant;

pub const SW_WRONG_LENGTH: u16 = 0x6700;
pub const SW_OTHER: u16 = 0x6F00;

pub fn status_only(sw: u16) -> Vec<u8> {
    sw.to_be_bytes().to_vec()
}

fn with_status(mut data: Vec<u8>, sw: u16) -> Vec<u8> {
    data.extend_from_slice(&sw.to_be_bytes());
    data
}

/// The data of a short or extended-length command APDU.
fn apdu_data(apdu: &[u8]) -> Option<&[u8]> {
    if apdu.len() < 4 {
        return None;
    }
    let rest = &apdu[4..];
    match rest {
        [] => Some(&[]),
        [0, hi, lo, body @ ..] => {
            let n = u16::from_be_bytes([*hi, *lo]) as usize;
            body.get(..n)
        }
        [n, body @ ..] => body.get(..*n as usize),
    }
}

pub fn handle(key: &mut VirtualAuthenticator, apdu: &[u8]) -> Vec<u8> {
    let Some(data) = apdu_data(apdu) else {
        return status_only(SW_WRONG_LENGTH);
    };
    match apdu[1] {
        INS_VERSION => with_status(b"U2F_V2".to_vec(), SW_OK),
        INS_REGISTER => register(key, data),
        INS_AUTHENTICATE => authenticate(key, apdu[2], data),
        _ => status_only(SW_INS_NOT_SUPPORTED),
    }
}

/// U2F has no keep-alive: a key waiting for a touch answers "conditions not satisfied" and the
/// host asks again.
fn touch(key: &mut VirtualAuthenticator) -> Result<(), u16> {
    if let Some(until) = key.u2f_touch_never_until() {
        if Instant::now() < until {
            return Err(SW_CONDITIONS_NOT_SATISFIED);
        }
    }
    match key.state.knobs.next_touch.take() {
        None => Ok(()),
        Some(outcome) => {
            let _ = key.save();
            match outcome {
                TouchOutcome::Deny => Err(SW_SECURITY_STATUS_NOT_SATISFIED),
                TouchOutcome::Timeout => {
                    key.set_u2f_touch_never_until(Instant::now() + TOUCH_TIMEOUT * 2);
                    Err(SW_CONDITIONS_NOT_SATISFIED)
                }
            }
        }
    }
}

fn register(key: &mut VirtualAuthenticator, data: &[u8]) -> Vec<u8> {
    if data.len() != 64 {
        return status_only(SW_WRONG_LENGTH);
    }
    if let Err(sw) = touch(key) {
        return status_only(sw);
    }
    let (challenge, app) = data.split_at(32);
    let app: [u8; 32] = app.try_into().expect("split at 32 of 64");
    let private = att::new_private_key();
    let Ok(id) = credential::wrap(&key.state.wrap_key, &app, 1, &private) else {
        return status_only(SW_OTHER);
    };
    let Ok(public) = att::raw_public_key(&private) else {
        return status_only(SW_OTHER);
    };
    let a = &key.state.attestation;
    let signed = [&[0u8][..], &app, challenge, &id, &public].concat();
    let Ok(sig) = att::sign(&a.leaf_key, &signed) else {
        return status_only(SW_OTHER);
    };
    let mut out = vec![0x05];
    out.extend_from_slice(&public);
    out.push(id.len() as u8);
    out.extend_from_slice(&id);
    out.extend_from_slice(&a.leaf_cert);
    out.extend_from_slice(&sig);
    key.state.counters.insert(credential::counter_key(&id), 0);
    if key.save().is_err() {
        return status_only(SW_OTHER);
    }
    with_status(out, SW_OK)
}

fn authenticate(key: &mut VirtualAuthenticator, p1: u8, data: &[u8]) -> Vec<u8> {
    if data.len() < 65 || data.len() != 65 + data[64] as usize {
        return status_only(SW_WRONG_LENGTH);
    }
    let challenge = &data[..32];
    let app: [u8; 32] = data[32..64].try_into().expect("32 bytes");
    let id = &data[65..];
    let Some((private, _)) = credential::unwrap(&key.state.wrap_key, &app, id) else {
        return status_only(SW_WRONG_DATA);
    };
    if p1 == P1_CHECK_ONLY {
        return status_only(SW_CONDITIONS_NOT_SATISFIED);
    }
    if let Err(sw) = touch(key) {
        return status_only(sw);
    }
    let counter = key
        .state
        .counters
        .entry(credential::counter_key(id))
        .or_insert(0);
    *counter = counter.saturating_add(1);
    let count = *counter;
    if key.save().is_err() {
        return status_only(SW_OTHER);
    }
    let mut signed = [&app[..], &[0x01], &count.to_be_bytes(), challenge].concat();
    if key.state.knobs.bad_assertion_signature {
        if let Some(last) = signed.last_mut() {
            *last ^= 0xFF;
        }
    }
    let Ok(sig) = att::sign(&private, &signed) else {
        return status_only(SW_OTHER);
    };
    let mut out = vec![0x01];
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&sig);
    with_status(out, SW_OK)
}
