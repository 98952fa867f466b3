//! authenticatorGetInfo (0x04), CTAP 2.1 §6.4: one [`KeyInfo`] both parsed by the host and
//! built by the virtual key.
//!
//! Reference: <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-20210615.html#authenticatorGetInfo>

use super::cbor::{as_bytes, as_u64, decode_map, encode_map, int, text, texts, CborMap, MapExt};
use crate::device::{DeviceError, KeyInfo};
use serde_cbor_2::Value;
use std::collections::BTreeMap;
use uuid::Uuid;

fn get(m: &CborMap, key: i64) -> Option<&Value> {
    m.at(key)
}

fn bad(what: &str) -> DeviceError {
    super::unreadable(what)
}

/// authenticatorGetInfo's response, in domain terms.
pub fn parse_info(bytes: &[u8]) -> Result<KeyInfo, DeviceError> {
    let m = decode_map(bytes).map_err(|e| bad(&e))?;
    let versions = texts(get(&m, 0x01));
    if versions.is_empty() {
        return Err(bad("getInfo without versions"));
    }
    let options = match get(&m, 0x04) {
        Some(Value::Map(o)) => o
            .iter()
            .filter_map(|(k, v)| match (k, v) {
                (Value::Text(k), Value::Bool(b)) => Some((k.clone(), *b)),
                _ => None,
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    let pin_uv_protocols = match get(&m, 0x06) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(as_u64)
            .filter_map(|p| u32::try_from(p).ok())
            .collect(),
        _ => Vec::new(),
    };
    let algorithms = match get(&m, 0x0A) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|entry| match entry {
                Value::Map(e) => match e.get(&text("alg")) {
                    Some(Value::Integer(i)) => i64::try_from(*i).ok(),
                    _ => None,
                },
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(KeyInfo {
        versions,
        aaguid: get(&m, 0x03)
            .and_then(as_bytes)
            .and_then(|b| Uuid::from_slice(b).ok()),
        options,
        extensions: texts(get(&m, 0x02)),
        pin_uv_protocols,
        min_pin_length: get(&m, 0x0D)
            .and_then(as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(4),
        force_pin_change: matches!(get(&m, 0x0C), Some(Value::Bool(true))),
        firmware_version: get(&m, 0x0E).and_then(as_u64),
        remaining_discoverable_credentials: get(&m, 0x14)
            .and_then(as_u64)
            .and_then(|n| u32::try_from(n).ok()),
        transports: texts(get(&m, 0x09)),
        algorithms,
    })
}

/// What a U2F-only key (no CTAPHID_CBOR capability) can say about itself.
pub fn u2f_only_info() -> KeyInfo {
    KeyInfo {
        versions: vec!["U2F_V2".into()],
        aaguid: None,
        options: BTreeMap::new(),
        extensions: Vec::new(),
        pin_uv_protocols: Vec::new(),
        min_pin_length: 4,
        force_pin_change: false,
        firmware_version: None,
        remaining_discoverable_credentials: None,
        transports: vec!["usb".into()],
        algorithms: vec![-7],
    }
}

/// The response a key gives, from what it knows about itself.
pub fn encode_info(info: &KeyInfo) -> Vec<u8> {
    let strings = |v: &[String]| Value::Array(v.iter().map(|s| text(s)).collect());
    let mut m = CborMap::new();
    m.insert(int(0x01), strings(&info.versions));
    if !info.extensions.is_empty() {
        m.insert(int(0x02), strings(&info.extensions));
    }
    m.insert(
        int(0x03),
        Value::Bytes(info.aaguid.unwrap_or_default().as_bytes().to_vec()),
    );
    if !info.options.is_empty() {
        m.insert(
            int(0x04),
            Value::Map(
                info.options
                    .iter()
                    .map(|(k, v)| (text(k), Value::Bool(*v)))
                    .collect(),
            ),
        );
    }
    m.insert(int(0x05), int(super::super::ctaphid::MAX_PAYLOAD as i64));
    if !info.pin_uv_protocols.is_empty() {
        m.insert(
            int(0x06),
            Value::Array(
                info.pin_uv_protocols
                    .iter()
                    .map(|p| int(i64::from(*p)))
                    .collect(),
            ),
        );
    }
    m.insert(int(0x09), strings(&info.transports));
    m.insert(
        int(0x0A),
        Value::Array(
            info.algorithms
                .iter()
                .map(|a| {
                    super::cbor::text_map(vec![("alg", int(*a)), ("type", text("public-key"))])
                })
                .collect(),
        ),
    );
    if info.supports_ctap21() {
        m.insert(int(0x0C), Value::Bool(info.force_pin_change));
        m.insert(int(0x0D), int(i64::from(info.min_pin_length)));
    }
    if let Some(fw) = info.firmware_version {
        m.insert(int(0x0E), int(fw as i64));
    }
    if let Some(n) = info.remaining_discoverable_credentials {
        m.insert(int(0x14), int(i64::from(n)));
    }
    encode_map(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    // YubiKey Bio getInfo, from ctap-hid-fido2 3.6.1's own tests (get_info/mod.rs).
    const YUBIKEY_BIO_INFO: &str = "B30184665532465F5632684649444F5F325F306C4649444F5F325F315F505245684649444F5F325F3102856B6372656450726F746563746B686D61632D7365637265746C6C61726765426C6F624B65796863726564426C6F626C6D696E50696E4C656E6774680350D8522D9F575B486688A9BA99FA02F35B04B062726BF5627570F5627576F564706C6174F4677576546F6B656EF568616C776179735576F568637265644D676D74F569617574686E72436667F56962696F456E726F6C6CF569636C69656E7450696EF56A6C61726765426C6F6273F56E70696E557641757468546F6B656EF56F7365744D696E50494E4C656E677468F5706D616B654372656455764E6F74527164F47563726564656E7469616C4D676D7450726576696577F5781B75736572566572696669636174696F6E4D676D7450726576696577F5051904B00682020107080818800981637573620A82A263616C672664747970656A7075626C69632D6B6579A263616C672764747970656A7075626C69632D6B65790B1904000CF40D040E1A000505060F18201001110312021415";

    #[test]
    fn get_info_of_a_real_key_is_read_fully() {
        let info = parse_info(&hex::decode(YUBIKEY_BIO_INFO).unwrap()).unwrap();
        assert_eq!(
            info.versions,
            ["U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1"]
        );
        assert_eq!(
            info.aaguid.unwrap().to_string(),
            "d8522d9f-575b-4866-88a9-ba99fa02f35b"
        );
        assert!(info.supports_ctap21() && info.supports_credential_management());
        assert_eq!(info.pin_is_set(), Some(true));
        assert!(info.always_uv());
        assert_eq!(info.pin_uv_protocols, [2, 1]);
        assert_eq!(info.algorithms, [-7, -8]);
        assert_eq!(info.min_pin_length, 4);
        assert_eq!(info.firmware_version, Some(328966));
        assert_eq!(info.remaining_discoverable_credentials, Some(21));
        assert_eq!(info.transports, ["usb"]);
        assert!(!info.force_pin_change);
    }

    #[test]
    fn get_info_without_optional_fields_keeps_them_absent() {
        let mut m = BTreeMap::new();
        m.insert(int(1), Value::Array(vec![text("FIDO_2_0")]));
        let info = parse_info(&encode_map(m)).unwrap();
        assert_eq!(info.remaining_discoverable_credentials, None);
        assert_eq!(info.firmware_version, None);
        assert_eq!(info.min_pin_length, 4);
        assert_eq!(info.pin_is_set(), None);
        assert!(parse_info(b"\x01").is_err());
    }

    #[test]
    fn what_the_virtual_key_builds_the_host_reads_back_unchanged() {
        let info = parse_info(&hex::decode(YUBIKEY_BIO_INFO).unwrap()).unwrap();
        assert_eq!(parse_info(&encode_info(&info)).unwrap(), info);
    }
}
