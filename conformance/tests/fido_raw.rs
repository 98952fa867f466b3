//! The in-process fido-authenticator answers raw CTAPHID reports: the harness itself works
//! before keyward's host is put in front of it.

use keyward_conformance::ctaphid_device::PACKET;
use keyward_conformance::fido::{FidoKey, AAGUID};
use serde_cbor_2::Value;
use std::time::{Duration, Instant};

fn read(key: &mut FidoKey) -> [u8; PACKET] {
    key.read_packet(Instant::now() + Duration::from_secs(10))
        .expect("key running")
        .expect("a report within 10 s")
}

/// Send one message and reassemble the answer: (command, payload).
fn exchange(key: &mut FidoKey, cid: u32, cmd: u8, payload: &[u8]) -> (u8, Vec<u8>) {
    let mut p = [0u8; PACKET];
    p[..4].copy_from_slice(&cid.to_be_bytes());
    p[4] = 0x80 | cmd;
    p[5..7].copy_from_slice(&(payload.len() as u16).to_be_bytes());
    let first = payload.len().min(57);
    p[7..7 + first].copy_from_slice(&payload[..first]);
    key.write_packet(&p).unwrap();
    for (seq, chunk) in payload[first..].chunks(59).enumerate() {
        let mut p = [0u8; PACKET];
        p[..4].copy_from_slice(&cid.to_be_bytes());
        p[4] = seq as u8;
        p[5..5 + chunk.len()].copy_from_slice(chunk);
        key.write_packet(&p).unwrap();
    }
    let r = read(key);
    assert_eq!(
        &r[..4],
        &cid.to_be_bytes(),
        "answer on the request's channel"
    );
    let len = usize::from(u16::from_be_bytes([r[5], r[6]]));
    let mut data = r[7..7 + len.min(57)].to_vec();
    let mut seq = 0;
    while data.len() < len {
        let c = read(key);
        assert_eq!(c[4], seq, "continuation packets in order");
        seq += 1;
        let take = (len - data.len()).min(59);
        data.extend_from_slice(&c[5..5 + take]);
    }
    (r[4] & 0x7F, data)
}

fn init(key: &mut FidoKey) -> u32 {
    let nonce = *b"kwnonce!";
    let (cmd, body) = exchange(key, 0xFFFF_FFFF, 0x06, &nonce);
    assert_eq!(cmd, 0x06);
    assert_eq!(&body[..8], &nonce);
    assert_eq!(body[12], 2, "CTAPHID protocol version 2");
    assert_ne!(body[16] & 0x04, 0, "CBOR capability");
    u32::from_be_bytes([body[8], body[9], body[10], body[11]])
}

#[test]
fn get_info_over_raw_reports() {
    let mut key = FidoKey::start();
    let cid = init(&mut key);
    let (cmd, body) = exchange(&mut key, cid, 0x10, &[0x04]);
    assert_eq!(cmd, 0x10);
    assert_eq!(body[0], 0x00, "CTAP2_OK");
    let Value::Map(info) = serde_cbor_2::from_slice::<Value>(&body[1..]).unwrap() else {
        panic!("getInfo is a map");
    };
    let Value::Array(versions) = &info[&Value::Integer(1)] else {
        panic!("versions")
    };
    assert!(versions.contains(&Value::Text("FIDO_2_1".into())));
    assert_eq!(
        info[&Value::Integer(3)],
        Value::Bytes(AAGUID.to_vec()),
        "AAGUID from our certificate"
    );
}

#[test]
fn ping_echoes_across_packets_and_unknown_channels_are_refused() {
    let mut key = FidoKey::start();
    let cid = init(&mut key);
    let payload: Vec<u8> = (0..=255u8).cycle().take(500).collect();
    assert_eq!(exchange(&mut key, cid, 0x01, &payload), (0x01, payload));
    assert_eq!(
        exchange(&mut key, cid + 100, 0x10, &[0x04]),
        (0x3F, vec![0x0B]),
        "ERR_INVALID_CHANNEL"
    );
}
