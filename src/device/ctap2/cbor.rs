//! CBOR helpers shared by the host and the virtual key. Requests and responses use CTAP's
//! canonical CBOR: serde_cbor_2 writes maps from a `BTreeMap<Value, Value>` in canonical key
//! order (integers before strings, shorter before longer).

use serde_cbor_2::Value;
use std::collections::BTreeMap;

pub type CborMap = BTreeMap<Value, Value>;

pub fn int(i: i64) -> Value {
    Value::Integer(i128::from(i))
}

pub fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

pub fn encode(v: &Value) -> Vec<u8> {
    serde_cbor_2::to_vec(v).expect("CBOR values always serialise")
}

pub fn encode_map(m: CborMap) -> Vec<u8> {
    encode(&Value::Map(m))
}

/// A top-level CBOR map, or why not.
pub fn decode_map(bytes: &[u8]) -> Result<CborMap, String> {
    match serde_cbor_2::from_slice::<Value>(bytes) {
        Ok(Value::Map(m)) => Ok(m),
        Ok(_) => Err("not a CBOR map".into()),
        Err(e) => Err(format!("invalid CBOR ({e})")),
    }
}

/// Typed reads from a CBOR map with integer (`i64`) or text (`&str`) keys.
pub trait MapExt {
    fn at(&self, key: i64) -> Option<&Value>;
    fn field(&self, key: &str) -> Option<&Value>;

    fn uint(&self, key: i64) -> Option<u64> {
        as_u64(self.at(key)?)
    }
    fn int_at(&self, key: i64) -> Option<i64> {
        match self.at(key)? {
            Value::Integer(i) => i64::try_from(*i).ok(),
            _ => None,
        }
    }
    fn bytes(&self, key: i64) -> Option<&[u8]> {
        as_bytes(self.at(key)?)
    }
    fn text_at(&self, key: i64) -> Option<&str> {
        as_text(self.at(key)?)
    }
    fn map_at(&self, key: i64) -> Option<&CborMap> {
        match self.at(key)? {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
    fn array_at(&self, key: i64) -> Option<&Vec<Value>> {
        match self.at(key)? {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
    fn bool_at(&self, key: i64) -> Option<bool> {
        match self.at(key)? {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    fn field_bytes(&self, key: &str) -> Option<&[u8]> {
        as_bytes(self.field(key)?)
    }
    fn field_text(&self, key: &str) -> Option<&str> {
        as_text(self.field(key)?)
    }
}

impl MapExt for CborMap {
    fn at(&self, key: i64) -> Option<&Value> {
        self.get(&int(key))
    }
    fn field(&self, key: &str) -> Option<&Value> {
        self.get(&text(key))
    }
}

pub fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Integer(i) => u64::try_from(*i).ok(),
        _ => None,
    }
}

pub fn as_bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::Bytes(b) => Some(b),
        _ => None,
    }
}

pub fn as_text(v: &Value) -> Option<&str> {
    match v {
        Value::Text(s) => Some(s),
        _ => None,
    }
}

pub fn texts(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(as_text).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// A map with text keys, e.g. an entity or a credential descriptor.
pub fn text_map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (text(k), v))
            .collect::<CborMap>(),
    )
}

/// PublicKeyCredentialDescriptor {id, type: "public-key"}.
pub fn credential_descriptor(id: &[u8]) -> Value {
    text_map(vec![
        ("id", Value::Bytes(id.to_vec())),
        ("type", text("public-key")),
    ])
}

/// The ids of a list of credential descriptors.
pub fn descriptor_ids(v: Option<&Value>) -> Vec<Vec<u8>> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|d| match d {
                Value::Map(m) => m.field_bytes("id").map(<[u8]>::to_vec),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}
