//! `keyward entra ...` against a local Graph double (tests/graph_double): HTTPS from a test CA
//! only the debug build can be told to trust, bodies checked against the Graph schema subset,
//! failures injected. Nothing here reaches the internet.

mod common;
mod graph_double;
mod mds_blob;

use common::{assert_no_admin_jargon, Run, Sandbox};
use graph_double::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PIN: &str = "482913";
const ADA: &str = "ada@contoso.com";

struct T {
    sb: Sandbox,
    g: Double,
    dev: String,
    runs: std::cell::RefCell<Vec<String>>,
}

impl T {
    fn bare() -> T {
        let sb = Sandbox::new();
        let g = Double::start(sb.dir.path());
        let dev = sb.virtual_key("a.key", "ctap21");
        sb.run_pins(&["--device", &dev, "key", "pin", "set"], &[PIN])
            .ok();
        T {
            sb,
            g,
            dev,
            runs: Default::default(),
        }
    }

    /// Connected app-only, with Ada's usual methods.
    fn new() -> T {
        let t = T::bare();
        t.connect(&[], None, &[]).ok();
        t.g.add_user(
            ADA,
            "Ada Lovelace",
            vec![
                phone(MOBILE, "mobile", "+1 2065550123"),
                email("3ddfcfc8-9383-446f-83cc-3ab9be4be18f"),
                authenticator("6e7e0dd4-6a8a-4c8e-a1cb-55d0c8b5ba1f"),
                password(),
            ],
        );
        t
    }

    fn run_with(&self, args: &[&str], stdin: Option<&str>, extra: &[(&str, &str)]) -> Run {
        let mut a: Vec<&str> = vec!["--device", &self.dev];
        a.extend_from_slice(args);
        let env = self.g.env();
        let mut e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        e.extend_from_slice(extra);
        let r = self.sb.run_with(&a, stdin, &e);
        self.runs.borrow_mut().push(r.all_output());
        r
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, None, &[])
    }

    /// `entra connect` to the double's tenant and application, plus `extra` arguments.
    fn connect(&self, extra: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
        let mut a = vec![
            "entra",
            "connect",
            "--tenant",
            TENANT,
            "--client-id",
            CLIENT_ID,
        ];
        a.extend_from_slice(extra);
        self.run_with(&a, stdin, env)
    }

    fn register(&self, user: &str) -> Run {
        self.run_with(
            &["--json", "entra", "register", user, "--pin-stdin"],
            Some(&format!("{PIN}\n")),
            &[],
        )
    }

    fn export(&self) -> Value {
        self.sb.run(&["ledger", "export"]).ok().json()
    }

    fn method(&self, name: &str) -> Option<Value> {
        self.export()["methods"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["method"] == name)
            .cloned()
    }

    fn assert_schema_clean(&self) {
        assert!(
            self.g.violations().is_empty(),
            "Graph schema violations: {:#?}",
            self.g.violations()
        );
    }
}

/// Graph's ids of the user's passkeys, as the double holds them.
fn passkey_ids(t: &T, upn: &str) -> Vec<String> {
    t.g.methods_of(upn)
        .iter()
        .filter(|m| m["@odata.type"] == "#microsoft.graph.fido2AuthenticationMethod")
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .collect()
}

/// The ledger records `method` with this status and a reason starting with `prefix`.
fn assert_recorded(t: &T, method: &str, status: &str, prefix: &str) {
    let m = t.method(method).unwrap();
    assert_eq!(m["status"], status, "{m}");
    assert!(
        m["reason"].as_str().unwrap_or("").starts_with(prefix),
        "{m}"
    );
}

#[test]
fn connect_keeps_no_secret_in_its_settings_and_checks_the_secret_first() {
    let t = T::bare();
    let r = t
        .connect(
            &["--json", "--secret-stdin"],
            Some(&format!("{SECRET}\n")),
            &[("KEYWARD_ENTRA_CLIENT_SECRET", "")],
        )
        .ok();
    let j = r.json();
    assert_eq!(j["cloud"], "global");
    assert_eq!(j["secret_in_credential_store"], true);
    let settings = std::fs::read_to_string(t.sb.path("home/.config/keyward/entra.toml")).unwrap();
    assert!(
        settings.contains(CLIENT_ID) && !settings.contains(SECRET),
        "{settings}"
    );
    assert_eq!(
        t.g.count("POST", "/oauth2/v2.0/token"),
        1,
        "the secret is tried before it is kept"
    );

    // A wrong secret is refused by the sign-in service: said so, never echoed, nothing saved.
    let t2 = T::bare();
    let wrong = "wrong-secret-value-987654321";
    let r = t2
        .connect(&[], None, &[("KEYWARD_ENTRA_CLIENT_SECRET", wrong)])
        .expect_code(18);
    assert!(r.stderr.contains("invalid_client"), "{}", r.stderr);
    assert!(!r.all_output().contains(wrong));
    assert!(!t2.sb.path("home/.config/keyward/entra.toml").exists());

    // No secret from anywhere: the flag-less way is refused, not prompted for.
    let r = t2
        .connect(&[], None, &[("KEYWARD_ENTRA_CLIENT_SECRET", "")])
        .expect_code(14);
    assert!(r.stderr.contains("never taken as a flag"), "{}", r.stderr);
}

#[test]
fn device_code_sign_in_shows_the_code_and_waits_for_the_operator() {
    let t = T::bare();
    let r = t
        .connect(
            &["--auth", "device-code"],
            None,
            &[("KEYWARD_ENTRA_CLIENT_SECRET", "")],
        )
        .ok();
    assert!(r.stderr.contains("ABCD-EFGH"), "{}", r.stderr);
    assert!(r.stdout.contains("signed in as you"));
    // Pending once, then signed in: two polls. The refresh token is nowhere in the output.
    assert_eq!(t.g.count("POST", "/oauth2/v2.0/token"), 2);
    let body =
        &t.g.state
            .lock()
            .unwrap()
            .log
            .iter()
            .find(|l| l.path.ends_with("/devicecode"))
            .unwrap()
            .body
            .clone();
    // It asks consent for exactly the permissions docs/entra.md lists, none broader.
    let scope: String = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let mut asked: Vec<&str> = scope
        .split(' ')
        .map(|s| s.strip_prefix("https://graph.microsoft.com/").unwrap_or(s))
        .collect();
    asked.sort();
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/entra.md")).unwrap();
    let start = docs
        .find("Device-code sign-in asks consent for exactly:")
        .unwrap();
    let para = &docs[start..start + docs[start..].find("\n\n").unwrap()];
    let mut documented: Vec<&str> = para.split('`').skip(1).step_by(2).collect();
    documented.retain(|d| !d.starts_with("tests/"));
    documented.sort();
    assert_eq!(asked, documented);
    assert!(
        !scope.contains("UserAuthenticationMethod.ReadWrite.All"),
        "{scope}"
    );
    for tok in t.g.tokens() {
        assert!(!r.all_output().contains(&tok));
    }
}

#[test]
fn connect_refuses_a_malformed_tenant_or_client_id_before_sending_anything() {
    let t = T::bare();
    let secret = [("KEYWARD_ENTRA_CLIENT_SECRET", SECRET)];
    for (tenant, client_id, said) in [
        (
            "con toso/../x?y=1",
            CLIENT_ID,
            "--tenant `con toso/../x?y=1` is neither a tenant id (a GUID such as",
        ),
        (
            TENANT,
            "abc",
            "--client-id `abc` is not an application (client) id: that is a GUID",
        ),
    ] {
        let r = t
            .run_with(
                &[
                    "entra",
                    "connect",
                    "--tenant",
                    tenant,
                    "--client-id",
                    client_id,
                ],
                None,
                &secret,
            )
            .expect_code(12);
        assert!(r.stderr.contains(said), "{}", r.stderr);
        assert!(!r.all_output().contains(SECRET));
    }
    assert!(t.g.state.lock().unwrap().log.is_empty(), "nothing was sent");
    // Nothing was kept either: no tenant is connected.
    t.run(&["entra", "methods", ADA]).expect_code(10);
}

#[test]
fn the_test_graph_url_must_be_https_on_loopback_so_no_secret_goes_out_in_clear() {
    let t = T::bare();
    // A plain-HTTP listener: whatever keyward sent would wait here, readable.
    let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    plain.set_nonblocking(true).unwrap();
    let http_url = format!("http://{}", plain.local_addr().unwrap());
    for url in [http_url.as_str(), "https://graph.example.com"] {
        // Later settings win: the double's URL is replaced by this one.
        let r = t
            .connect(
                &[],
                None,
                &[
                    ("KEYWARD_TEST_GRAPH_URL", url),
                    ("KEYWARD_TEST_HTTP_TIMEOUT_MS", "500"),
                ],
            )
            .expect_code(12);
        assert!(
            r.stderr
                .contains("the test override must be https:// on 127.0.0.1, [::1] or localhost"),
            "{url}: {}",
            r.stderr
        );
        assert!(!r.all_output().contains(SECRET));
    }
    match plain.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok((mut sock, _)) => {
            let mut sent = String::new();
            sock.set_nonblocking(false).unwrap();
            sock.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let _ = std::io::Read::read_to_string(&mut sock, &mut sent);
            panic!("keyward connected over plain HTTP and sent: {sent}");
        }
        Err(e) => panic!("{e}"),
    }
    assert!(t.g.state.lock().unwrap().log.is_empty());
}

#[test]
fn a_cloud_without_passkey_registration_refuses_before_sending() {
    let t = T::bare();
    t.connect(&["--cloud", "usgov-l4"], None, &[]).ok();
    t.g.add_user(ADA, "Ada Lovelace", vec![password()]);
    let r = t.register(ADA).expect_code(9);
    assert!(
        r.stderr.contains("usgov-l4") && r.stderr.contains("nothing was sent"),
        "{}",
        r.stderr
    );
    assert_eq!(t.g.count("GET", "creationOptions"), 0);
    // The same tenant's methods can be listed in L4.
    t.run(&["entra", "methods", ADA]).ok();
}

#[test]
fn methods_are_mapped_onto_the_weaker_method_vocabulary_and_recorded_with_graph_as_evidence() {
    let t = T::new();
    t.g.with_user(ADA, |u| {
        u.methods
            .push(software_oath("b172893e-8f2e-4bd2-9a9f-1ab7b1a4c9f1"));
        u.methods.push(tap("f2c3e4d5-0000-4000-8000-000000000001"));
        u.methods.push(hello("hello-1"));
    });
    let j = t.run(&["--json", "entra", "methods", ADA]).ok().json();
    let weaker: Vec<&str> = j["weaker_present"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        weaker,
        [
            "sms",
            "voice",
            "totp",
            "push",
            "email_code",
            "temporary_access_pass",
            "password",
            "other_passkey"
        ]
    );
    let phone = j["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == MOBILE)
        .unwrap();
    assert_eq!(
        phone["label"], "Phone (mobile) ending 23",
        "the number is masked"
    );
    assert!(!t.runs.borrow().join("\n").contains("2065550123"));
    assert_recorded(&t, "sms", "present", "Microsoft Graph lists Phone (mobile)");
    let sms = t.method("sms").unwrap();
    assert!(
        sms["reason"].as_str().unwrap().contains("(checked 20"),
        "dated: {sms}"
    );
    t.assert_schema_clean();
}

#[test]
fn status_reads_graph_again_when_connected_and_shows_the_date() {
    let t = T::new();
    t.run(&["entra", "methods", ADA]).ok();
    // Someone deletes the phone in the admin center; status notices through Graph.
    t.g.with_user(ADA, |u| u.methods.retain(|m| m["id"] != MOBILE));
    let r = t.run(&["status", ADA]).ok();
    assert!(
        r.stdout
            .contains("sms: removed: Microsoft Graph does not list it (checked 20"),
        "{}",
        r.stdout
    );
    // Still on, but no key is in the account yet: it waits for one (issue 12).
    assert!(
        r.stdout.contains(
            "push: waiting: add a key first: Microsoft Graph lists Microsoft Authenticator"
        ),
        "no key works in the account yet, so nothing is to be removed: {}",
        r.stdout
    );
    // Graph never listed app codes: never set up, not "removed" by anyone.
    assert!(
        r.stdout
            .contains("totp: was never set up / already off: Microsoft Graph does not list it"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("read from Microsoft Graph"));
}

/// `enroll` for Ada's Microsoft work account, connected to the double: her key already holds
/// the passkey Security info made; `answers` (TOML lines) say the rest.
fn enroll_entra(t: &T, answers: &str) -> Run {
    let file = t.dev.strip_prefix("virtual:").unwrap();
    t.sb.run_with(
        &[
            "virtual",
            "register",
            file,
            "--rp",
            "login.microsoft.com",
            "--user",
            ADA,
            "--discoverable",
        ],
        None,
        &[("KEYWARD_PIN", PIN)],
    )
    .ok();
    let answers = format!(
        "\"person.new\" = true\n\"account.microsoft-entra.identifier\" = \"{ADA}\"\n\
         \"keys.count\" = \"1\"\n\"keys.one_only\" = true\n\"keys.a.device\" = \"{}\"\n\"step.*.*.done\" = true\n\
         \"method.*.*.outcome\" = \"later\"\n{answers}",
        t.dev,
    );
    std::fs::write(t.sb.path("answers.toml"), answers).unwrap();
    let path = t.sb.path("answers.toml");
    t.run_with(
        &[
            "enroll",
            "--person",
            "Ada Lovelace",
            "--playbook",
            "microsoft-entra",
            "--answers",
            path.to_str().unwrap(),
        ],
        None,
        &[("KEYWARD_PIN", PIN)],
    )
}

/// [`enroll_entra`] where Ada says she removed each weaker method in `removed` (and leaves the
/// others for later); the checklist, for when Microsoft cannot be asked, ticks the same ones.
fn enroll_removing(t: &T, removed: &[&str], recheck: &[(&str, &str)]) -> Run {
    let quoted: Vec<String> = removed.iter().map(|m| format!("\"{m}\"")).collect();
    let mut answers = format!("\"method.microsoft-entra.on\" = [{}]\n", quoted.join(", "));
    for m in removed {
        answers.push_str(&format!(
            "\"method.microsoft-entra.{m}.outcome\" = \"removed\"\n"
        ));
    }
    for (m, a) in recheck {
        answers.push_str(&format!(
            "\"method.microsoft-entra.{m}.recheck\" = \"{a}\"\n"
        ));
    }
    enroll_entra(t, &answers)
}

#[test]
fn enroll_records_a_removal_only_once_graph_no_longer_lists_it() {
    let t = T::new();
    // Ada deletes her phone on the website while keyward looks: the first look after she says
    // so still shows it, the second does not. The Authenticator app she says she removed stays.
    t.g.with_user(ADA, |u| u.removed_at_listing = Some((MOBILE.into(), 3)));
    let r = enroll_removing(&t, &["sms", "push"], &[("sms", "again"), ("push", "later")]).ok();
    let guided = &r.stderr;
    assert!(
        guided.contains("Microsoft still shows \"Phone: text message codes\" on this account"),
        "{guided}"
    );
    assert!(
        guided.contains("Microsoft confirms \"Phone: text message codes\" is gone"),
        "{guided}"
    );
    assert!(
        guided.contains("Microsoft still shows \"Microsoft Authenticator"),
        "{guided}"
    );
    // Plain words for the person: no Graph, no method ids.
    assert_no_admin_jargon(guided);
    assert!(!guided.contains(MOBILE), "{guided}");
    assert_recorded(
        &t,
        "sms",
        "removed",
        "Microsoft Graph does not list it (checked 20",
    );
    let push = t.method("push").unwrap();
    assert_eq!(push["status"], "present", "Graph still lists it: {push}");
    // Never recorded on the person's word alone, not even for a moment.
    let audit = t.export()["audit"].to_string();
    assert!(
        !audit.contains(r#""method":"push","status":"removed""#)
            && !audit.contains(r#""to":"removed","method":"push""#),
        "{audit}"
    );
    // What Graph cannot see, the script did not answer: not checked yet, and said so.
    assert!(
        guided.contains("Microsoft does not show keyward these:")
            && guided.contains("They stay on the list as not checked yet."),
        "{guided}"
    );
    assert_eq!(t.method("app_password").unwrap()["status"], "unknown");
    assert_eq!(
        t.g.requests()
            .iter()
            .filter(|(m, p, _)| m == "GET" && p.ends_with("/methods"))
            .count(),
        5,
        "the read instead of the checklist, a look at sms, a second look, a look at push, \
         then status at the end"
    );
}

#[test]
fn enroll_reads_the_weaker_methods_graph_lists_instead_of_asking() {
    let t = T::new();
    // No checklist answer for what Microsoft can show; only for what it cannot.
    let r = enroll_entra(
        &t,
        "\"method.microsoft-entra.unlisted\" = [\"app_password\"]\n",
    )
    .ok();
    let said = &r.stderr;
    assert!(
        said.contains(
            "Microsoft shows these on your account:\n  - Phone: text message codes\n  - Phone: \
             voice call\n  - Microsoft Authenticator (notifications, phone sign-in)\n  - Email \
             one-time code\nNot on it:\n  - Authenticator app codes\n  - Temporary Access Pass\n"
        ),
        "{said}"
    );
    assert!(
        !said.contains("Which of these does ada@contoso.com still have?\n"),
        "only what Microsoft cannot show is asked: {said}"
    );
    // Each one Graph lists is recorded present with Graph's word and the date, in the session
    // itself (before the record printed at its end reads Graph again).
    for (m, listed) in [
        ("sms", "Phone (mobile) ending 23"),
        ("voice", "Phone (mobile) ending 23"),
        ("push", "Microsoft Authenticator"),
        ("email_code", "Email"),
    ] {
        assert_recorded(&t, m, "present", &format!("Microsoft Graph lists {listed}"));
    }
    for m in ["totp", "temporary_access_pass"] {
        assert_recorded(
            &t,
            m,
            "absent",
            "Microsoft Graph does not list it (checked 20",
        );
    }
    let audit = t.export()["audit"].as_array().unwrap().clone();
    let at = |what: &dyn Fn(&Value) -> bool| audit.iter().position(what).unwrap();
    let sms_listed = at(&|e| {
        e["subject"].as_str().unwrap().ends_with("/ sms")
            && e["detail"]
                .as_str()
                .unwrap()
                .contains("Microsoft Graph lists Phone (mobile) ending 23")
    });
    let finished = at(&|e| e["detail"].as_str().unwrap().contains("/finished\""));
    assert!(
        sms_listed < finished,
        "recorded by the session itself: {audit:#?}"
    );
    // What Graph cannot see is the person's word, asked as a checklist of those alone.
    let app = t.method("app_password").unwrap();
    assert_eq!(app["status"], "present", "{app}");
    assert_eq!(t.method("security_questions").unwrap()["status"], "absent");
    // The person reads plain words, also in the record printed at the end.
    assert_no_admin_jargon(said);
    // The help desk's record keeps Graph's word.
    assert!(
        r.stdout
            .contains("Microsoft Graph lists Phone (mobile) ending 23"),
        "{}",
        r.stdout
    );
}

#[test]
fn enroll_asks_the_checklist_when_microsoft_cannot_be_reached() {
    let t = T::new();
    // The read instead of the checklist fails, and so does the one for the record at the end.
    t.g.fault("GET", "/methods", FaultKind::Status(429, Some(999)), 2);
    let r = enroll_entra(&t, "\"method.microsoft-entra.on\" = [\"totp\"]\n").ok();
    let said = &r.stderr;
    assert!(
        said.contains(
            "keyward could not check your account with Microsoft, so it asks you instead."
        ),
        "{said}"
    );
    assert!(
        said.contains("Which of these does ada@contoso.com still have?"),
        "{said}"
    );
    assert!(!said.contains("Microsoft shows"), "{said}");
    assert!(
        said.contains(
            "ada@contoso.com: keyward could not check with Microsoft just now; the record below \
             is what was recorded before"
        ),
        "{said}"
    );
    assert_no_admin_jargon(said);
    // The person's word: app codes on (Graph lists none), the phone off (Graph lists one).
    let totp = t.method("totp").unwrap();
    assert_eq!(totp["status"], "present", "{totp}");
    assert_eq!(totp["reason"], Value::Null, "{totp}");
    let sms = t.method("sms").unwrap();
    assert_eq!(sms["status"], "absent", "{sms}");
    assert_eq!(sms["reason"], Value::Null, "{sms}");
}

#[test]
fn enroll_asks_the_checklist_for_an_account_microsoft_does_not_know() {
    // Connected, but the tenant has no such user (a personal address typed by mistake, a
    // user not synced yet): Graph answers 404, so the person is asked.
    let t = T::bare();
    t.connect(&[], None, &[]).ok();
    let r = enroll_entra(&t, "\"method.microsoft-entra.on\" = []\n").ok();
    assert!(
        r.stderr.contains(
            "keyward could not check your account with Microsoft, so it asks you instead."
        ),
        "{}",
        r.stderr
    );
    assert_no_admin_jargon(&r.stderr);
    let sms = t.method("sms").unwrap();
    assert_eq!(sms["status"], "absent", "the person's word: {sms}");
    assert_eq!(sms["reason"], Value::Null, "{sms}");
}

#[test]
fn enroll_never_takes_a_removal_microsoft_could_not_confirm_and_stops_looking_after_five() {
    let t = T::new();
    // Graph throttles every look (for longer than keyward waits), so nothing can be confirmed;
    // the answers file keeps saying "look again".
    t.g.fault("GET", "/methods", FaultKind::Status(429, Some(999)), 20);
    let r = enroll_removing(&t, &["sms"], &[("sms", "again")]).ok();
    assert_eq!(
        r.stderr
            .matches("keyward could not reach Microsoft to check just now")
            .count(),
        5,
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(
        "\"Phone: text message codes\" stays on the list until Microsoft no longer shows it"
    ));
    assert_recorded(&t, "sms", "present", "said to be removed, not confirmed: ");
}

#[test]
fn check_explains_a_policy_refusal_with_its_fix() {
    let t = T::new();
    let j = t.run(&["--json", "entra", "check"]).ok().json();
    assert_eq!(j["verdict"]["can_register"], true);

    let mut p = default_policy();
    p["isSelfServiceRegistrationAllowed"] = json!(false);
    t.g.set_policy(p);
    let r = t.run(&["entra", "check"]).expect_code(19);
    assert!(
        r.stdout.contains("Allow self-service set up = Yes"),
        "{}",
        r.stdout
    );

    // A passkey profile that allows only other models: the key in hand is named and refused.
    let mut p = default_policy();
    p["defaultPasskeyProfile"] = json!("00000000-0000-0000-0000-0000000000aa");
    p["passkeyProfiles"] = json!([{"id": "00000000-0000-0000-0000-0000000000aa", "name": "Default passkey profile",
        "attestationEnforcement": "disabled", "passkeyTypes": "deviceBound",
        "keyRestrictions": {"isEnforced": true, "enforcementType": "allow", "aaGuids": ["ee882879-721c-4913-9775-3dfcce97072a"]}}]);
    t.g.set_policy(p);
    let j = t
        .run(&["--json", "entra", "check", "--for-key"])
        .expect_code(19)
        .json();
    assert_eq!(j["policy"]["source"], "passkey profiles");
    let why = j["verdict"]["problems"][0]["why"].as_str().unwrap();
    assert!(why.contains("not on the policy's allow list"), "{why}");
    t.assert_schema_clean();
}

#[test]
fn register_builds_the_browser_client_data_posts_it_and_records_graphs_method_id() {
    let t = T::new();
    let j = t.register(ADA).ok().json();
    assert_eq!(j["display_name"], "Key A (Virtual CTAP 2.1 key)");
    assert_eq!(j["attestation_level"], "attested");
    let id = j["method_id"].as_str().unwrap().to_string();
    let methods = t.g.methods_of(ADA);
    assert!(methods
        .iter()
        .any(|m| m["id"] == id.as_str() && m["displayName"] == "Key A (Virtual CTAP 2.1 key)"));
    let e = &t.export()["enrollments"][0];
    assert_eq!(e["evidence"], "reported_by_provider");
    assert!(e["detail"]["note"].as_str().unwrap().contains(&id), "{e}");
    assert_eq!(e["detail"]["rp_id"], "login.microsoftonline.com");
    // The credential really is on the key, for Ada.
    let creds = t
        .run_with(
            &["--json", "key", "credentials", "list", "--pin-stdin"],
            Some(&format!("{PIN}\n")),
            &[],
        )
        .ok()
        .stdout;
    assert!(
        creds.contains("login.microsoftonline.com") && creds.contains(ADA),
        "{creds}"
    );
    t.assert_schema_clean();

    // Again with the same key: Graph's excludeCredentials stops it on the key, nothing is posted.
    let r = t.register(ADA).expect_code(16);
    assert!(r.stderr.contains("already holds a passkey"), "{}", r.stderr);
    assert_eq!(t.g.count("POST", "fido2Methods"), 1);
}

/// The weaker methods the ledger records for `upn`'s account, by name, with their reasons.
fn recorded_methods(t: &T, upn: &str) -> Vec<(String, String, String)> {
    let export = t.export();
    let account = export["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["identifier"] == upn)
        .unwrap_or_else(|| panic!("no account {upn}: {export}"))
        .clone();
    export["methods"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["account_id"] == account["id"])
        .map(|m| {
            (
                m["method"].as_str().unwrap().to_string(),
                m["status"].as_str().unwrap().to_string(),
                m["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// `method` is recorded present for `upn`, with Microsoft Graph as the evidence and a date.
fn assert_present_per_graph(t: &T, upn: &str, method: &str) {
    let recorded = recorded_methods(t, upn);
    let m = recorded
        .iter()
        .find(|m| m.0 == method)
        .unwrap_or_else(|| panic!("{method} not recorded for {upn}: {recorded:?}"));
    assert_eq!(m.1, "present", "{m:?}");
    assert!(
        m.2.starts_with("Microsoft Graph lists") && m.2.contains("(checked 20"),
        "{m:?}"
    );
}

#[test]
fn register_records_the_weaker_methods_graph_lists_with_the_account() {
    let t = T::new();
    t.register(ADA).ok();
    for m in ["sms", "voice", "push", "email_code"] {
        assert_present_per_graph(&t, ADA, m);
    }
    let report = t.sb.run(&["--json", "report"]).ok().json();
    assert_eq!(report["people_with_methods_to_disable"], 1, "{report}");
    t.assert_schema_clean();
}

#[test]
fn register_without_permission_to_read_methods_records_them_not_checked() {
    let t = T::new();
    t.g.fault(
        "GET",
        "authentication/methods$",
        FaultKind::Status(403, None),
        1,
    );
    let r = t.register(ADA).ok();
    assert!(
        r.stderr
            .contains("without UserAuthenticationMethod.Read.All")
            && r.stderr
                .contains("their weaker methods are recorded as not checked"),
        "{}",
        r.stderr
    );
    let recorded = recorded_methods(&t, ADA);
    assert!(!recorded.is_empty(), "the account has its weaker methods");
    assert!(
        recorded.iter().all(|m| m.1 == "unknown"),
        "not checked, never a guess: {recorded:?}"
    );
    assert_eq!(t.g.count("POST", "fido2Methods"), 1);
}

#[test]
fn a_registration_the_ledger_failed_to_record_is_recorded_from_graph_never_posted_twice() {
    let t = T::new();
    let r = t.run_with(
        &["--json", "entra", "register", ADA, "--pin-stdin"],
        Some(&format!("{PIN}\n")),
        &[("KEYWARD_TEST_FAIL_ENTRA_RECORD", "Key A")],
    );
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert_eq!(t.g.count("POST", "fido2Methods"), 1);
    assert!(t.export()["enrollments"].as_array().unwrap().is_empty());
    let method_id = passkey_ids(&t, ADA)[0].clone();
    // Again with the same key: the key holds the passkey Graph lists, so it is recorded now.
    let j = t.register(ADA).ok().json();
    assert_eq!(j["recorded_now"], true, "{j}");
    assert_eq!(j["method_id"], method_id.as_str());
    assert_eq!(t.g.count("POST", "fido2Methods"), 1, "never posted twice");
    let e = &t.export()["enrollments"][0];
    assert!(
        e["detail"]["note"].as_str().unwrap().contains(&method_id),
        "{e}"
    );
    assert_eq!(t.export()["keys"][0]["label"], "Key A");
    // Settled: a third try is the plain "already registered".
    let r = t.register(ADA).expect_code(16);
    assert!(r.stderr.contains("already holds a passkey"), "{}", r.stderr);
}

#[test]
fn register_refused_by_policy_says_why_before_touching_graph() {
    let t = T::new();
    let mut p = default_policy();
    p["keyRestrictions"] = json!({"isEnforced": true, "enforcementType": "block", "aaGuids": ["6b657977-6172-4421-a000-766972743231"]});
    t.g.set_policy(p);
    let r = t.register(ADA).expect_code(19);
    assert!(
        r.stderr.contains("block list") && r.stderr.contains("Fix:"),
        "{}",
        r.stderr
    );
    assert_eq!(t.g.count("GET", "creationOptions"), 0);
    assert_eq!(t.g.count("POST", "fido2Methods"), 0);
}

#[test]
fn register_refused_when_attestation_is_enforced_and_the_key_is_not_in_the_metadata() {
    let t = T::new();
    // Metadata keyward trusts (under a test root) that lists another model only.
    let signer = mds_blob::test_signer("Entra");
    let root_der = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        crypto_glue::traits::EncodeDer::to_der(&signer.root).unwrap(),
    );
    let blob = t.sb.path("mds.jwt");
    std::fs::write(
        &blob,
        signer.sign(&mds_blob::payload(
            3,
            "2fc0579f-8113-47ea-b116-bb5a8db9202a",
            "Some Other Key",
            &root_der,
            "FIDO_CERTIFIED_L1",
        )),
    )
    .unwrap();
    let root = t.sb.path("mds-root.pem");
    std::fs::write(&root, signer.root_pem()).unwrap();
    t.sb.run(&[
        "mds",
        "import",
        blob.to_str().unwrap(),
        "--test-root",
        root.to_str().unwrap(),
    ])
    .ok();
    let mut p = default_policy();
    p["defaultPasskeyProfile"] = json!("00000000-0000-0000-0000-0000000000bb");
    p["passkeyProfiles"] = json!([{"id": "00000000-0000-0000-0000-0000000000bb", "name": "Attested keys",
        "attestationEnforcement": "registrationOnly", "passkeyTypes": "deviceBound",
        "keyRestrictions": {"isEnforced": false, "enforcementType": "block", "aaGuids": []}}]);
    t.g.set_policy(p);
    let r = t.register(ADA).expect_code(19);
    assert!(
        r.stderr.contains(
            "enforces attestation and this key's model is not in the FIDO Metadata Service"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(
            "Fix: use a FIDO Certified key listed in the Metadata Service, or turn off attestation enforcement"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(t.g.count("GET", "creationOptions"), 0);
    assert_eq!(t.g.count("POST", "fido2Methods"), 0);
    t.assert_schema_clean();
}

#[test]
fn remove_needs_the_user_named_deletes_phones_last_and_records_graphs_answer() {
    let t = T::new();
    t.register(ADA).ok();
    t.g.with_user(ADA, |u| {
        u.methods
            .push(phone(ALTERNATE, "alternateMobile", "+1 2065550177"))
    });
    // No terminal, no confirmation: nothing is deleted.
    let r = t
        .run(&["entra", "remove", ADA, "sms", "voice", "email_code"])
        .expect_code(14);
    assert!(
        r.stderr.contains("Phone (mobile) ending 23"),
        "{}",
        r.stderr
    );
    let r = t
        .run(&[
            "entra",
            "remove",
            ADA,
            "sms",
            "--yes-delete-for",
            "bob@contoso.com",
        ])
        .expect_code(14);
    assert!(r.stderr.contains("does not name the user"));
    assert_eq!(t.g.count("DELETE", ""), 0);

    let j = t
        .run(&[
            "--json",
            "entra",
            "remove",
            ADA,
            "sms",
            "voice",
            "email_code",
            "--yes-delete-for",
            ADA,
        ])
        .ok()
        .json();
    assert_eq!(j["deleted"].as_array().unwrap().len(), 3);
    let deletes: Vec<String> =
        t.g.requests()
            .into_iter()
            .filter(|(m, _, _)| m == "DELETE")
            .map(|(_, p, _)| p)
            .collect();
    assert!(
        deletes[0].contains("emailMethods")
            && deletes[1].contains(ALTERNATE)
            && deletes[2].contains(MOBILE),
        "{deletes:?}"
    );
    let sms = t.method("sms").unwrap();
    assert_eq!(sms["status"], "removed");
    assert!(
        sms["reason"].as_str().unwrap().contains("HTTP 204"),
        "{sms}"
    );
    assert_eq!(t.method("push").unwrap()["status"], "present");
    let audit = t.export()["audit"].to_string();
    assert!(audit.contains("deleted through Microsoft Graph"));
    // The confirmation read Graph again after deleting.
    let last_get =
        t.g.requests()
            .into_iter()
            .rposition(|(m, p, _)| m == "GET" && p.ends_with("/methods"))
            .unwrap();
    let last_delete =
        t.g.requests()
            .into_iter()
            .rposition(|(m, _, _)| m == "DELETE")
            .unwrap();
    assert!(last_get > last_delete);
    t.assert_schema_clean();
}

#[test]
fn remove_never_takes_the_last_way_in() {
    let t = T::new();
    let r = t
        .run(&["entra", "remove", ADA, "push", "--yes-delete-for", ADA])
        .expect_code(19);
    assert!(r.stderr.contains("could lock them out"), "{}", r.stderr);
    assert_eq!(t.g.count("DELETE", ""), 0);
    // Windows Hello is a way in too: it may go only while another one stays.
    t.g.with_user(ADA, |u| u.methods.push(hello("hello-1")));
    let r = t
        .run(&[
            "entra",
            "remove",
            ADA,
            "other_passkey",
            "--yes-delete-for",
            ADA,
        ])
        .expect_code(19);
    assert!(r.stderr.contains("could lock them out"), "{}", r.stderr);
    assert_eq!(t.g.count("DELETE", ""), 0);
    t.register(ADA).ok();
    t.run(&[
        "entra",
        "remove",
        ADA,
        "other_passkey",
        "push",
        "--yes-delete-for",
        ADA,
    ])
    .ok();
    assert_eq!(t.method("other_passkey").unwrap()["status"], "removed");
    let r = t
        .run(&["entra", "remove", ADA, "password", "--yes-delete-for", ADA])
        .expect_code(19);
    assert!(
        r.stderr.contains("can only be reset") || r.stderr.contains("could lock them out"),
        "{}",
        r.stderr
    );
}

// Failures (issue 14, point 4): one test each.

#[test]
fn throttling_waits_for_retry_after_and_then_succeeds() {
    let t = T::new();
    t.g.fault("GET", "/methods", FaultKind::Status(429, Some(1)), 1);
    let start = Instant::now();
    t.run(&["entra", "methods", ADA]).ok();
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert_eq!(t.g.count("GET", "/methods"), 2);
}

#[test]
fn throttling_that_does_not_end_fails_and_records_nothing() {
    let t = T::new();
    t.g.fault("GET", "/methods", FaultKind::Status(429, Some(1)), 10);
    let r = t.run(&["entra", "methods", ADA]).expect_code(18);
    assert!(r.stderr.contains("throttled"), "{}", r.stderr);
    assert!(
        !t.sb.ledger().exists(),
        "nothing recorded that did not happen"
    );
}

#[test]
fn server_errors_on_reads_are_retried_with_backoff() {
    let t = T::new();
    t.g.fault("GET", "/methods", FaultKind::Status(503, None), 2);
    t.run(&["entra", "methods", ADA]).ok();
    assert_eq!(t.g.count("GET", "/methods"), 3);
    let log = t.g.state.lock().unwrap().log.clone();
    let gets: Vec<Instant> = log
        .iter()
        .filter(|l| l.path.ends_with("/methods"))
        .map(|l| l.at)
        .collect();
    assert!(gets[2] - gets[1] > gets[1] - gets[0], "the pause doubles");
}

#[test]
fn a_read_that_times_out_is_sent_again() {
    let t = T::new();
    // The double would sit on the first request for 20 s; keyward stops waiting, sends again.
    t.g.fault(
        "GET",
        "/methods",
        FaultKind::Stall(Duration::from_secs(20)),
        1,
    );
    let start = Instant::now();
    t.run_with(
        &["entra", "methods", ADA],
        None,
        &[("KEYWARD_TEST_HTTP_TIMEOUT_MS", "800")],
    )
    .ok();
    assert!(
        start.elapsed() < Duration::from_secs(12),
        "it gave up waiting and retried"
    );
    let answered =
        t.g.requests()
            .into_iter()
            .filter(|(m, p, s)| m == "GET" && p.ends_with("/methods") && *s == 200)
            .count();
    assert_eq!(answered, 1, "the second try was answered");
}

#[test]
fn an_expired_token_is_renewed_once() {
    let t = T::new();
    t.g.fault("GET", "/methods", FaultKind::Expired, 1);
    t.run(&["entra", "methods", ADA]).ok();
    // connect took one token; this command took one, then a fresh one after the 401.
    assert_eq!(t.g.count("POST", "/oauth2/v2.0/token"), 3);
    // A token that keeps being refused is not renewed forever.
    t.g.fault("GET", "/methods", FaultKind::Expired, 5);
    t.run(&["entra", "methods", ADA]).expect_code(18);
}

#[test]
fn a_lost_answer_to_the_passkey_post_is_settled_by_listing_never_posted_twice() {
    let t = T::new();
    t.g.fault("POST", "fido2Methods", FaultKind::DoThenDrop, 1);
    let j = t.register(ADA).ok().json();
    assert_eq!(j["settled_by_reading"], true);
    assert_eq!(t.g.count("POST", "fido2Methods"), 1);
    assert_eq!(
        t.g.count("GET", "fido2Methods"),
        2,
        "creationOptions, then the list that settled it"
    );
    assert!(t.export()["enrollments"][0]["detail"]["note"]
        .as_str()
        .unwrap()
        .contains(j["method_id"].as_str().unwrap()));
}

#[test]
fn a_passkey_post_graph_did_not_take_is_sent_again_only_after_listing() {
    let t = T::new();
    t.g.fault("POST", "fido2Methods", FaultKind::Status(500, None), 1);
    t.g.fault("POST", "fido2Methods", FaultKind::Status(429, Some(1)), 1);
    let j = t.register(ADA).ok().json();
    assert_eq!(j["settled_by_reading"], false);
    let seq: Vec<String> =
        t.g.requests()
            .into_iter()
            .filter(|(_, p, _)| p.contains("fido2Methods"))
            .map(|(m, p, s)| format!("{m} {} {s}", p.rsplit('/').next().unwrap()))
            .collect();
    // 500: unknown, so the list is read; absent, so POST again; 429 means not taken: POST again.
    assert_eq!(
        seq,
        [
            "GET creationOptions 200",
            "POST fido2Methods 500",
            "GET fido2Methods 200",
            "POST fido2Methods 429",
            "POST fido2Methods 201"
        ]
    );
    assert_eq!(
        t.g.methods_of(ADA)
            .iter()
            .filter(|m| m["@odata.type"] == "#microsoft.graph.fido2AuthenticationMethod")
            .count(),
        1
    );
}

#[test]
fn a_partial_removal_records_only_what_graph_confirms_and_a_rerun_finishes_it() {
    let t = T::new();
    t.register(ADA).ok();
    t.g.with_user(ADA, |u| u.default_method = Some(MOBILE.into()));
    let j = t
        .run(&[
            "--json",
            "entra",
            "remove",
            ADA,
            "sms",
            "push",
            "email_code",
            "--yes-delete-for",
            ADA,
        ])
        .expect_code(17)
        .json();
    assert_eq!(j["deleted"].as_array().unwrap().len(), 2);
    assert!(
        j["failed"][0]["error"]
            .as_str()
            .unwrap()
            .contains("default authentication method"),
        "{j}"
    );
    let said = t.runs.borrow().last().unwrap().clone();
    assert!(
        said.contains("which Graph v1.0 cannot change: set the default to the passkey"),
        "the warning names what to do: {said}"
    );
    assert_eq!(t.method("sms").unwrap()["status"], "present");
    assert_eq!(t.method("push").unwrap()["status"], "removed");
    assert_eq!(t.method("email_code").unwrap()["status"], "removed");
    // The operator changes the default; the same command finishes the job.
    t.g.with_user(ADA, |u| u.default_method = None);
    t.run(&["entra", "remove", ADA, "sms", "--yes-delete-for", ADA])
        .ok();
    assert_eq!(t.method("sms").unwrap()["status"], "removed");
}

#[test]
fn no_secret_token_or_pin_appears_in_any_output_ledger_or_setting() {
    let t = T::new();
    t.register(ADA).ok();
    t.run(&["--json", "entra", "methods", ADA]).ok();
    t.run(&["entra", "check", "--for-key"]).ok();
    t.run(&[
        "entra",
        "remove",
        ADA,
        "email_code",
        "--yes-delete-for",
        ADA,
    ])
    .ok();
    t.g.fault("GET", "/methods", FaultKind::Status(500, None), 10);
    t.run(&["entra", "methods", ADA]).expect_code(18);
    let bad = t
        .run_with(
            &["entra", "methods", ADA],
            None,
            &[("KEYWARD_ENTRA_CLIENT_SECRET", "Wr0ng-but-secret-still")],
        )
        .expect_code(18);
    assert!(!bad.all_output().contains("Wr0ng-but-secret-still"));
    t.run(&["status", ADA]).ok();
    let mut haystack = t.runs.borrow().join("\n");
    haystack.push_str(&String::from_utf8_lossy(
        &std::fs::read(t.sb.ledger()).unwrap(),
    ));
    haystack.push_str(&t.export().to_string());
    for entry in walk(&t.sb.path("home")) {
        haystack.push_str(&String::from_utf8_lossy(&std::fs::read(entry).unwrap()));
    }
    let tokens = t.g.tokens();
    assert!(tokens.len() >= 5, "tokens were issued: {tokens:?}");
    for secret in tokens.iter().map(String::as_str).chain([SECRET, PIN]) {
        assert!(!haystack.contains(secret), "`{secret}` leaked");
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Saves the registration bodies keyward posts, for the independent WebAuthn check in
/// conformance/python (python-fido2's server), which runs it with KEYWARD_GRAPH_DOUBLE_SAVE.
#[test]
#[ignore = "fixture producer for conformance/python/test_entra_attestation.py (run by .ci/run)"]
fn registrations_for_the_independent_check() {
    let t = T::new();
    // Without the python check asking, into the sandbox: `-- --ignored` runs it all the same.
    let dir = std::env::var_os("KEYWARD_GRAPH_DOUBLE_SAVE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| t.sb.path("registrations"));
    std::fs::create_dir_all(&dir).unwrap();
    t.g.state.lock().unwrap().save_dir = Some(dir.clone());
    t.register(ADA).ok();
    t.g.add_user("grace@contoso.com", "Grace Hopper", vec![password()]);
    let dev2 = t.sb.virtual_key("b.key", "ctap20");
    t.sb.run_pins(&["--device", &dev2, "key", "pin", "set"], &[PIN])
        .ok();
    let env = t.g.env();
    let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    t.sb.run_with(
        &[
            "--device",
            &dev2,
            "entra",
            "register",
            "grace@contoso.com",
            "--pin-stdin",
        ],
        Some(&format!("{PIN}\n")),
        &e,
    )
    .ok();
    let saved = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("registration-"))
        .count();
    assert_eq!(saved, 2, "one registration saved per key");
}

/// A roster for `provision --entra`: `n` people with Entra accounts in the double, one key each.
fn entra_roster(t: &T, n: usize) -> (String, String, String) {
    let mut roster = String::from("name,email,keys,label\n");
    for i in 0..n {
        let upn = format!("p{i}@contoso.com");
        t.g.add_user(&upn, &format!("Person {i}"), vec![password()]);
        roster.push_str(&format!("Person {i},{upn},1,\n"));
    }
    let dir = t.sb.path("keys");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..n {
        t.sb.run(&[
            "virtual",
            "create",
            dir.join(format!("k{i:03}")).to_str().unwrap(),
        ])
        .ok();
    }
    std::fs::write(t.sb.path("roster.csv"), roster).unwrap();
    std::fs::write(
        t.sb.path("policy.toml"),
        "min_pin_length = 6\nrandom_pin_length = 8\nforce_pin_change = true\n",
    )
    .unwrap();
    (
        t.sb.path("roster.csv").display().to_string(),
        t.sb.path("policy.toml").display().to_string(),
        format!("virtual-dir:{}", dir.display()),
    )
}

fn provision_entra(t: &T, roster: &str, policy: &str, device: &str, mailer: &str) -> Run {
    let env = t.g.env();
    let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    t.sb.run_with(
        &[
            "--json",
            "provision",
            "--entra",
            "--roster",
            roster,
            "--policy",
            policy,
            "--pin-mailer",
            mailer,
            "--device",
            device,
        ],
        None,
        &e,
    )
}

#[test]
fn provision_entra_registers_each_key_for_its_person_fetching_the_next_options_meanwhile() {
    let t = T::new();
    let (roster, policy, device) = entra_roster(&t, 3);
    t.g.state.lock().unwrap().latency = Duration::from_millis(200);
    let mailer = t.sb.path("pins.csv");
    let r = provision_entra(&t, &roster, &policy, &device, mailer.to_str().unwrap()).ok();
    let events: Vec<Value> = r
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let registered: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "entra_registered")
        .collect();
    assert_eq!(registered.len(), 3, "{}", r.stdout);
    assert_eq!(
        registered[0]["display_name"],
        "Person 0 #1 (Virtual CTAP 2.1 key)"
    );
    // Each key's enrollment carries Graph's method id, for its own person's account.
    let export = t.export();
    for (i, reg) in registered.iter().enumerate() {
        let account = export["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["identifier"] == format!("p{i}@contoso.com"))
            .unwrap();
        let e = export["enrollments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["account_id"] == account["id"])
            .unwrap();
        assert!(e["detail"]["note"]
            .as_str()
            .unwrap()
            .contains(reg["method_id"].as_str().unwrap()));
    }
    // The third person's options were asked for while the second key's POST was in flight.
    let log = t.g.state.lock().unwrap().log.clone();
    let opts1 = log
        .iter()
        .find(|l| l.path.contains("p2@contoso.com") && l.path.ends_with("creationOptions"))
        .unwrap();
    let post0 = log
        .iter()
        .find(|l| l.method == "POST" && l.path.contains("p1@contoso.com"))
        .unwrap();
    assert!(
        opts1.arrived < post0.at,
        "prefetched during the previous registration"
    );
    // So were their methods, recorded with their account.
    let methods2 = log
        .iter()
        .find(|l| l.path.contains("p2@contoso.com") && l.path.ends_with("authentication/methods"))
        .unwrap();
    assert!(methods2.arrived < post0.at, "methods prefetched too");
    assert_eq!(
        log.iter()
            .filter(|l| l.path.ends_with("authentication/methods"))
            .count(),
        3,
        "each person's methods read once"
    );
    assert_eq!(
        log.iter()
            .filter(|l| l.path.ends_with("creationOptions"))
            .count(),
        3,
        "each fetched once"
    );
    // A PIN from the mailer never reaches Graph, the output or the ledger.
    let pins = std::fs::read_to_string(&mailer).unwrap();
    let pin = pins
        .lines()
        .nth(1)
        .unwrap()
        .rsplit(',')
        .next()
        .unwrap()
        .trim()
        .to_string();
    assert!(pin.len() == 8 && !r.all_output().contains(&pin));
    assert!(!log.iter().any(|l| l.body.contains(&pin)));
    t.assert_schema_clean();
}

#[test]
fn provision_entra_records_each_persons_weaker_methods_from_graph() {
    let t = T::new();
    let (roster, policy, device) = entra_roster(&t, 2);
    t.g.add_user(
        "p0@contoso.com",
        "Person 0",
        vec![
            phone(MOBILE, "mobile", "+1 2065550199"),
            authenticator("6e7e0dd4-6a8a-4c8e-a1cb-55d0c8b5ba1f"),
            password(),
        ],
    );
    let mailer = t.sb.path("pins.csv");
    provision_entra(&t, &roster, &policy, &device, mailer.to_str().unwrap()).ok();
    for m in ["sms", "voice", "push"] {
        assert_present_per_graph(&t, "p0@contoso.com", m);
    }
    let p1 = recorded_methods(&t, "p1@contoso.com");
    let sms = p1
        .iter()
        .find(|m| m.0 == "sms")
        .expect("p1's methods recorded");
    assert_eq!(sms.1, "absent", "{sms:?}");
    assert!(
        sms.2.starts_with("Microsoft Graph does not list it"),
        "{sms:?}"
    );
    let report = t.sb.run(&["--json", "report"]).ok().json();
    // Person 1 has only a password, which Graph cannot remove: nothing to disable.
    assert_eq!(report["people_with_methods_to_disable"], 1, "{report}");
    t.assert_schema_clean();
}

#[test]
fn a_registration_graph_took_but_the_ledger_did_not_is_recorded_from_graph_on_the_rerun() {
    let t = T::new();
    let (roster, policy, device) = entra_roster(&t, 2);
    let env = t.g.env();
    let mut e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // Graph answers 201 for Person 0's key, then the ledger fails to record the registration.
    e.push(("KEYWARD_TEST_FAIL_ENTRA_RECORD", "Person 0 #1"));
    let args = |mailer: &str| {
        [
            "--json",
            "provision",
            "--entra",
            "--roster",
            &roster,
            "--policy",
            &policy,
            "--pin-mailer",
            mailer,
            "--device",
            &device,
        ]
        .map(str::to_string)
    };
    let first = t.sb.path("pins-1.csv").display().to_string();
    let a = args(&first);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let r = t.sb.run_with(&a, None, &e).ok();
    assert!(
        r.stderr.contains("could not be recorded in the ledger")
            && r.stderr.contains("run the same command again"),
        "{}",
        r.stderr
    );
    let entra_enrollments = |t: &T| -> Vec<Value> {
        let export = t.export();
        let p0 = export["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["identifier"] == "p0@contoso.com")
            .map(|a| a["id"].clone());
        export["enrollments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|en| Some(&en["account_id"]) == p0.as_ref())
            .cloned()
            .collect()
    };
    assert!(entra_enrollments(&t).is_empty());
    let in_graph = passkey_ids(&t, "p0@contoso.com");
    assert_eq!(in_graph.len(), 1);
    let method_id = in_graph[0].clone();

    // The same command again: Graph's list settles it before any key is touched.
    let second = t.sb.path("pins-2.csv").display().to_string();
    let a = args(&second);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let r =
        t.sb.run_with(
            &a,
            None,
            &env.iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        )
        .ok();
    let recorded: Vec<Value> = r
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "entra_recorded_now")
        .collect();
    assert_eq!(recorded.len(), 1, "{}", r.stdout);
    assert_eq!(recorded[0]["method_id"], method_id.as_str());
    let text =
        t.sb.run_with(
            &a[1..],
            None,
            &env.iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        )
        .ok();
    assert!(
        !text.stdout.contains("recorded now"),
        "settled once: {}",
        text.stdout
    );
    let en = entra_enrollments(&t);
    assert_eq!(en.len(), 1);
    assert!(en[0]["detail"]["note"]
        .as_str()
        .unwrap()
        .contains(&method_id));
    assert_eq!(en[0]["evidence"], "reported_by_provider");
    // Registered once in Microsoft, never twice.
    assert_eq!(t.g.count("POST", "p0@contoso.com"), 1);
    assert_eq!(
        t.g.methods_of("p0@contoso.com").len(),
        2,
        "password and one passkey"
    );
    t.assert_schema_clean();
}

#[test]
fn a_passkey_graph_holds_for_a_key_never_recorded_is_named_for_deletion_not_recorded() {
    let t = T::new();
    let (roster, policy, device) = entra_roster(&t, 1);
    // Graph creates the passkey but the answer is lost, and its list cannot be read to settle
    // it: the key fails and is never recorded.
    t.g.fault("POST", "fido2Methods", FaultKind::DoThenDrop, 1);
    t.g.fault("GET", "/fido2Methods$", FaultKind::Status(503, None), 4);
    let first = provision_entra(
        &t,
        &roster,
        &policy,
        &device,
        t.sb.path("p1.csv").to_str().unwrap(),
    );
    assert_ne!(first.code, 0, "{}", first.stderr);
    let method_id = passkey_ids(&t, "p0@contoso.com")[0].clone();
    let r = provision_entra(
        &t,
        &roster,
        &policy,
        &device,
        t.sb.path("p2.csv").to_str().unwrap(),
    );
    assert!(
        r.stderr
            .contains("from an earlier run that stopped before its key was recorded")
            && r.stderr.contains(&method_id)
            && r.stderr
                .contains("delete this passkey in the Entra admin center"),
        "{}",
        r.stderr
    );
    assert!(
        t.export()["enrollments"].as_array().unwrap().is_empty(),
        "not recorded on a key that does not hold it"
    );
    assert_eq!(t.g.count("POST", "fido2Methods"), 1);
}

/// Issue 14, point 6 (a benchmark, not a timed test): `cargo test --release --config
/// 'profile.release.package.keyward.debug-assertions=true' --test entra -- --ignored
/// --nocapture bench_provision_entra` (the test hooks need debug assertions; docs/entra.md). 100 virtual keys for 100 users, 200 ms added
/// to every Graph call; prints keyward's own time per key and the wall time Graph adds.
#[test]
#[ignore = "benchmark: run on purpose (docs/entra.md)"]
fn bench_provision_entra_100_keys() {
    let n = 100;
    let mut walls = Vec::new();
    for latency in [0u64, 200] {
        let t = T::new();
        let (roster, policy, device) = entra_roster(&t, n);
        t.g.state.lock().unwrap().latency = Duration::from_millis(latency);
        let start = Instant::now();
        provision_entra(
            &t,
            &roster,
            &policy,
            &device,
            t.sb.path("pins.csv").to_str().unwrap(),
        )
        .ok();
        let wall = start.elapsed();
        let log = t.g.state.lock().unwrap().log.clone();
        let graph_calls = log.len();
        walls.push(wall);
        println!("latency {latency} ms: {n} keys in {:.1} s ({:.0} ms per key), {graph_calls} calls to Graph and sign-in",
            wall.as_secs_f64(), wall.as_millis() as f64 / n as f64);
    }
    let own = walls[0].as_millis() as f64 / n as f64;
    let added = (walls[1].as_millis() as f64 - walls[0].as_millis() as f64) / n as f64;
    println!("keyward's own time per key: {own:.0} ms; wall time Graph's 200 ms latency adds per key: {added:.0} ms (one round trip is 200 ms)");
}

#[test]
fn certificate_credentials_sign_a_client_assertion_and_keep_the_key_secret() {
    let t = T::bare();
    let cert = t.sb.path("app-cert.pem");
    std::fs::write(&cert, TEST_CERT).unwrap();
    let r = t
        .connect(
            &[
                "--auth",
                "certificate",
                "--certificate",
                cert.to_str().unwrap(),
                "--secret-stdin",
            ],
            Some(TEST_KEY),
            &[("KEYWARD_ENTRA_CLIENT_SECRET", "")],
        )
        .ok();
    assert!(
        r.stdout.contains("app-only with a certificate"),
        "{}",
        r.stdout
    );
    let settings = std::fs::read_to_string(t.sb.path("home/.config/keyward/entra.toml")).unwrap();
    assert!(
        settings.contains("certificate_sha256") && !settings.contains("PRIVATE KEY"),
        "{settings}"
    );
    // Later commands sign with the key from the environment (the test store forgets).
    t.g.add_user(ADA, "Ada Lovelace", vec![password()]);
    t.run_with(
        &["entra", "methods", ADA],
        None,
        &[
            ("KEYWARD_ENTRA_CLIENT_SECRET", ""),
            ("KEYWARD_ENTRA_CERTIFICATE_KEY", TEST_KEY),
        ],
    )
    .ok();
    let key_body: String = TEST_KEY
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for out in t.runs.borrow().iter() {
        assert!(!out.contains(&key_body[..40]));
    }
    // Another certificate's key is refused by the sign-in service.
    let other = T::bare();
    let r = other
        .connect(
            &[
                "--auth",
                "certificate",
                "--certificate",
                cert.to_str().unwrap(),
            ],
            None,
            &[
                ("KEYWARD_ENTRA_CLIENT_SECRET", ""),
                ("KEYWARD_ENTRA_CERTIFICATE_KEY", OTHER_KEY),
            ],
        )
        .expect_code(18);
    assert!(r.stderr.contains("invalid_client"), "{}", r.stderr);
}
/// Another RSA key (not the test application's), for the refusal test.
const OTHER_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCMV0/y4mQ3fizp\nbrx8ZJ2xJgj4YJdCoW1YzkMRGSzuZwwypJE5hVFzTwbBYvgSQlfi3nIQxOu5pA3H\nX2sg98WxQUvx9GujLVgtk6MHCSvnio3E3PfoMri5QNAeY49r5MtIH0dI9piUNHFb\ncW7tvxWMnwZfCSsTPfkpgcl3hl7CWSzOkLIKpTdwXfkOlC/egu0EoShKzvBKeZHf\nisdjxd5C+mkWn/ldzj+2ZWJ6OnyblscDz+9PFv1F2cnsmHgRrzBwNLo2jaImqDSp\nqnDMk794MA5Pp1lXMNySms2nquevbec3RV3WA5myAB8Us3iNjytAwbiVmmGeHNyV\nTWlr+vD7AgMBAAECggEAOuoMbfIMEB+vyu7pwW6bpFpLObmSxi3uMXGlRfBDpHEt\n9bSQIo2M+9MZCuX5LfEb4+luCQwhyPTNs/yihFx/aUH4F8J7zSyj774imjmHbNQF\nX7dDev6P/XTv6VHyS2Do1YYL7t1WgCDj1XdxEe09pqK7kfnPU2yYxIvvf3WxIfSe\nbaiJs2DIQDu1tMqj1oYJ7qL2WjLatzKoppEHKzcqsdwXqIxZCjgyZ7VUr3uGsQgK\nYmgFEfhBeaAWQe+jnG/Wkeq0zNg8zp7VhGIrgZM6rRFqX33PlgXgKABpiJzbjH6U\nQngsYDglUN9G7BJjBSfdWu01EyM94WPiytCVeRhPwQKBgQC+r1qc3pOrWI/tU8uE\nIKYe89RbF4cdJfSkhwPFo9fJlf6Qgqv7VRTsDKiTSfqONQNiQNS3P87xIWtA+Lna\nc3Rx2bBBIbFqEccKNz0uzTzwB3p9IRArD8RNDQzNOh1hn2rI23+3FiBw4RDPJf11\n/iMVPn0AsLmReIuA77TP8tlHhwKBgQC8aXAT3sbGhOW8q18b1nwaUshwBw1E3kWn\ngmvugTE+zKHVaIRkQP0/aopMRxnVt/NjxWpc9qqmETYvTsfcHCZ4AJU75VIK6C54\ngT5JeyUefjgj+D9ZkUrbLDiau6fWONwt6CAIVkn7/mAERR+5Paj0aQvroHbzFy80\n8zSysVq/7QKBgHydQj1UI/MNXHm/kjfV0lpWBIhHNvBwlpFS/r8RlPrTgFpWWyhT\n8OlWWHBxH0ICGSUDsz/Sfl4M9feu1F6TpxykI9BcwYHM/mOJt/02+UTvzjep/NP3\naNTl22DfQsZClVmQQMWYuzipjP+jFyIeJDVE8hIabBtKSPjJLkPbs+1PAoGBAIZR\nYH455llmKuW7Aj21RZn6hDwhOttq3htSBiHs5i+P8JtUPHXAQwpvqJJCae+LiS8K\ncQ4/J17mjEtjjWWkh+Qq/jjJ/hgad+6erMnzyX2Ym+tAseDnjIb9Woks2LUGqijr\n/9IRugK00LyajsgfZhB/xui+563bTGMiMuJlP33tAoGADVqe3vCN5NVL+tI+V7iX\ntT2KsaIa5O5yNKHIPi6UNBDe64/Dd++iK5NHCc8u8vQx/OelHgqKkC0/esOgsCJ8\nMFkStZefIAPVN/RaRq1WWishxzX3XWHZgE0Mo0MIbNNMwyLVjfUQuMB0i8XXbRXY\nRxWUogRDnH6d+HcDj7Fbdb8=\n-----END PRIVATE KEY-----\n";
