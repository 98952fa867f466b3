//! [`HidKey`]: one real key over USB HID.
//!
//! Two ways to the key, never open at the same time (on Linux every open handle receives a
//! copy of every answer, and `ctap-hid-fido2` does not check channel IDs, so a second handle
//! would feed it stale packets):
//! - `ctap-hid-fido2` for everything that needs PIN/UV auth protocol cryptography: set and
//!   change PIN, PIN tokens, credential management, authenticatorConfig;
//! - our own CTAPHID channel ([`super::ctaphid`]) for getInfo, PIN retries, makeCredential,
//!   getAssertion (with the caller's exact clientDataHash: the library hashes what it is
//!   given), selection, wink and reset, each bounded by a timeout.

use super::ctap2::{self, PinAuth};
use super::ctaphid::{self, Channel, HidTransport, CAP_CBOR, CAP_WINK, QUICK};
use super::quiet::StdoutToStderr;
use super::status::from_library;
use super::u2f;
use crate::device::{
    Assertion, AssertionRequest, Authenticator, CredentialMetadata, DeviceDescriptor, DeviceError,
    KeyInfo, MadeCredential, MakeCredentialRequest, PinRetries, RpCredentials, StoredCredential,
    TOUCH_TIMEOUT,
};
use crate::pin::Pin;
use ctap_hid_fido2::fidokey::credential_management::credential_management_params::CredentialProtectionPolicy;
use ctap_hid_fido2::public_key_credential_descriptor::PublicKeyCredentialDescriptor;
use ctap_hid_fido2::{FidoKeyHid, FidoKeyHidFactory, HidParam, LibCfg};
use std::time::Duration;

enum Conn {
    Closed,
    Lib(Box<FidoKeyHid>),
    Raw(Channel<HidTransport>),
}

pub struct HidKey {
    desc: DeviceDescriptor,
    path: String,
    conn: Conn,
    /// The last getInfo: decides the PIN protocol and which credential-management command.
    info: Option<KeyInfo>,
    /// The PIN verified by `unlock`, zeroized on drop. The library derives a fresh token from
    /// it per call (its token type is private); a correct PIN costs no retries.
    pin: Option<Pin>,
}

impl HidKey {
    pub fn open(desc: &DeviceDescriptor) -> Result<Box<dyn Authenticator>, DeviceError> {
        let path = desc
            .spec
            .strip_prefix("hid:")
            .ok_or_else(|| DeviceError::NotFound {
                spec: desc.spec.clone(),
                reason: "not a hid: device".into(),
            })?
            .to_string();
        let mut key = HidKey {
            desc: desc.clone(),
            path,
            conn: Conn::Closed,
            info: None,
            pin: None,
        };
        // Fail here, with the reason, rather than halfway through a command.
        key.raw()?;
        Ok(Box::new(key))
    }

    fn raw(&mut self) -> Result<&mut Channel<HidTransport>, DeviceError> {
        if !matches!(self.conn, Conn::Raw(_)) {
            self.conn = Conn::Closed;
            let transport = HidTransport::open(&self.path)?;
            self.conn = Conn::Raw(Channel::open(transport)?);
        }
        match &mut self.conn {
            Conn::Raw(ch) => Ok(ch),
            _ => unreachable!("opened just above"),
        }
    }

    fn lib(&mut self) -> Result<&FidoKeyHid, DeviceError> {
        if !matches!(self.conn, Conn::Lib(_)) {
            let info = self.cached_info()?;
            let use_pre = use_prerelease_commands(&info);
            let protocol = pin_protocol(&info);
            self.conn = Conn::Closed;
            let cfg = LibCfg {
                enable_log: false,
                use_pre_bio_enrollment: use_pre,
                use_pre_credential_management: use_pre,
                // Its keep-alive text would land on stdout, which carries `--json` results.
                enable_keep_alive_msg: false,
                keep_alive_msg: String::new(),
                keep_alive_msg_to_stderr: true,
            };
            let key =
                FidoKeyHidFactory::create_by_params(&[HidParam::Path(self.path.clone())], &cfg)
                    .map_err(|e| ctaphid::open_failure(&self.path, e))?
                    .with_pin_protocol_version(protocol);
            self.conn = Conn::Lib(Box::new(key));
        }
        match &self.conn {
            Conn::Lib(k) => Ok(k),
            _ => unreachable!("opened just above"),
        }
    }

    /// Run one library call with its stray prints kept off stdout, mapping its error.
    fn with_lib<R, E: std::fmt::Display>(
        &mut self,
        call: impl FnOnce(&FidoKeyHid) -> Result<R, E>,
    ) -> Result<R, DeviceError> {
        let key = self.lib()?;
        let _quiet = StdoutToStderr::new();
        call(key).map_err(from_library)
    }

    fn cached_info(&mut self) -> Result<KeyInfo, DeviceError> {
        match &self.info {
            Some(i) => Ok(i.clone()),
            None => self.info(),
        }
    }

    fn require_fido2(&mut self, what: &str) -> Result<KeyInfo, DeviceError> {
        let info = self.cached_info()?;
        if !info.supports_fido2() {
            return Err(DeviceError::Unsupported {
                what: format!("{what} (it is a U2F-only key)"),
            });
        }
        Ok(info)
    }

    /// The unlocked PIN, copied so the library call can borrow the key.
    fn unlocked_pin(&self) -> Result<Pin, DeviceError> {
        self.pin
            .as_ref()
            .map(|p| Pin::new(p.as_str()))
            .ok_or(DeviceError::PinRequired)
    }

    /// pinUvAuthParam over the caller's clientDataHash, from a token the library obtains.
    fn pin_auth(&mut self, client_data_hash: &[u8; 32]) -> Result<PinAuth, DeviceError> {
        let pin = self.unlocked_pin()?;
        let protocol = pin_protocol(&self.cached_info()?);
        let param = self
            .with_lib(|k| k.create_pin_auth(pin.as_str(), client_data_hash))
            .map_err(token_refused)?;
        Ok(PinAuth { param, protocol })
    }
}

/// A key whose PIN must be changed answers a token request with PIN_POLICY_VIOLATION
/// (CTAP 2.1 §6.5.5.7): that is not about a new PIN's length.
fn token_refused(e: DeviceError) -> DeviceError {
    match e {
        DeviceError::PinPolicyViolation { .. } => DeviceError::PinChangeRequired,
        other => other,
    }
}

/// The prototype credential-management (0x41) and bio (0x40) commands only for keys that
/// know no better: a key announcing FIDO_2_1 gets the final ones, even when it also announces
/// FIDO_2_1_PRE (the library's default of "prototype for everyone" fails on such keys).
fn use_prerelease_commands(info: &KeyInfo) -> bool {
    !info.supports_ctap21()
        && (info.versions.iter().any(|v| v == "FIDO_2_1_PRE")
            || info.options.get("credentialMgmtPreview") == Some(&true))
}

/// PIN/UV auth protocol 2 when the key offers it (the library defaults to 1).
fn pin_protocol(info: &KeyInfo) -> u8 {
    if info.pin_uv_protocols.contains(&2) {
        2
    } else {
        1
    }
}

fn cred_protect_level(p: CredentialProtectionPolicy) -> Option<u8> {
    match p {
        CredentialProtectionPolicy::UserVerificationOptional => Some(1),
        CredentialProtectionPolicy::UserVerificationOptionalWithCredentialIdList => Some(2),
        CredentialProtectionPolicy::UserVerificationRequired => Some(3),
        CredentialProtectionPolicy::Unknown => None,
    }
}

fn non_empty(s: String) -> Option<String> {
    Some(s).filter(|s| !s.is_empty())
}

/// An empty key answers enumerate/metadata with "no credentials".
fn none_is_empty<T: Default>(r: Result<T, DeviceError>) -> Result<T, DeviceError> {
    match r {
        Err(DeviceError::NoCredentials) => Ok(T::default()),
        other => other,
    }
}

impl Authenticator for HidKey {
    fn descriptor(&self) -> &DeviceDescriptor {
        &self.desc
    }

    fn info(&mut self) -> Result<KeyInfo, DeviceError> {
        let ch = self.raw()?;
        let info = if ch.capabilities() & CAP_CBOR == 0 {
            ctap2::u2f_only_info()
        } else {
            let bytes = ch.cbor(ctap2::CTAP_GET_INFO, None, QUICK)?;
            ctap2::parse_info(&bytes)?
        };
        self.info = Some(info.clone());
        Ok(info)
    }

    fn pin_retries(&mut self) -> Result<PinRetries, DeviceError> {
        let info = self.require_fido2("a PIN")?;
        let request = ctap2::get_retries_request(pin_protocol(&info));
        let bytes = self
            .raw()?
            .cbor(ctap2::CTAP_CLIENT_PIN, Some(&request), QUICK)?;
        let (retries, power_cycle_required) = ctap2::parse_retries(&bytes)?;
        Ok(PinRetries {
            retries,
            power_cycle_required,
        })
    }

    fn set_pin(&mut self, new_pin: &Pin) -> Result<(), DeviceError> {
        self.require_fido2("a PIN")?;
        self.with_lib(|k| k.set_new_pin(new_pin.as_str()))?;
        self.info = None;
        Ok(())
    }

    fn change_pin(&mut self, current: &Pin, new_pin: &Pin) -> Result<(), DeviceError> {
        self.require_fido2("a PIN")?;
        self.with_lib(|k| k.change_pin(current.as_str(), new_pin.as_str()))?;
        self.pin = None;
        self.info = None;
        Ok(())
    }

    fn unlock(&mut self, pin: &Pin) -> Result<(), DeviceError> {
        self.require_fido2("a PIN")?;
        // One getPinToken: a wrong PIN costs exactly one retry, a right one is kept.
        self.with_lib(|k| k.get_pin_token(pin.as_str()).map(drop))
            .map_err(token_refused)?;
        self.pin = Some(Pin::new(pin.as_str()));
        Ok(())
    }

    fn credential_metadata(&mut self) -> Result<CredentialMetadata, DeviceError> {
        let pin = self.unlocked_pin()?;
        let meta =
            self.with_lib(|k| k.credential_management_get_creds_metadata(Some(pin.as_str())))?;
        Ok(CredentialMetadata {
            existing: meta.existing_resident_credentials_count,
            remaining: meta.max_possible_remaining_resident_credentials_count,
        })
    }

    fn list_credentials(&mut self) -> Result<Vec<RpCredentials>, DeviceError> {
        let pin = self.unlocked_pin()?;
        let rps = none_is_empty(
            self.with_lib(|k| k.credential_management_enumerate_rps(Some(pin.as_str()))),
        )?;
        let mut out = Vec::new();
        for rp in rps {
            let creds = none_is_empty(self.with_lib(|k| {
                k.credential_management_enumerate_credentials(Some(pin.as_str()), &rp.rpid_hash)
            }))?;
            let entity = rp.public_key_credential_rp_entity;
            out.push(RpCredentials {
                rp_id: entity.id,
                rp_name: non_empty(entity.name),
                credentials: creds
                    .into_iter()
                    .filter(|c| !c.public_key_credential_descriptor.id.is_empty())
                    .map(|c| {
                        let user = c.public_key_credential_user_entity;
                        StoredCredential {
                            credential_id: c.public_key_credential_descriptor.id,
                            user_id: user.id,
                            user_name: non_empty(user.name),
                            user_display_name: non_empty(user.display_name),
                            cred_protect: cred_protect_level(c.cred_protect),
                        }
                    })
                    .collect(),
            });
        }
        Ok(out)
    }

    fn delete_credential(&mut self, credential_id: &[u8]) -> Result<(), DeviceError> {
        let pin = self.unlocked_pin()?;
        let descriptor = PublicKeyCredentialDescriptor {
            id: credential_id.to_vec(),
            ctype: "public-key".into(),
        };
        self.with_lib(|k| k.credential_management_delete_credential(Some(pin.as_str()), descriptor))
    }

    fn set_min_pin_length(
        &mut self,
        new_min: Option<u32>,
        rp_ids: &[String],
        force_change: bool,
    ) -> Result<(), DeviceError> {
        let pin = self.unlocked_pin()?;
        let new_min = new_min
            .map(|n| {
                u8::try_from(n).map_err(|_| DeviceError::PinPolicyViolation {
                    reason: format!("a minimum PIN length of {n} is more than a key can hold"),
                })
            })
            .transpose()?;
        // Order matters: raising the minimum above the current PIN's length makes the key
        // demand a PIN change, after which it hands out no more tokens for this PIN.
        if !rp_ids.is_empty() {
            let rps = rp_ids.to_vec();
            self.with_lib(|k| k.set_min_pin_length_rpids(rps, Some(pin.as_str())))?;
        }
        if let Some(n) = new_min {
            self.with_lib(|k| k.set_min_pin_length(n, Some(pin.as_str())))?;
        }
        if force_change {
            match self.with_lib(|k| k.force_change_pin(Some(pin.as_str()))) {
                Ok(()) => {}
                // Already forced by the new minimum: what was asked for holds.
                Err(DeviceError::PinPolicyViolation { .. }) if self.info()?.force_pin_change => {}
                Err(e) => return Err(e),
            }
        }
        self.info = None;
        Ok(())
    }

    fn toggle_always_uv(&mut self) -> Result<bool, DeviceError> {
        let pin = self.unlocked_pin()?;
        self.with_lib(|k| k.toggle_always_uv(Some(pin.as_str())))?;
        Ok(self.info()?.always_uv())
    }

    fn make_credential(
        &mut self,
        req: &MakeCredentialRequest,
    ) -> Result<MadeCredential, DeviceError> {
        if !self.cached_info()?.supports_fido2() {
            return u2f::register(self.raw()?, req, TOUCH_TIMEOUT);
        }
        let auth = if req.user_verification {
            Some(self.pin_auth(&req.client_data_hash)?)
        } else {
            None
        };
        let request = ctap2::make_credential_request(req, auth.as_ref());
        let bytes =
            self.raw()?
                .cbor(ctaphid::CTAP_MAKE_CREDENTIAL, Some(&request), TOUCH_TIMEOUT)?;
        ctap2::parse_make_credential(&bytes)
    }

    fn get_assertion(&mut self, req: &AssertionRequest) -> Result<Assertion, DeviceError> {
        if !self.cached_info()?.supports_fido2() {
            return u2f::authenticate(self.raw()?, req, TOUCH_TIMEOUT);
        }
        let auth = if req.user_verification {
            Some(self.pin_auth(&req.client_data_hash)?)
        } else {
            None
        };
        let request = ctap2::get_assertion_request(req, auth.as_ref());
        let bytes = self
            .raw()?
            .cbor(ctaphid::CTAP_GET_ASSERTION, Some(&request), TOUCH_TIMEOUT)?;
        ctap2::parse_get_assertion(&bytes, req)
    }

    fn selection(&mut self, timeout: Duration) -> Result<(), DeviceError> {
        let info = self.cached_info()?;
        if !info.supports_fido2() {
            return u2f::wait_for_touch(self.raw()?, timeout);
        }
        if info.supports_ctap21() {
            self.raw()?.cbor(ctaphid::CTAP_SELECTION, None, timeout)?;
            return Ok(());
        }
        // CTAP 2.0 has no selection command. Its makeCredential with an empty pinAuth waits
        // for a touch, then answers PIN_NOT_SET or PIN_INVALID without creating anything.
        let probe = ctap2::touch_probe_request();
        match self
            .raw()?
            .cbor(ctaphid::CTAP_MAKE_CREDENTIAL, Some(&probe), timeout)
        {
            Ok(_) | Err(DeviceError::PinNotSet) | Err(DeviceError::PinInvalid { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn wink(&mut self) -> Result<(), DeviceError> {
        let ch = self.raw()?;
        if ch.capabilities() & CAP_WINK == 0 {
            return Err(DeviceError::Unsupported {
                what: "blinking on request (wink)".into(),
            });
        }
        ch.transact(ctaphid::CMD_WINK, &[], QUICK)?;
        Ok(())
    }

    fn reset(&mut self) -> Result<(), DeviceError> {
        self.require_fido2("a reset over FIDO2")?;
        self.raw()?.cbor(ctaphid::CTAP_RESET, None, TOUCH_TIMEOUT)?;
        self.pin = None;
        self.info = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::ctap2;
    use super::*;

    fn info(versions: &[&str], protocols: &[u32]) -> KeyInfo {
        let mut i = ctap2::u2f_only_info();
        i.versions = versions.iter().map(|v| v.to_string()).collect();
        i.pin_uv_protocols = protocols.to_vec();
        i
    }

    #[test]
    fn final_credential_management_whenever_the_key_speaks_ctap_2_1() {
        let yubikey_5_7 = info(&["U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1"], &[2, 1]);
        assert!(!use_prerelease_commands(&yubikey_5_7));
        let yubikey_5_2 = info(&["U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE"], &[1]);
        assert!(use_prerelease_commands(&yubikey_5_2));
        let mut preview_option_only = info(&["FIDO_2_0"], &[1]);
        preview_option_only
            .options
            .insert("credentialMgmtPreview".into(), true);
        assert!(use_prerelease_commands(&preview_option_only));
    }

    #[test]
    fn pin_protocol_two_when_offered() {
        assert_eq!(pin_protocol(&info(&["FIDO_2_1"], &[2, 1])), 2);
        assert_eq!(pin_protocol(&info(&["FIDO_2_1"], &[1, 2])), 2);
        assert_eq!(pin_protocol(&info(&["FIDO_2_0"], &[1])), 1);
        assert_eq!(pin_protocol(&info(&["FIDO_2_0"], &[])), 1);
    }

    #[test]
    fn a_token_refused_for_a_forced_change_says_so() {
        let e = token_refused(DeviceError::PinPolicyViolation {
            reason: "rejected by the key".into(),
        });
        assert!(matches!(e, DeviceError::PinChangeRequired));
        assert!(matches!(
            token_refused(DeviceError::PinInvalid { retries_left: None }),
            DeviceError::PinInvalid { .. }
        ));
    }
}
