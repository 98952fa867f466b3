//! The `entra` commands against a real test tenant (never production). Ignored by default; run
//! with `cargo test --test entra_tenant -- --ignored` after setting, as docs/entra.md says:
//! KEYWARD_TENANT_TEST_TENANT, KEYWARD_TENANT_TEST_CLIENT_ID, KEYWARD_ENTRA_CLIENT_SECRET,
//! KEYWARD_TENANT_TEST_USER (and for `register`, a key with its PIN in KEYWARD_PIN).

mod common;

use common::{Run, Sandbox};

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("set {name} (docs/entra.md, section 7)"))
}

fn tenant_run(sb: &Sandbox, args: &[&str]) -> Run {
    let secret = var("KEYWARD_ENTRA_CLIENT_SECRET");
    let mut env = vec![("KEYWARD_ENTRA_CLIENT_SECRET", secret.as_str())];
    let pin = std::env::var("KEYWARD_PIN").unwrap_or_default();
    if !pin.is_empty() {
        env.push(("KEYWARD_PIN", pin.as_str()));
    }
    sb.run_with(args, None, &env)
}

fn connected() -> Sandbox {
    let sb = Sandbox::new();
    tenant_run(
        &sb,
        &[
            "entra",
            "connect",
            "--tenant",
            &var("KEYWARD_TENANT_TEST_TENANT"),
            "--client-id",
            &var("KEYWARD_TENANT_TEST_CLIENT_ID"),
            "--no-store",
        ],
    )
    .ok();
    sb
}

#[test]
#[ignore = "needs a real test tenant (docs/entra.md)"]
fn real_tenant_lists_a_users_methods_and_reads_the_policy() {
    let sb = connected();
    let user = var("KEYWARD_TENANT_TEST_USER");
    let j = tenant_run(&sb, &["--json", "entra", "methods", &user])
        .ok()
        .json();
    assert!(j["methods"].as_array().is_some_and(|m| !m.is_empty()));
    let r = tenant_run(&sb, &["--json", "entra", "check"]);
    assert!(r.code == 0 || r.code == 19, "{}", r.stderr);
}

#[test]
#[ignore = "needs a real test tenant and a key with its PIN in KEYWARD_PIN (docs/entra.md)"]
fn real_tenant_registers_the_key_in_hand() {
    let sb = connected();
    let user = var("KEYWARD_TENANT_TEST_USER");
    let j = tenant_run(&sb, &["--json", "entra", "register", &user])
        .ok()
        .json();
    assert!(j["method_id"].as_str().is_some_and(|id| !id.is_empty()));
}
