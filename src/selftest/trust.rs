//! Who vouches for a key's attestation: the FIDO metadata the user imported (its attestation
//! roots per model), or, for a virtual key, that key's own virtual CA — which makes it a
//! verified *virtual* key, never a security key.

use super::Status;
use crate::mds::Metadata;
use crypto_glue::traits::DecodeDer;
use crypto_glue::x509::Certificate;
use std::collections::BTreeMap;
use std::time::SystemTime;
use uuid::Uuid;
use webauthn_rs_core::attestation::verify_attestation_ca_chain;
use webauthn_rs_core::proto::{AttestationCaList, AttestationCaListBuilder, ParsedAttestationData};

/// Where trust can come from for one test.
#[derive(Debug, Clone, Default)]
pub struct TrustSources {
    /// DER of the virtual attestation CA, for a virtual key only.
    pub virtual_root: Option<Vec<u8>>,
    pub metadata: Option<Metadata>,
    /// Why metadata is missing although some was imported (e.g. a damaged cache).
    pub metadata_problem: Option<String>,
}

pub struct ChainVerdict {
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
    pub trusted_by: Option<String>,
    pub maker: Option<String>,
}

fn list_for(roots: &[(Vec<u8>, Uuid, String)]) -> Option<AttestationCaList> {
    let mut b = AttestationCaListBuilder::new();
    let mut any = false;
    for (der, aaguid, name) in roots {
        if b.insert_device_der(der, *aaguid, name.clone(), BTreeMap::new())
            .is_ok()
        {
            any = true;
        }
    }
    any.then(|| b.build())
}

fn subject_of(der: &[u8]) -> String {
    Certificate::from_der(der)
        .map(|c| c.tbs_certificate().subject().to_string())
        .unwrap_or_else(|_| "an unreadable certificate".into())
}

/// Decide whether the attestation chain in `data` is trusted, and by whom. `aaguid` is the
/// key's AAGUID (None for U2F attestation, which has none).
pub fn evaluate(
    data: &ParsedAttestationData,
    aaguid: Option<Uuid>,
    sources: &TrustSources,
) -> ChainVerdict {
    let now = SystemTime::now();
    let id = aaguid.unwrap_or_else(Uuid::nil);
    if matches!(
        data,
        ParsedAttestationData::Self_ | ParsedAttestationData::None
    ) {
        return ChainVerdict {
            status: Status::Warn,
            detail: "the key uses self attestation (it vouches for itself, with no maker's \
                     certificate): the maker cannot be confirmed"
                .into(),
            fix: Some("for executives, prefer keys with a maker's attestation".into()),
            trusted_by: None,
            maker: None,
        };
    }

    let Some(md) = &sources.metadata else {
        if let Some(root) = &sources.virtual_root {
            return evaluate_virtual(data, id, root);
        }
        let why = sources
            .metadata_problem
            .clone()
            .unwrap_or_else(|| "no FIDO metadata has been imported".into());
        return ChainVerdict {
            status: Status::Warn,
            detail: format!(
                "the maker could not be confirmed: {why}. The signatures were still checked."
            ),
            fix: Some(
                "download the FIDO Metadata Service blob (https://mds3.fidoalliance.org/) and run \
                 `keyward mds import FILE`"
                    .into(),
            ),
            trusted_by: None,
            maker: None,
        };
    };

    // Every root in the metadata, each tied to the models it vouches for.
    let mut roots = Vec::new();
    for e in &md.entries {
        for r in &e.roots {
            roots.push((
                r.clone(),
                e.aaguid.unwrap_or_else(Uuid::nil),
                e.description.clone(),
            ));
        }
    }
    let label = md.anchor.label();
    let listed = aaguid.and_then(|a| md.entry(&a));
    let verdict = list_for(&roots).map(|l| {
        verify_attestation_ca_chain(data, &l, now).map(|ca| {
            ca.map(|ca| {
                (
                    ca.aaguids().contains_key(&id) || aaguid.is_none(),
                    ca.aaguids()
                        .values()
                        .next()
                        .map(|d| d.description_en().to_string()),
                )
            })
        })
    });
    match verdict {
        Some(Ok(Some((true, name)))) => {
            let entry = listed.or_else(|| {
                md.entries
                    .iter()
                    .find(|e| Some(&e.description) == name.as_ref())
            });
            if let Some(bad) = entry.and_then(|e| e.distrust()) {
                return ChainVerdict {
                    status: Status::Fail,
                    detail: format!(
                        "the metadata marks this model {} (since {})",
                        bad.status,
                        bad.effective_date.as_deref().unwrap_or("an unknown date")
                    ),
                    fix: Some("do not use this key; give the person another model".into()),
                    trusted_by: Some(label),
                    maker: entry.map(|e| e.description.clone()),
                };
            }
            let maker = entry.map(|e| e.description.clone()).or(name);
            ChainVerdict {
                status: Status::Pass,
                detail: format!(
                    "chains to an attestation root of {} in the {}",
                    maker.as_deref().unwrap_or("a listed model"),
                    label
                ),
                fix: None,
                trusted_by: Some(label),
                maker,
            }
        }
        Some(Ok(Some((false, name)))) => ChainVerdict {
            status: Status::Fail,
            detail: format!(
                "chains to a root of {}, but that root does not vouch for this key's AAGUID {id}",
                name.as_deref().unwrap_or("another model")
            ),
            fix: Some("treat the key as not genuine until its maker explains it".into()),
            trusted_by: None,
            maker: None,
        },
        _ if listed.is_some() => ChainVerdict {
            status: Status::Fail,
            detail: format!(
                "the {label} lists this AAGUID as {}, but the attestation does not chain to \
                 that model's roots: the key may not be genuine",
                listed.map(|e| e.description.as_str()).unwrap_or_default()
            ),
            fix: Some("do not use this key for an executive; ask the supplier".into()),
            trusted_by: None,
            maker: None,
        },
        _ if sources.virtual_root.is_some() => evaluate_virtual(
            data,
            id,
            sources.virtual_root.as_deref().unwrap_or_default(),
        ),
        _ => ChainVerdict {
            status: Status::Warn,
            detail: format!(
                "the maker could not be confirmed: this key's model is not in the {label}. \
                 The signatures were still checked."
            ),
            fix: Some("import a newer FIDO metadata blob, or check the key's origin".into()),
            trusted_by: None,
            maker: None,
        },
    }
}

/// A virtual key's attestation must chain to its own virtual CA.
fn evaluate_virtual(data: &ParsedAttestationData, id: Uuid, root: &[u8]) -> ChainVerdict {
    let now = SystemTime::now();
    let list = list_for(&[(root.to_vec(), id, "keyward virtual key".into())]);
    match list.map(|l| verify_attestation_ca_chain(data, &l, now).map(|r| r.is_some())) {
        Some(Ok(true)) => ChainVerdict {
            status: Status::Pass,
            detail: format!(
                "chains to this virtual key's own attestation CA ({}); virtual: not a security key",
                subject_of(root)
            ),
            fix: None,
            trusted_by: Some("keyward virtual attestation CA (virtual: not a security key)".into()),
            maker: Some("keyward (virtual key)".into()),
        },
        other => ChainVerdict {
            status: Status::Fail,
            detail: format!(
                "the attestation does not chain to this virtual key's attestation CA ({})",
                match other {
                    Some(Err(e)) => format!("{e:?}"),
                    _ => "no certificate chain".into(),
                }
            ),
            fix: Some("the virtual key is misconfigured or was told to attest wrongly".into()),
            trusted_by: None,
            maker: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_metadata_the_maker_is_plainly_unconfirmed() {
        let v = evaluate(
            &ParsedAttestationData::Basic(vec![]),
            Some(Uuid::nil()),
            &TrustSources::default(),
        );
        assert_eq!(v.status, Status::Warn);
        assert!(
            v.detail.contains("the maker could not be confirmed"),
            "{}",
            v.detail
        );
        assert!(
            v.detail.contains("signatures were still checked"),
            "{}",
            v.detail
        );
        assert!(v.fix.unwrap().contains("keyward mds import"));
        assert!(v.trusted_by.is_none());
    }

    #[test]
    fn a_damaged_metadata_cache_is_named_as_the_reason() {
        let sources = TrustSources {
            metadata_problem: Some("the imported metadata is unusable (damaged)".into()),
            ..TrustSources::default()
        };
        let v = evaluate(&ParsedAttestationData::Basic(vec![]), None, &sources);
        assert_eq!(v.status, Status::Warn);
        assert!(v.detail.contains("unusable (damaged)"), "{}", v.detail);
    }
}
