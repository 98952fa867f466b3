//! The files in `examples/` that the docs tell people to start from are run exactly as shipped,
//! so they cannot rot: the roster and policy provision keys, the answers file enrolls a person.

mod common;

use common::{path_str, Sandbox};
use keyward::playbook::{Catalog, Evidence};
use serde_json::Value;
use std::path::PathBuf;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The body of the first fenced block of `lang` in a docs page.
fn doc_block(page: &str, lang: &str) -> String {
    let text = read(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("docs")
            .join(page),
    );
    text.split(&format!("```{lang}\n"))
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap_or_else(|| panic!("docs/{page} has no ```{lang} block"))
        .to_string()
}

/// `n` fresh virtual keys in `keys/`; the --device value for the folder and each key's spec.
fn keys(sb: &Sandbox, n: usize) -> (String, Vec<String>) {
    let dir = sb.path("keys");
    std::fs::create_dir_all(&dir).unwrap();
    let specs = (0..n)
        .map(|i| {
            let file = dir.join(format!("{i}.key"));
            sb.run(&["virtual", "create", path_str(&file)]).ok();
            format!("virtual:{}", file.display())
        })
        .collect();
    (format!("virtual-dir:{}", dir.display()), specs)
}

#[test]
fn the_docs_show_the_example_roster_and_policy() {
    assert_eq!(
        doc_block("provisioning.md", "csv"),
        read(&example("roster.csv"))
    );
    assert_eq!(
        doc_block("provisioning.md", "toml"),
        read(&example("policy.toml"))
    );
    let provisioning =
        read(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/provisioning.md"));
    assert!(provisioning.contains("examples/roster.csv"));
    assert!(provisioning.contains("examples/policy.toml"));
    let enroll = read(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/enroll.md"));
    assert!(enroll.contains("examples/enroll-answers.toml"));
}

#[test]
fn the_example_roster_and_policy_provision_every_key() {
    let sb = Sandbox::new();
    let (dir, _) = keys(&sb, 3);
    let mailer = sb.path("pins.csv");
    let run = sb
        .run(&[
            "provision",
            "--roster",
            path_str(&example("roster.csv")),
            "--policy",
            path_str(&example("policy.toml")),
            "--pin-mailer",
            path_str(&mailer),
            "--device",
            &dir,
            "--json",
        ])
        .ok();
    let events: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect();
    let mut labels: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "provisioned")
        .map(|e| {
            assert_eq!(e["min_pin_length"], 6, "{e}");
            assert_eq!(e["pin_state"], "set_must_change", "{e}");
            e["label"].as_str().unwrap()
        })
        .collect();
    labels.sort();
    assert_eq!(labels, ["Ada Lovelace #1", "Ada Lovelace #2", "GH #1"]);
    let finished = events.last().unwrap();
    assert_eq!(finished["event"], "finished");
    assert_eq!(finished["done"], 3);
    // One PIN letter per key, each with an 8-digit PIN as the policy says.
    let letters = read(&mailer);
    let pins: Vec<&str> = letters
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    assert_eq!(pins.len(), 3, "{letters}");
    assert!(pins
        .iter()
        .all(|p| p.len() == 8 && p.bytes().all(|b| b.is_ascii_digit())));
}

#[test]
fn the_example_answers_file_enrolls_a_person() {
    const PIN: &str = "example-pin-42";
    let sb = Sandbox::new();
    let (dir, specs) = keys(&sb, 2);
    let answers = example("enroll-answers.toml");
    let table: toml::Table = toml::from_str(&read(&answers)).unwrap();
    let catalog = Catalog::load(None).unwrap();
    // The websites: each account the example names registers both keys where the provider's
    // credential can be seen on the key.
    let mut accounts = Vec::new();
    for pb in catalog.all() {
        let Some(user) = table
            .get(&format!("account.{}.identifier", pb.id))
            .and_then(|v| v.as_str())
        else {
            continue;
        };
        accounts.push(pb.id.clone());
        let path = pb.primary_path();
        if path.verification.evidence == Evidence::OnKey {
            for spec in &specs {
                sb.run(&[
                    "virtual",
                    "register",
                    spec.strip_prefix("virtual:").unwrap(),
                    "--rp",
                    &path.verification.rp_ids[0],
                    "--user",
                    user,
                    "--discoverable",
                ])
                .ok();
            }
        }
    }
    assert_eq!(accounts, ["google", "microsoft-entra"]);
    let run = sb
        .run_with(
            &[
                "enroll",
                "--person",
                "Ada Lovelace",
                "--answers",
                path_str(&answers),
                "--device",
                &dir,
                "--json",
            ],
            None,
            &[("KEYWARD_NEW_PIN", PIN), ("KEYWARD_PIN", PIN)],
        )
        .ok();
    assert!(
        !run.stderr.contains("no question used"),
        "the example has no stray entries:\n{}",
        run.stderr
    );
    assert!(!run.all_output().contains(PIN));
    let status = run.json();
    for id in &accounts {
        let account = status["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["playbook"] == id.as_str())
            .unwrap_or_else(|| panic!("no {id} account: {status:#}"));
        let evidence: Vec<&str> = account["enrollments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["evidence"].as_str().unwrap())
            .collect();
        assert_eq!(evidence, ["seen_on_key", "seen_on_key"], "{id}");
    }
    let remaining: Vec<(&str, &str)> = status["remaining"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["playbook"].as_str().unwrap(),
                r["method"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(remaining.contains(&("google", "sms")), "{remaining:?}");
}
