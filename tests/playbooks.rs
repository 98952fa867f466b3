//! Provider playbooks through the real binary: the shipped ones, custom folders that add and
//! override, and malformed files that must each produce their exact error.

mod common;

use common::{path_str, Sandbox};
use std::path::{Path, PathBuf};

const SHIPPED: [&str; 5] = [
    "apple",
    "google",
    "google-advanced-protection",
    "microsoft-entra",
    "microsoft-personal",
];

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A small valid playbook an organisation might write.
const BASE: &str = r#"id = "acme-vpn"
name = "ACME VPN"
applies_to = "Staff VPN accounts"
last_reviewed = 2026-11-01

[[sources]]
url = "https://vpn.example.com/docs"

[requirements.keys]
min = 1
recommended = 2
reason = "Two keys per person."

[requirements.fido2]
acceptable = true
reason = "FIDO2 keys work."

[requirements.u2f]
acceptable = false
reason = "The VPN needs a passkey."

[requirements.user_verification]
required = true
reason = "A PIN is required."

[requirements.discoverable]
required = true
reason = "Passkeys live on the key."

[requirements.fido_certified]
required = false
reason = "Any key will do."

[[paths]]
id = "passkey"
title = "Add a passkey"
summary = "Register the key on the VPN portal."

[paths.verification]
evidence = "on_key"
rp_ids = ["vpn.example.com"]
explanation = "keyward looks for vpn.example.com on the key."

[[paths.steps]]
title = "Open the portal"
instruction = "Sign in to the VPN portal."
expects = "act"
[paths.steps.web]
url = "https://vpn.example.com/keys"

[[weaker_methods]]
method = "totp"
why_weaker = "Codes can be phished."
removable = "yes"
[weaker_methods.remove]
url = "https://vpn.example.com/keys"
steps = ["Delete the authenticator."]
"#;

/// BASE with `from` replaced by `to` (which must occur exactly once).
fn variant(from: &str, to: &str) -> String {
    assert_eq!(
        BASE.matches(from).count(),
        1,
        "`{from}` must occur once in BASE"
    );
    BASE.replace(from, to)
}

/// `line:column` of the first occurrence of `needle` in `text`, counted independently of the
/// code under test.
fn pos(text: &str, needle: &str) -> String {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in text"));
    let before = &text[..at];
    let line = before.lines().count() + usize::from(before.ends_with('\n') || before.is_empty());
    let col = before.rsplit('\n').next().unwrap().chars().count() + 1;
    format!("{line}:{col}")
}

fn write(sb: &Sandbox, rel: &str, text: &str) -> PathBuf {
    let p = sb.path(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn shipped_playbooks_are_listed_and_validate() {
    let sb = Sandbox::new();
    let list = sb.run(&["playbooks", "list", "--json"]).ok().json();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, SHIPPED);
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["origin"]["kind"] == "builtin"));

    let files: Vec<PathBuf> = SHIPPED
        .iter()
        .map(|id| repo(&format!("providers/{id}.toml")))
        .chain([repo("examples/playbooks/github.toml")])
        .collect();
    let mut args = vec!["playbooks", "validate", "--json"];
    args.extend(files.iter().map(|p| path_str(p)));
    let report = sb.run(&args).ok().json();
    assert_eq!(report["ok"], true);
    for f in report["files"].as_array().unwrap() {
        let errors: Vec<&serde_json::Value> = f["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["severity"] == "error")
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", f["file"]);
    }
}

#[test]
fn show_gives_numbered_steps_urls_and_weaker_methods_for_every_shipped_playbook() {
    let sb = Sandbox::new();
    for id in SHIPPED {
        let out = sb.run(&["playbooks", "show", id]).ok().stdout;
        assert!(out.contains("\n  1. "), "{id}: no numbered steps:\n{out}");
        assert!(out.contains("\n  2. "), "{id}: only one step:\n{out}");
        assert!(
            out.contains("https://") && out.contains("Sources\n"),
            "{id}: no URLs or sources:\n{out}"
        );
        assert!(
            out.contains("Weaker sign-in methods"),
            "{id}: no weaker methods:\n{out}"
        );
        assert!(out.contains("What you need"), "{id}:\n{out}");
    }
    // Google leads with the passkey path the key can prove, the second step only as fallback.
    let google = sb.run(&["playbooks", "show", "google"]).ok().stdout;
    let passkey = google
        .find("Add the key as a passkey (recommended)")
        .expect("passkey path first");
    let fallback = google
        .find("If that is not possible: Add the key as a second step only")
        .expect("second-step fallback");
    assert!(passkey < fallback);
    assert!(google.contains("https://myaccount.google.com/signinoptions/passkeys"));
    // Uncertain facts are shown as such.
    let personal = sb
        .run(&["playbooks", "show", "microsoft-personal"])
        .ok()
        .stdout;
    assert!(personal.contains("not certain: The key is created at login.microsoft.com/consumers"));
    // Apple's trusted phone stays, with the reason and how to protect it.
    let apple = sb.run(&["playbooks", "show", "apple"]).ok().stdout;
    assert!(
        apple.contains("Trusted phone number [trusted_phone]: keep it, by design, and protect it"),
        "{apple}"
    );
    let trusted = apple.split("[trusted_phone]").nth(1).unwrap();
    let trusted = trusted.split("\n  - ").next().unwrap();
    assert!(
        trusted.contains("Why it stays: Apple requires"),
        "{trusted}"
    );
    assert!(trusted.contains("How to protect it:"), "{trusted}");
    assert!(trusted.contains("Add a second trusted number"), "{trusted}");
    // Under Advanced Protection, codes cannot sign in: said so, and removing them still advised.
    let ap = sb
        .run(&["playbooks", "show", "google-advanced-protection"])
        .ok()
        .stdout;
    // Compared as a person reads it, whatever the line wrapping.
    let ap = ap.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        ap.contains("Text message codes (2-Step Verification phone) [sms]: it cannot sign anyone in here; remove it anyway"),
        "{ap}"
    );
    assert!(ap.contains("Why it cannot sign in here: Under Advanced Protection"));
    assert!(
        ap.contains("Recovery phone number [recovery_phone]: keep it, by design, and protect it")
    );
}

#[test]
fn show_gives_each_fact_its_confidence_and_sources_in_text_and_json() {
    let sb = Sandbox::new();
    let text = sb.run(&["playbooks", "show", "google"]).ok().stdout;
    // The fallback's "Use security key" step, then how sure and from where.
    let step = text.split("Add the security key\n").nth(1).expect(&text);
    let step = step.split("\n  3. ").next().unwrap();
    assert!(step.contains("Use security key"), "{step}");
    assert!(
        step.contains("Confidence: verified; sources: wu24, microg"),
        "{step}"
    );
    // The Sources list names each id with its page.
    let sources = text.split("\nSources\n").nth(1).unwrap();
    assert!(sources.contains("  - wu24: Google Workspace Updates, 2024-05-06"));
    assert!(sources.contains(
        "https://workspaceupdates.googleblog.com/2024/05/updates-for-configuring-two-step-verification-for-your-google-account.html"
    ));
    // Uncertain facts keep both their doubt and their basis.
    assert!(
        text.contains("Confidence: uncertain; sources: rc-news"),
        "{text}"
    );

    let json = sb
        .run(&["playbooks", "show", "microsoft-entra", "--json"])
        .ok()
        .json();
    let facts = json["facts"].as_array().unwrap();
    let fido = facts
        .iter()
        .find(|f| {
            f["what"]
                .as_str()
                .unwrap()
                .starts_with("Your organisation allows passkeys")
        })
        .expect("the self-service precondition is a fact");
    assert_eq!(fido["confidence"], "verified");
    let urls: Vec<&str> = fido["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["url"].as_str().unwrap())
        .collect();
    assert!(
        urls.contains(&"https://learn.microsoft.com/en-us/graph/known-issues#fido2-provisioning-api-requires-self-service-setup-to-be-enabled"),
        "{urls:?}"
    );
    let email = facts
        .iter()
        .find(|f| f["what"] == "Email one-time code [email_code]")
        .unwrap();
    assert_eq!(email["confidence"], "uncertain");
    // What is unknown, in the person's words (not "SSPR").
    let doubt = email["not_certain"].as_str().unwrap();
    assert!(doubt.contains("or only reset your password"), "{doubt}");
}

#[test]
fn show_json_carries_the_data_the_other_commands_need() {
    let sb = Sandbox::new();
    let v = sb
        .run(&["playbooks", "show", "microsoft-entra", "--json"])
        .ok()
        .json();
    let pb = &v["playbook"];
    assert_eq!(pb["requirements"]["user_verification"]["required"], true);
    assert_eq!(pb["requirements"]["discoverable"]["required"], true);
    assert_eq!(pb["requirements"]["u2f"]["acceptable"], false);
    assert_eq!(pb["paths"][0]["verification"]["evidence"], "on_key");
    assert_eq!(
        pb["paths"][0]["verification"]["rp_ids"],
        serde_json::json!(["login.microsoft.com", "login.microsoftonline.com"])
    );
    assert_eq!(pb["last_reviewed"], "2026-12-01");
    let methods: Vec<&str> = pb["weaker_methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["method"].as_str().unwrap())
        .collect();
    assert!(methods.contains(&"sms") && methods.contains(&"temporary_access_pass"));
    let apple = sb
        .run(&["playbooks", "show", "apple", "--json"])
        .ok()
        .json();
    assert_eq!(apple["playbook"]["requirements"]["keys"]["min"], 2);
    assert_eq!(apple["playbook"]["requirements"]["keys"]["max"], 6);
    assert_eq!(
        apple["playbook"]["paths"][0]["verification"]["evidence"],
        "person_confirms"
    );
}

#[test]
fn platform_filter_shows_only_that_device_and_says_what_cannot_be_done_there() {
    let sb = Sandbox::new();
    let iphone = sb
        .run(&["playbooks", "show", "apple", "--platform", "iphone"])
        .ok()
        .stdout;
    assert!(iphone.contains("iPhone: Settings > [your name] > Sign-In & Security > Security Keys"));
    assert!(!iphone.contains("Mac: System Settings"));

    let windows = sb
        .run(&["playbooks", "show", "apple", "--platform", "windows"])
        .ok()
        .stdout;
    assert!(windows.contains("This step cannot be done on Windows: use iPhone or Mac."));

    let json = sb
        .run(&[
            "playbooks",
            "show",
            "apple",
            "--platform",
            "windows",
            "--json",
        ])
        .ok()
        .json();
    let titles: Vec<&str> = json["unavailable_steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Open Security Keys", "Add the keys"]);

    // A web step shows its URL on a phone too (a browser works everywhere).
    let android = sb
        .run(&[
            "playbooks",
            "show",
            "microsoft-entra",
            "--platform",
            "android",
        ])
        .ok()
        .stdout;
    assert!(android.contains("Web: https://mysignins.microsoft.com/security-info"));

    let bad = sb
        .run(&["playbooks", "show", "apple", "--platform", "blackberry"])
        .expect_code(2);
    assert!(bad.stderr.contains("unknown platform `blackberry`"));
}

#[test]
fn unknown_id_is_bad_input_with_a_hint() {
    let sb = Sandbox::new();
    let r = sb.run(&["playbooks", "show", "gogle"]).expect_code(12);
    assert!(r
        .stderr
        .contains("no playbook with id `gogle`; `keyward playbooks list` shows them"));
    let j = sb
        .run(&["playbooks", "show", "gogle", "--json"])
        .expect_code(12)
        .json();
    assert_eq!(j["error"]["kind"], "bad_input");
}

#[test]
fn a_custom_folder_adds_playbooks_and_overrides_shipped_ones_by_id() {
    let sb = Sandbox::new();
    let examples = repo("examples/playbooks");
    let list = sb
        .run(&[
            "--playbooks",
            path_str(&examples),
            "playbooks",
            "list",
            "--json",
        ])
        .ok()
        .json();
    let github = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "github")
        .expect("github listed");
    assert_eq!(github["origin"]["kind"], "file");
    let shown = sb
        .run(&[
            "--playbooks",
            path_str(&examples),
            "playbooks",
            "show",
            "github",
        ])
        .ok()
        .stdout;
    assert!(shown.contains("GitHub account (github)"));
    assert!(shown.contains("1. Open Password and authentication"));

    // Our own "google": replaces the shipped one.
    let own = variant("id = \"acme-vpn\"", "id = \"google\"")
        .replace("name = \"ACME VPN\"", "name = \"Google (ACME edition)\"");
    write(&sb, "org/google.toml", &own);
    let dir = sb.path("org");
    let list = sb
        .run(&["--playbooks", path_str(&dir), "playbooks", "list", "--json"])
        .ok()
        .json();
    let google: Vec<&serde_json::Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["id"] == "google")
        .collect();
    assert_eq!(google.len(), 1, "an override replaces, never duplicates");
    assert_eq!(google[0]["name"], "Google (ACME edition)");
    assert_eq!(google[0]["overrides"]["kind"], "builtin");
    let text = sb
        .run(&["--playbooks", path_str(&dir), "playbooks", "list"])
        .ok()
        .stdout;
    assert!(text.contains("replaces the built in one"), "{text}");
    let shown = sb
        .run(&["--playbooks", path_str(&dir), "playbooks", "show", "google"])
        .ok()
        .stdout;
    assert!(shown.starts_with("Google (ACME edition) (google)"));
}

#[test]
fn the_config_folder_is_read_and_the_flag_overrides_it() {
    let sb = Sandbox::new();
    let config = "home/.config/keyward/playbooks";
    write(&sb, &format!("{config}/acme.toml"), BASE);
    let list = sb.run(&["playbooks", "list", "--json"]).ok().json();
    let acme = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "acme-vpn")
        .expect("config folder playbook listed");
    assert!(acme["origin"]["path"]
        .as_str()
        .unwrap()
        .ends_with("keyward/playbooks/acme.toml"));

    write(
        &sb,
        "flag/acme.toml",
        &variant("name = \"ACME VPN\"", "name = \"ACME VPN (from the flag)\""),
    );
    let list = sb
        .run(&[
            "--playbooks",
            path_str(&sb.path("flag")),
            "playbooks",
            "list",
            "--json",
        ])
        .ok()
        .json();
    let acme = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "acme-vpn")
        .unwrap();
    assert_eq!(acme["name"], "ACME VPN (from the flag)");
}

#[test]
fn a_broken_or_missing_folder_fails_loading_with_the_file_and_line() {
    let sb = Sandbox::new();
    let broken = variant("removable = \"yes\"", "removable = \"maybe\"");
    let f = write(&sb, "org/broken.toml", &broken);
    let r = sb
        .run(&[
            "--playbooks",
            path_str(&sb.path("org")),
            "playbooks",
            "list",
        ])
        .expect_code(12);
    let want = format!(
        "{}:{}: error: unknown value `maybe`; use one of: yes, no, conditional",
        f.display(),
        pos(&broken, "\"maybe\"")
    );
    assert!(r.stderr.contains(&want), "{}", r.stderr);

    // Two files in one folder with the same id.
    write(&sb, "twice/a.toml", BASE);
    let b = write(&sb, "twice/b.toml", BASE);
    let a = sb.path("twice/a.toml");
    let r = sb
        .run(&[
            "--playbooks",
            path_str(&sb.path("twice")),
            "playbooks",
            "list",
        ])
        .expect_code(12);
    let want = format!(
        "{}:1:6: error: duplicate id `acme-vpn`: {} already defines it",
        b.display(),
        a.display()
    );
    assert!(r.stderr.contains(&want), "{}", r.stderr);

    let r = sb
        .run(&[
            "--playbooks",
            path_str(&sb.path("nowhere")),
            "playbooks",
            "list",
        ])
        .expect_code(12);
    assert!(
        r.stderr.contains("cannot read playbooks at"),
        "{}",
        r.stderr
    );
}

/// Each malformed playbook and the one finding it must produce (`{at}` is replaced by the
/// position of the text the error must point at).
fn malformed() -> Vec<(&'static str, String, &'static str, String)> {
    let vocab = "sms, voice, totp, hardware_oath, push, email_code, backup_codes, recovery_code, \
                 app_password, security_questions, recovery_phone, recovery_email, trusted_phone, \
                 trusted_device, temporary_access_pass, password, recovery_contact, mobile_number_sign_in, \
                 other_passkey, synced_passkey, account_recovery, carrier_account";
    vec![
        (
            "unknown-field",
            variant("name = \"ACME VPN\"", "nmae = \"ACME VPN\""),
            "nmae",
            "unknown field `nmae`; did you mean `name`?".into(),
        ),
        (
            "unknown-platform",
            variant("[paths.steps.web]", "[paths.steps.iphnoe]"),
            "iphnoe",
            "unknown field `iphnoe`; did you mean `iphone`?".into(),
        ),
        (
            "unknown-method",
            variant("method = \"totp\"", "method = \"totps\""),
            "\"totps\"",
            format!("unknown weaker method `totps`; did you mean `totp`? use one of: {vocab}"),
        ),
        (
            "missing-sources",
            variant("[[sources]]\nurl = \"https://vpn.example.com/docs\"\n", ""),
            "id",
            "missing field `sources` (the https:// pages its facts come from)".into(),
        ),
        (
            "empty-sources",
            variant(
                "[[sources]]\nurl = \"https://vpn.example.com/docs\"\n",
                "sources = []\n",
            ),
            "[]",
            "no sources: list the https:// pages the facts come from".into(),
        ),
        (
            "missing-review-date",
            variant("last_reviewed = 2026-11-01\n", ""),
            "id",
            "missing field `last_reviewed` (the date a person last checked the facts, like 2026-11-20)"
                .into(),
        ),
        (
            "not-a-date",
            variant("last_reviewed = 2026-11-01", "last_reviewed = \"last week\""),
            "\"last week\"",
            "`last week` is not a plain date; write it like 2026-11-20 (no time, no quotes)".into(),
        ),
        (
            "http-url",
            variant(
                "url = \"https://vpn.example.com/docs\"",
                "url = \"http://vpn.example.com/docs\"",
            ),
            "\"http://vpn",
            "`http://vpn.example.com/docs` is not an https:// URL; playbooks only link to https:// pages"
                .into(),
        ),
        (
            "min-above-max",
            variant("min = 1\nrecommended = 2", "min = 3\nrecommended = 3\nmax = 2"),
            "2\nreason",
            "requirements.keys: min (3) is above max (2)".into(),
        ),
        (
            "wrong-type",
            variant("min = 1", "min = \"one\""),
            "\"one\"",
            "invalid type: string \"one\", expected u32".into(),
        ),
        (
            "bad-expects",
            variant("expects = \"act\"", "expects = \"click\""),
            "\"click\"",
            "unknown value `click`; use one of: read, act, confirm, verify_on_key".into(),
        ),
        (
            "conditional-without-condition",
            variant(
                "removable = \"yes\"",
                "removable = \"conditional\"\nkeep_reason = \"Policy.\"",
            ),
            "\"conditional\"",
            "`totp` is removable only under a condition, but no `condition` says which".into(),
        ),
        (
            "kept-without-reason",
            variant("removable = \"yes\"", "removable = \"no\""),
            "\"no\"",
            "`totp` may have to stay, but no `keep_reason` says why (the ledger records it)".into(),
        ),
        (
            "uncertain-without-note",
            variant(
                "reason = \"Any key will do.\"",
                "reason = \"Any key will do.\"\nconfidence = \"uncertain\"",
            ),
            "\"uncertain\"",
            "marked `confidence = \"uncertain\"` without `not_certain`: say what is not certain, so the person is told"
                .into(),
        ),
        (
            "on-key-without-rp-ids",
            variant("rp_ids = [\"vpn.example.com\"]\n", ""),
            "\"on_key\"",
            "evidence is \"on_key\" but no rp_ids are listed: keyward cannot know which credential on the key proves it"
                .into(),
        ),
        (
            "method-twice",
            format!(
                "{BASE}\n[[weaker_methods]]\nmethod = \"totp\"\nwhy_weaker = \"Again.\"\nremovable = \"no\"\nkeep_reason = \"x\"\n"
            ),
            "\"totp\"\nwhy_weaker = \"Again",
            "weaker method `totp` is listed twice; each method appears once per playbook".into(),
        ),
        (
            "unknown-source",
            variant(
                "reason = \"Any key will do.\"",
                "reason = \"Any key will do.\"\nsources = [\"docs\"]",
            ),
            "\"docs\"",
            "unknown source `docs`; no [[sources]] has an `id` yet; give the source an `id` first"
                .into(),
        ),
        (
            "advice-remove-what-must-stay",
            variant(
                "removable = \"yes\"",
                "removable = \"no\"\nkeep_reason = \"Policy.\"\nadvice = \"remove\"",
            ),
            "\"remove\"",
            "`totp` cannot be removed (`removable = \"no\"`) but `advice = \"remove\"`; use `keep_and_protect` and say how to protect it"
                .into(),
        ),
        (
            "kept-without-protect",
            variant(
                "removable = \"yes\"",
                "removable = \"no\"\nkeep_reason = \"Policy.\"\nadvice = \"keep_and_protect\"",
            ),
            "\"keep_and_protect\"",
            "`totp` stays on the account: add [weaker_methods.protect] (`steps`, `url` or `menu`) saying how to protect it"
                .into(),
        ),
        (
            "not-usable-without-why",
            variant(
                "removable = \"yes\"",
                "removable = \"yes\"\nadvice = \"not_usable\"",
            ),
            "\"not_usable\"",
            "`totp` is marked not usable for sign-in, but no `why_not_usable` says why".into(),
        ),
        (
            "bad-id",
            variant("id = \"acme-vpn\"", "id = \"ACME VPN\""),
            "\"ACME VPN\"",
            "id `ACME VPN` must be lowercase letters, digits and `-` (like `google` or `acme-vpn`)"
                .into(),
        ),
        (
            "domain-with-at",
            variant(
                "applies_to = \"Staff VPN accounts\"",
                "applies_to = \"Staff VPN accounts\"\nuser_name_domains = [\"acme.example\", \"@acme.test\"]",
            ),
            "\"@acme.test\"",
            "`@acme.test` is not a domain; write it like `example.com` (no @)".into(),
        ),
        (
            "broken-toml",
            variant("title = \"Open the portal\"", "title = \"Open the portal"),
            // The parser points where the closing quote is missing: the end of the line.
            "\ninstruction = \"Sign in to the VPN portal",
            "invalid basic string, expected `\"`".into(),
        ),
    ]
}

#[test]
fn each_malformed_playbook_gets_its_exact_error_with_file_line_and_column() {
    let sb = Sandbox::new();
    let cases = malformed();
    assert!(cases.len() >= 12);
    let mut files = Vec::new();
    for (i, (name, text, _, _)) in cases.iter().enumerate() {
        // Distinct ids, so the cross-file duplicate check stays out of these cases.
        let text = text.replacen("\"acme-vpn\"", &format!("\"acme-{i}\""), 1);
        files.push((write(&sb, &format!("bad/{name}.toml"), &text), text));
    }
    let mut args = vec!["playbooks", "validate", "--json"];
    args.extend(files.iter().map(|(p, _)| path_str(p)));
    let run = sb.run(&args).expect_code(12);
    // With --json, stdout is exactly one document: the report.
    let report = run.json();
    assert_eq!(report["ok"], false);
    let reports = report["files"].as_array().unwrap();
    assert_eq!(reports.len(), cases.len());
    for ((name, _, at, message), ((file, text), got)) in cases.iter().zip(files.iter().zip(reports))
    {
        let errors: Vec<String> = got["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["severity"] == "error")
            .map(|d| {
                format!(
                    "{}:{}:{}: {}",
                    d["file"].as_str().unwrap(),
                    d["line"],
                    d["column"],
                    d["message"].as_str().unwrap()
                )
            })
            .collect();
        let want = format!("{}:{}: {message}", file.display(), pos(text, at));
        assert_eq!(errors, vec![want], "case {name}");
        assert_eq!(got["ok"], false, "case {name}");
    }
    // The same findings in text, one per line, and a summary on stderr.
    let mut args = vec!["playbooks", "validate"];
    args.extend(files.iter().map(|(p, _)| path_str(p)));
    let text = sb.run(&args).expect_code(12);
    let first = &files[0].0;
    assert!(text.stdout.contains(&format!(
        "{}:{}: error: unknown field `nmae`; did you mean `name`?",
        first.display(),
        pos(&files[0].1, "nmae")
    )));
    assert!(text.stderr.contains(&format!(
        "{} of {} playbook files have errors",
        cases.len(),
        cases.len()
    )));
}

#[test]
fn the_same_id_in_two_validated_files_is_an_error_on_the_second() {
    let sb = Sandbox::new();
    let a = write(&sb, "a.toml", BASE);
    let b = write(&sb, "b.toml", BASE);
    let r = sb
        .run(&["playbooks", "validate", path_str(&a), path_str(&b)])
        .expect_code(12);
    assert!(r
        .stdout
        .contains(&format!("{}: ok (id `acme-vpn`)", a.display())));
    assert!(r.stdout.contains(&format!(
        "{}:1:6: error: duplicate id `acme-vpn`: {} already defines it; give one of them another id",
        b.display(),
        a.display()
    )));
}

#[test]
fn an_old_review_date_warns_without_failing_and_the_age_is_configurable() {
    let sb = Sandbox::new();
    let old = write(
        &sb,
        "old.toml",
        &variant("last_reviewed = 2026-11-01", "last_reviewed = 2020-01-01"),
    );
    let r = sb
        .run(&["playbooks", "validate", "--json", path_str(&old)])
        .ok()
        .json();
    let d = &r["files"][0]["diagnostics"][0];
    assert_eq!(d["severity"], "warning");
    assert_eq!(d["line"], 4);
    let msg = d["message"].as_str().unwrap();
    assert!(msg.starts_with("last reviewed 2020-01-01 ("), "{msg}");
    assert!(msg.contains("days ago, more than 180)"), "{msg}");

    let r = sb
        .run(&[
            "playbooks",
            "validate",
            "--json",
            "--max-age-days",
            "100000",
            path_str(&old),
        ])
        .ok()
        .json();
    assert_eq!(r["files"][0]["diagnostics"], serde_json::json!([]));

    // Loaded from a folder, the warning goes to stderr and the playbook is still used.
    let dir = sb.path("dir");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&old, dir.join("old.toml")).unwrap();
    let r = sb
        .run(&[
            "--playbooks",
            path_str(&dir),
            "playbooks",
            "show",
            "acme-vpn",
        ])
        .ok();
    assert!(r.stderr.contains("warning: ") && r.stderr.contains("last reviewed 2020-01-01"));
    assert!(r.stdout.starts_with("ACME VPN (acme-vpn)"));
}

#[test]
fn a_source_that_is_a_whole_site_is_a_warning_naming_the_line() {
    let sb = Sandbox::new();
    let text = variant(
        "url = \"https://vpn.example.com/docs\"",
        "url = \"https://vpn.example.com/\"",
    );
    let file = write(&sb, "site.toml", &text);
    let r = sb.run(&["playbooks", "validate", path_str(&file)]).ok();
    assert!(
        r.stdout.contains(&format!(
            "{}:{}: warning: `https://vpn.example.com/` is a whole site; cite the page the facts are on",
            file.display(),
            pos(&text, "\"https://vpn.example.com/\"")
        )),
        "{}",
        r.stdout
    );
}

#[test]
fn status_says_what_to_keep_and_protect_and_what_cannot_sign_in_here() {
    use keyward::ledger::{Actor, Ledger, MethodStatus};
    let sb = Sandbox::new();
    {
        let mut l = Ledger::open(&sb.ledger()).unwrap();
        let a = Actor::operator("sam");
        let ada = l
            .upsert_person(&a, "Ada Lovelace", Some("ada@example.com"))
            .unwrap();
        let g = l
            .add_account(&a, ada.id, "google-advanced-protection", "ada@example.com")
            .unwrap();
        let ap = l
            .add_account(&a, ada.id, "apple", "ada@icloud.com")
            .unwrap();
        // A working key in each account: until then its methods only wait for one.
        let key = l
            .register_key(
                &a,
                ada.id,
                &keyward::ledger::NewKey {
                    label: "Key A".into(),
                    ..Default::default()
                },
            )
            .unwrap();
        for account in [&g, &ap] {
            l.record_enrollment(
                &a,
                &keyward::ledger::NewEnrollment {
                    account_id: account.id,
                    key_id: key.id,
                    evidence: keyward::ledger::Evidence::ConfirmedByOperator,
                    detail: Default::default(),
                },
            )
            .unwrap();
        }
        l.set_method_status(&a, g.id, "sms", MethodStatus::Present, None)
            .unwrap();
        l.set_method_status(&a, g.id, "recovery_phone", MethodStatus::Unknown, None)
            .unwrap();
        l.set_method_status(
            &a,
            ap.id,
            "carrier_account",
            MethodStatus::Kept,
            Some("Apple requires a trusted phone number"),
        )
        .unwrap();
    }
    let out = sb.run(&["status", "Ada Lovelace"]).ok().stdout;
    let todo = out.split("Accounts:").next().unwrap();
    // Text codes under Advanced Protection: cannot sign in, removal still advised, with where.
    let sms = todo.split("[sms]").nth(1).expect(&out);
    let sms = sms.split("\n  - ").next().unwrap();
    assert!(
        sms.contains("It cannot sign anyone in here: Under Advanced Protection you must sign in with a passkey or security key; text codes cannot sign you in. Remove it anyway:"),
        "{out}"
    );
    assert!(
        sms.contains("https://myaccount.google.com/two-step-verification/phone-numbers"),
        "{out}"
    );
    // The recovery phone is not to be removed: keep it, why, and how to protect it.
    let phone = todo.split("[recovery_phone]").nth(1).expect(&out);
    assert!(phone.contains("Keep it, by design: Google asks"), "{out}");
    assert!(phone.contains("Protect it:"), "{out}");
    assert!(!phone.contains("May have to stay"), "{out}");
    // A kept carrier account shows CISA's protection steps under the account.
    let kept = out.split("carrier_account: kept").nth(1).expect(&out);
    assert!(
        kept.contains("Set a PIN or passcode on your mobile carrier account"),
        "{out}"
    );
    let json = sb.run(&["status", "Ada Lovelace", "--json"]).ok().json();
    let advice: Vec<(&str, &str)> = json["remaining"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap(),
                r["how"]["advice"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(advice.contains(&("sms", "not_usable")), "{advice:?}");
    assert!(
        advice.contains(&("recovery_phone", "keep_and_protect")),
        "{advice:?}"
    );
}
