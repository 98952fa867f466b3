//! The virtual key as an authenticator: CTAP2 requests in, status byte and CBOR out, following
//! CTAP 2.1 (or 2.0, per profile). It decodes the same request types the host encodes.

use super::attestation as att;
use super::credential::{self, sha256};
use super::profile::Profile;
use super::state::{
    self, KeyState, LockedFile, PinRecord, ResidentCredential, TouchOutcome, MAX_PIN_RETRIES,
    PIN_ATTEMPTS_BEFORE_POWER_CYCLE,
};
use crate::device::auth_data::{AttestedCredential, AuthData, Flags};
use crate::device::ctap2::client_pin::{
    ClientPinRequest, ClientPinResponse, Permission, SubCommand,
};
use crate::device::ctap2::credential_management::{self as cm, response as cmr};
use crate::device::ctap2::pin_protocol::{KeyAgreement, PinProtocol, Secret};
use crate::device::ctap2::{
    command, config, encode_map, get_assertion, get_info, int, make_credential, text, text_map,
    CborMap, CtapStatus, MapExt,
};
use crate::device::{DeviceError, KeyInfo};
use crate::pin::MAX_PIN_BYTES;
use serde_cbor_2::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use uuid::Uuid;
use zeroize::Zeroizing;

/// CTAP 2.1: reset is accepted only this soon after power-up.
const RESET_WINDOW_MS: u64 = 10_000;
/// A token not used within this long after it was issued expires (§6.5.2.1, initial usage
/// time limit for USB keys)...
const TOKEN_INITIAL_USAGE: Duration = Duration::from_secs(30);
/// ...and every token expires after this long (maxUsageTimePeriod).
const TOKEN_MAX_USAGE: Duration = Duration::from_secs(600);
/// getNextAssertion and credential-management "next" calls are only honoured this long.
const ITERATION_TIMEOUT: Duration = Duration::from_secs(30);

type Reply = Result<Vec<u8>, CtapStatus>;

struct Token {
    secret: Secret,
    protocol: PinProtocol,
    permissions: u8,
    rp_id: Option<String>,
    issued: Instant,
    used: bool,
}

/// Credentials left for getNextAssertion.
struct AssertionQueue {
    rp_id: String,
    client_data_hash: Vec<u8>,
    flags: u8,
    user_details: bool,
    ids: Vec<Vec<u8>>,
    at: Instant,
}

/// What credential management is enumerating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    Rps,
    Credentials,
}

/// The items left for getNextRP / getNextCredential (RP IDs as bytes, or credential IDs).
struct Iteration {
    listing: Listing,
    rest: Vec<Vec<u8>>,
    at: Instant,
}

/// One powered-up virtual key. The file stays locked while it exists.
pub struct VirtualAuthenticator {
    path: PathBuf,
    file: LockedFile,
    pub(super) state: KeyState,
    key_agreement: KeyAgreement,
    token: Option<Token>,
    queue: Option<AssertionQueue>,
    iteration: Option<Iteration>,
    /// Set when the last command waited for a touch, so the wire can send KEEPALIVE first.
    pub(super) waited_for_touch: bool,
    /// A U2F touch that "never comes" (knob) keeps answering "touch needed" until then.
    u2f_touch_never_until: Option<Instant>,
}

fn missing_or_invalid(missing: bool) -> CtapStatus {
    if missing {
        CtapStatus::MissingParameter
    } else {
        CtapStatus::InvalidCbor
    }
}

fn ok(body: Vec<u8>) -> Reply {
    Ok(body)
}

fn empty() -> Reply {
    Ok(Vec::new())
}

impl VirtualAuthenticator {
    pub fn new(path: PathBuf, file: LockedFile, state: KeyState) -> VirtualAuthenticator {
        VirtualAuthenticator {
            path,
            file,
            state,
            key_agreement: KeyAgreement::new(),
            token: None,
            queue: None,
            iteration: None,
            waited_for_touch: false,
            u2f_touch_never_until: None,
        }
    }

    pub fn profile(&self) -> Profile {
        self.state.profile
    }

    pub(super) fn save(&mut self) -> Result<(), DeviceError> {
        self.file.save(&self.state)
    }

    fn persist(&mut self) -> Result<(), CtapStatus> {
        self.save().map_err(|e| {
            eprintln!("virtual key: {e}");
            CtapStatus::Other
        })
    }

    fn internal(&self, m: String) -> CtapStatus {
        eprintln!(
            "virtual key {}: {}",
            self.path.display(),
            state::state_error(&self.path, m)
        );
        CtapStatus::Other
    }

    /// The person touches the key, unless a knob says otherwise.
    pub(super) fn touch(&mut self) -> Result<(), CtapStatus> {
        self.waited_for_touch = true;
        if let Some(ms) = self.state.knobs.touch_after_ms {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        if let Some(outcome) = self.state.knobs.next_touch.take() {
            self.persist()?;
            return Err(match outcome {
                TouchOutcome::Deny => CtapStatus::OperationDenied,
                TouchOutcome::Timeout => CtapStatus::UserActionTimeout,
            });
        }
        Ok(())
    }

    pub(super) fn u2f_touch_never_until(&self) -> Option<Instant> {
        self.u2f_touch_never_until
    }

    pub(super) fn set_u2f_touch_never_until(&mut self, until: Instant) {
        self.u2f_touch_never_until = Some(until);
    }

    pub fn attestation_root(&self) -> Vec<u8> {
        self.state.attestation.ca_cert.clone()
    }

    /// What getInfo says: exactly what this key implements.
    pub fn key_info(&self) -> KeyInfo {
        let p = self.profile();
        let s = &self.state;
        KeyInfo {
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
        }
    }

    /// One CTAP2 message (command byte and CBOR): the status byte and CBOR of the answer.
    pub fn cbor(&mut self, msg: &[u8]) -> Vec<u8> {
        self.waited_for_touch = false;
        let Some((&cmd, params)) = msg.split_first() else {
            return vec![CtapStatus::InvalidLength as u8];
        };
        if cmd != command::GET_NEXT_ASSERTION {
            self.queue = None;
        }
        if cmd != command::CREDENTIAL_MANAGEMENT {
            self.iteration = None;
        }
        let ctap21 = self.profile().is_ctap21();
        let reply = match cmd {
            command::GET_INFO => ok(get_info::encode_info(&self.key_info())),
            command::CLIENT_PIN => self.client_pin(params),
            command::MAKE_CREDENTIAL => self.make_credential(params),
            command::GET_ASSERTION => self.get_assertion(params),
            command::GET_NEXT_ASSERTION => self.get_next_assertion(),
            command::RESET => self.reset(),
            command::CREDENTIAL_MANAGEMENT if ctap21 => self.credential_management(params),
            command::SELECTION if ctap21 => self.touch().and_then(|_| empty()),
            command::CONFIG if ctap21 => self.config(params),
            _ => Err(CtapStatus::InvalidCommand),
        };
        match reply {
            Ok(body) => [vec![0u8], body].concat(),
            Err(status) => vec![status as u8],
        }
    }

    fn pin_protocol(&self, n: Option<u64>) -> Result<PinProtocol, CtapStatus> {
        let n = n.ok_or(CtapStatus::MissingParameter)?;
        PinProtocol::from_number(n)
            .filter(|p| {
                self.profile()
                    .pin_uv_protocols()
                    .contains(&u32::from(p.number()))
            })
            .ok_or(CtapStatus::InvalidParameter)
    }

    // --- clientPIN -------------------------------------------------------------------------

    fn client_pin(&mut self, params: &[u8]) -> Reply {
        let req = ClientPinRequest::decode(params).map_err(missing_or_invalid)?;
        let sub = SubCommand::from_number(u64::from(req.sub_command))
            .ok_or(CtapStatus::InvalidSubcommand)?;
        if sub == SubCommand::GetPinRetries {
            return ok(ClientPinResponse {
                pin_retries: Some(self.state.pin_retries),
                power_cycle_state: self.profile().is_ctap21().then_some(
                    self.state.pin_failures_since_power_up >= PIN_ATTEMPTS_BEFORE_POWER_CYCLE,
                ),
                ..Default::default()
            }
            .encode());
        }
        let protocol = self.pin_protocol(req.protocol.map(u64::from))?;
        match sub {
            SubCommand::GetKeyAgreement => ok(ClientPinResponse {
                key_agreement: Some(self.key_agreement.public()),
                ..Default::default()
            }
            .encode()),
            SubCommand::SetPin => self.set_pin(protocol, &req),
            SubCommand::ChangePin => self.change_pin(protocol, &req),
            SubCommand::GetPinToken => self.get_token(protocol, &req, false),
            SubCommand::GetPinUvAuthTokenUsingPinWithPermissions if self.profile().is_ctap21() => {
                self.get_token(protocol, &req, true)
            }
            _ => Err(CtapStatus::InvalidSubcommand),
        }
    }

    fn shared_secret(
        &self,
        protocol: PinProtocol,
        req: &ClientPinRequest,
    ) -> Result<Secret, CtapStatus> {
        let peer = req
            .key_agreement
            .as_ref()
            .ok_or(CtapStatus::MissingParameter)?;
        protocol
            .decapsulate(&self.key_agreement, peer)
            .ok_or(CtapStatus::InvalidParameter)
    }

    /// The new PIN out of newPinEnc: 64 bytes, zero padded (§6.5.5.5).
    fn new_pin(
        &self,
        protocol: PinProtocol,
        shared: &[u8],
        enc: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CtapStatus> {
        let padded = protocol
            .decrypt(shared, enc)
            .ok_or(CtapStatus::InvalidParameter)?;
        if padded.len() < 64 {
            return Err(CtapStatus::InvalidParameter);
        }
        let len = padded.iter().position(|b| *b == 0).unwrap_or(padded.len());
        let pin = Zeroizing::new(padded[..len].to_vec());
        let code_points = std::str::from_utf8(&pin)
            .map(|s| s.chars().count())
            .unwrap_or(pin.len());
        if code_points < self.state.min_pin_length as usize || pin.len() > MAX_PIN_BYTES {
            return Err(CtapStatus::PinPolicyViolation);
        }
        Ok(pin)
    }

    fn store_pin(&mut self, pin: &[u8]) {
        self.state.pin = Some(PinRecord {
            hash: crate::device::ctap2::pin_protocol::pin_hash(pin).to_vec(),
            code_points: std::str::from_utf8(pin)
                .map(|s| s.chars().count())
                .unwrap_or(pin.len()) as u32,
        });
        self.state.pin_retries = MAX_PIN_RETRIES;
        self.state.pin_failures_since_power_up = 0;
    }

    fn set_pin(&mut self, protocol: PinProtocol, req: &ClientPinRequest) -> Reply {
        let (Some(param), Some(enc)) = (&req.pin_uv_auth_param, &req.new_pin_enc) else {
            return Err(CtapStatus::MissingParameter);
        };
        // CTAP 2.1 §6.5.5.5: "If a PIN has already been set, authenticator returns
        // CTAP2_ERR_PIN_AUTH_INVALID" (NOT_ALLOWED was CTAP 2.0's answer).
        if self.state.pin.is_some() {
            return Err(CtapStatus::PinAuthInvalid);
        }
        let shared = self.shared_secret(protocol, req)?;
        if !protocol.verify(&shared, enc, param) {
            return Err(CtapStatus::PinAuthInvalid);
        }
        let pin = self.new_pin(protocol, &shared, enc)?;
        self.store_pin(&pin);
        self.persist()?;
        empty()
    }

    /// Check pinHashEnc against the stored PIN, counting attempts as CTAP 2.1 §6.5.5.5 does.
    fn verify_pin_hash(
        &mut self,
        protocol: PinProtocol,
        shared: &[u8],
        pin_hash_enc: &[u8],
    ) -> Result<(), CtapStatus> {
        let Some(record) = self.state.pin.clone() else {
            return Err(CtapStatus::PinNotSet);
        };
        if self.state.pin_retries == 0 {
            return Err(CtapStatus::PinBlocked);
        }
        if self.state.pin_failures_since_power_up >= PIN_ATTEMPTS_BEFORE_POWER_CYCLE {
            return Err(CtapStatus::PinAuthBlocked);
        }
        if self.state.knobs.refuse_pin {
            return Err(CtapStatus::PinInvalid);
        }
        let given = protocol
            .decrypt(shared, pin_hash_enc)
            .ok_or(CtapStatus::PinAuthInvalid)?;
        if given.len() == 16 && *given == *record.hash {
            self.state.pin_retries = MAX_PIN_RETRIES;
            self.state.pin_failures_since_power_up = 0;
            self.persist()?;
            return Ok(());
        }
        // A wrong PIN also changes the key-agreement key, so a replay learns nothing.
        self.key_agreement = KeyAgreement::new();
        self.state.pin_retries -= 1;
        self.state.pin_failures_since_power_up += 1;
        self.persist()?;
        if self.state.pin_retries == 0 {
            Err(CtapStatus::PinBlocked)
        } else if self.state.pin_failures_since_power_up >= PIN_ATTEMPTS_BEFORE_POWER_CYCLE {
            Err(CtapStatus::PinAuthBlocked)
        } else {
            Err(CtapStatus::PinInvalid)
        }
    }

    fn change_pin(&mut self, protocol: PinProtocol, req: &ClientPinRequest) -> Reply {
        let (Some(param), Some(enc), Some(hash_enc)) =
            (&req.pin_uv_auth_param, &req.new_pin_enc, &req.pin_hash_enc)
        else {
            return Err(CtapStatus::MissingParameter);
        };
        if self.state.pin.is_none() {
            return Err(CtapStatus::PinNotSet);
        }
        let shared = self.shared_secret(protocol, req)?;
        if !protocol.verify(&shared, &[enc.as_slice(), hash_enc].concat(), param) {
            return Err(CtapStatus::PinAuthInvalid);
        }
        self.verify_pin_hash(protocol, &shared, hash_enc)?;
        let pin = self.new_pin(protocol, &shared, enc)?;
        let same = self
            .state
            .pin
            .as_ref()
            .is_some_and(|r| *crate::device::ctap2::pin_protocol::pin_hash(&pin) == *r.hash);
        if self.state.force_pin_change && same {
            return Err(CtapStatus::PinPolicyViolation);
        }
        self.store_pin(&pin);
        self.state.force_pin_change = false;
        // A new PIN invalidates every token, as on a real key.
        self.token = None;
        self.persist()?;
        empty()
    }

    fn get_token(
        &mut self,
        protocol: PinProtocol,
        req: &ClientPinRequest,
        with_permissions: bool,
    ) -> Reply {
        let Some(hash_enc) = &req.pin_hash_enc else {
            return Err(CtapStatus::MissingParameter);
        };
        let permissions = if with_permissions {
            let p = req.permissions.ok_or(CtapStatus::MissingParameter)?;
            if p == 0 {
                return Err(CtapStatus::InvalidParameter);
            }
            let offered = Permission::MAKE_CREDENTIAL
                | Permission::GET_ASSERTION
                | Permission::CREDENTIAL_MANAGEMENT
                | Permission::AUTHENTICATOR_CONFIG;
            if p & !offered != 0 {
                return Err(CtapStatus::UnauthorizedPermission);
            }
            p
        } else {
            if req.permissions.is_some() || req.rp_id.is_some() {
                return Err(CtapStatus::InvalidParameter);
            }
            // §6.5.5.7.1: getPinToken grants the CTAP 2.0 rights, mc and ga.
            Permission::MAKE_CREDENTIAL | Permission::GET_ASSERTION
        };
        let shared = self.shared_secret(protocol, req)?;
        self.verify_pin_hash(protocol, &shared, hash_enc)?;
        if self.state.force_pin_change {
            return Err(CtapStatus::PinPolicyViolation);
        }
        let secret = Zeroizing::new(att::random_bytes::<32>().to_vec());
        let enc = protocol.encrypt(&shared, &secret);
        self.token = Some(Token {
            secret,
            protocol,
            permissions,
            rp_id: if with_permissions {
                req.rp_id.clone()
            } else {
                None
            },
            issued: Instant::now(),
            used: false,
        });
        ok(ClientPinResponse {
            pin_uv_auth_token: Some(enc),
            ..Default::default()
        }
        .encode())
    }

    /// Check a pinUvAuthParam made with the current token for `permission` (and `rp_id`).
    fn check_token(
        &mut self,
        protocol: Option<u64>,
        param: &[u8],
        message: &[u8],
        permission: u8,
        rp_id: Option<&str>,
    ) -> Result<(), CtapStatus> {
        let protocol = self.pin_protocol(protocol)?;
        let Some(token) = self.token.as_mut() else {
            return Err(CtapStatus::PinAuthInvalid);
        };
        let age = token.issued.elapsed();
        if age > TOKEN_MAX_USAGE || (!token.used && age > TOKEN_INITIAL_USAGE) {
            self.token = None;
            return Err(CtapStatus::PinAuthInvalid);
        }
        if token.protocol != protocol || !protocol.verify(&token.secret, message, param) {
            return Err(CtapStatus::PinAuthInvalid);
        }
        if token.permissions & permission == 0 {
            return Err(CtapStatus::PinAuthInvalid);
        }
        if let Some(rp) = rp_id {
            match &token.rp_id {
                Some(bound) if bound != rp => return Err(CtapStatus::PinAuthInvalid),
                Some(_) => {}
                None => token.rp_id = Some(rp.to_string()),
            }
        }
        token.used = true;
        Ok(())
    }

    /// After a touch, a token keeps no mc/ga rights (§6.1.2 step 14, §6.2.2):
    /// clearPinUvAuthTokenPermissionsExceptLbw.
    fn spend_token_touch(&mut self) {
        if let Some(t) = self.token.as_mut() {
            t.permissions &= Permission::LARGE_BLOB_WRITE;
        }
    }

    /// A zero-length pinUvAuthParam asks "is a PIN set?" after a touch (§6.1.2 step 1).
    fn touch_probe(&mut self) -> Reply {
        self.touch()?;
        Err(if self.state.pin.is_some() {
            CtapStatus::PinInvalid
        } else {
            CtapStatus::PinNotSet
        })
    }

    // --- credentials -----------------------------------------------------------------------

    /// The credential `id` for an RP: its private key, credProtect level and slot.
    fn find_credential(&self, rp_id: &str, id: &[u8]) -> Option<(Vec<u8>, u8, Option<usize>)> {
        if let Some(i) = self
            .state
            .credentials
            .iter()
            .position(|c| c.id == id && c.rp_id == rp_id)
        {
            let c = &self.state.credentials[i];
            return Some((c.private_key.clone(), c.cred_protect, Some(i)));
        }
        credential::unwrap(&self.state.wrap_key, &sha256(rp_id.as_bytes()), id)
            .map(|(k, level)| (k, level, None))
    }

    fn make_credential(&mut self, params: &[u8]) -> Reply {
        let p = make_credential::decode_request(params).map_err(missing_or_invalid)?;
        if !p.algorithms.contains(&make_credential::ES256) {
            return Err(CtapStatus::UnsupportedAlgorithm);
        }
        if p.pin_uv_auth_param.as_deref() == Some(&[][..]) {
            return self.touch_probe();
        }
        if p.uv_option == Some(true) || p.up_option == Some(false) {
            return Err(CtapStatus::InvalidOption);
        }
        let ctap21 = self.profile().is_ctap21();
        let pin_set = self.state.pin.is_some();
        let uv = match &p.pin_uv_auth_param {
            Some(param) => {
                if !pin_set {
                    return Err(CtapStatus::PinNotSet);
                }
                self.check_token(
                    p.protocol,
                    param,
                    &p.client_data_hash,
                    Permission::MAKE_CREDENTIAL,
                    Some(&p.rp_id),
                )?;
                true
            }
            None => {
                // makeCredUvNotRqd (2.1 only): non-discoverable credentials need no PIN.
                if pin_set && (p.rk || !ctap21 || self.state.always_uv) {
                    return Err(CtapStatus::PuatRequired);
                }
                false
            }
        };
        let rp_hash = sha256(p.rp_id.as_bytes());
        for id in &p.exclude {
            if let Some((_, level, _)) = self.find_credential(&p.rp_id, id) {
                // A credential that needs UV to be seen stays hidden without it.
                if level < 3 || uv {
                    self.touch()?;
                    return Err(CtapStatus::CredentialExcluded);
                }
            }
        }
        let replaces = self
            .state
            .credentials
            .iter()
            .position(|c| c.rp_id == p.rp_id && c.user_id == p.user_id);
        if p.rk && replaces.is_none() && self.state.credentials.len() as u32 >= self.state.slots {
            return Err(CtapStatus::KeyStoreFull);
        }
        let level = match p.cred_protect {
            Some(l @ 1..=3) if ctap21 => l,
            Some(_) if ctap21 => return Err(CtapStatus::InvalidOption),
            _ => 1,
        };
        self.touch()?;
        if uv {
            self.spend_token_touch();
        }

        let private = att::new_private_key();
        let id = if p.rk {
            credential::new_resident_id()
        } else {
            credential::wrap(&self.state.wrap_key, &rp_hash, level, &private)
                .map_err(|m| self.internal(m))?
        };
        let cose = att::cose_public_key(&private).map_err(|m| self.internal(m))?;
        let aaguid = self.profile().aaguid().unwrap_or_default();
        let claimed_aaguid = if self.state.knobs.attestation_wrong_aaguid {
            Uuid::from_bytes(att::random_bytes::<16>())
        } else {
            aaguid
        };
        let mut ext = Vec::new();
        if ctap21 && p.cred_protect.is_some() {
            ext.push(("credProtect", int(i64::from(level))));
        }
        if ctap21 && p.min_pin_length_ext && self.state.min_pin_length_rp_ids.contains(&p.rp_id) {
            ext.push(("minPinLength", int(i64::from(self.state.min_pin_length))));
        }
        let auth_data = AuthData {
            rp_id_hash: rp_hash,
            flags: Flags::UP | if uv { Flags::UV } else { 0 },
            sign_count: 0,
            attested: Some(AttestedCredential {
                aaguid: claimed_aaguid,
                credential_id: id.clone(),
                public_key: cose,
            }),
            extensions: (!ext.is_empty()).then(|| crate::device::ctap2::encode(&text_map(ext))),
        }
        .build();
        let cdh: [u8; 32] = p
            .client_data_hash
            .as_slice()
            .try_into()
            .map_err(|_| CtapStatus::InvalidParameter)?;
        let statement = self.packed_statement(aaguid, &auth_data, &cdh)?;

        if p.rk {
            let cred = ResidentCredential {
                id: id.clone(),
                rp_id: p.rp_id.clone(),
                rp_name: p.rp_name.clone(),
                user_id: p.user_id.clone(),
                user_name: p.user_name.clone(),
                user_display_name: p.user_display_name.clone(),
                private_key: private,
                sign_count: 0,
                cred_protect: level,
            };
            // The replacement is the newest credential now.
            if let Some(i) = replaces {
                self.state.credentials.remove(i);
            }
            self.state.credentials.push(cred);
        } else {
            self.state.counters.insert(credential::counter_key(&id), 0);
        }
        self.persist()?;
        ok(make_credential::encode_response(
            "packed", &auth_data, statement,
        ))
    }

    fn packed_statement(
        &self,
        aaguid: Uuid,
        auth_data: &[u8],
        cdh: &[u8; 32],
    ) -> Result<Value, CtapStatus> {
        let a = &self.state.attestation;
        let fail = |m: String| self.internal(m);
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
        att::packed_statement(&leaf_key, &leaf_cert, auth_data, cdh).map_err(fail)
    }

    fn get_assertion(&mut self, params: &[u8]) -> Reply {
        let p = get_assertion::decode_request(params).map_err(missing_or_invalid)?;
        if p.pin_uv_auth_param.as_deref() == Some(&[][..]) {
            return self.touch_probe();
        }
        if p.rk_option.is_some() {
            return Err(CtapStatus::UnsupportedOption);
        }
        if p.uv_option == Some(true) {
            return Err(CtapStatus::InvalidOption);
        }
        let uv = match &p.pin_uv_auth_param {
            Some(param) => {
                if self.state.pin.is_none() {
                    return Err(CtapStatus::PinNotSet);
                }
                self.check_token(
                    p.protocol,
                    param,
                    &p.client_data_hash,
                    Permission::GET_ASSERTION,
                    Some(&p.rp_id),
                )?;
                true
            }
            None => {
                if self.state.pin.is_some() && self.state.always_uv {
                    return Err(CtapStatus::PuatRequired);
                }
                false
            }
        };
        let up = p.up_option != Some(false);
        // Newest first: discoverable credentials are stored oldest first.
        let ids: Vec<Vec<u8>> = if p.allow.is_empty() {
            self.state
                .credentials
                .iter()
                .rev()
                .filter(|c| c.rp_id == p.rp_id && (c.cred_protect < 2 || uv))
                .map(|c| c.id.clone())
                .collect()
        } else {
            p.allow
                .iter()
                .filter(|id| {
                    self.find_credential(&p.rp_id, id)
                        .is_some_and(|(_, level, _)| level < 3 || uv)
                })
                .take(1)
                .cloned()
                .collect()
        };
        if ids.is_empty() {
            return Err(CtapStatus::NoCredentials);
        }
        if up {
            self.touch()?;
            if uv {
                self.spend_token_touch();
            }
        }
        let flags = if up { Flags::UP } else { 0 } | if uv { Flags::UV } else { 0 };
        let total = ids.len() as u32;
        let discoverable = p.allow.is_empty();
        let mut queue = AssertionQueue {
            rp_id: p.rp_id,
            client_data_hash: p.client_data_hash,
            flags,
            user_details: uv,
            ids,
            at: Instant::now(),
        };
        let first = queue.ids.remove(0);
        let body =
            self.sign_assertion(&queue, &first, (discoverable && total > 1).then_some(total))?;
        if !queue.ids.is_empty() {
            self.queue = Some(queue);
        }
        ok(body)
    }

    fn get_next_assertion(&mut self) -> Reply {
        let Some(mut queue) = self.queue.take() else {
            return Err(CtapStatus::NotAllowed);
        };
        if queue.at.elapsed() > ITERATION_TIMEOUT || queue.ids.is_empty() {
            return Err(CtapStatus::NotAllowed);
        }
        let next = queue.ids.remove(0);
        queue.at = Instant::now();
        let body = self.sign_assertion(&queue, &next, None)?;
        if !queue.ids.is_empty() {
            self.queue = Some(queue);
        }
        ok(body)
    }

    fn sign_assertion(
        &mut self,
        q: &AssertionQueue,
        id: &[u8],
        number_of_credentials: Option<u32>,
    ) -> Reply {
        let (private, _, resident) = self
            .find_credential(&q.rp_id, id)
            .ok_or(CtapStatus::NoCredentials)?;
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
                    .entry(credential::counter_key(id))
                    .or_insert(0);
                *c = c.saturating_add(1);
                *c
            }
        };
        self.persist()?;
        let auth_data = AuthData {
            rp_id_hash: sha256(q.rp_id.as_bytes()),
            flags: q.flags,
            sign_count: count,
            attested: None,
            extensions: None,
        }
        .build();
        let mut signed = [auth_data.as_slice(), &q.client_data_hash].concat();
        if self.state.knobs.bad_assertion_signature {
            // A well-formed signature over the wrong bytes: only verification can tell.
            if let Some(last) = signed.last_mut() {
                *last ^= 0xFF;
            }
        }
        let signature = att::sign(&private, &signed).map_err(|m| self.internal(m))?;
        // §6.2.2 step 12: name and displayName only after user verification.
        let user = resident.map(|i| {
            let c = &self.state.credentials[i];
            let mut u = vec![("id", Value::Bytes(c.user_id.clone()))];
            if q.user_details {
                if let Some(n) = &c.user_name {
                    u.push(("name", text(n)));
                }
                if let Some(d) = &c.user_display_name {
                    u.push(("displayName", text(d)));
                }
            }
            text_map(u)
        });
        ok(get_assertion::Response {
            credential_id: id,
            auth_data: &auth_data,
            signature: &signature,
            user,
            number_of_credentials,
        }
        .encode())
    }

    fn reset(&mut self) -> Reply {
        let since = state::now_ms().saturating_sub(self.state.powered_up_ms);
        if since > RESET_WINDOW_MS {
            return Err(CtapStatus::NotAllowed);
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
        self.token = None;
        self.key_agreement = KeyAgreement::new();
        self.persist()?;
        empty()
    }

    // --- credential management ---------------------------------------------------------------

    fn credential_management(&mut self, params: &[u8]) -> Reply {
        let req = cm::Request::decode(params).map_err(missing_or_invalid)?;
        let sub = cm::SubCommand::from_number(u64::from(req.sub_command))
            .ok_or(CtapStatus::InvalidSubcommand)?;
        if sub.needs_auth() {
            if self.state.pin.is_none() {
                return Err(CtapStatus::PinNotSet);
            }
            let param = req
                .pin_uv_auth_param
                .as_deref()
                .ok_or(CtapStatus::PuatRequired)?;
            let msg = cm::auth_message(req.sub_command, req.params.as_ref());
            self.check_token(
                req.protocol.map(u64::from),
                param,
                &msg,
                Permission::CREDENTIAL_MANAGEMENT,
                None,
            )?;
        }
        if !matches!(
            sub,
            cm::SubCommand::EnumerateRpsGetNextRp
                | cm::SubCommand::EnumerateCredentialsGetNextCredential
        ) {
            self.iteration = None;
        }
        let params = req.params.unwrap_or_default();
        match sub {
            cm::SubCommand::GetCredsMetadata => {
                let existing = self.state.credentials.len() as u32;
                let mut m = CborMap::new();
                m.insert(int(cmr::EXISTING_COUNT), int(i64::from(existing)));
                m.insert(
                    int(cmr::REMAINING_COUNT),
                    int(i64::from(self.state.slots.saturating_sub(existing))),
                );
                ok(encode_map(m))
            }
            cm::SubCommand::EnumerateRpsBegin => {
                let mut rps: Vec<Vec<u8>> = Vec::new();
                for c in &self.state.credentials {
                    if !rps.contains(&c.rp_id.as_bytes().to_vec()) {
                        rps.push(c.rp_id.as_bytes().to_vec());
                    }
                }
                let (first, total) = self.begin_listing(Listing::Rps, rps)?;
                ok(self.rp_entry(&String::from_utf8_lossy(&first), Some(total)))
            }
            cm::SubCommand::EnumerateRpsGetNextRp => {
                let next = self.next_in_listing(Listing::Rps)?;
                ok(self.rp_entry(&String::from_utf8_lossy(&next), None))
            }
            cm::SubCommand::EnumerateCredentialsBegin => {
                let hash = params
                    .bytes(cm::PARAM_RP_ID_HASH)
                    .ok_or(CtapStatus::MissingParameter)?;
                let ids: Vec<Vec<u8>> = self
                    .state
                    .credentials
                    .iter()
                    .filter(|c| sha256(c.rp_id.as_bytes()) == hash)
                    .map(|c| c.id.clone())
                    .collect();
                let (first, total) = self.begin_listing(Listing::Credentials, ids)?;
                self.credential_entry(&first, Some(total))
            }
            cm::SubCommand::EnumerateCredentialsGetNextCredential => {
                let next = self.next_in_listing(Listing::Credentials)?;
                self.credential_entry(&next, None)
            }
            cm::SubCommand::DeleteCredential => {
                let id = credential_param(&params)?;
                let before = self.state.credentials.len();
                self.state.credentials.retain(|c| c.id != id);
                if self.state.credentials.len() == before {
                    return Err(CtapStatus::NoCredentials);
                }
                self.persist()?;
                empty()
            }
            cm::SubCommand::UpdateUserInformation => {
                let id = credential_param(&params)?;
                let user = params
                    .map_at(cm::PARAM_USER)
                    .ok_or(CtapStatus::MissingParameter)?;
                let cred = self
                    .state
                    .credentials
                    .iter_mut()
                    .find(|c| c.id == id)
                    .ok_or(CtapStatus::NoCredentials)?;
                if user.field_bytes("id") != Some(cred.user_id.as_slice()) {
                    return Err(CtapStatus::InvalidParameter);
                }
                // §6.8.7: absent fields are removed.
                cred.user_name = user.field_text("name").map(str::to_string);
                cred.user_display_name = user.field_text("displayName").map(str::to_string);
                self.persist()?;
                empty()
            }
        }
    }

    /// The first item of a new enumeration and how many there are; the rest wait for "next".
    fn begin_listing(
        &mut self,
        listing: Listing,
        mut items: Vec<Vec<u8>>,
    ) -> Result<(Vec<u8>, usize), CtapStatus> {
        if items.is_empty() {
            return Err(CtapStatus::NoCredentials);
        }
        let total = items.len();
        let first = items.remove(0);
        self.iteration = Some(Iteration {
            listing,
            rest: items,
            at: Instant::now(),
        });
        Ok((first, total))
    }

    /// The next item of the running enumeration: NOT_ALLOWED when there is none (§6.8.3).
    fn next_in_listing(&mut self, listing: Listing) -> Result<Vec<u8>, CtapStatus> {
        let it = self
            .iteration
            .as_mut()
            .filter(|it| it.listing == listing && it.at.elapsed() <= ITERATION_TIMEOUT)
            .ok_or(CtapStatus::NotAllowed)?;
        if it.rest.is_empty() {
            return Err(CtapStatus::NotAllowed);
        }
        it.at = Instant::now();
        Ok(it.rest.remove(0))
    }

    fn rp_entry(&self, rp_id: &str, total: Option<usize>) -> Vec<u8> {
        let name = self
            .state
            .credentials
            .iter()
            .find(|c| c.rp_id == rp_id)
            .and_then(|c| c.rp_name.clone());
        let mut rp = vec![("id", text(rp_id))];
        if let Some(n) = name {
            rp.push(("name", text(&n)));
        }
        let mut m = CborMap::new();
        m.insert(int(cmr::RP), text_map(rp));
        m.insert(
            int(cmr::RP_ID_HASH),
            Value::Bytes(sha256(rp_id.as_bytes()).to_vec()),
        );
        if let Some(t) = total {
            m.insert(int(cmr::TOTAL_RPS), int(t as i64));
        }
        encode_map(m)
    }

    fn credential_entry(&self, id: &[u8], total: Option<usize>) -> Reply {
        let c = self
            .state
            .credentials
            .iter()
            .find(|c| c.id == id)
            .ok_or(CtapStatus::NoCredentials)?;
        let mut user = vec![("id", Value::Bytes(c.user_id.clone()))];
        if let Some(n) = &c.user_name {
            user.push(("name", text(n)));
        }
        if let Some(d) = &c.user_display_name {
            user.push(("displayName", text(d)));
        }
        let cose = att::cose_public_key(&c.private_key).map_err(|m| self.internal(m))?;
        let cose: Value = serde_cbor_2::from_slice(&cose).map_err(|_| CtapStatus::Other)?;
        let mut m = CborMap::new();
        m.insert(int(cmr::USER), text_map(user));
        m.insert(
            int(cmr::CREDENTIAL_ID),
            crate::device::ctap2::text_map(vec![
                ("id", Value::Bytes(c.id.clone())),
                ("type", text("public-key")),
            ]),
        );
        m.insert(int(cmr::PUBLIC_KEY), cose);
        if let Some(t) = total {
            m.insert(int(cmr::TOTAL_CREDENTIALS), int(t as i64));
        }
        m.insert(int(cmr::CRED_PROTECT), int(i64::from(c.cred_protect)));
        ok(encode_map(m))
    }

    // --- authenticatorConfig -----------------------------------------------------------------

    fn config(&mut self, params: &[u8]) -> Reply {
        let req = config::Request::decode(params).map_err(missing_or_invalid)?;
        if self.state.pin.is_some() {
            let param = req
                .pin_uv_auth_param
                .as_deref()
                .ok_or(CtapStatus::PuatRequired)?;
            let msg = config::auth_message(req.sub_command, req.params.as_ref());
            self.check_token(
                req.protocol.map(u64::from),
                param,
                &msg,
                Permission::AUTHENTICATOR_CONFIG,
                None,
            )?;
        }
        match req.sub_command {
            s if s == config::SubCommand::ToggleAlwaysUv as u8 => {
                self.state.always_uv = !self.state.always_uv;
                self.persist()?;
                empty()
            }
            s if s == config::SubCommand::SetMinPinLength as u8 => {
                self.set_min_pin_length(&req.params.unwrap_or_default())
            }
            _ => Err(CtapStatus::InvalidSubcommand),
        }
    }

    fn set_min_pin_length(&mut self, params: &CborMap) -> Reply {
        let new_min = params
            .uint(config::PARAM_NEW_MIN_PIN_LENGTH)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        let force = params.bool_at(config::PARAM_FORCE_CHANGE_PIN) == Some(true);
        if force && self.state.pin.is_none() {
            return Err(CtapStatus::PinNotSet);
        }
        if let Some(n) = new_min {
            if n < self.state.min_pin_length || n as usize > MAX_PIN_BYTES {
                return Err(CtapStatus::PinPolicyViolation);
            }
        }
        let rp_ids: Option<Vec<String>> =
            params
                .array_at(config::PARAM_MIN_PIN_LENGTH_RP_IDS)
                .map(|a| {
                    a.iter()
                        .filter_map(crate::device::ctap2::cbor_text)
                        .collect()
                });
        if let Some(n) = new_min {
            self.state.min_pin_length = n;
            // A PIN shorter than the new minimum must be changed before the next use.
            if self.state.pin.as_ref().is_some_and(|p| p.code_points < n) {
                self.state.force_pin_change = true;
            }
        }
        if let Some(r) = rp_ids {
            self.state.min_pin_length_rp_ids = r;
        }
        if force {
            self.state.force_pin_change = true;
        }
        self.persist()?;
        empty()
    }
}

fn credential_param(params: &CborMap) -> Result<Vec<u8>, CtapStatus> {
    params
        .map_at(cm::PARAM_CREDENTIAL_ID)
        .and_then(|d| d.field_bytes("id"))
        .map(<[u8]>::to_vec)
        .ok_or(CtapStatus::MissingParameter)
}
