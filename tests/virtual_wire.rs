//! The virtual key on the wire: `keyward virtual serve FILE --stdio` answers raw CTAPHID reports,
//! and keyward's own CTAP host drives it through that bridge exactly as it drives a USB key.

mod common;

use common::Sandbox;
use keyward::device::transport::{Transport, PACKET};
use keyward::device::{
    AssertionRequest, Authenticator, Backend, CtapKey, DeviceDescriptor, DeviceError,
    MakeCredentialRequest,
};
use keyward::pin::Pin;
use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Instant;

/// Reports to the child's stdin, reports from its stdout (read on a thread, so reads can time out).
struct ChildTransport {
    stdin: Option<ChildStdin>,
    from_key: Receiver<[u8; PACKET]>,
}

impl ChildTransport {
    fn new(child: &mut Child) -> ChildTransport {
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut p = [0u8; PACKET];
            while stdout.read_exact(&mut p).is_ok() {
                if tx.send(p).is_err() {
                    break;
                }
            }
        });
        ChildTransport {
            stdin: child.stdin.take(),
            from_key: rx,
        }
    }
}

impl Transport for ChildTransport {
    fn write_packet(&mut self, packet: &[u8; PACKET]) -> Result<(), DeviceError> {
        let w = self.stdin.as_mut().ok_or(DeviceError::Disconnected)?;
        w.write_all(packet)
            .and_then(|_| w.flush())
            .map_err(|_| DeviceError::Disconnected)
    }
    fn read_packet(&mut self, deadline: Instant) -> Result<Option<[u8; PACKET]>, DeviceError> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.from_key.recv_timeout(left) {
            Ok(p) => Ok(Some(p)),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(_) => Err(DeviceError::Disconnected),
        }
    }
}

fn serve(sb: &Sandbox, file: &str) -> Child {
    sb.cmd()
        .args(["virtual", "serve", file, "--stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn descriptor(file: &str) -> DeviceDescriptor {
    DeviceDescriptor {
        spec: format!("bridge:{file}"),
        backend: Backend::Hid,
        vendor_id: None,
        product_id: None,
        manufacturer: None,
        product: None,
        serial: None,
    }
}

fn mc(user: &str, discoverable: bool) -> MakeCredentialRequest {
    MakeCredentialRequest {
        client_data_hash: [3; 32],
        rp_id: "example.com".into(),
        rp_name: Some("Example".into()),
        user_id: user.as_bytes().to_vec(),
        user_name: user.into(),
        user_display_name: None,
        discoverable,
        user_verification: true,
        exclude_credentials: Vec::new(),
    }
}

#[test]
fn our_host_drives_the_served_key_over_stdio_and_the_file_keeps_the_result() {
    let sb = Sandbox::new();
    let dev = sb.virtual_key("k.key", "ctap21");
    let file = dev.trim_start_matches("virtual:").to_string();
    let mut child = serve(&sb, &file);
    let transport = ChildTransport::new(&mut child);
    let mut key = CtapKey::open(Box::new(transport), descriptor(&file)).unwrap();

    let info = key.info().unwrap();
    assert!(info.supports_ctap21());
    assert_eq!(info.pin_uv_protocols, [2, 1]);
    key.set_pin(&Pin::new("48213579")).unwrap();
    assert!(matches!(
        key.unlock(&Pin::new("00000000")),
        Err(DeviceError::PinInvalid {
            retries_left: Some(7)
        })
    ));
    key.unlock(&Pin::new("48213579")).unwrap();
    let older = key.make_credential(&mc("ana", true)).unwrap();
    let newer = key.make_credential(&mc("bob", true)).unwrap();
    assert!(older.user_verified && newer.user_verified);
    // Without an allow list: every passkey of the RP, newest first (getNextAssertion).
    let all = key
        .get_assertions(&AssertionRequest {
            client_data_hash: [4; 32],
            rp_id: "example.com".into(),
            allow_credentials: Vec::new(),
            user_verification: true,
        })
        .unwrap();
    let ids: Vec<_> = all.iter().map(|a| a.credential_id.clone()).collect();
    assert_eq!(
        ids,
        [newer.credential_id.clone(), older.credential_id.clone()]
    );
    assert_eq!(all[0].user_id.as_deref(), Some(&b"bob"[..]));
    let listed = key.list_credentials().unwrap();
    assert_eq!(listed[0].credentials.len(), 2);
    key.update_user_information(&older.credential_id, b"ana", Some("ana@new"), None)
        .unwrap();
    drop(key);

    // stdin closed: the key stops; the PIN crossed the wire only encrypted.
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains("48213579"), "PIN leaked: {stderr}");
    let file_text = std::fs::read_to_string(&file).unwrap();
    assert!(!file_text.contains("48213579"), "PIN in the key file");
    let r = sb.run_pins(
        &["--json", "key", "credentials", "list", "--device", &dev],
        &["48213579"],
    );
    let names = r.ok().stdout;
    assert!(
        names.contains("ana@new") && names.contains("bob"),
        "{names}"
    );
}

#[test]
fn the_bridge_writes_whole_reports_only_and_a_u2f_key_has_no_cbor() {
    let sb = Sandbox::new();
    let dev = sb.virtual_key("u.key", "u2f");
    let file = dev.trim_start_matches("virtual:").to_string();
    let mut child = serve(&sb, &file);
    let mut init = [0u8; PACKET];
    init[..4].copy_from_slice(&[0xFF; 4]);
    init[4] = 0x86;
    init[6] = 8;
    init[7..15].copy_from_slice(b"nonce-01");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&init).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), PACKET, "one INIT answer and nothing else");
    let r = &out.stdout;
    assert_eq!((&r[..4], r[4]), (&[0xFF; 4][..], 0x86));
    assert_eq!(&r[7..15], b"nonce-01");
    // Capabilities: WINK, no CBOR (a U2F-only key).
    assert_eq!(r[7 + 16] & 0x04, 0);
    assert_eq!(r[7 + 16] & 0x01, 0x01);
}
