//! Guards that keep the shipped playbooks honest, read through the real binary
//! (`keyward playbooks show ID --json`):
//! - every sign-in method the public 2factorauth dataset lists for Google, Microsoft and Apple
//!   is in the matching playbook, or excluded with a reason (`tests/data/twofactorauth/`);
//! - every URL is https and names a page, not a whole site;
//! - every playbook was reviewed within the last year (this starts failing a year after the
//!   last review, on purpose: it is the reminder to review again);
//! - the CISA guidance a playbook follows is cited with its version, and wherever a phone
//!   number remains a way in, the carrier account is protected as CISA advises;
//! - every fact says how sure it is and where it comes from.

mod common;

use common::Sandbox;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use time::{macros::date, Date, OffsetDateTime};

/// The date of the truth pass every shipped playbook went through.
const TRUTH_PASS: Date = date!(2026 - 12 - 01);
const CISA_2024: &str =
    "https://www.cisa.gov/sites/default/files/2024-12/guidance-mobile-communications-best-practices.pdf";

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/twofactorauth")
        .join(rel)
}

#[derive(Deserialize)]
struct Mapping {
    methods: BTreeMap<String, String>,
    excluded: BTreeMap<String, String>,
    entries: Vec<MappedEntry>,
}

#[derive(Deserialize)]
struct MappedEntry {
    file: String,
    playbooks: Vec<String>,
    #[serde(default)]
    methods: BTreeMap<String, String>,
}

fn mapping() -> Mapping {
    let text = std::fs::read_to_string(data("mapping.toml")).unwrap();
    toml::from_str(&text).unwrap()
}

/// The methods one dataset entry lists: its `tfa` values, with `custom-software` and
/// `custom-hardware` expanded to `custom-software:NAME`.
fn dataset_methods(file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(data(file)).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let (_, entry) = v.as_object().unwrap().iter().next().unwrap();
    let mut out = Vec::new();
    for t in entry["tfa"].as_array().unwrap() {
        let t = t.as_str().unwrap();
        if t.starts_with("custom-") {
            for name in entry[t].as_array().unwrap() {
                out.push(format!("{t}:{}", name.as_str().unwrap()));
            }
        } else {
            out.push(t.to_string());
        }
    }
    out
}

/// The playbooks in effect: the shipped ones, or (for the tests that show a guard failing)
/// the shipped ones with some replaced from a folder.
struct Books<'a> {
    sb: &'a Sandbox,
    folder: Option<String>,
}

impl<'a> Books<'a> {
    fn shipped(sb: &'a Sandbox) -> Self {
        Books { sb, folder: None }
    }

    fn with_folder(sb: &'a Sandbox, folder: &Path) -> Self {
        Books {
            sb,
            folder: Some(folder.to_str().unwrap().to_string()),
        }
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all: Vec<&str> = Vec::new();
        if let Some(f) = &self.folder {
            all.extend(["--playbooks", f.as_str()]);
        }
        all.extend(args);
        self.sb.run(&all).ok().json()
    }

    fn ids(&self) -> Vec<String> {
        self.json(&["playbooks", "list", "--json"])
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    }

    fn playbook(&self, id: &str) -> Value {
        self.json(&["playbooks", "show", id, "--json"])["playbook"].clone()
    }
}

fn shipped(sb: &Sandbox) -> Vec<String> {
    Books::shipped(sb).ids()
}

fn playbook(sb: &Sandbox, id: &str) -> Value {
    Books::shipped(sb).playbook(id)
}

fn methods_of(pb: &Value) -> Vec<String> {
    pb["weaker_methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["method"].as_str().unwrap().to_string())
        .collect()
}

/// Every method the dataset lists that a playbook neither has nor excludes with a reason.
fn dataset_gaps(books: &Books) -> Vec<String> {
    let map = mapping();
    let ids = books.ids();
    let mut problems = Vec::new();
    let mut covered: Vec<&str> = Vec::new();
    for entry in &map.entries {
        let listed = dataset_methods(&entry.file);
        assert!(!listed.is_empty(), "{}: no methods read", entry.file);
        for id in &entry.playbooks {
            assert!(ids.contains(id), "mapping.toml names unknown playbook {id}");
            covered.push(id);
            let has = methods_of(&books.playbook(id));
            for method in &listed {
                if let Some(reason) = map.excluded.get(method) {
                    assert!(
                        !reason.trim().is_empty(),
                        "{method}: exclusion without a reason"
                    );
                    continue;
                }
                let Some(term) = entry.methods.get(method).or(map.methods.get(method)) else {
                    problems.push(format!(
                        "{}: the dataset lists `{method}`, which mapping.toml neither maps nor excludes",
                        entry.file
                    ));
                    continue;
                };
                if !has.contains(term) {
                    problems.push(format!(
                        "playbook `{id}` has no weaker method `{term}`, but 2factorauth ({}) lists `{method}`",
                        entry.file
                    ));
                }
            }
        }
    }
    for id in &ids {
        if !covered.contains(&id.as_str()) {
            problems.push(format!(
                "shipped playbook `{id}` is held against no 2factorauth entry: add one to tests/data/twofactorauth/mapping.toml"
            ));
        }
    }
    problems
}

#[test]
fn every_method_the_2factorauth_dataset_lists_is_in_the_playbook_or_excluded_with_a_reason() {
    let sb = Sandbox::new();
    let problems = dataset_gaps(&Books::shipped(&sb));
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

/// A shipped playbook's text with one `[[weaker_methods]]` entry cut out.
fn without_method(file: &str, method: &str) -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("providers")
            .join(file),
    )
    .unwrap();
    let head = format!("[[weaker_methods]]\nmethod = \"{method}\"\n");
    let start = text
        .find(&head)
        .unwrap_or_else(|| panic!("{file}: no {method}"));
    let rest = &text[start + head.len()..];
    let end = rest
        .find("\n[[")
        .map_or(text.len(), |i| start + head.len() + i + 1);
    format!("{}{}", &text[..start], &text[end..])
}

#[test]
fn the_dataset_guard_names_the_method_a_playbook_drops() {
    let sb = Sandbox::new();
    let dir = sb.path("changed");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("google.toml"),
        without_method("google.toml", "push"),
    )
    .unwrap();
    std::fs::write(
        dir.join("apple.toml"),
        without_method("apple.toml", "trusted_phone"),
    )
    .unwrap();
    let problems = dataset_gaps(&Books::with_folder(&sb, &dir));
    assert_eq!(
        problems,
        [
            "playbook `google` has no weaker method `push`, but 2factorauth (mail.google.com.json) lists `custom-software:Google Prompts`",
            "playbook `google` has no weaker method `push`, but 2factorauth (mail.google.com.json) lists `custom-software:Google Smart Lock`",
            "playbook `apple` has no weaker method `trusted_phone`, but 2factorauth (appleid.apple.com.json) lists `sms`",
            "playbook `apple` has no weaker method `trusted_phone`, but 2factorauth (appleid.apple.com.json) lists `call`",
            "playbook `apple` has no weaker method `trusted_phone`, but 2factorauth (icloud.com.json) lists `sms`",
            "playbook `apple` has no weaker method `trusted_phone`, but 2factorauth (icloud.com.json) lists `call`",
        ],
        "{problems:#?}"
    );
}

/// Every URL anywhere in a playbook, with where it is.
fn urls(pb: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |wher: String, v: &Value| {
        if let Some(u) = v.as_str() {
            out.push((wher, u.to_string()));
        }
    };
    for (i, s) in pb["sources"].as_array().unwrap().iter().enumerate() {
        add(format!("sources[{i}]"), &s["url"]);
    }
    for path in pb["paths"].as_array().unwrap() {
        for (si, step) in path["steps"].as_array().unwrap().iter().enumerate() {
            for platform in ["web", "iphone", "mac", "android", "windows"] {
                add(
                    format!("paths.{}.steps[{si}].{platform}", path["id"]),
                    &step[platform]["url"],
                );
            }
        }
    }
    for m in pb["weaker_methods"].as_array().unwrap() {
        for part in ["remove", "protect"] {
            add(format!("{}.{part}", m["method"]), &m[part]["url"]);
        }
    }
    for h in pb["hardening"].as_array().unwrap() {
        add(format!("hardening.{}", h["id"]), &h["url"]);
    }
    out
}

#[test]
fn every_url_is_https_and_names_a_page_not_a_whole_site() {
    let sb = Sandbox::new();
    let mut problems = Vec::new();
    for id in shipped(&sb) {
        let pb = playbook(&sb, &id);
        let found = urls(&pb);
        assert!(found.len() >= 5, "{id}: URLs not found in the JSON");
        for (wher, url) in found {
            let Some(rest) = url.strip_prefix("https://") else {
                problems.push(format!("{id} {wher}: `{url}` is not https"));
                continue;
            };
            let path = rest.split_once('/').map_or("", |(_, p)| p);
            if path.trim_matches('/').is_empty() {
                problems.push(format!(
                    "{id} {wher}: `{url}` is a whole site; cite the page"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn every_playbook_was_reviewed_in_the_truth_pass_and_within_the_last_year() {
    // Today's date, not a fixed one: a year after the last review this fails, and that is the
    // reminder to check every fact again and move `last_reviewed` (docs/playbooks.md).
    let today = OffsetDateTime::now_utc().date();
    let sb = Sandbox::new();
    for id in shipped(&sb) {
        let pb = playbook(&sb, &id);
        let text = pb["last_reviewed"].as_str().unwrap();
        let reviewed = Date::parse(
            text,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .unwrap();
        assert!(
            reviewed >= TRUTH_PASS,
            "{id}: last_reviewed {text} is before the 2026-12-01 truth pass"
        );
        let age = (today - reviewed).whole_days();
        assert!(
            (0..=365).contains(&age),
            "{id}: last reviewed {text}, {age} days ago: review it against its sources (docs/playbooks.md, \"Reviewing the shipped playbooks\") and update last_reviewed"
        );
    }
}

#[test]
fn each_playbook_cites_the_cisa_version_it_follows_and_says_a_newer_one_is_unverified() {
    let sb = Sandbox::new();
    for id in shipped(&sb) {
        let pb = playbook(&sb, &id);
        let cisa = pb["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["url"] == CISA_2024)
            .unwrap_or_else(|| panic!("{id}: the December 2024 CISA guidance is not cited"));
        let title = cisa["title"].as_str().unwrap();
        assert!(title.contains("December 2024"), "{id}: {title}");
        let notes: Vec<&str> = pb["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["text"].as_str().unwrap())
            .collect();
        assert!(
            notes.iter().any(|n| n.contains("December 2024")
                && n.contains("2.0")
                && n.contains("2025-11-24")
                && n.contains("unverified")),
            "{id}: no note saying which CISA version it follows: {notes:#?}"
        );
    }
}

#[test]
fn wherever_a_phone_number_is_a_way_in_the_carrier_account_is_protected_as_cisa_advises() {
    let phone_ways = [
        "sms",
        "voice",
        "recovery_phone",
        "trusted_phone",
        "account_recovery",
        "mobile_number_sign_in",
    ];
    let sb = Sandbox::new();
    let mut checked = 0;
    for id in shipped(&sb) {
        let pb = playbook(&sb, &id);
        let has = methods_of(&pb);
        if !has.iter().any(|m| phone_ways.contains(&m.as_str())) {
            continue;
        }
        checked += 1;
        let carrier = pb["weaker_methods"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["method"] == "carrier_account")
            .unwrap_or_else(|| {
                panic!("{id}: a phone number stays a way in, but no carrier_account entry")
            });
        let steps: Vec<String> = carrier["protect"]["steps"]
            .as_array()
            .unwrap_or_else(|| panic!("{id}: carrier_account says nothing on protecting it"))
            .iter()
            .map(|s| s.as_str().unwrap().to_lowercase())
            .collect();
        let all = steps.join(" ");
        for want in ["pin", "port-out", "number lock", "multi-factor", "change"] {
            assert!(
                all.contains(want),
                "{id}: carrier protection lacks `{want}`: {all}"
            );
        }
        // Changing the carrier password comes after PIN and MFA are on (CISA's order).
        assert!(
            steps.last().unwrap().contains("password"),
            "{id}: {steps:?}"
        );
    }
    assert!(checked >= 4, "only {checked} playbooks keep a phone number");
}

#[test]
fn every_fact_in_a_shipped_playbook_says_how_sure_it_is_and_where_it_comes_from() {
    let sb = Sandbox::new();
    let mut problems = Vec::new();
    for id in shipped(&sb) {
        let v = sb.run(&["playbooks", "show", &id, "--json"]).ok().json();
        let listed = v["playbook"]["sources"].as_array().unwrap().len();
        for f in v["facts"].as_array().unwrap() {
            let what = f["what"].as_str().unwrap();
            // A step keyward itself performs ("Let keyward check the key") is not a fact about
            // the provider.
            if what.contains("Let keyward check")
                || what.contains("Confirm")
                || what.contains("Set a PIN on the key")
            {
                continue;
            }
            if f["confidence"].is_null() {
                problems.push(format!("{id}: `{what}` has no confidence"));
            }
            let sources = f["sources"].as_array().unwrap();
            if sources.is_empty() {
                problems.push(format!("{id}: `{what}` cites no source"));
            }
            for s in sources {
                assert!(s["url"].as_str().unwrap().starts_with("https://"));
            }
        }
        assert!(listed >= 3, "{id}: {listed} sources");
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

/// Every text a shipped playbook shows the person (not the administrator's `admin` fields,
/// RP IDs or source titles), with where it is.
fn person_texts(pb: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |wher: String, v: &Value| {
        if let Some(t) = v.as_str() {
            out.push((wher, t.to_string()));
        }
    };
    let req = &pb["requirements"];
    for k in [
        "keys",
        "fido2",
        "u2f",
        "user_verification",
        "discoverable",
        "fido_certified",
    ] {
        add(format!("requirements.{k}.reason"), &req[k]["reason"]);
        add(
            format!("requirements.{k}.not_certain"),
            &req[k]["not_certain"],
        );
    }
    for (i, c) in req["preconditions"].as_array().unwrap().iter().enumerate() {
        add(format!("preconditions[{i}]"), &c["text"]);
        add(format!("preconditions[{i}].not_certain"), &c["not_certain"]);
    }
    for path in pb["paths"].as_array().unwrap() {
        let id = path["id"].as_str().unwrap();
        add(format!("paths.{id}.summary"), &path["summary"]);
        add(
            format!("paths.{id}.verification.tell_apart"),
            &path["verification"]["tell_apart"],
        );
        if path["verification"]["evidence"] == "person_confirms" {
            add(
                format!("paths.{id}.verification.explanation"),
                &path["verification"]["explanation"],
            );
        }
        for (si, step) in path["steps"].as_array().unwrap().iter().enumerate() {
            add(format!("paths.{id}.steps[{si}]"), &step["instruction"]);
            add(
                format!("paths.{id}.steps[{si}].one_key"),
                &step["one_key"]["instruction"],
            );
        }
    }
    for m in pb["weaker_methods"].as_array().unwrap() {
        let id = m["method"].as_str().unwrap();
        for k in [
            "label",
            "why_weaker",
            "condition",
            "keep_reason",
            "why_not_usable",
            "not_certain",
        ] {
            add(format!("{id}.{k}"), &m[k]);
        }
        for part in ["remove", "protect"] {
            for (i, s) in m[part]["steps"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                add(format!("{id}.{part}.steps[{i}]"), s);
            }
        }
    }
    out
}

/// `enroll` tells the person to call the key "Key A" on the website and later asks whether the
/// account lists "Key A": a playbook that advises another name contradicts it.
#[test]
fn every_naming_advice_agrees_with_keywards_key_a() {
    let sb = Sandbox::new();
    let mut problems = Vec::new();
    for id in shipped(&sb) {
        for (wher, text) in person_texts(&playbook(&sb, &id)) {
            let lower = text.to_lowercase();
            let names = ["name it", "give it a name", "name the key", "nickname"]
                .iter()
                .any(|w| lower.contains(w));
            if names && !text.contains("\"Key ") {
                problems.push(format!("{id} {wher}: {text}"));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn what_the_person_reads_has_no_help_desk_jargon() {
    // Words a help desk knows and a person does not; they belong in `admin` fields.
    let words = [
        "OATH", "AAGUID", "UPN", "Graph", "SSPR", "API", "ASP", "ASPs",
    ];
    let sb = Sandbox::new();
    let mut problems = Vec::new();
    let mut read = 0;
    for id in shipped(&sb) {
        let pb = playbook(&sb, &id);
        for (wher, text) in person_texts(&pb) {
            read += 1;
            let tokens: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).collect();
            for w in words {
                if tokens.contains(&w) {
                    problems.push(format!("{id} {wher}: `{w}` in \"{text}\""));
                }
            }
            if text.contains("RP ID") {
                problems.push(format!("{id} {wher}: `RP ID` in \"{text}\""));
            }
        }
    }
    assert!(read > 200, "only {read} texts found in the JSON");
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}
