//! Per-command round trips through keyward's CTAP host and the virtual key, in process: the
//! host encodes CBOR, frames CTAPHID reports, the virtual key reassembles, answers (with its
//! file saves) and the host parses. No USB, so this is keyward's own cost per command.
//!
//! Run through `scripts/bench-ctap` (release build), or `cargo bench --bench ctap_roundtrip`.

use keyward::device::{virtual_key, AssertionRequest, Authenticator, MakeCredentialRequest};
use keyward::pin::Pin;
use std::time::{Duration, Instant};

const PIN: &str = "58213946";

fn mc(user: &str, discoverable: bool) -> MakeCredentialRequest {
    MakeCredentialRequest {
        client_data_hash: [7; 32],
        rp_id: "bench.example".into(),
        rp_name: None,
        user_id: user.as_bytes().to_vec(),
        user_name: user.into(),
        user_display_name: None,
        discoverable,
        user_verification: true,
        exclude_credentials: vec![],
    }
}

fn measure(
    name: &str,
    iterations: usize,
    key: &mut Box<dyn Authenticator>,
    mut op: impl FnMut(&mut Box<dyn Authenticator>),
) {
    let mut times: Vec<Duration> = (0..iterations)
        .map(|_| {
            let t = Instant::now();
            op(key);
            t.elapsed()
        })
        .collect();
    times.sort();
    let median = times[times.len() / 2];
    let p95 = times[times.len() * 95 / 100];
    println!(
        "{name:<34} median {:>8.1} µs   p95 {:>8.1} µs   ({iterations} runs)",
        median.as_secs_f64() * 1e6,
        p95.as_secs_f64() * 1e6
    );
}

fn main() {
    let dir = std::env::temp_dir().join(format!("keyward-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bench.key");
    virtual_key::create(&path, virtual_key::Profile::Ctap21, 25).unwrap();
    let mut key = virtual_key::open(&path).unwrap();
    key.set_pin(&Pin::new(PIN)).unwrap();
    key.unlock(&Pin::new(PIN)).unwrap();
    for u in ["ana", "bob", "cy"] {
        key.make_credential(&mc(u, true)).unwrap();
    }
    let made = key.make_credential(&mc("nd", false)).unwrap();
    drop(key);

    let n = 200;
    let t_open: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            let k = virtual_key::open(&path).unwrap();
            let e = t.elapsed();
            drop(k);
            e
        })
        .collect();
    let mut t_open = t_open;
    t_open.sort();
    println!(
        "{:<34} median {:>8.1} µs",
        "open (lock file, CTAPHID INIT)",
        t_open[n / 2].as_secs_f64() * 1e6
    );

    let mut key = virtual_key::open(&path).unwrap();
    measure("getInfo", n, &mut key, |k| {
        k.info().unwrap();
    });
    measure("clientPIN getPINRetries", n, &mut key, |k| {
        k.pin_retries().unwrap();
    });
    measure("unlock (keyAgreement + token)", n, &mut key, |k| {
        k.unlock(&Pin::new(PIN)).unwrap();
    });
    measure("credMgmt getCredsMetadata", n, &mut key, |k| {
        k.credential_metadata().unwrap();
    });
    measure("credMgmt list (3 passkeys)", n, &mut key, |k| {
        k.list_credentials().unwrap();
    });
    measure("makeCredential (+ mc token)", 50, &mut key, |k| {
        k.make_credential(&mc("x", false)).unwrap();
    });
    let req = AssertionRequest {
        client_data_hash: [9; 32],
        rp_id: "bench.example".into(),
        allow_credentials: vec![made.credential_id.clone()],
        user_verification: true,
    };
    measure("getAssertion (+ ga token)", 50, &mut key, |k| {
        k.get_assertion(&req).unwrap();
    });
    measure("selection", n, &mut key, |k| {
        k.selection(Duration::from_secs(1)).unwrap();
    });
    measure("wink", n, &mut key, |k| {
        k.wink().unwrap();
    });
    drop(key);
    let _ = std::fs::remove_dir_all(&dir);
}
