//! [`CtapKey`]: one open session with one key, over any transport.
//!
//! PIN handling. `unlock` turns the PIN into LEFT(SHA-256(PIN), 16), obtains a pinUvAuthToken
//! with it and drops the PIN; the hash and the token live in zeroizing buffers until the
//! session ends. The hash is kept, not the PIN, because CTAP 2.1 keys clear a token's mc/ga
//! permissions once it has been used with a touch (§6.1.2 step 14, §6.2.2 step 9): a
//! self-test that registers and then signs in needs a second token, and asking the person for
//! the PIN twice in one command is worse than holding the hash for its duration. Each
//! makeCredential / getAssertion gets a token of its own, scoped to that RP; credential
//! management and config share one token per session.

use super::client_pin::{ClientPinRequest, ClientPinResponse, Permission, SubCommand};
use super::pin_protocol::{padded_pin, pin_hash, PinProtocol, Secret};
use super::{command, config, credential_management as cm, get_assertion, get_info};
use super::{make_credential, u2f, CborMap, MapExt, PinAuth};
use crate::device::ctaphid::{Channel, CAP_CBOR, CAP_WINK, CMD_WINK, QUICK};
use crate::device::transport::Transport;
use crate::device::{
    Assertion, AssertionRequest, Authenticator, CredentialMetadata, DeviceDescriptor, DeviceError,
    KeyInfo, MadeCredential, MakeCredentialRequest, PinRetries, RpCredentials, StoredCredential,
    TOUCH_TIMEOUT,
};
use crate::pin::Pin;
use serde_cbor_2::Value;
use std::time::Duration;

/// A token and what it may do.
struct Token {
    secret: Secret,
    protocol: PinProtocol,
    permissions: u8,
}

pub struct CtapKey {
    desc: DeviceDescriptor,
    ch: Channel<Box<dyn Transport>>,
    /// The last getInfo: decides the PIN protocol and which commands exist.
    info: Option<KeyInfo>,
    /// LEFT(SHA-256(PIN), 16) after a successful `unlock`.
    pin_hash: Option<Secret>,
    /// The session's token for credential management and config.
    token: Option<Token>,
    virtual_root: Option<Vec<u8>>,
}

fn tell_to_touch() -> Box<dyn FnMut() + Send> {
    Box::new(|| eprintln!("Touch the key now: it is waiting for you (it blinks)."))
}

impl CtapKey {
    /// Allocate a channel on the key behind `transport` (CTAPHID_INIT).
    pub fn open(
        transport: Box<dyn Transport>,
        descriptor: DeviceDescriptor,
    ) -> Result<CtapKey, DeviceError> {
        let mut ch = Channel::open(transport)?;
        ch.set_on_touch(tell_to_touch());
        Ok(CtapKey {
            desc: descriptor,
            ch,
            info: None,
            pin_hash: None,
            token: None,
            virtual_root: None,
        })
    }

    /// The attestation root a virtual key is known to use (see
    /// [`Authenticator::virtual_attestation_root`]).
    pub fn with_virtual_root(mut self, der: Vec<u8>) -> CtapKey {
        self.virtual_root = Some(der);
        self
    }

    fn cbor(
        &mut self,
        cmd: u8,
        params: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Vec<u8>, DeviceError> {
        self.ch.cbor(cmd, params, timeout)
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
            return Err(u2f_only(what));
        }
        Ok(info)
    }

    fn protocol(info: &KeyInfo) -> PinProtocol {
        if info.pin_uv_protocols.contains(&2) {
            PinProtocol::V2
        } else {
            PinProtocol::V1
        }
    }

    fn client_pin(&mut self, req: &ClientPinRequest) -> Result<ClientPinResponse, DeviceError> {
        let bytes = self.cbor(command::CLIENT_PIN, Some(&req.encode()), QUICK)?;
        ClientPinResponse::decode(&bytes).map_err(|e| super::unreadable(&e))
    }

    /// getKeyAgreement, then our half: the platform key to send and the shared secret.
    fn shared_secret(
        &mut self,
        protocol: PinProtocol,
    ) -> Result<(super::pin_protocol::CoseKey, Secret), DeviceError> {
        let resp = self.client_pin(&ClientPinRequest::new(
            protocol.number(),
            SubCommand::GetKeyAgreement,
        ))?;
        let peer = resp
            .key_agreement
            .ok_or_else(|| super::unreadable("getKeyAgreement without a key"))?;
        protocol
            .encapsulate(&peer)
            .ok_or_else(|| super::unreadable("the key's agreement key is not on P-256"))
    }

    /// A fresh pinUvAuthToken from the held PIN hash (§6.5.5.7).
    fn new_token(&mut self, permissions: u8, rp_id: Option<&str>) -> Result<Token, DeviceError> {
        let info = self.require_fido2("a PIN")?;
        let Some(hash) = self.pin_hash.clone() else {
            return Err(DeviceError::PinRequired);
        };
        let protocol = Self::protocol(&info);
        let (platform_key, shared) = self.shared_secret(protocol)?;
        let with_permissions = info.options.get("pinUvAuthToken") == Some(&true);
        let sub = if with_permissions {
            SubCommand::GetPinUvAuthTokenUsingPinWithPermissions
        } else {
            SubCommand::GetPinToken
        };
        let mut req = ClientPinRequest::new(protocol.number(), sub);
        req.key_agreement = Some(platform_key);
        req.pin_hash_enc = Some(protocol.encrypt(&shared, &hash));
        if with_permissions {
            req.permissions = Some(permissions);
            req.rp_id = rp_id.map(str::to_string);
        }
        let resp = self.client_pin(&req).map_err(token_refused)?;
        let enc = resp
            .pin_uv_auth_token
            .ok_or_else(|| super::unreadable("no pinUvAuthToken in the answer"))?;
        let secret = protocol
            .decrypt(&shared, &enc)
            .ok_or_else(|| super::unreadable("the pinUvAuthToken does not decrypt"))?;
        Ok(Token {
            secret,
            protocol,
            permissions,
        })
    }

    /// The session token for credential management or config.
    fn session_token(&mut self, permission: u8) -> Result<&Token, DeviceError> {
        let usable = self
            .token
            .as_ref()
            .is_some_and(|t| t.permissions & permission != 0);
        if !usable {
            let info = self.cached_info()?;
            let perms = session_permissions(&info) | permission;
            self.token = Some(self.new_token(perms, None)?);
        }
        Ok(self.token.as_ref().expect("set just above"))
    }

    /// When `needed`, a pinUvAuthParam over a clientDataHash with a token for this RP alone.
    fn ceremony_auth(
        &mut self,
        needed: bool,
        permission: u8,
        rp_id: &str,
        client_data_hash: &[u8; 32],
    ) -> Result<Option<PinAuth>, DeviceError> {
        if !needed {
            return Ok(None);
        }
        let token = self.new_token(permission, Some(rp_id))?;
        // The key holds one token at a time: the session's is gone now, and this one loses
        // its rights at the touch.
        self.token = None;
        Ok(Some(PinAuth {
            param: token.protocol.authenticate(&token.secret, client_data_hash),
            protocol: token.protocol.number(),
        }))
    }

    fn cred_mgmt_command(&mut self) -> Result<u8, DeviceError> {
        let info = self.require_fido2("credential management")?;
        cm::command_for(&info).ok_or_else(|| DeviceError::Unsupported {
            what: "credential management (it needs a CTAP 2.1 key)".into(),
        })
    }

    /// One credential-management sub-command; `auth` for those that carry a pinUvAuthParam.
    fn cred_mgmt(
        &mut self,
        sub: cm::SubCommand,
        params: Option<CborMap>,
    ) -> Result<CborMap, DeviceError> {
        let cmd = self.cred_mgmt_command()?;
        let mut req = cm::Request {
            sub_command: sub as u8,
            params,
            protocol: None,
            pin_uv_auth_param: None,
        };
        if sub.needs_auth() {
            let token = self.session_token(Permission::CREDENTIAL_MANAGEMENT)?;
            let msg = cm::auth_message(sub as u8, req.params.as_ref());
            req.protocol = Some(token.protocol.number());
            req.pin_uv_auth_param = Some(token.protocol.authenticate(&token.secret, &msg));
        }
        let bytes = self.cbor(cmd, Some(&req.encode()), QUICK)?;
        if bytes.is_empty() {
            return Ok(CborMap::new());
        }
        super::decode_map(&bytes).map_err(|e| super::unreadable(&e))
    }

    fn config(
        &mut self,
        sub: config::SubCommand,
        params: Option<CborMap>,
    ) -> Result<(), DeviceError> {
        let info = self.require_fido2("authenticatorConfig")?;
        if info.options.get("authnrCfg") != Some(&true) {
            return Err(DeviceError::Unsupported {
                what: "authenticatorConfig (it needs a CTAP 2.1 key)".into(),
            });
        }
        let mut req = config::Request {
            sub_command: sub as u8,
            params,
            protocol: None,
            pin_uv_auth_param: None,
        };
        if info.pin_is_set() == Some(true) {
            let token = self.session_token(Permission::AUTHENTICATOR_CONFIG)?;
            let msg = config::auth_message(sub as u8, req.params.as_ref());
            req.protocol = Some(token.protocol.number());
            req.pin_uv_auth_param = Some(token.protocol.authenticate(&token.secret, &msg));
        }
        self.cbor(config::COMMAND, Some(&req.encode()), QUICK)?;
        self.info = None;
        Ok(())
    }

    /// Every credential of one RP, paging with getNextCredential.
    fn credentials_of(&mut self, rp_id_hash: &[u8]) -> Result<Vec<StoredCredential>, DeviceError> {
        let mut params = CborMap::new();
        params.insert(
            super::int(cm::PARAM_RP_ID_HASH),
            Value::Bytes(rp_id_hash.to_vec()),
        );
        let first = match self.cred_mgmt(cm::SubCommand::EnumerateCredentialsBegin, Some(params)) {
            Err(DeviceError::NoCredentials) => return Ok(Vec::new()),
            other => other?,
        };
        let total = first.uint(cm::response::TOTAL_CREDENTIALS).unwrap_or(1);
        let mut out = vec![stored_credential(&first)?];
        for _ in 1..total {
            let next =
                self.cred_mgmt(cm::SubCommand::EnumerateCredentialsGetNextCredential, None)?;
            out.push(stored_credential(&next)?);
        }
        Ok(out)
    }

    /// updateUserInformation: new name and display name for a stored credential's user.
    pub fn update_user(
        &mut self,
        credential_id: &[u8],
        user_id: &[u8],
        name: Option<&str>,
        display_name: Option<&str>,
    ) -> Result<(), DeviceError> {
        let mut user = vec![("id", Value::Bytes(user_id.to_vec()))];
        if let Some(n) = name {
            user.push(("name", super::text(n)));
        }
        if let Some(d) = display_name {
            user.push(("displayName", super::text(d)));
        }
        let mut params = credential_params(credential_id);
        params.insert(super::int(cm::PARAM_USER), super::text_map(user));
        self.cred_mgmt(cm::SubCommand::UpdateUserInformation, Some(params))
            .map(drop)
    }

    /// Every assertion for a request: the first, then getNextAssertion for the rest.
    pub fn assertions(&mut self, req: &AssertionRequest) -> Result<Vec<Assertion>, DeviceError> {
        let (first, count) = self.assertion_with_count(req)?;
        let mut out = vec![first];
        for _ in 1..count.unwrap_or(1) {
            let bytes = self.cbor(command::GET_NEXT_ASSERTION, None, QUICK)?;
            out.push(get_assertion::decode_response(&bytes, req)?.0);
        }
        Ok(out)
    }

    fn assertion_with_count(
        &mut self,
        req: &AssertionRequest,
    ) -> Result<(Assertion, Option<u32>), DeviceError> {
        let info = self.cached_info()?;
        if !info.supports_fido2() {
            return Ok((u2f::authenticate(&mut self.ch, req, TOUCH_TIMEOUT)?, None));
        }
        let always_uv = info.pin_is_set() == Some(true) && info.always_uv();
        let auth = self.ceremony_auth(
            req.user_verification || always_uv,
            Permission::GET_ASSERTION,
            &req.rp_id,
            &req.client_data_hash,
        )?;
        let request = get_assertion::encode_request(req, auth.as_ref());
        let bytes = self.cbor(command::GET_ASSERTION, Some(&request), TOUCH_TIMEOUT)?;
        get_assertion::decode_response(&bytes, req)
    }
}

/// What the session token may do: everything this key offers that keyward uses.
fn session_permissions(info: &KeyInfo) -> u8 {
    let mut p = 0;
    if cm::command_for(info).is_some() {
        p |= Permission::CREDENTIAL_MANAGEMENT;
    }
    if info.options.get("authnrCfg") == Some(&true) {
        p |= Permission::AUTHENTICATOR_CONFIG;
    }
    if p == 0 {
        p = Permission::MAKE_CREDENTIAL | Permission::GET_ASSERTION;
    }
    p
}

/// subCommandParams naming one credential.
fn credential_params(credential_id: &[u8]) -> CborMap {
    let mut params = CborMap::new();
    params.insert(
        super::int(cm::PARAM_CREDENTIAL_ID),
        super::cbor::credential_descriptor(credential_id),
    );
    params
}

fn u2f_only(what: &str) -> DeviceError {
    DeviceError::Unsupported {
        what: format!("{what}: it is a U2F-only key, with no FIDO2 PIN or passkeys"),
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

fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_string)
}

fn stored_credential(m: &CborMap) -> Result<StoredCredential, DeviceError> {
    let user = m
        .map_at(cm::response::USER)
        .ok_or_else(|| super::unreadable("credential without user"))?;
    let id = m
        .map_at(cm::response::CREDENTIAL_ID)
        .and_then(|d| d.field_bytes("id"))
        .ok_or_else(|| super::unreadable("credential without id"))?;
    Ok(StoredCredential {
        credential_id: id.to_vec(),
        user_id: user.field_bytes("id").unwrap_or_default().to_vec(),
        user_name: non_empty(user.field_text("name")),
        user_display_name: non_empty(user.field_text("displayName")),
        cred_protect: m
            .uint(cm::response::CRED_PROTECT)
            .and_then(|n| u8::try_from(n).ok()),
    })
}

impl Authenticator for CtapKey {
    fn descriptor(&self) -> &DeviceDescriptor {
        &self.desc
    }

    fn info(&mut self) -> Result<KeyInfo, DeviceError> {
        let info = if self.ch.capabilities() & CAP_CBOR == 0 {
            get_info::u2f_only_info()
        } else {
            let bytes = self.cbor(command::GET_INFO, None, QUICK)?;
            get_info::parse_info(&bytes)?
        };
        self.info = Some(info.clone());
        Ok(info)
    }

    fn pin_retries(&mut self) -> Result<PinRetries, DeviceError> {
        let info = self.require_fido2("a PIN")?;
        let resp = self.client_pin(&ClientPinRequest::new(
            Self::protocol(&info).number(),
            SubCommand::GetPinRetries,
        ))?;
        Ok(PinRetries {
            retries: resp
                .pin_retries
                .ok_or_else(|| super::unreadable("getPINRetries without pinRetries"))?,
            power_cycle_required: resp.power_cycle_state == Some(true),
        })
    }

    fn set_pin(&mut self, new_pin: &Pin) -> Result<(), DeviceError> {
        let info = self.require_fido2("a PIN")?;
        let protocol = Self::protocol(&info);
        let (platform_key, shared) = self.shared_secret(protocol)?;
        let new_pin_enc = protocol.encrypt(&shared, &padded_pin(new_pin.as_bytes()));
        let mut req = ClientPinRequest::new(protocol.number(), SubCommand::SetPin);
        req.key_agreement = Some(platform_key);
        req.pin_uv_auth_param = Some(protocol.authenticate(&shared, &new_pin_enc));
        req.new_pin_enc = Some(new_pin_enc);
        self.client_pin(&req)?;
        self.info = None;
        Ok(())
    }

    fn change_pin(&mut self, current: &Pin, new_pin: &Pin) -> Result<(), DeviceError> {
        let info = self.require_fido2("a PIN")?;
        let protocol = Self::protocol(&info);
        let (platform_key, shared) = self.shared_secret(protocol)?;
        let new_pin_enc = protocol.encrypt(&shared, &padded_pin(new_pin.as_bytes()));
        let pin_hash_enc = protocol.encrypt(&shared, &pin_hash(current.as_bytes()));
        let mut req = ClientPinRequest::new(protocol.number(), SubCommand::ChangePin);
        req.key_agreement = Some(platform_key);
        req.pin_uv_auth_param =
            Some(protocol.authenticate(&shared, &[new_pin_enc.as_slice(), &pin_hash_enc].concat()));
        req.new_pin_enc = Some(new_pin_enc);
        req.pin_hash_enc = Some(pin_hash_enc);
        self.client_pin(&req)
            .map_err(|e| e.with_retries_from(self))?;
        // A new PIN invalidates every token.
        self.pin_hash = None;
        self.token = None;
        self.info = None;
        Ok(())
    }

    fn unlock(&mut self, pin: &Pin) -> Result<(), DeviceError> {
        let info = self.require_fido2("a PIN")?;
        self.pin_hash = Some(pin_hash(pin.as_bytes()));
        // One token now: a wrong PIN costs exactly one retry, a right one is kept.
        match self.new_token(session_permissions(&info), None) {
            Ok(t) => {
                self.token = Some(t);
                Ok(())
            }
            Err(e) => {
                self.pin_hash = None;
                Err(e.with_retries_from(self))
            }
        }
    }

    fn credential_metadata(&mut self) -> Result<CredentialMetadata, DeviceError> {
        let m = self.cred_mgmt(cm::SubCommand::GetCredsMetadata, None)?;
        let count = |k| m.uint(k).and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
        Ok(CredentialMetadata {
            existing: count(cm::response::EXISTING_COUNT),
            remaining: count(cm::response::REMAINING_COUNT),
        })
    }

    fn list_credentials(&mut self) -> Result<Vec<RpCredentials>, DeviceError> {
        let first = match self.cred_mgmt(cm::SubCommand::EnumerateRpsBegin, None) {
            Err(DeviceError::NoCredentials) => return Ok(Vec::new()),
            other => other?,
        };
        let total = first.uint(cm::response::TOTAL_RPS).unwrap_or(0);
        if total == 0 {
            return Ok(Vec::new());
        }
        let mut rps = vec![first];
        for _ in 1..total {
            rps.push(self.cred_mgmt(cm::SubCommand::EnumerateRpsGetNextRp, None)?);
        }
        let mut out = Vec::new();
        for rp in rps {
            let entity = rp
                .map_at(cm::response::RP)
                .ok_or_else(|| super::unreadable("RP without entity"))?;
            let rp_id = entity.field_text("id").unwrap_or_default().to_string();
            let hash = rp
                .bytes(cm::response::RP_ID_HASH)
                .map(<[u8]>::to_vec)
                .unwrap_or_else(|| u2f::rp_id_hash(&rp_id).to_vec());
            let credentials = self.credentials_of(&hash)?;
            out.push(RpCredentials {
                rp_name: non_empty(entity.field_text("name")),
                rp_id,
                credentials,
            });
        }
        Ok(out)
    }

    fn delete_credential(&mut self, credential_id: &[u8]) -> Result<(), DeviceError> {
        let params = credential_params(credential_id);
        self.cred_mgmt(cm::SubCommand::DeleteCredential, Some(params))
            .map(drop)
    }

    fn set_min_pin_length(
        &mut self,
        new_min: Option<u32>,
        rp_ids: &[String],
        force_change: bool,
    ) -> Result<(), DeviceError> {
        if let Some(n) = new_min {
            if n > 63 {
                return Err(DeviceError::PinPolicyViolation {
                    reason: format!("a minimum PIN length of {n} is more than a key can hold"),
                });
            }
        }
        let params = config::min_pin_length_params(new_min, rp_ids, force_change);
        self.config(config::SubCommand::SetMinPinLength, Some(params))
    }

    fn toggle_always_uv(&mut self) -> Result<bool, DeviceError> {
        self.config(config::SubCommand::ToggleAlwaysUv, None)?;
        Ok(self.info()?.always_uv())
    }

    fn make_credential(
        &mut self,
        req: &MakeCredentialRequest,
    ) -> Result<MadeCredential, DeviceError> {
        let info = self.cached_info()?;
        if !info.supports_fido2() {
            return u2f::register(&mut self.ch, req, TOUCH_TIMEOUT);
        }
        // CTAP 2.1 §6.1.2 step 6: a key with a PIN wants one for every credential unless it
        // offers makeCredUvNotRqd (then only for discoverable ones), and always with alwaysUv.
        let pin_set = info.pin_is_set() == Some(true);
        let uv_not_required = info.options.get("makeCredUvNotRqd") == Some(&true);
        let needs_uv = req.user_verification
            || (pin_set && (info.always_uv() || !uv_not_required || req.discoverable));
        let auth = self.ceremony_auth(
            needs_uv,
            Permission::MAKE_CREDENTIAL,
            &req.rp_id,
            &req.client_data_hash,
        )?;
        let request = make_credential::encode_request(req, auth.as_ref());
        let bytes = self.cbor(command::MAKE_CREDENTIAL, Some(&request), TOUCH_TIMEOUT)?;
        make_credential::decode_response(&bytes)
    }

    fn get_assertion(&mut self, req: &AssertionRequest) -> Result<Assertion, DeviceError> {
        Ok(self.assertion_with_count(req)?.0)
    }

    fn selection(&mut self, timeout: Duration) -> Result<(), DeviceError> {
        let info = self.cached_info()?;
        if !info.supports_fido2() {
            return u2f::wait_for_touch(&mut self.ch, timeout);
        }
        if info.supports_ctap21() {
            self.cbor(command::SELECTION, None, timeout)?;
            return Ok(());
        }
        // CTAP 2.0 has no selection command. Its makeCredential with an empty pinAuth waits
        // for a touch, then answers PIN_NOT_SET or PIN_INVALID without creating anything
        // (CTAP 2.0 §5.1).
        let probe = touch_probe_request();
        match self.cbor(command::MAKE_CREDENTIAL, Some(&probe), timeout) {
            Ok(_) | Err(DeviceError::PinNotSet) | Err(DeviceError::PinInvalid { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn wink(&mut self) -> Result<(), DeviceError> {
        if self.ch.capabilities() & CAP_WINK == 0 {
            return Err(DeviceError::Unsupported {
                what: "blinking on request (wink)".into(),
            });
        }
        self.ch.transact(CMD_WINK, &[], QUICK)?;
        Ok(())
    }

    fn reset(&mut self) -> Result<(), DeviceError> {
        let info = self.cached_info()?;
        if !info.supports_fido2() {
            return Err(DeviceError::Unsupported {
                what: "reset: a U2F-only key has no reset command (and no PIN or passkeys to \
                       erase)"
                    .into(),
            });
        }
        self.cbor(command::RESET, None, TOUCH_TIMEOUT)?;
        self.pin_hash = None;
        self.token = None;
        self.info = None;
        Ok(())
    }

    fn update_user_information(
        &mut self,
        credential_id: &[u8],
        user_id: &[u8],
        name: Option<&str>,
        display_name: Option<&str>,
    ) -> Result<(), DeviceError> {
        self.update_user(credential_id, user_id, name, display_name)
    }

    fn get_assertions(&mut self, req: &AssertionRequest) -> Result<Vec<Assertion>, DeviceError> {
        self.assertions(req)
    }

    fn virtual_attestation_root(&self) -> Option<Vec<u8>> {
        self.virtual_root.clone()
    }
}

/// A makeCredential with a zero-length pinAuth: the CTAP 2.0 way to wait for a touch.
fn touch_probe_request() -> Vec<u8> {
    let req = MakeCredentialRequest {
        client_data_hash: [0; 32],
        rp_id: ".dummy".into(),
        rp_name: None,
        user_id: vec![0],
        user_name: "dummy".into(),
        user_display_name: None,
        discoverable: false,
        user_verification: false,
        exclude_credentials: Vec::new(),
    };
    let auth = PinAuth {
        param: Vec::new(),
        protocol: 1,
    };
    make_credential::encode_request(&req, Some(&auth))
}
