//! PIN/UV auth protocols 1 and 2 (CTAP 2.1 §6.5.6 and §6.5.7), used by both sides: the host
//! encapsulates, the virtual key decapsulates, and both encrypt, decrypt and authenticate with
//! the same code. Every secret is held in a [`Zeroizing`] buffer.
//!
//! Reference: <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-20210615.html#pinProto1>

use super::cbor::{int, CborMap, MapExt};
use crypto_glue::aes256cbc::block_padding::NoPadding;
use crypto_glue::aes256cbc::{
    Aes256CbcDec, Aes256CbcEnc, BlockModeDecrypt, BlockModeEncrypt, KeyIvInit,
};
use crypto_glue::ecdh_p256::{EcdhP256EphemeralSecret, EcdhP256PublicKey};
use crypto_glue::hkdf_s256::HkdfSha256;
use crypto_glue::hmac_s256::HmacSha256;
use crypto_glue::s256::Sha256;
use crypto_glue::traits::{Digest, KeyInit, Mac, ToSec1Point};
use serde_cbor_2::Value;
use zeroize::Zeroizing;

/// A shared secret or a pinUvAuthToken.
pub type Secret = Zeroizing<Vec<u8>>;

/// The protocol a request names in its pinUvAuthProtocol field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinProtocol {
    V1 = 1,
    V2 = 2,
}

/// A P-256 public key as COSE_Key with alg ECDH-ES+HKDF-256 (-25), as getKeyAgreement and
/// the keyAgreement parameter carry it. "-25" is what the spec says to send, "although this is
/// NOT the algorithm actually used".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoseKey {
    pub x: [u8; 32],
    pub y: [u8; 32],
}

impl CoseKey {
    pub fn of(public: &EcdhP256PublicKey) -> CoseKey {
        let point = public.to_sec1_point(false);
        let mut key = CoseKey {
            x: [0; 32],
            y: [0; 32],
        };
        if let (Some(x), Some(y)) = (point.x(), point.y()) {
            key.x.copy_from_slice(x);
            key.y.copy_from_slice(y);
        }
        key
    }

    pub fn to_value(&self) -> Value {
        let mut m = CborMap::new();
        m.insert(int(1), int(2)); // kty: EC2
        m.insert(int(3), int(-25)); // alg: ECDH-ES+HKDF-256
        m.insert(int(-1), int(1)); // crv: P-256
        m.insert(int(-2), Value::Bytes(self.x.to_vec()));
        m.insert(int(-3), Value::Bytes(self.y.to_vec()));
        Value::Map(m)
    }

    pub fn from_value(v: &Value) -> Option<CoseKey> {
        let Value::Map(m) = v else { return None };
        if m.uint(1) != Some(2) || m.int_at(-1) != Some(1) {
            return None;
        }
        let (x, y) = (m.bytes(-2)?, m.bytes(-3)?);
        if x.len() != 32 || y.len() != 32 {
            return None;
        }
        let mut key = CoseKey {
            x: [0; 32],
            y: [0; 32],
        };
        key.x.copy_from_slice(x);
        key.y.copy_from_slice(y);
        Some(key)
    }

    fn public_key(&self) -> Option<EcdhP256PublicKey> {
        crypto_glue::ecdsa_p256::from_coords_raw(&self.x, &self.y)
    }
}

/// One side's key-agreement key pair, alive for as long as the key is powered (authenticator)
/// or for one exchange (host).
pub struct KeyAgreement {
    secret: EcdhP256EphemeralSecret,
}

impl Default for KeyAgreement {
    fn default() -> Self {
        KeyAgreement::new()
    }
}

impl KeyAgreement {
    pub fn new() -> KeyAgreement {
        KeyAgreement {
            secret: crypto_glue::ecdh_p256::new_secret(),
        }
    }

    pub fn public(&self) -> CoseKey {
        CoseKey::of(&self.secret.public_key())
    }

    /// Z: the x-coordinate of the ECDH point with the peer's key.
    fn ecdh(&self, peer: &CoseKey) -> Option<Secret> {
        let peer = peer.public_key()?;
        let shared = self.secret.diffie_hellman(&peer);
        Some(Zeroizing::new(shared.raw_secret_bytes().to_vec()))
    }
}

impl PinProtocol {
    pub fn from_number(n: u64) -> Option<PinProtocol> {
        match n {
            1 => Some(PinProtocol::V1),
            2 => Some(PinProtocol::V2),
            _ => None,
        }
    }

    pub fn number(self) -> u8 {
        self as u8
    }

    /// Host side: a fresh key pair against the key's `peer` key; returns our public key for
    /// the request and the shared secret.
    pub fn encapsulate(self, peer: &CoseKey) -> Option<(CoseKey, Secret)> {
        let ours = KeyAgreement::new();
        let z = ours.ecdh(peer)?;
        Some((ours.public(), self.kdf(&z)))
    }

    /// Key side: the shared secret for the host's `peer` key.
    pub fn decapsulate(self, ours: &KeyAgreement, peer: &CoseKey) -> Option<Secret> {
        let z = ours.ecdh(peer)?;
        Some(self.kdf(&z))
    }

    fn kdf(self, z: &[u8]) -> Secret {
        match self {
            PinProtocol::V1 => Zeroizing::new(Sha256::digest(z).to_vec()),
            PinProtocol::V2 => {
                let hk = HkdfSha256::new(Some(&[0u8; 32]), z);
                let mut out = Zeroizing::new(vec![0u8; 64]);
                hk.expand(b"CTAP2 HMAC key", &mut out[..32])
                    .expect("32 bytes is a valid HKDF-SHA-256 length");
                hk.expand(b"CTAP2 AES key", &mut out[32..])
                    .expect("32 bytes is a valid HKDF-SHA-256 length");
                out
            }
        }
    }

    fn aes_key(self, key: &[u8]) -> &[u8] {
        match self {
            PinProtocol::V2 if key.len() == 64 => &key[32..],
            _ => key,
        }
    }

    fn hmac_key(self, key: &[u8]) -> &[u8] {
        match self {
            PinProtocol::V2 if key.len() > 32 => &key[..32],
            _ => key,
        }
    }

    /// AES-256-CBC without padding: IV zero for protocol 1, a random IV in front for 2.
    /// `plain` must be a whole number of 16-byte blocks.
    pub fn encrypt(self, key: &[u8], plain: &[u8]) -> Vec<u8> {
        let iv: [u8; 16] = match self {
            PinProtocol::V1 => [0; 16],
            PinProtocol::V2 => crypto_glue::rand::random(),
        };
        let enc = Aes256CbcEnc::new_from_slices(self.aes_key(key), &iv)
            .expect("AES-256 keys are 32 bytes");
        let ct = enc.encrypt_padded_vec::<NoPadding>(plain);
        match self {
            PinProtocol::V1 => ct,
            PinProtocol::V2 => [iv.to_vec(), ct].concat(),
        }
    }

    pub fn decrypt(self, key: &[u8], data: &[u8]) -> Option<Secret> {
        let (iv, ct) = match self {
            PinProtocol::V1 => ([0u8; 16], data),
            PinProtocol::V2 => {
                if data.len() < 16 {
                    return None;
                }
                let mut iv = [0u8; 16];
                iv.copy_from_slice(&data[..16]);
                (iv, &data[16..])
            }
        };
        if ct.is_empty() || ct.len() % 16 != 0 {
            return None;
        }
        let dec = Aes256CbcDec::new_from_slices(self.aes_key(key), &iv).ok()?;
        dec.decrypt_padded_vec::<NoPadding>(ct)
            .ok()
            .map(Zeroizing::new)
    }

    /// HMAC-SHA-256, the first 16 bytes for protocol 1, all 32 for protocol 2.
    pub fn authenticate(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(self.hmac_key(key))
            .expect("HMAC takes keys of any length");
        Mac::update(&mut mac, message);
        let full = mac.finalize().into_bytes();
        match self {
            PinProtocol::V1 => full[..16].to_vec(),
            PinProtocol::V2 => full.to_vec(),
        }
    }

    /// Check a pinUvAuthParam in constant time.
    pub fn verify(self, key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        let expected = self.authenticate(key, message);
        expected.len() == signature.len()
            && expected
                .iter()
                .zip(signature)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// LEFT(SHA-256(PIN), 16): what a key stores and what changePIN and getPinToken send.
pub fn pin_hash(pin: &[u8]) -> Secret {
    Zeroizing::new(Sha256::digest(pin)[..16].to_vec())
}

/// The PIN padded with zeros to 64 bytes, as setPIN and changePIN encrypt it (§6.5.5.5).
pub fn padded_pin(pin: &[u8]) -> Secret {
    let mut out = Zeroizing::new(vec![0u8; 64]);
    out[..pin.len().min(64)].copy_from_slice(&pin[..pin.len().min(64)]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_derive_the_same_secret_in_both_protocols() {
        for p in [PinProtocol::V1, PinProtocol::V2] {
            let key_side = KeyAgreement::new();
            let (host_public, host_secret) = p.encapsulate(&key_side.public()).unwrap();
            let key_secret = p.decapsulate(&key_side, &host_public).unwrap();
            assert_eq!(*host_secret, *key_secret);
            assert_eq!(
                host_secret.len(),
                if p == PinProtocol::V1 { 32 } else { 64 }
            );
            let ct = p.encrypt(&host_secret, &[7u8; 64]);
            assert_eq!(ct.len(), if p == PinProtocol::V1 { 64 } else { 80 });
            assert_eq!(*p.decrypt(&key_secret, &ct).unwrap(), vec![7u8; 64]);
            let sig = p.authenticate(&host_secret, b"message");
            assert_eq!(sig.len(), if p == PinProtocol::V1 { 16 } else { 32 });
            assert!(p.verify(&key_secret, b"message", &sig));
            assert!(!p.verify(&key_secret, b"massage", &sig));
        }
    }

    #[test]
    fn protocol_one_uses_a_zero_iv_and_protocol_two_a_fresh_one() {
        let key = [3u8; 32];
        let a = PinProtocol::V1.encrypt(&key, &[1; 16]);
        assert_eq!(a, PinProtocol::V1.encrypt(&key, &[1; 16]));
        let key64 = [4u8; 64];
        let b = PinProtocol::V2.encrypt(&key64, &[1; 16]);
        assert_ne!(b, PinProtocol::V2.encrypt(&key64, &[1; 16]));
    }

    #[test]
    fn protocol_two_keys_come_from_hkdf_with_the_spec_labels() {
        // HKDF-SHA-256(salt = 32 zero bytes, IKM = Z, info = "CTAP2 HMAC key" / "CTAP2 AES key").
        let z = [0x11u8; 32];
        let k = PinProtocol::V2.kdf(&z);
        let hk = HkdfSha256::new(Some(&[0u8; 32]), &z);
        let mut hmac = [0u8; 32];
        hk.expand(b"CTAP2 HMAC key", &mut hmac).unwrap();
        assert_eq!(&k[..32], &hmac);
        assert_eq!(*PinProtocol::V1.kdf(&z), Sha256::digest(z).to_vec());
    }

    #[test]
    fn the_pin_is_sent_padded_to_64_bytes_and_stored_as_half_a_sha256() {
        assert_eq!(padded_pin(b"1234").len(), 64);
        assert_eq!(&padded_pin(b"1234")[..5], b"1234\0");
        assert_eq!(
            hex::encode(&*pin_hash(b"1234")),
            "03ac674216f3e15c761ee1a5e255f067"
        );
    }

    #[test]
    fn cose_keys_carry_the_spec_algorithm_and_round_trip() {
        let k = KeyAgreement::new().public();
        let v = k.to_value();
        let Value::Map(m) = &v else { panic!() };
        assert_eq!(m.int_at(3), Some(-25));
        assert_eq!(CoseKey::from_value(&v), Some(k));
    }
}
