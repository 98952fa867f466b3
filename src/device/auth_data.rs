//! authenticatorData (WebAuthn §6.1): one type that both parses and builds, so the host, the
//! virtual key and the self-test cannot disagree about its layout.

use uuid::Uuid;

/// The flags byte.
pub struct Flags;
impl Flags {
    pub const UP: u8 = 0x01;
    pub const UV: u8 = 0x04;
    pub const AT: u8 = 0x40;
    pub const ED: u8 = 0x80;
}

/// Attested credential data: AAGUID, credential ID and COSE public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestedCredential {
    pub aaguid: Uuid,
    pub credential_id: Vec<u8>,
    /// The COSE_Key bytes, as they sit in the authenticator data.
    pub public_key: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthData {
    pub rp_id_hash: [u8; 32],
    pub flags: u8,
    pub sign_count: u32,
    pub attested: Option<AttestedCredential>,
    /// The extensions map, CBOR-encoded.
    pub extensions: Option<Vec<u8>>,
}

impl AuthData {
    pub fn user_present(&self) -> bool {
        self.flags & Flags::UP != 0
    }
    pub fn user_verified(&self) -> bool {
        self.flags & Flags::UV != 0
    }

    pub fn build(&self) -> Vec<u8> {
        let mut d = self.rp_id_hash.to_vec();
        let mut flags = self.flags & !(Flags::AT | Flags::ED);
        if self.attested.is_some() {
            flags |= Flags::AT;
        }
        if self.extensions.is_some() {
            flags |= Flags::ED;
        }
        d.push(flags);
        d.extend_from_slice(&self.sign_count.to_be_bytes());
        if let Some(a) = &self.attested {
            d.extend_from_slice(a.aaguid.as_bytes());
            d.extend_from_slice(&(a.credential_id.len() as u16).to_be_bytes());
            d.extend_from_slice(&a.credential_id);
            d.extend_from_slice(&a.public_key);
        }
        if let Some(e) = &self.extensions {
            d.extend_from_slice(e);
        }
        d
    }

    pub fn parse(a: &[u8]) -> Result<AuthData, String> {
        if a.len() < 37 {
            return Err("authenticator data too short".into());
        }
        let mut rp_id_hash = [0u8; 32];
        rp_id_hash.copy_from_slice(&a[..32]);
        let flags = a[32];
        let sign_count = u32::from_be_bytes([a[33], a[34], a[35], a[36]]);
        let mut rest = &a[37..];
        let mut attested = None;
        if flags & Flags::AT != 0 {
            if rest.len() < 18 {
                return Err("attested credential data too short".into());
            }
            let aaguid = Uuid::from_slice(&rest[..16]).map_err(|e| e.to_string())?;
            let len = u16::from_be_bytes([rest[16], rest[17]]) as usize;
            let id = rest
                .get(18..18 + len)
                .ok_or("credential ID runs past the authenticator data")?
                .to_vec();
            rest = &rest[18 + len..];
            // The COSE key is one CBOR item: measure it by decoding.
            let mut de = serde_cbor_2::Deserializer::from_slice(rest);
            let _: serde_cbor_2::Value = serde::Deserialize::deserialize(&mut de)
                .map_err(|e| format!("credential public key is not CBOR ({e})"))?;
            let used = de.byte_offset();
            attested = Some(AttestedCredential {
                aaguid,
                credential_id: id,
                public_key: rest[..used].to_vec(),
            });
            rest = &rest[used..];
        }
        let extensions = (flags & Flags::ED != 0).then(|| rest.to_vec());
        Ok(AuthData {
            rp_id_hash,
            flags,
            sign_count,
            attested,
            extensions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_authenticator_data_parses_back_field_for_field() {
        let a = AuthData {
            rp_id_hash: [0x11; 32],
            flags: Flags::UP | Flags::UV,
            sign_count: 7,
            attested: Some(AttestedCredential {
                aaguid: Uuid::from_bytes([0xAB; 16]),
                credential_id: vec![5; 20],
                public_key: vec![0xA1, 0x01, 0x02],
            }),
            extensions: Some(vec![0xA1, 0x63, b'a', b'b', b'c', 0x01]),
        };
        let bytes = a.build();
        assert_eq!(bytes[32], 0x01 | 0x04 | 0x40 | 0x80);
        assert_eq!(&bytes[33..37], &[0, 0, 0, 7]);
        let b = AuthData::parse(&bytes).unwrap();
        assert_eq!(b.flags, bytes[32]);
        assert_eq!(b.attested, a.attested);
        assert_eq!(b.extensions, a.extensions);
        assert!(AuthData::parse(&bytes[..60]).is_err());
    }
}
