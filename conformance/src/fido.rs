//! fido-authenticator (the CTAP application of Nitrokey 3 and Solo 2 keys) running in process
//! on trussed's virtual platform, reachable only through 64-byte CTAPHID reports.
//!
//! The key runs on a thread of its own: trussed's virtual platform lives inside a closure, so
//! the key is that closure looping over reports from a channel. Dropping the [`FidoKey`] closes
//! the channel and the thread ends, which is an unplug.

use crate::ctaphid_device::{
    Application, CtapHidDevice, CMD_CBOR, ERR_INVALID_CMD, ERR_INVALID_LEN, ERR_OTHER, MAX_MESSAGE,
    PACKET,
};
use ctaphid_app::{App, Command, Error as AppError};
use fido_authenticator::{Authenticator, Config, Conforming};
use heapless_bytes::Bytes;
use littlefs2::path;
use serde_cbor_2::Value;
use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use trussed::backend::BackendId;
use trussed::platform::Platform as _;
use trussed::store::Store as _;
use trussed::virt::{self, StoreConfig, UptimeOffset};
use trussed_staging::virt::{BackendIds, Dispatcher};

/// Test attestation identity, made by `tests/data/make-attestation.sh` (ours, test-only).
pub const ATTESTATION_CERT: &[u8] = include_bytes!("../tests/data/attestation-cert.der");
pub const ATTESTATION_CA: &[u8] = include_bytes!("../tests/data/attestation-ca.der");
const ATTESTATION_KEY: &[u8; 32] = include_bytes!("../tests/data/attestation-key.raw");
/// The AAGUID in the certificate's FIDO extension, which fido-authenticator reports.
pub const AAGUID: &[u8; 16] = b"keyward-conform.";

const STOPPED: &str = "the fido-authenticator thread has stopped";

/// What the key reports as its largest message (getInfo maxMsgSize).
const MAX_MSG_SIZE: usize = 3072;

/// A running fido-authenticator behind CTAPHID.
pub struct FidoKey {
    to_key: Option<Sender<[u8; PACKET]>>,
    /// One batch per report sent: everything the key answered to it, possibly nothing.
    from_key: Receiver<Vec<[u8; PACKET]>>,
    pending: VecDeque<[u8; PACKET]>,
    uptime: UptimeOffset,
    seen: PinProtocolsSeen,
    thread: Option<JoinHandle<()>>,
}

/// The pinUvAuthProtocol of every clientPIN request the key received, in order.
pub type PinProtocolsSeen = Arc<Mutex<Vec<u64>>>;

impl FidoKey {
    /// Power up a fresh key: empty storage plus the attestation key and certificate.
    pub fn start() -> FidoKey {
        FidoKey::start_with(false)
    }

    /// As [`start`](Self::start), but getInfo offers only PIN/UV auth protocol 1, so a host
    /// must use it (fido-authenticator implements both; only the advertisement is narrowed).
    pub fn start_offering_pin_protocol_1_only() -> FidoKey {
        FidoKey::start_with(true)
    }

    fn start_with(only_protocol_1: bool) -> FidoKey {
        let (to_key, key_in) = mpsc::channel::<[u8; PACKET]>();
        let (key_out, from_key) = mpsc::channel::<Vec<[u8; PACKET]>>();
        let (uptime_tx, uptime_rx) = mpsc::channel();
        let seen = PinProtocolsSeen::default();
        let thread = std::thread::Builder::new()
            .name("fido-authenticator".into())
            // fido-authenticator is firmware: it keeps large request/response buffers on the stack.
            .stack_size(16 * 1024 * 1024)
            .spawn({
                let seen = seen.clone();
                move || {
                    run(
                        key_in,
                        key_out,
                        uptime_tx,
                        Intercept {
                            only_protocol_1,
                            seen,
                        },
                    )
                }
            })
            .expect("spawn the fido-authenticator thread");
        let uptime = uptime_rx
            .recv()
            .expect("fido-authenticator started its virtual platform");
        FidoKey {
            to_key: Some(to_key),
            from_key,
            pending: VecDeque::new(),
            uptime,
            seen,
            thread: Some(thread),
        }
    }

    pub fn write_packet(&self, packet: &[u8; PACKET]) -> Result<(), String> {
        self.to_key
            .as_ref()
            .expect("open until dropped")
            .send(*packet)
            .map_err(|_| STOPPED.to_string())
    }

    /// The next report from the key, or None when `deadline` passes first.
    pub fn read_packet(&mut self, deadline: Instant) -> Result<Option<[u8; PACKET]>, String> {
        while self.pending.is_empty() {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.from_key.recv_timeout(wait) {
                Ok(batch) => self.pending.extend(batch),
                Err(RecvTimeoutError::Timeout) => return Ok(None),
                Err(RecvTimeoutError::Disconnected) => return Err(STOPPED.into()),
            }
        }
        Ok(self.pending.pop_front())
    }

    /// Send one report and take exactly what the key answers to it (often nothing, e.g. for
    /// a continuation packet that does not yet complete a message).
    pub fn exchange(&mut self, packet: &[u8; PACKET]) -> Result<Vec<[u8; PACKET]>, String> {
        self.write_packet(packet)?;
        let mut out: Vec<_> = self.pending.drain(..).collect();
        out.extend(self.from_key.recv().map_err(|_| STOPPED.to_string())?);
        Ok(out)
    }

    /// Which PIN/UV auth protocols the host's clientPIN requests have used so far.
    pub fn pin_protocols_seen(&self) -> PinProtocolsSeen {
        self.seen.clone()
    }

    /// The key's power-up clock, usable after the key itself has been handed to a host.
    pub fn clock(&self) -> KeyClock {
        KeyClock(self.uptime.clone())
    }
}

/// Time since the key was powered up, as fido-authenticator reads it (the reset window).
#[derive(Clone)]
pub struct KeyClock(UptimeOffset);

impl KeyClock {
    /// Make the key believe it has been powered up for `by` longer.
    pub fn advance(&self, by: Duration) {
        self.0.add(by);
    }
}

impl Drop for FidoKey {
    fn drop(&mut self) {
        self.to_key = None;
        if let Some(t) = self.thread.take() {
            // A panic inside the key has already been printed; the test using it has failed.
            let _ = t.join();
        }
    }
}

/// fido-authenticator as the application behind our CTAPHID layer.
struct FidoApp<A> {
    app: A,
    response: Box<Bytes<MAX_MESSAGE>>,
    intercept: Intercept,
}

/// What the harness watches or narrows between the host and fido-authenticator.
struct Intercept {
    only_protocol_1: bool,
    seen: PinProtocolsSeen,
}

const CTAP_GET_INFO: u8 = 0x04;
const CTAP_CLIENT_PIN: u8 = 0x06;

impl Intercept {
    fn request(&self, cmd: u8, request: &[u8]) {
        if cmd != CMD_CBOR || request.first() != Some(&CTAP_CLIENT_PIN) {
            return;
        }
        if let Ok(Value::Map(m)) = serde_cbor_2::from_slice::<Value>(&request[1..]) {
            if let Some(Value::Integer(p)) = m.get(&Value::Integer(1)) {
                self.seen.lock().expect("not poisoned").push(*p as u64);
            }
        }
    }

    fn response(&self, cmd: u8, request: &[u8], response: Vec<u8>) -> Vec<u8> {
        let is_info = cmd == CMD_CBOR && request.first() == Some(&CTAP_GET_INFO);
        if !self.only_protocol_1 || !is_info || response.first() != Some(&0) {
            return response;
        }
        let Ok(Value::Map(mut info)) = serde_cbor_2::from_slice::<Value>(&response[1..]) else {
            return response;
        };
        info.insert(Value::Integer(6), Value::Array(vec![Value::Integer(1)]));
        let mut out = vec![0];
        out.extend(serde_cbor_2::to_vec(&Value::Map(info)).expect("CBOR encodes"));
        out
    }
}

impl<A: App<'static>> Application for FidoApp<A> {
    fn call(&mut self, cmd: u8, request: &[u8]) -> Result<Vec<u8>, u8> {
        let command = Command::try_from(cmd).map_err(|_| ERR_INVALID_CMD)?;
        self.intercept.request(cmd, request);
        self.response.clear();
        match self.app.call(command, request, self.response.as_mut_view()) {
            Ok(()) => Ok(self
                .intercept
                .response(cmd, request, self.response.to_vec())),
            Err(AppError::InvalidCommand) => Err(ERR_INVALID_CMD),
            Err(AppError::InvalidLength) => Err(ERR_INVALID_LEN),
            Err(AppError::NoResponse) => Err(ERR_OTHER),
        }
    }
}

fn run(
    key_in: Receiver<[u8; PACKET]>,
    key_out: Sender<Vec<[u8; PACKET]>>,
    uptime_tx: Sender<UptimeOffset>,
    intercept: Intercept,
) {
    virt::with_platform(StoreConfig::ram(), |mut platform| {
        let _ = uptime_tx.send(platform.user_interface().uptime_offset());
        let store = platform.store();
        let ifs = store.ifs();
        ifs.create_dir_all(path!("fido/x5c"))
            .expect("create fido/x5c");
        ifs.create_dir_all(path!("fido/sec"))
            .expect("create fido/sec");
        ifs.write(path!("fido/x5c/00"), ATTESTATION_CERT)
            .expect("store attestation certificate");
        ifs.write(path!("fido/sec/00"), &trussed_p256_key(ATTESTATION_KEY))
            .expect("store attestation key");
        platform.run_client_with_backends(
            "fido",
            Dispatcher::default(),
            &[
                BackendId::Custom(BackendIds::StagingBackend),
                BackendId::Core,
            ],
            |client| {
                let mut config = Config::new(MAX_MSG_SIZE);
                config.max_resident_credential_count = Some(10);
                config.firmware_version = None;
                let mut app = FidoApp {
                    app: Authenticator::new(client, Conforming {}, config),
                    response: Box::new(Bytes::new()),
                    intercept,
                };
                let mut hid = CtapHidDevice::new();
                while let Ok(packet) = key_in.recv() {
                    hid.push(&packet, &mut app);
                    let batch = std::iter::from_fn(|| hid.pop()).collect();
                    if key_out.send(batch).is_err() {
                        return;
                    }
                }
            },
        )
    });
}

/// A P-256 private key in trussed's stored-key format: flags (u16 BE), kind (u16 BE), material.
fn trussed_p256_key(secret: &[u8; 32]) -> Vec<u8> {
    use trussed::key::{Flags, Key, Kind};
    let key = Key {
        flags: Flags::SENSITIVE,
        kind: Kind::P256,
        material: trussed::key::Material::try_from(&secret[..]).expect("32 bytes fit"),
    };
    key.serialize().to_vec()
}
