//! Credential IDs. A discoverable credential's ID is random and its key is stored in the file;
//! a non-discoverable credential's private key is wrapped into its ID with the key's wrap
//! secret (AES-256-GCM, bound to the RP ID), so it spends no slot, as on a real key.

use crypto_glue::aes256gcm::{Aead, Aes256Gcm, Aes256GcmNonce, KeyInit, Payload};
use crypto_glue::s256::Sha256;
use crypto_glue::traits::Digest;

const WRAPPED: u8 = 0x4B;
const RESIDENT: u8 = 0x52;
const NONCE_LEN: usize = 12;

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(data));
    out
}

fn cipher(wrap_key: &[u8]) -> Option<Aes256Gcm> {
    let key = crypto_glue::aes256::key_from_slice(wrap_key)?;
    Some(Aes256Gcm::new(&key))
}

/// A credential ID carrying `private_key` and its credProtect `level`, readable only by this
/// key and only for the RP whose SHA-256 is `rp_id_hash` (which is all a U2F request names).
pub fn wrap(
    wrap_key: &[u8],
    rp_id_hash: &[u8; 32],
    level: u8,
    private_key: &[u8],
) -> Result<Vec<u8>, String> {
    let cipher = cipher(wrap_key).ok_or("the key's wrap secret is damaged")?;
    let nonce = crypto_glue::aes256gcm::new_nonce();
    let aad = [&rp_id_hash[..], &[level]].concat();
    let sealed = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: private_key,
                aad: &aad,
            },
        )
        .map_err(|_| "wrapping the credential failed".to_string())?;
    let mut id = vec![WRAPPED, level];
    id.extend_from_slice(&nonce);
    id.extend_from_slice(&sealed);
    Ok(id)
}

/// The private key and credProtect level inside a wrapped credential ID, when it was made by
/// this key for this RP.
pub fn unwrap(wrap_key: &[u8], rp_id_hash: &[u8; 32], id: &[u8]) -> Option<(Vec<u8>, u8)> {
    if id.len() <= 2 + NONCE_LEN || id[0] != WRAPPED {
        return None;
    }
    let level = id[1];
    let nonce = Aes256GcmNonce::try_from(&id[2..2 + NONCE_LEN]).ok()?;
    let aad = [&rp_id_hash[..], &[level]].concat();
    cipher(wrap_key)?
        .decrypt(
            &nonce,
            Payload {
                msg: &id[2 + NONCE_LEN..],
                aad: &aad,
            },
        )
        .ok()
        .map(|k| (k, level))
}

pub fn new_resident_id() -> Vec<u8> {
    let mut id = vec![RESIDENT];
    id.extend_from_slice(&super::attestation::random_bytes::<31>());
    id
}

/// Key for the sign counter of a non-discoverable credential.
pub fn counter_key(id: &[u8]) -> String {
    hex::encode(&sha256(id)[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_ids_open_only_for_their_key_and_rp() {
        let k1 = [7u8; 32];
        let k2 = [8u8; 32];
        let (rp, evil) = (sha256(b"example.com"), sha256(b"evil.example"));
        let id = wrap(&k1, &rp, 2, b"secret-scalar").unwrap();
        assert_eq!(
            unwrap(&k1, &rp, &id).unwrap(),
            (b"secret-scalar".to_vec(), 2)
        );
        assert!(unwrap(&k1, &evil, &id).is_none());
        assert!(unwrap(&k2, &rp, &id).is_none());
        assert!(unwrap(&k1, &rp, &new_resident_id()).is_none());
        // The level cannot be lowered by editing the ID.
        let mut lowered = id.clone();
        lowered[1] = 1;
        assert!(unwrap(&k1, &rp, &lowered).is_none());
    }
}
