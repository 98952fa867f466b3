//! What the virtual key does for each command, following CTAP 2.1.

use super::attestation as att;
use super::credential;
use super::profile::Profile;
use super::state::{
    self, PinRecord, ResidentCredential, TouchOutcome, MAX_PIN_RETRIES,
    PIN_ATTEMPTS_BEFORE_POWER_CYCLE,
};
use super::VirtualKey;
use crate::device::{
    Assertion, AssertionRequest, Authenticator, CredentialMetadata, DeviceDescriptor, DeviceError,
    KeyInfo, MadeCredential, MakeCredentialRequest, PinRetries, RpCredentials, StoredCredential,
};
use crate::pin::{Pin, MAX_PIN_BYTES};
use std::time::Duration;
use uuid::Uuid;

/// CTAP 2.1: reset is accepted only this soon after power-up.
const RESET_WINDOW_MS: u64 = 10_000;

const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_AT: u8 = 0x40;

fn pin_hash(salt: &[u8], pin: &Pin) -> Vec<u8> {
    let mut data = salt.to_vec();
    data.extend_from_slice(pin.as_bytes());
    credential::sha256(&data).to_vec()
}

fn u2f_unsupported(what: &str) -> DeviceError {
    DeviceError::Unsupported {
        what: format!("{what}: it is a U2F-only key, with no FIDO2 PIN or passkeys"),
    }
}

fn ctap20_unsupported(what: &str) -> DeviceError {
    DeviceError::Unsupported {
        what: format!("{what}: it is a CTAP 2.0 key; this needs CTAP 2.1"),
    }
}

impl VirtualKey {
    fn path(&self) -> std::path::PathBuf {
        std::path::PathBuf::from(self.desc.spec.trim_start_matches("virtual:"))
    }

    fn save(&mut self) -> Result<(), DeviceError> {
        self.file.save(&self.state)
    }

    fn internal(&self, message: String) -> DeviceError {
        state::state_error(&self.path(), message)
    }

    /// Every command starts here: a key that is gone stays gone, and the knobs for
    /// "disappear after N commands" and "answer with this error" take effect.
    fn begin(&mut self) -> Result<(), DeviceError> {
        if !self.state.plugged_in {
            return Err(DeviceError::Disconnected);
        }
        if let Some(n) = self.state.knobs.unplug_after_commands {
            if n == 0 {
                self.state.plugged_in = false;
                self.state.knobs.unplug_after_commands = None;
                self.save()?;
                return Err(DeviceError::Disconnected);
            }
            self.state.knobs.unplug_after_commands = Some(n - 1);
            self.save()?;
        }
        if let Some(code) = self.state.knobs.fail_next_with.take() {
            self.save()?;
            return Err(DeviceError::from_ctap_status(code));
        }
        Ok(())
    }

    /// The person touches the key, unless a knob says otherwise.
    fn touch(&mut self) -> Result<(), DeviceError> {
        if let Some(outcome) = self.state.knobs.next_touch.take() {
            self.save()?;
            return Err(match outcome {
                TouchOutcome::Deny => DeviceError::OperationDenied,
                TouchOutcome::Timeout => DeviceError::Timeout,
            });
        }
        Ok(())
    }

    fn profile(&self) -> Profile {
        self.state.profile
    }

    fn require_fido2(&self, what: &str) -> Result<(), DeviceError> {
        if self.profile().is_fido2() {
            Ok(())
        } else {
            Err(u2f_unsupported(what))
        }
    }

    fn require_ctap21(&self, what: &str) -> Result<(), DeviceError> {
        self.require_fido2(what)?;
        if self.profile().is_ctap21() {
            Ok(())
        } else {
            Err(ctap20_unsupported(what))
        }
    }

    fn pin_set(&self) -> bool {
        self.state.pin.is_some()
    }

    fn require_token(&self) -> Result<(), DeviceError> {
        if !self.pin_set() {
            return Err(DeviceError::PinNotSet);
        }
        if !self.unlocked {
            return Err(DeviceError::PinRequired);
        }
        Ok(())
    }

    fn check_new_pin(&self, pin: &Pin) -> Result<(), DeviceError> {
        let min = self.state.min_pin_length;
        if pin.code_points() < min as usize {
            return Err(DeviceError::PinPolicyViolation {
                reason: format!("the PIN must have at least {min} characters"),
            });
        }
        if pin.as_bytes().len() > MAX_PIN_BYTES {
            return Err(DeviceError::PinPolicyViolation {
                reason: format!("the PIN must be at most {MAX_PIN_BYTES} bytes long"),
            });
        }
        Ok(())
    }

    fn store_pin(&mut self, pin: &Pin) {
        let salt = att::random_bytes::<16>().to_vec();
        self.state.pin = Some(PinRecord {
            hash: pin_hash(&salt, pin),
            salt,
            code_points: pin.code_points() as u32,
        });
        self.state.pin_retries = MAX_PIN_RETRIES;
        self.state.pin_failures_since_power_up = 0;
    }

    /// One PIN attempt, counted as CTAP counts them.
    fn verify_pin(&mut self, pin: &Pin) -> Result<(), DeviceError> {
        let Some(record) = self.state.pin.clone() else {
            return Err(DeviceError::PinNotSet);
        };
        if self.state.pin_retries == 0 {
            return Err(DeviceError::PinBlocked);
        }
        if self.state.pin_failures_since_power_up >= PIN_ATTEMPTS_BEFORE_POWER_CYCLE {
            return Err(DeviceError::PinAuthBlocked);
        }
        if self.state.knobs.refuse_pin {
            return Err(DeviceError::PinInvalid {
                retries_left: Some(self.state.pin_retries),
            });
        }
        if pin_hash(&record.salt, pin) == record.hash {
            self.state.pin_retries = MAX_PIN_RETRIES;
            self.state.pin_failures_since_power_up = 0;
            self.save()?;
            return Ok(());
        }
        self.state.pin_retries -= 1;
        self.state.pin_failures_since_power_up += 1;
        self.save()?;
        if self.state.pin_retries == 0 {
            Err(DeviceError::PinBlocked)
        } else if self.state.pin_failures_since_power_up >= PIN_ATTEMPTS_BEFORE_POWER_CYCLE {
            Err(DeviceError::PinAuthBlocked)
        } else {
            Err(DeviceError::PinInvalid {
                retries_left: Some(self.state.pin_retries),
            })
        }
    }

    /// The credential `id` for `rp_id`: its private key, and where it lives.
    fn find_credential(&self, rp_id: &str, id: &[u8]) -> Option<(Vec<u8>, Option<usize>)> {
        if let Some(i) = self
            .state
            .credentials
            .iter()
            .position(|c| c.id == id && c.rp_id == rp_id)
        {
            return Some((self.state.credentials[i].private_key.clone(), Some(i)));
        }
        credential::unwrap(&self.state.wrap_key, rp_id, id).map(|k| (k, None))
    }

    fn auth_data(&self, rp_id: &str, flags: u8, count: u32) -> Vec<u8> {
        let mut d = credential::sha256(rp_id.as_bytes()).to_vec();
        d.push(flags);
        d.extend_from_slice(&count.to_be_bytes());
        d
    }

    fn make_u2f_credential(
        &mut self,
        req: &MakeCredentialRequest,
    ) -> Result<MadeCredential, DeviceError> {
        if req.discoverable {
            return Err(u2f_unsupported("discoverable credentials (passkeys)"));
        }
        if req.user_verification {
            return Err(u2f_unsupported("user verification with a PIN"));
        }
        if req
            .exclude_credentials
            .iter()
            .any(|id| self.find_credential(&req.rp_id, id).is_some())
        {
            self.touch()?;
            return Err(DeviceError::CredentialExcluded);
        }
        self.touch()?;
        let fail = |m: String| self.internal(m);
        let private = att::new_private_key();
        let id = credential::wrap(&self.state.wrap_key, &req.rp_id, &private).map_err(fail)?;
        let raw_pub = att::raw_public_key(&private).map_err(fail)?;
        let cose = att::cose_public_key(&private).map_err(fail)?;
        let mut auth_data = self.auth_data(&req.rp_id, FLAG_UP | FLAG_AT, 0);
        auth_data.extend_from_slice(&[0u8; 16]);
        auth_data.extend_from_slice(&(id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend_from_slice(&cose);
        let a = &self.state.attestation;
        let statement = att::u2f_statement(
            &a.leaf_key,
            &a.leaf_cert,
            &credential::sha256(req.rp_id.as_bytes()),
            &req.client_data_hash,
            &id,
            &raw_pub,
        )
        .map_err(fail)?;
        let object = att::attestation_object("fido-u2f", &auth_data, statement).map_err(fail)?;
        let leaf = a.leaf_cert.clone();
        self.state.counters.insert(credential::counter_key(&id), 0);
        self.save()?;
        Ok(MadeCredential {
            credential_id: id,
            attestation_object: object,
            attestation_format: "fido-u2f".into(),
            auth_data,
            aaguid: None,
            attestation_certificates: vec![leaf],
            user_verified: false,
            sign_count: 0,
        })
    }
}

impl Authenticator for VirtualKey {
    fn descriptor(&self) -> &DeviceDescriptor {
        &self.desc
    }

    fn info(&mut self) -> Result<KeyInfo, DeviceError> {
        self.begin()?;
        let p = self.profile();
        let s = &self.state;
        Ok(KeyInfo {
            versions: p.versions(),
            aaguid: p.aaguid(),
            options: p.options(s.pin.is_some(), s.always_uv),
            extensions: p.extensions(),
            pin_uv_protocols: p.pin_uv_protocols(),
            min_pin_length: s.min_pin_length,
            force_pin_change: s.force_pin_change,
            firmware_version: Some(1),
            remaining_discoverable_credentials: p
                .is_ctap21()
                .then(|| s.slots.saturating_sub(s.credentials.len() as u32)),
            transports: vec!["usb".into()],
            algorithms: vec![att::ALG_ES256 as i64],
        })
    }

    fn pin_retries(&mut self) -> Result<PinRetries, DeviceError> {
        self.begin()?;
        self.require_fido2("a PIN")?;
        Ok(PinRetries {
            retries: self.state.pin_retries,
            power_cycle_required: self.state.pin_failures_since_power_up
                >= PIN_ATTEMPTS_BEFORE_POWER_CYCLE,
        })
    }

    fn set_pin(&mut self, new_pin: &Pin) -> Result<(), DeviceError> {
        self.begin()?;
        self.require_fido2("a PIN")?;
        if self.pin_set() {
            return Err(DeviceError::NotAllowed {
                reason: "the key already has a PIN; change it instead".into(),
            });
        }
        self.check_new_pin(new_pin)?;
        self.store_pin(new_pin);
        self.save()
    }

    fn change_pin(&mut self, current: &Pin, new_pin: &Pin) -> Result<(), DeviceError> {
        self.begin()?;
        self.require_fido2("a PIN")?;
        self.verify_pin(current)?;
        self.check_new_pin(new_pin)?;
        if self.state.force_pin_change && new_pin == current {
            return Err(DeviceError::PinPolicyViolation {
                reason: "the key requires a PIN different from the current one".into(),
            });
        }
        self.store_pin(new_pin);
        self.state.force_pin_change = false;
        // A new PIN invalidates every token, as on a real key.
        self.unlocked = false;
        self.save()
    }

    fn unlock(&mut self, pin: &Pin) -> Result<(), DeviceError> {
        self.begin()?;
        self.require_fido2("a PIN")?;
        self.verify_pin(pin)?;
        if self.state.force_pin_change {
            return Err(DeviceError::PinChangeRequired);
        }
        self.unlocked = true;
        Ok(())
    }

    fn credential_metadata(&mut self) -> Result<CredentialMetadata, DeviceError> {
        self.begin()?;
        self.require_ctap21("credential management")?;
        self.require_token()?;
        let existing = self.state.credentials.len() as u32;
        Ok(CredentialMetadata {
            existing,
            remaining: self.state.slots.saturating_sub(existing),
        })
    }

    fn list_credentials(&mut self) -> Result<Vec<RpCredentials>, DeviceError> {
        self.begin()?;
        self.require_ctap21("credential management")?;
        self.require_token()?;
        let mut rps: Vec<RpCredentials> = Vec::new();
        for c in &self.state.credentials {
            let stored = StoredCredential {
                credential_id: c.id.clone(),
                user_id: c.user_id.clone(),
                user_name: c.user_name.clone(),
                user_display_name: c.user_display_name.clone(),
                cred_protect: Some(1),
            };
            match rps.iter_mut().find(|r| r.rp_id == c.rp_id) {
                Some(rp) => rp.credentials.push(stored),
                None => rps.push(RpCredentials {
                    rp_id: c.rp_id.clone(),
                    rp_name: c.rp_name.clone(),
                    credentials: vec![stored],
                }),
            }
        }
        Ok(rps)
    }

    fn delete_credential(&mut self, credential_id: &[u8]) -> Result<(), DeviceError> {
        self.begin()?;
        self.require_ctap21("credential management")?;
        self.require_token()?;
        let before = self.state.credentials.len();
        self.state.credentials.retain(|c| c.id != credential_id);
        if self.state.credentials.len() == before {
            return Err(DeviceError::NoCredentials);
        }
        self.save()
    }

    fn set_min_pin_length(
        &mut self,
        new_min: Option<u32>,
        rp_ids: &[String],
        force_change: bool,
    ) -> Result<(), DeviceError> {
        self.begin()?;
        self.require_ctap21("setting a minimum PIN length")?;
        if self.pin_set() {
            self.require_token()?;
        }
        if let Some(n) = new_min {
            if n < self.state.min_pin_length {
                return Err(DeviceError::PinPolicyViolation {
                    reason: format!(
                        "the minimum PIN length is {} and can only be raised",
                        self.state.min_pin_length
                    ),
                });
            }
            if n as usize > MAX_PIN_BYTES {
                return Err(DeviceError::PinPolicyViolation {
                    reason: format!("the minimum cannot exceed {MAX_PIN_BYTES}"),
                });
            }
            self.state.min_pin_length = n;
            // CTAP 2.1: a PIN shorter than the new minimum must be changed.
            if let Some(pin) = &self.state.pin {
                if pin.code_points < n {
                    self.state.force_pin_change = true;
                }
            }
        }
        if !rp_ids.is_empty() {
            self.state.min_pin_length_rp_ids = rp_ids.to_vec();
        }
        if force_change && self.pin_set() {
            self.state.force_pin_change = true;
        }
        self.save()
    }

    fn toggle_always_uv(&mut self) -> Result<bool, DeviceError> {
        self.begin()?;
        self.require_ctap21("the always-UV setting")?;
        if self.pin_set() {
            self.require_token()?;
        }
        self.state.always_uv = !self.state.always_uv;
        self.save()?;
        Ok(self.state.always_uv)
    }

    fn make_credential(
        &mut self,
        req: &MakeCredentialRequest,
    ) -> Result<MadeCredential, DeviceError> {
        self.begin()?;
        if !self.profile().is_fido2() {
            return self.make_u2f_credential(req);
        }
        // CTAP 2.1 keys advertise makeCredUvNotRqd (non-discoverable credentials without UV);
        // a CTAP 2.0 key with a PIN wants it for every credential.
        let uv_needed = req.user_verification
            || (self.pin_set()
                && (req.discoverable || !self.profile().is_ctap21() || self.state.always_uv));
        if uv_needed {
            self.require_token()?;
        }
        if req
            .exclude_credentials
            .iter()
            .any(|id| self.find_credential(&req.rp_id, id).is_some())
        {
            self.touch()?;
            return Err(DeviceError::CredentialExcluded);
        }
        let replaces = self
            .state
            .credentials
            .iter()
            .position(|c| c.rp_id == req.rp_id && c.user_id == req.user_id);
        if req.discoverable
            && replaces.is_none()
            && self.state.credentials.len() as u32 >= self.state.slots
        {
            return Err(DeviceError::KeyStoreFull);
        }
        self.touch()?;

        let fail = |m: String| self.internal(m);
        let private = att::new_private_key();
        let id = if req.discoverable {
            credential::new_resident_id()
        } else {
            credential::wrap(&self.state.wrap_key, &req.rp_id, &private).map_err(fail)?
        };
        let cose = att::cose_public_key(&private).map_err(fail)?;
        let aaguid = self.profile().aaguid().unwrap_or_default();
        let claimed_aaguid = if self.state.knobs.attestation_wrong_aaguid {
            Uuid::from_bytes(att::random_bytes::<16>())
        } else {
            aaguid
        };
        let mut flags = FLAG_UP | FLAG_AT;
        if uv_needed {
            flags |= FLAG_UV;
        }
        let mut auth_data = self.auth_data(&req.rp_id, flags, 0);
        auth_data.extend_from_slice(claimed_aaguid.as_bytes());
        auth_data.extend_from_slice(&(id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend_from_slice(&cose);

        let a = &self.state.attestation;
        let (leaf_key, leaf_cert) = if self.state.knobs.attestation_out_of_profile {
            att::new_leaf(
                &a.ca_key,
                &a.ca_cert,
                Some(aaguid),
                false,
                Some(&a.leaf_key),
            )
            .map_err(fail)?
        } else {
            (a.leaf_key.clone(), a.leaf_cert.clone())
        };
        let statement =
            att::packed_statement(&leaf_key, &leaf_cert, &auth_data, &req.client_data_hash)
                .map_err(fail)?;
        let object = att::attestation_object("packed", &auth_data, statement).map_err(fail)?;

        if req.discoverable {
            let cred = ResidentCredential {
                id: id.clone(),
                rp_id: req.rp_id.clone(),
                rp_name: req.rp_name.clone(),
                user_id: req.user_id.clone(),
                user_name: Some(req.user_name.clone()),
                user_display_name: req.user_display_name.clone(),
                private_key: private,
                sign_count: 0,
            };
            match replaces {
                Some(i) => self.state.credentials[i] = cred,
                None => self.state.credentials.push(cred),
            }
        } else {
            self.state.counters.insert(credential::counter_key(&id), 0);
        }
        self.save()?;
        Ok(MadeCredential {
            credential_id: id,
            attestation_object: object,
            attestation_format: "packed".into(),
            auth_data,
            aaguid: Some(claimed_aaguid),
            attestation_certificates: vec![leaf_cert],
            user_verified: uv_needed,
            sign_count: 0,
        })
    }

    fn get_assertion(&mut self, req: &AssertionRequest) -> Result<Assertion, DeviceError> {
        self.begin()?;
        let fido2 = self.profile().is_fido2();
        if !fido2 && req.user_verification {
            return Err(u2f_unsupported("user verification with a PIN"));
        }
        let uv_needed =
            fido2 && (req.user_verification || (self.pin_set() && self.state.always_uv));
        if uv_needed {
            self.require_token()?;
        }
        let found = if req.allow_credentials.is_empty() {
            if !fido2 {
                return Err(u2f_unsupported("discoverable credentials (passkeys)"));
            }
            self.state
                .credentials
                .iter()
                .position(|c| c.rp_id == req.rp_id)
                .map(|i| {
                    let c = &self.state.credentials[i];
                    (c.id.clone(), c.private_key.clone(), Some(i))
                })
        } else {
            req.allow_credentials.iter().find_map(|id| {
                self.find_credential(&req.rp_id, id)
                    .map(|(k, i)| (id.clone(), k, i))
            })
        };
        let Some((id, private, resident)) = found else {
            return Err(DeviceError::NoCredentials);
        };
        self.touch()?;
        let count = match resident {
            Some(i) => {
                let c = &mut self.state.credentials[i];
                c.sign_count = c.sign_count.saturating_add(1);
                c.sign_count
            }
            None => {
                let c = self
                    .state
                    .counters
                    .entry(credential::counter_key(&id))
                    .or_insert(0);
                *c = c.saturating_add(1);
                *c
            }
        };
        self.save()?;
        let mut flags = FLAG_UP;
        if uv_needed {
            flags |= FLAG_UV;
        }
        let auth_data = self.auth_data(&req.rp_id, flags, count);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&req.client_data_hash);
        if self.state.knobs.bad_assertion_signature {
            // A well-formed signature over the wrong bytes: only verification can tell.
            if let Some(last) = signed.last_mut() {
                *last ^= 0xFF;
            }
        }
        let signature = att::sign(&private, &signed).map_err(|m| self.internal(m))?;
        Ok(Assertion {
            credential_id: id,
            auth_data,
            signature,
            user_id: resident.map(|i| self.state.credentials[i].user_id.clone()),
            sign_count: count,
            user_verified: uv_needed,
        })
    }

    fn selection(&mut self, _timeout: Duration) -> Result<(), DeviceError> {
        self.begin()?;
        self.touch()
    }

    fn wink(&mut self) -> Result<(), DeviceError> {
        self.begin()
    }

    fn reset(&mut self) -> Result<(), DeviceError> {
        self.begin()?;
        if !self.profile().is_fido2() {
            return Err(DeviceError::Unsupported {
                what: "reset: a U2F-only key has no reset command (and no PIN or passkeys to \
                       erase)"
                    .into(),
            });
        }
        let since = state::now_ms().saturating_sub(self.state.powered_up_ms);
        if since > RESET_WINDOW_MS {
            return Err(DeviceError::from_ctap_status(0x30));
        }
        self.touch()?;
        let s = &mut self.state;
        s.pin = None;
        s.pin_retries = MAX_PIN_RETRIES;
        s.pin_failures_since_power_up = 0;
        s.min_pin_length = state::DEFAULT_MIN_PIN_LENGTH;
        s.min_pin_length_rp_ids.clear();
        s.force_pin_change = false;
        s.always_uv = false;
        s.credentials.clear();
        s.counters.clear();
        // New wrap secret: every non-discoverable credential made before is gone too.
        s.wrap_key = att::random_bytes::<32>().to_vec();
        self.unlocked = false;
        self.save()
    }

    fn virtual_attestation_root(&self) -> Option<Vec<u8>> {
        Some(self.state.attestation.ca_cert.clone())
    }
}
