//! The `entra` commands against a real test tenant (never production), through the real sign-in
//! service and Graph. Ignored by default; docs/entra.md ("Running against a real test tenant")
//! gives the exact commands. Each test says it skipped, and why, when its variables are unset:
//!
//! - always: KEYWARD_TENANT_TEST_TENANT, KEYWARD_TENANT_TEST_CLIENT_ID,
//!   KEYWARD_ENTRA_CLIENT_SECRET, KEYWARD_TENANT_TEST_USER (a test user);
//! - `register`: a key plugged in with its PIN in KEYWARD_PIN (KEYWARD_TENANT_TEST_DEVICE picks
//!   it, default `auto`);
//! - `remove`: KEYWARD_TENANT_TEST_REMOVE, the weaker method to delete from the test user (for
//!   example `email_code`), which the test user must have, next to a passkey.

mod common;

use common::{Run, Sandbox};

const ALWAYS: [&str; 4] = [
    "KEYWARD_TENANT_TEST_TENANT",
    "KEYWARD_TENANT_TEST_CLIENT_ID",
    "KEYWARD_ENTRA_CLIENT_SECRET",
    "KEYWARD_TENANT_TEST_USER",
];

/// The test tenant, connected in a fresh sandbox (`connect --no-store`: the secret stays in the
/// environment), or `None` after saying which variables are missing.
struct Tenant {
    sb: Sandbox,
    user: String,
    env: Vec<(String, String)>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Whether to skip: true, with a line naming what is missing, unless every variable in
/// `needed` is set.
fn skip_unless(test: &str, needed: &[&str]) -> bool {
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|n| var(n).is_none())
        .collect();
    if missing.is_empty() {
        return false;
    }
    eprintln!(
        "{test}: skipped, not run against a tenant: set {} (docs/entra.md, \"Running against a \
         real test tenant\")",
        missing.join(", ")
    );
    true
}

impl Tenant {
    fn connect(test: &str, also: &[&str]) -> Option<Tenant> {
        let mut needed = ALWAYS.to_vec();
        needed.extend_from_slice(also);
        if skip_unless(test, &needed) {
            return None;
        }
        let mut env = vec![(
            "KEYWARD_ENTRA_CLIENT_SECRET".to_string(),
            var("KEYWARD_ENTRA_CLIENT_SECRET")?,
        )];
        if let Some(pin) = var("KEYWARD_PIN") {
            env.push(("KEYWARD_PIN".into(), pin));
        }
        let t = Tenant {
            sb: Sandbox::new(),
            user: var("KEYWARD_TENANT_TEST_USER")?,
            env,
        };
        let tenant = var("KEYWARD_TENANT_TEST_TENANT")?;
        let client = var("KEYWARD_TENANT_TEST_CLIENT_ID")?;
        let j = t
            .run(&[
                "--json",
                "entra",
                "connect",
                "--tenant",
                &tenant,
                "--client-id",
                &client,
                "--no-store",
            ])
            .ok()
            .json();
        assert_eq!(j["graph"], "graph.microsoft.com", "{j}");
        Some(t)
    }

    fn run(&self, args: &[&str]) -> Run {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.sb.run_with(args, None, &env)
    }
}

#[test]
#[ignore = "needs a real test tenant (docs/entra.md)"]
fn real_tenant_connect_checks_the_secret_with_the_sign_in_service() {
    let Some(t) = Tenant::connect("connect", &[]) else {
        return;
    };
    // A wrong secret is refused by the real sign-in service, and not echoed.
    let wrong = "not-the-secret-0123456789";
    let r = t.sb.run_with(
        &[
            "entra",
            "connect",
            "--tenant",
            &var("KEYWARD_TENANT_TEST_TENANT").unwrap(),
            "--client-id",
            &var("KEYWARD_TENANT_TEST_CLIENT_ID").unwrap(),
            "--no-store",
        ],
        None,
        &[("KEYWARD_ENTRA_CLIENT_SECRET", wrong)],
    );
    assert_eq!(r.code, 18, "{}", r.stderr);
    assert!(r.stderr.contains("invalid_client"), "{}", r.stderr);
    assert!(!r.all_output().contains(wrong));
}

#[test]
#[ignore = "needs a real test tenant (docs/entra.md)"]
fn real_tenant_lists_a_users_methods_and_records_them() {
    let Some(t) = Tenant::connect("methods", &[]) else {
        return;
    };
    let j = t.run(&["--json", "entra", "methods", &t.user]).ok().json();
    assert!(
        j["methods"].as_array().is_some_and(|m| !m.is_empty()),
        "{j}"
    );
    assert_eq!(j["recorded_in_ledger"], true);
    let status = t.run(&["status", &t.user]).ok();
    assert!(
        status.stderr.contains("read from Microsoft Graph"),
        "{}",
        status.stderr
    );
}

#[test]
#[ignore = "needs a real test tenant (docs/entra.md)"]
fn real_tenant_passkey_policy_is_read_and_judged() {
    let Some(t) = Tenant::connect("check", &[]) else {
        return;
    };
    let r = t.run(&["--json", "entra", "check"]);
    assert!(r.code == 0 || r.code == 19, "{}", r.stderr);
    let j = r.json();
    assert!(j["policy"]["source"].is_string(), "{j}");
    assert!(j["verdict"]["can_register"].is_boolean(), "{j}");
}

#[test]
#[ignore = "needs a real test tenant and a key with its PIN in KEYWARD_PIN (docs/entra.md)"]
fn real_tenant_registers_the_key_in_hand() {
    let Some(t) = Tenant::connect("register", &["KEYWARD_PIN"]) else {
        return;
    };
    let device = var("KEYWARD_TENANT_TEST_DEVICE").unwrap_or_else(|| "auto".into());
    let j = t
        .run(&["--json", "--device", &device, "entra", "register", &t.user])
        .ok()
        .json();
    let id = j["method_id"].as_str().unwrap_or_default().to_string();
    assert!(!id.is_empty(), "{j}");
    let listed = t.run(&["--json", "entra", "methods", &t.user]).ok().json();
    assert!(
        listed["methods"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == id.as_str()),
        "Graph lists the new passkey: {listed}"
    );
    // The same key again: Graph's excludeCredentials stops it on the key.
    let again = t.run(&["--device", &device, "entra", "register", &t.user]);
    assert_eq!(again.code, 16, "{}", again.stderr);
}

#[test]
#[ignore = "needs a real test tenant and a weaker method to delete (docs/entra.md)"]
fn real_tenant_removes_a_weaker_method_and_confirms_it_in_graph() {
    let Some(t) = Tenant::connect("remove", &["KEYWARD_TENANT_TEST_REMOVE"]) else {
        return;
    };
    let method = var("KEYWARD_TENANT_TEST_REMOVE").unwrap();
    let j = t
        .run(&[
            "--json",
            "entra",
            "remove",
            &t.user,
            &method,
            "--yes-delete-for",
            &t.user,
        ])
        .ok()
        .json();
    assert!(!j["deleted"].as_array().unwrap().is_empty(), "{j}");
    assert_eq!(j["still_listed"].as_array().unwrap().len(), 0, "{j}");
}
