//! The guided enrollment (`keyward enroll`) and `keyward demo`, run as the real binary against
//! virtual keys: in a pseudo-terminal as a person would, from answers files as a help-desk
//! script would, killed half-way and resumed.

mod common;

use common::{assert_no_admin_jargon, path_str, Sandbox};
use expectrl::{Eof, Regex, Session, Signal, WaitStatus};
use keyward::playbook::{Advice, Catalog, Evidence};
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

/// The PIN enroll sets on the keys (from KEYWARD_NEW_PIN) and then uses (KEYWARD_PIN).
const PIN: &str = "champignon-7";

const GOOGLE: &str = "ada@example.com";
const ENTRA: &str = "ada@contoso.example";
const APPLE: &str = "ada@icloud.example";

/// Two fresh virtual keys in `keys/`: (the --device value for the folder, spec A, spec B).
fn two_keys(sb: &Sandbox) -> (String, String, String) {
    let dir = sb.path("keys");
    std::fs::create_dir_all(&dir).unwrap();
    let a = dir.join("a.key");
    let b = dir.join("b.key");
    for k in [&a, &b] {
        sb.run(&["virtual", "create", path_str(k)]).ok();
    }
    (
        format!("virtual-dir:{}", dir.display()),
        format!("virtual:{}", a.display()),
        format!("virtual:{}", b.display()),
    )
}

/// What the website does when the person adds the key: a discoverable credential for this RP
/// and user name.
fn website_registers(sb: &Sandbox, spec: &str, rp: &str, user: &str) {
    let file = spec.strip_prefix("virtual:").unwrap();
    // A key with a PIN is asked for it, as a website does.
    sb.run_with(
        &[
            "virtual",
            "register",
            file,
            "--rp",
            rp,
            "--user",
            user,
            "--discoverable",
        ],
        None,
        &[("KEYWARD_PIN", PIN)],
    )
    .ok();
}

fn catalog() -> Catalog {
    Catalog::load(None).expect("built-in playbooks load")
}

fn pins() -> [(&'static str, &'static str); 2] {
    [("KEYWARD_PIN", PIN), ("KEYWARD_NEW_PIN", PIN)]
}

/// `keyward enroll --person PERSON --answers FILE --device DEVICE EXTRA...` with the test PINs
/// in the environment; the caller checks the exit code.
fn enroll_scripted(
    sb: &Sandbox,
    person: &str,
    answers: &std::path::Path,
    device: &str,
    extra: &[&str],
) -> common::Run {
    let mut args = vec![
        "enroll",
        "--person",
        person,
        "--answers",
        path_str(answers),
        "--device",
        device,
    ];
    args.extend_from_slice(extra);
    sb.run_with(&args, None, &pins())
}

fn status_json(sb: &Sandbox, person: &str) -> Value {
    sb.run(&["status", person, "--json"]).ok().json()
}

fn account<'a>(status: &'a Value, playbook: &str) -> &'a Value {
    status["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["playbook"] == playbook)
        .unwrap_or_else(|| panic!("no {playbook} account in {status:#}"))
}

fn evidences(account: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = account["enrollments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["key_label"].as_str().unwrap().to_string(),
                e["evidence"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn method_status(account: &Value, method: &str) -> String {
    account["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["method"] == method)
        .map(|m| m["status"].as_str().unwrap().to_string())
        .unwrap_or_else(|| "none".into())
}

#[test]
fn without_a_terminal_or_answers_file_enroll_stops_with_a_clear_error() {
    let sb = Sandbox::new();
    let started = Instant::now();
    let run = sb
        .run(&["enroll", "--person", "Ada Lovelace"])
        .expect_code(14);
    assert!(started.elapsed() < Duration::from_secs(10), "no hang");
    assert!(run.stderr.contains("--answers FILE"), "{}", run.stderr);
    assert!(!sb.ledger().exists(), "nothing was recorded");
}

#[test]
fn an_answers_file_missing_an_answer_names_the_prompt_and_the_file() {
    let sb = Sandbox::new();
    let (dir, _, _) = two_keys(&sb);
    let answers = sb.path("answers.toml");
    std::fs::write(&answers, "\"person.new\" = true\n").unwrap();
    let run = enroll_scripted(&sb, "Ada", &answers, &dir, &[]).expect_code(12);
    assert!(run.stderr.contains("`accounts.which`"), "{}", run.stderr);
    assert!(run.stderr.contains("answers.toml"), "{}", run.stderr);
}

/// Issue 11, item 4: a secret-looking value given where a yes/no belongs is not repeated.
#[test]
fn a_wrong_answer_is_refused_without_echoing_its_value() {
    let sb = Sandbox::new();
    let (dir, _, _) = two_keys(&sb);
    let answers = sb.path("answers.toml");
    std::fs::write(&answers, "\"person.new\" = \"735901\"\n").unwrap();
    for json in [false, true] {
        let mut args = vec![
            "enroll",
            "--person",
            "Ada",
            "--answers",
            path_str(&answers),
            "--device",
            &dir,
        ];
        if json {
            args.push("--json");
        }
        let run = sb.run_with(&args, None, &pins()).expect_code(12);
        assert!(!run.all_output().contains("735901"), "{}", run.all_output());
        assert!(
            run.all_output().contains("`person.new`"),
            "{}",
            run.all_output()
        );
        assert!(
            run.all_output().contains("true or false"),
            "{}",
            run.all_output()
        );
        assert!(
            run.all_output()
                .contains("answers.toml, line 1, column 16: "),
            "{}",
            run.all_output()
        );
    }
    // A PIN typed where the number of keys belongs: the place and the choices, not the value.
    let answers = sb.path("a6.toml");
    std::fs::write(
        &answers,
        "\"person.new\" = true\n\"accounts.which\" = [\"google\"]\n\
         \"account.google.identifier\" = \"ada@example.com\"\n\
         \"account.google-advanced-protection.add\" = false\n\"keys.count\" = \"735901\"\n",
    )
    .unwrap();
    let run = enroll_scripted(&sb, "Ada", &answers, &dir, &[]).expect_code(12);
    let all = run.all_output();
    assert!(!all.contains("735901"), "{all}");
    assert!(
        all.contains(
            "a6.toml, line 5, column 16: the answer for `keys.count` is wrong: a text answer is \
             not one of \"2\", \"1\", \"3\", \"4\""
        ),
        "{all}"
    );
}

#[test]
fn an_answers_file_holding_a_pin_is_refused_without_echoing_it() {
    let sb = Sandbox::new();
    let answers = sb.path("answers.toml");
    std::fs::write(&answers, "[key.a]\npin = \"24681357\"\n").unwrap();
    let run = sb
        .run(&["enroll", "--person", "Ada", "--answers", path_str(&answers)])
        .expect_code(12);
    assert!(run.stderr.contains("PIN"), "{}", run.stderr);
    assert!(!run.all_output().contains("24681357"));
}

/// Answers for one account of `playbook`, removing every weaker method except `keep_on`.
fn scripted_answers(playbook: &str, identifier: &str, a: &str, keep_on: &str) -> String {
    format!(
        r#""person.new" = true
"keys.count" = "2"
"keys.a.device" = "{a}"
"key.*.set_pin" = true
"account.{playbook}.identifier" = "{identifier}"
"account.{playbook}.platform" = "{platform}"
"step.*.*.done" = true
"confirm.*.*.enrolled" = true
"method.*.*.status" = "on"
"method.*.*.outcome" = "removed"
"method.{playbook}.{keep_on}.outcome" = "later"
"no.such.question" = true
"#,
        platform = if playbook == "apple" { "iphone" } else { "web" }
    )
}

#[test]
fn scripted_enrollment_covers_every_playbook() {
    let catalog = catalog();
    let playbooks: Vec<_> = catalog.all().cloned().collect();
    assert!(playbooks.len() >= 5, "every shipped playbook is covered");
    for pb in playbooks {
        let sb = Sandbox::new();
        let (dir, a, b) = two_keys(&sb);
        let path = pb.primary_path();
        let user = format!("ada@{}.example", pb.id);
        if path.verification.evidence == Evidence::OnKey {
            for k in [&a, &b] {
                website_registers(&sb, k, &path.verification.rp_ids[0], &user);
            }
        }
        let keep_on = pb
            .weaker_methods
            .iter()
            .find(|m| m.advice() != Advice::KeepAndProtect)
            .map(|m| m.method.as_str().to_string())
            .expect("a weaker method to remove");
        let answers = sb.path("answers.toml");
        std::fs::write(&answers, scripted_answers(&pb.id, &user, &a, &keep_on)).unwrap();
        let run = sb
            .run_with(
                &[
                    "enroll",
                    "--person",
                    "Ada Lovelace",
                    "--playbook",
                    &pb.id,
                    "--answers",
                    path_str(&answers),
                    "--device",
                    &dir,
                    "--operator",
                    "sam",
                    "--json",
                ],
                None,
                &pins(),
            )
            .ok();
        assert!(!run.all_output().contains(PIN), "{}: PIN leaked", pb.id);
        assert!(
            run.stderr.contains("no question used") && run.stderr.contains("no.such.question"),
            "{}: unknown ids are reported\n{}",
            pb.id,
            run.stderr
        );
        // The person is told, in the playbook's words, what stays by design and what cannot
        // sign in there.
        for m in &pb.weaker_methods {
            let said = match m.advice() {
                Advice::KeepAndProtect => {
                    format!("{}: keep it, by design: ", m.display_name())
                }
                Advice::NotUsable => format!(
                    "It cannot sign anyone in here: {}",
                    m.why_not_usable.as_deref().unwrap()
                ),
                Advice::Remove => continue,
            };
            assert!(run.stderr.contains(&said), "{}: `{said}` not said", pb.id);
        }
        let status = &run.json();
        let acct = account(status, &pb.id);
        let want = match path.verification.evidence {
            Evidence::OnKey => "seen_on_key",
            Evidence::PersonConfirms => "confirmed_by_operator",
        };
        assert_eq!(
            evidences(acct),
            vec![("Key A".into(), want.into()), ("Key B".into(), want.into())],
            "{}",
            pb.id
        );
        let remaining: Vec<&str> = status["remaining"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["method"].as_str().unwrap())
            .collect();
        assert_eq!(remaining, vec![keep_on.as_str()], "{}", pb.id);
        assert!(
            acct["methods"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["updated_by"] == "operator:sam"),
            "{}: every record carries the operator",
            pb.id
        );
        for m in &pb.weaker_methods {
            let got = method_status(acct, m.method.as_str());
            let want = if m.method.as_str() == keep_on {
                "present"
            } else if m.advice() == Advice::KeepAndProtect {
                // Kept by design, with its reason, without asking.
                "kept"
            } else {
                "removed"
            };
            assert_eq!(got, want, "{} {}", pb.id, m.method.as_str());
        }
    }
}

// ------------------------------------------------------------------ pseudo-terminal sessions

/// `keyward ARGS` in a pseudo-terminal, with the sandbox's clean environment.
fn spawn_pty(sb: &Sandbox, args: &[&str]) -> Session {
    spawn_pty_env(sb, args, true)
}

/// The same, with the PINs typed at the hidden prompts (`typed_pins`) instead of coming from
/// the environment. The terminal is wide enough that no question is wrapped (`converse`
/// reads a question from its last line; a narrow one is tested by itself).
fn spawn_pty_env(sb: &Sandbox, args: &[&str], env_pins: bool) -> Session {
    spawn_sized(sb, 250, args, env_pins)
}

/// `keyward ARGS` in a pseudo-terminal `cols` columns wide (set before keyward starts, so no
/// question is drawn at another width).
fn spawn_sized(sb: &Sandbox, cols: u16, args: &[&str], env_pins: bool) -> Session {
    let mut sh = vec![
        "-c".to_string(),
        // The size is set once the pty is made: expectrl sets 80x24 from its side after
        // the fork, so the shell waits for a line that is sent after that.
        format!("read -r _ && stty cols {cols} rows 24 && exec \"$0\" \"$@\""),
        env!("CARGO_BIN_EXE_keyward").to_string(),
    ];
    sh.extend(args.iter().map(|a| a.to_string()));
    let std_cmd = sb.cmd();
    let mut cmd = Command::new("sh");
    for (k, v) in std_cmd.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.current_dir(sb.dir.path())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("TERM", "dumb")
        .env_remove("KEYWARD_PIN")
        .env_remove("KEYWARD_NEW_PIN")
        .args(sh);
    if env_pins {
        cmd.env("KEYWARD_PIN", PIN).env("KEYWARD_NEW_PIN", PIN);
    }
    let mut p = Session::spawn(cmd).expect("spawn in a pty");
    p.send("\n").unwrap();
    p.set_expect_timeout(Some(Duration::from_secs(20)));
    p
}

/// How the person in the pseudo-terminal answers, by question.
struct Person {
    /// Weaker methods (by lowercase words in their name) the person leaves on: "And now?" ->
    /// the last choice.
    leave_on: Vec<&'static str>,
    /// Stop answering (the test kills the process) at the first question after output
    /// containing `.1`, once output containing `.0` has been seen.
    stop_at: Option<(&'static str, &'static str)>,
    in_section: bool,
    /// Every question seen, in order.
    asked: Vec<String>,
    /// PINs the person types at hidden prompts, in order.
    pins: Vec<String>,
    /// Stop answering (returns false) at the first question containing this.
    interrupt_at: Option<&'static str>,
    /// Everything the terminal showed.
    transcript: String,
    /// Questions (by words in them) the person answers with Enter alone, taking the default.
    enter_at: Vec<&'static str>,
}

const QUESTIONS: &str = r"(?:[^\r\n]*\[[Yy]/[Nn]\] |[^\r\n]*live\? \[[^\]\r\n]*\]: |[^\r\n]*\?:|[^\r\n]*\(full name\): |[^\r\n]*sign in with: |(?:PIN of|New PIN for|Your new PIN for|Temporary PIN of)[^\r\n]*: |Type it again: )";

/// Answer questions until the program ends (or `stop_at` is reached: returns false).
fn converse(p: &mut Session, who: &mut Person) -> bool {
    loop {
        let needles: Vec<Box<dyn expectrl::Needle>> =
            vec![Box::new(Regex(QUESTIONS)), Box::new(Eof)];
        let found = match p.expect(expectrl::Any(needles)) {
            Ok(c) => c,
            Err(e) => panic!("pty session failed after {:?}: {e}", who.asked.last()),
        };
        // `as_bytes` is everything read, the match included.
        let raw = String::from_utf8_lossy(found.as_bytes()).to_string();
        who.transcript.push_str(&raw);
        let is_question = raw.ends_with("] ") || raw.ends_with("?:") || raw.ends_with(": ");
        if !is_question {
            return true;
        }
        // The match may carry earlier output: the question is its last line.
        let q = strip_ansi(&raw);
        let q = q
            .rsplit(['\r', '\n'])
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        if who.interrupt_at.is_some_and(|w| q.contains(w)) {
            who.asked.push(q);
            return false;
        }
        if let Some((section, at)) = who.stop_at {
            let before = strip_ansi(&String::from_utf8_lossy(found.before()));
            who.in_section |= before.contains(section);
            if who.in_section && before.contains(at) {
                who.asked.push(q);
                return false;
            }
        }
        // The match may carry earlier output drawn with cursor moves: judge by its end.
        let is_pin = q.ends_with(':')
            && !q.ends_with("?:")
            && ["PIN of", "New PIN for", "Type it again"]
                .iter()
                .any(|w| q.contains(w));
        if is_pin {
            // A hidden prompt: the next PIN the person types, no echo of it.
            let pin = if who.pins.is_empty() {
                panic!("asked for a PIN nobody has: {q}; asked: {:#?}", who.asked)
            } else {
                who.pins.remove(0)
            };
            who.asked.push(q);
            // The hidden prompt turns echo off with TCSAFLUSH, which drops anything typed
            // before it: a person never types that fast, a test must wait a moment.
            std::thread::sleep(Duration::from_millis(400));
            p.send(format!("{pin}\r")).unwrap();
            continue;
        }
        let answer: String = if who.enter_at.iter().any(|w| q.contains(w)) {
            "\r".into()
        } else if q.contains("(full name)") {
            "Ada Lovelace\r".into()
        } else if q.contains("sign in with") {
            let id = if q.contains("Google") {
                GOOGLE
            } else if q.contains("Microsoft") {
                ENTRA
            } else {
                APPLE
            };
            format!("{id}\r")
        } else if q.contains("and now?") {
            let method = q.to_lowercase();
            if who.leave_on.iter().any(|m| method.contains(m)) {
                // The default: leave it on for now.
                "\r".into()
            } else {
                // From the last choice down to the first, "I removed it just now".
                "j\r".into()
            }
        } else if q.contains("Did you mean") {
            // The default is "someone else"; the first entry is the name meant.
            "j\r".into()
        } else if q.contains("[y/N]") {
            // Evidence questions default to no; this person did what was asked.
            "y\r".into()
        } else {
            // Every other question: the default (yes, the first choice, everything ticked).
            "\r".into()
        };
        who.asked.push(q);
        p.send(answer).unwrap();
        // Past the redraws to the line keyward writes once the answer is taken.
        let echoed = p.expect(" -> ").expect("the answer is echoed");
        who.transcript
            .push_str(&String::from_utf8_lossy(echoed.as_bytes()));
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out.trim().to_string()
}

fn exit_code(p: &Session) -> i32 {
    match p.get_process().wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("keyward did not exit normally: {other:?}"),
    }
}

const THREE: [&str; 6] = [
    "--playbook",
    "google",
    "--playbook",
    "microsoft-entra",
    "--playbook",
    "apple",
];

/// The websites' part for the interactive sessions: Google and Microsoft credentials on both
/// keys (made before the keys have a PIN, as a website would with UV discouraged).
fn websites(sb: &Sandbox, a: &str, b: &str) {
    for k in [a, b] {
        website_registers(sb, k, "google.com", GOOGLE);
        website_registers(sb, k, "login.microsoft.com", ENTRA);
    }
}

#[test]
fn interactive_enrollment_in_a_terminal_then_status_shows_what_remains() {
    let sb = Sandbox::new();
    let (dir, a, b) = two_keys(&sb);
    websites(&sb, &a, &b);
    let mut args = vec!["enroll", "--device", &dir];
    args.extend(THREE);
    let mut p = spawn_pty(&sb, &args);
    let mut who = Person {
        leave_on: vec!["text message"],
        stop_at: None,
        in_section: false,
        asked: Vec::new(),
        pins: Vec::new(),
        interrupt_at: None,
        transcript: String::new(),
        enter_at: Vec::new(),
    };
    assert!(converse(&mut p, &mut who));
    assert_eq!(exit_code(&p), 0, "questions: {:#?}", who.asked);
    // What the person saw, as the terminal shows it (menus drawn and cleared), ends with
    // their own page. KEYWARD_TRANSCRIPT=FILE keeps it (docs/enroll.md quotes one).
    let seen = screen(&who.transcript, 250);
    if let Some(out) = std::env::var_os("KEYWARD_TRANSCRIPT") {
        std::fs::write(out, &seen).unwrap();
    }
    assert!(!seen.contains(PIN), "the PIN never shows");
    let page = seen
        .split("# Your security keys: Ada Lovelace")
        .nth(1)
        .unwrap_or_else(|| panic!("no page for the person at the end:\n{seen}"));
    assert!(page.contains("## Still to do"), "{page}");
    assert!(page.contains("keyward status \"Ada Lovelace\""), "{page}");
    assert!(who.asked.iter().any(|q| q.contains("How many keys")));
    assert!(who.asked.iter().any(|q| q.contains("now list Key B")));
    assert!(
        who.transcript.contains("Verified on Key B"),
        "{}",
        who.transcript
    );
    assert!(!who.transcript.contains(PIN), "the PIN never shows");
    // What stays by design is said so, with the reason and how to protect it, unasked.
    let plain = strip_ansi(&who.transcript);
    assert!(
        plain.contains("Trusted phone number: keep it, by design: Apple requires"),
        "{plain}"
    );
    assert!(
        plain.contains("Set a PIN or passcode on your mobile carrier account"),
        "{plain}"
    );
    assert!(
        !who.asked
            .iter()
            .any(|q| q.contains("Trusted phone number: is it still on")),
        "nobody is asked whether to remove what must stay: {:#?}",
        who.asked
    );

    let status = status_json(&sb, "Ada Lovelace");
    let google = account(&status, "google");
    let entra = account(&status, "microsoft-entra");
    let apple = account(&status, "apple");
    let seen = vec![
        ("Key A".to_string(), "seen_on_key".to_string()),
        ("Key B".to_string(), "seen_on_key".to_string()),
    ];
    assert_eq!(evidences(google), seen);
    assert_eq!(evidences(entra), seen);
    assert_eq!(
        evidences(apple),
        vec![
            ("Key A".into(), "confirmed_by_person".into()),
            ("Key B".into(), "confirmed_by_person".into())
        ]
    );
    let detail = &google["enrollments"][0];
    assert_eq!(detail["detail"]["rp_id"], "google.com");
    assert!(detail["detail"]["credential_id"].as_str().unwrap().len() >= 16);
    // Exactly the SMS methods the person left on remain, nothing else.
    let remaining: Vec<(String, String)> = status["remaining"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["playbook"].as_str().unwrap().to_string(),
                r["method"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        remaining,
        vec![
            ("google".to_string(), "sms".to_string()),
            ("microsoft-entra".to_string(), "sms".to_string())
        ]
    );
    assert_eq!(method_status(apple, "trusted_phone"), "kept");
    assert_eq!(method_status(google, "totp"), "removed");

    // The same, as a person reads it: the two SMS methods first, each with where to go.
    let text = sb.run(&["status", "Ada Lovelace"]).ok().stdout;
    let todo = text.split("Accounts:").next().unwrap();
    assert!(todo.contains("Still to disable (2)"), "{text}");
    assert_eq!(todo.matches("[sms] (still on").count(), 2, "{text}");
    assert_eq!(todo.matches("https://").count(), 2, "{text}");
    // Kept by design: status says how to protect it, under the account.
    let kept = text.split("trusted_phone: kept").nth(1).expect(&text);
    let kept = kept.split("\nKeys:").next().unwrap();
    assert!(kept.contains("Protect it:"), "{text}");
    assert!(kept.contains("Add a second trusted number"), "{text}");
    // Each key was to be marked with its letter, and where it lives asked once (Enter: the
    // offered place), then kept with the key.
    assert!(plain.contains("Write A on this key now"), "{plain}");
    for label in ["Key A", "Key B"] {
        let asked = format!("Where will {label} live?");
        assert_eq!(
            who.asked.iter().filter(|q| q.contains(&asked)).count(),
            1,
            "{:#?}",
            who.asked
        );
    }
    let keys = text.split("\nKeys:").nth(1).expect(&text);
    assert!(
        keys.lines()
            .any(|l| l.contains("Key A (#") && l.contains("kept on my keyring")),
        "{text}"
    );
    assert!(
        keys.lines()
            .any(|l| l.contains("Key B (#") && l.contains("kept in the safe at home")),
        "{text}"
    );
}

#[test]
fn killed_mid_flow_then_rerun_resumes_without_doing_anything_twice() {
    let sb = Sandbox::new();
    let (dir, a, b) = two_keys(&sb);
    websites(&sb, &a, &b);
    let mut args = vec!["enroll", "--device", &dir];
    args.extend(THREE);
    let mut p = spawn_pty(&sb, &args);
    // Killed half-way through the second key's round at Microsoft: Google is done with both
    // keys, Microsoft with Key A, and Key B is at the website's steps (2 to 4) of its round.
    let mut who = Person {
        leave_on: vec![],
        stop_at: Some(("ada@contoso.example): now Key B", "Step 2 of")),
        in_section: false,
        asked: Vec::new(),
        pins: Vec::new(),
        interrupt_at: None,
        transcript: String::new(),
        enter_at: Vec::new(),
    };
    assert!(!converse(&mut p, &mut who), "stopped early");
    p.get_process_mut().kill(Signal::SIGKILL).unwrap();
    let _ = p.get_process().wait();

    // The rest from an answers file with no answer for any Google question, for how many
    // keys or for Microsoft's platform: asking any of them again would fail the run.
    let answers = sb.path("rest.toml");
    std::fs::write(
        &answers,
        r#"[step.microsoft-entra]
4.done = true

[step.apple]
"*.done" = true

[account.apple]
platform = "iphone"

[confirm.apple]
"*.enrolled" = true

[method]
"*.on" = []
"#,
    )
    .unwrap();
    let run = sb
        .run_with(
            &[
                "enroll",
                "--person",
                "Ada Lovelace",
                "--device",
                &dir,
                "--answers",
                path_str(&answers),
                "--json",
                "--playbook",
                "google",
                "--playbook",
                "microsoft-entra",
                "--playbook",
                "apple",
            ],
            None,
            &pins(),
        )
        .ok();
    let status = &run.json();
    assert_eq!(status["keys"].as_array().unwrap().len(), 2, "no key twice");
    assert_eq!(
        status["accounts"].as_array().unwrap().len(),
        3,
        "no account twice"
    );
    for pb in ["google", "microsoft-entra", "apple"] {
        assert_eq!(
            account(status, pb)["enrollments"].as_array().unwrap().len(),
            2,
            "{pb}: two enrollments, no duplicates"
        );
    }
    assert!(
        run.stderr
            .contains("Google Account (ada@example.com): every key is enrolled already"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("(done earlier)"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("Resuming where the last session stopped: Microsoft"),
        "{}",
        run.stderr
    );
    // ...and Key B's visit to the website was asked (5 checks the key): every answer used.
    assert!(!run.stderr.contains("no question used"), "{}", run.stderr);
    assert_eq!(
        account(status, "microsoft-entra")["enrollments"][1]["evidence"],
        "seen_on_key"
    );
    assert_eq!(status["remaining"].as_array().unwrap().len(), 0);
}

#[test]
fn demo_runs_the_whole_flow_in_seconds() {
    let sb = Sandbox::new();
    let started = Instant::now();
    let run = sb.run(&["demo", "--json"]).ok();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let status = &run.json();
    for pb in ["google", "microsoft-entra", "apple"] {
        assert_eq!(
            account(status, pb)["enrollments"].as_array().unwrap().len(),
            2,
            "{pb}"
        );
    }
    assert_eq!(evidences(account(status, "google"))[0].1, "seen_on_key");
    assert!(
        !status["remaining"].as_array().unwrap().is_empty(),
        "the demo shows what remains"
    );
    assert!(
        !sb.ledger().exists(),
        "the demo never touches the real ledger"
    );

    let text = sb.run(&["demo"]).ok().stdout;
    assert!(text.contains("Still to disable"), "{text}");
    assert!(text.contains("seen on the key"), "{text}");
}

#[test]
fn enrollment_warns_with_the_same_readiness_verdict_as_key_check() {
    let sb = Sandbox::new();
    let run = sb.run(&["demo"]).ok();
    // Apple requires FIDO Certified keys; a virtual key never is. `key check` says so, and the
    // guided flow must say the same for each key, without inventing problems elsewhere.
    for label in ["Key A", "Key B"] {
        assert!(
            run.stderr.contains(&format!(
                "warning: {label} is not ready for Apple Account: a virtual key is software"
            )),
            "{}",
            run.stderr
        );
    }
    assert!(
        !run.stderr.contains("not ready for Google"),
        "{}",
        run.stderr
    );
    let key = sb.virtual_key("solo.key", "ctap21");
    let check = sb
        .run(&[
            "--device", &key, "key", "check", "--for", "apple", "--keys", "2", "--json",
        ])
        .expect_code(15)
        .json();
    let problems: Vec<&str> = check["verdicts"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "note")
        .map(|f| f["problem"].as_str().unwrap())
        .collect();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("a virtual key is software")),
        "{problems:?}"
    );
}

#[test]
fn each_key_pin_is_typed_once_per_session_however_many_accounts_are_verified() {
    let sb = Sandbox::new();
    let (dir, a, b) = two_keys(&sb);
    for k in [&a, &b] {
        website_registers(&sb, k, "google.com", GOOGLE);
        website_registers(&sb, k, "login.microsoft.com", ENTRA);
    }
    let answers = sb.path("answers.toml");
    std::fs::write(
        &answers,
        format!(
            r#""person.new" = true
"keys.count" = "2"
"keys.a.device" = "{a}"
"key.*.set_pin" = true
"account.google.identifier" = "{GOOGLE}"
"account.microsoft-entra.identifier" = "{ENTRA}"
"account.*.platform" = "web"
"step.*.*.done" = true
"method.*.*.status" = "off"
"#
        ),
    )
    .unwrap();
    // Exactly two PINs on stdin, one chosen for each key when it gets its PIN. Verifying two
    // accounts on two keys must not ask for more: a further request would find stdin empty.
    let (pin_a, pin_b) = ("first-key-2468", "second-key-1357");
    let run = sb.run_with(
        &[
            "enroll",
            "--person",
            "Ada Lovelace",
            "--playbook",
            "google",
            "--playbook",
            "microsoft-entra",
            "--answers",
            path_str(&answers),
            "--device",
            &dir,
            "--pin-stdin",
            "--json",
        ],
        Some(&format!("{pin_a}\n{pin_b}\n")),
        &[],
    );
    assert!(
        !run.all_output().contains(pin_a) && !run.all_output().contains(pin_b),
        "PIN leaked"
    );
    let status = run.ok().json();
    for pb in ["google", "microsoft-entra"] {
        assert_eq!(
            evidences(account(&status, pb)),
            vec![
                ("Key A".into(), "seen_on_key".into()),
                ("Key B".into(), "seen_on_key".into())
            ],
            "{pb}"
        );
    }
    // Each key really has the PIN typed for it.
    let check = |spec: &str, pin: &str| {
        sb.run_pins(&["--device", spec, "key", "credentials", "list"], &[pin])
            .code
    };
    assert_eq!(check(&a, pin_a), 0);
    assert_eq!(check(&b, pin_b), 0);
}

#[test]
fn after_a_key_is_lost_enroll_adds_its_replacement_and_takes_the_lost_key_off_the_account() {
    let sb = Sandbox::new();
    let (dir, a, b) = two_keys(&sb);
    let user = "ada@google.example";
    for k in [&a, &b] {
        website_registers(&sb, k, "google.com", user);
    }
    let answers = sb.path("answers.toml");
    std::fs::write(&answers, scripted_answers("google", user, &a, "sms")).unwrap();
    let enroll = |answers: &std::path::Path| {
        enroll_scripted(
            &sb,
            "Ada Lovelace",
            answers,
            &dir,
            &["--playbook", "google", "--json"],
        )
    };
    enroll(&answers).ok();
    sb.run(&[
        "key",
        "lost",
        "Key A",
        "--person",
        "Ada Lovelace",
        "--reason",
        "left in a taxi",
    ])
    .ok();
    // Key A is gone from the desk; a new key takes its place.
    let a_file = a.strip_prefix("virtual:").unwrap();
    std::fs::rename(a_file, sb.path("lost.key")).unwrap();
    let c_file = sb.path("keys").join("c.key");
    sb.run(&["virtual", "create", path_str(&c_file)]).ok();
    let c = format!("virtual:{}", c_file.display());
    website_registers(&sb, &c, "google.com", user);
    let again = sb.path("again.toml");
    std::fs::write(
        &again,
        r#""keys.count" = "2"
"key.*.set_pin" = true
"account.*.platform" = "web"
"step.*.*.done" = true
"replace.google.a.removed" = true
"#,
    )
    .unwrap();
    let run = enroll(&again).ok();
    assert!(!run.all_output().contains(PIN), "PIN leaked");
    assert!(
        run.stderr.contains("Key A is marked lost"),
        "{}",
        run.stderr
    );
    let status = run.json();
    assert_eq!(
        evidences(account(&status, "google")),
        vec![
            ("Key B".into(), "seen_on_key".into()),
            ("Key C".into(), "seen_on_key".into())
        ]
    );
    assert_eq!(status["needs_replacement"], serde_json::json!([]));
    assert_eq!(status["single_key_accounts"], serde_json::json!([]));
    let labels: Vec<(&str, &str)> = status["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["label"].as_str().unwrap(), k["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        labels,
        vec![("Key A", "lost"), ("Key B", "active"), ("Key C", "active")]
    );
    assert!(sb
        .run(&["audit", "verify"])
        .ok()
        .stdout
        .contains("Audit trail intact"));
}

// ------------------------------------------------------- ordinary mistakes and stopping

fn person(pins: &[&str], interrupt_at: Option<&'static str>) -> Person {
    Person {
        leave_on: vec![],
        stop_at: None,
        in_section: false,
        asked: Vec::new(),
        pins: pins.iter().map(|p| p.to_string()).collect(),
        interrupt_at,
        transcript: String::new(),
        enter_at: Vec::new(),
    }
}

/// Two keys with the Google credential on them, and a PIN set on each beforehand.
fn keys_with_pins(sb: &Sandbox) -> String {
    let (dir, a, b) = two_keys(sb);
    for k in [&a, &b] {
        website_registers(sb, k, "google.com", GOOGLE);
        sb.run_with(
            &["--device", k, "key", "pin", "set"],
            None,
            &[("KEYWARD_NEW_PIN", PIN)],
        )
        .ok();
    }
    dir
}

const GOOGLE_ONLY: [&str; 2] = ["--playbook", "google"];

/// The terminal shows a cursor at the end: no hide (`ESC[?25l`) without a show after it.
fn cursor_visible(transcript: &str) -> bool {
    match transcript.rfind("\x1b[?25l") {
        None => true,
        Some(hide) => transcript[hide..].contains("\x1b[?25h"),
    }
}

/// Send Ctrl-C (or `signal`) and read to the end: what the terminal showed, and the exit code.
fn stop_now(p: &mut Session, signal: Option<Signal>) -> (String, i32) {
    match signal {
        None => p.send("\x03").unwrap(),
        Some(s) => p.get_process_mut().kill(s).unwrap(),
    }
    let rest = p.expect(Eof).expect("keyward ends");
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(rest.before()),
        String::from_utf8_lossy(rest.as_bytes())
    );
    (shown, exit_code(p))
}

const CONTINUE: &str =
    "Stopped. Nothing done so far is lost. To continue: keyward enroll --person \"Ada Lovelace\"";

#[test]
fn a_wrong_pin_is_asked_again_with_the_attempts_left_in_the_same_session() {
    let sb = Sandbox::new();
    let dir = keys_with_pins(&sb);
    let mut args = vec!["enroll", "--person", "Ada Lovelace", "--device", &dir];
    args.extend(GOOGLE_ONLY);
    let mut p = spawn_pty_env(&sb, &args, false);
    let wrong = "wrong-pin-31337";
    let mut who = person(&[wrong, PIN, PIN], None);
    assert!(converse(&mut p, &mut who));
    assert_eq!(exit_code(&p), 0, "questions: {:#?}", who.asked);
    assert!(
        who.transcript.contains(
            "That is not the PIN of Key A (7 attempts left before the key locks). Try again."
        ),
        "{}",
        who.transcript
    );
    let pin_prompts = who
        .asked
        .iter()
        .filter(|q| q.starts_with("PIN of Key A"))
        .count();
    assert_eq!(pin_prompts, 2, "asked again, once: {:#?}", who.asked);
    assert!(who.transcript.contains("Verified on Key A"));
    assert!(who.transcript.contains("Verified on Key B"));
    assert!(
        !who.transcript.contains(PIN) && !who.transcript.contains(wrong),
        "PIN shown"
    );
    let status = status_json(&sb, "Ada Lovelace");
    assert_eq!(evidences(account(&status, "google")).len(), 2);
}

/// Two keys without a PIN, each holding the Google credential, and Ada's Google-only session
/// in a pseudo-terminal with the PINs typed at the prompts: (session, spec A, spec B).
fn new_keys_google_session(sb: &Sandbox) -> (Session, String, String) {
    let (dir, a, b) = two_keys(sb);
    for k in [&a, &b] {
        website_registers(sb, k, "google.com", GOOGLE);
    }
    let mut args = vec!["enroll", "--person", "Ada Lovelace", "--device", &dir];
    args.extend(GOOGLE_ONLY);
    (spawn_pty_env(sb, &args, false), a, b)
}

#[test]
fn a_new_pin_too_short_is_asked_again_naming_the_rule() {
    let sb = Sandbox::new();
    let (mut p, a, b) = new_keys_google_session(&sb);
    // Key A: too short (typed twice, as asked), then a good one. (Two entries that differ
    // are asked again by the prompt itself.)
    let mut who = person(&["12", "12", PIN, PIN, PIN, PIN], None);
    assert!(converse(&mut p, &mut who));
    assert_eq!(exit_code(&p), 0, "questions: {:#?}", who.asked);
    assert!(
        who.transcript
            .contains("That PIN cannot be used: the PIN must have at least 4 characters"),
        "{}",
        who.transcript
    );
    assert!(!who.transcript.contains(PIN), "PIN shown");
    // Both keys have the good PIN, and it was asked for nowhere else (kept for the session).
    for k in [&a, &b] {
        assert_eq!(
            sb.run_pins(&["--device", k, "key", "credentials", "list"], &[PIN])
                .code,
            0
        );
    }
    assert!(who.transcript.contains("Verified on Key B"));
}

/// What a terminal `cols` wide shows once `shown` is drawn on it: rows joined, runs of blanks
/// as one space (a row the terminal wrapped and a line keyward broke read the same).
fn screen_text(shown: &str, cols: u16) -> String {
    screen(shown, cols)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a terminal `cols` wide shows once `shown` is drawn on it, line by line.
fn screen(shown: &str, cols: u16) -> String {
    let size = |n| std::num::NonZeroU16::new(n).unwrap();
    let mut vt = vt100::Parser::new(size(4000), size(cols), 0);
    vt.process(shown.as_bytes());
    let lines: Vec<String> = vt
        .screen()
        .contents()
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect();
    lines.join("\n").trim_end().to_string() + "\n"
}

/// Read up to and including `needle`, adding what was shown to `shown`.
fn read_to(p: &mut Session, needle: &str, shown: &mut String) {
    let found = p
        .expect(needle)
        .unwrap_or_else(|e| panic!("waiting for {needle:?}: {e}; shown: {shown}"));
    // `as_bytes` is everything read, the match included.
    shown.push_str(&String::from_utf8_lossy(found.as_bytes()));
}

#[test]
fn a_question_wider_than_the_terminal_is_shown_once() {
    let sb = Sandbox::new();
    let (dir, _, _) = two_keys(&sb);
    let mut args = vec!["enroll", "--person", "Ada Lovelace", "--device", &dir];
    args.extend(GOOGLE_ONLY);
    let mut p = spawn_sized(&sb, 40, &args, true);
    let mut shown = String::new();
    // A yes/no question (typing y redraws it before Enter takes it), a line of text, a menu.
    // A person reads before typing; keys sent before the prompt reads them would be echoed
    // by the terminal itself.
    let answer = |p: &mut Session, prompt: &str, keys: &[&str], shown: &mut String| {
        read_to(p, prompt, shown);
        for k in keys {
            std::thread::sleep(Duration::from_millis(300));
            p.send(k).unwrap();
        }
    };
    answer(&mut p, "[Y/n] ", &["y", "\r"], &mut shown);
    answer(&mut p, "with: ", &[&format!("{GOOGLE}\r")], &mut shown);
    answer(&mut p, "Two keys (recommended)", &["\r"], &mut shown);
    // A menu whose entries are wider than the terminal.
    answer(&mut p, "[virtual:", &["\r"], &mut shown);
    answer(&mut p, "live? [on my keyring]: ", &["\x03"], &mut shown);
    read_to(&mut p, "To continue", &mut shown);
    let screen = screen_text(&shown, 40);
    for question in [
        "Ada Lovelace is not in the ledger yet. Add them?",
        "Google Account: the email address or user name you sign in with",
        "How many keys will you enroll?",
        "Several keys are plugged in. Which one is Key A?",
    ] {
        // The first words alone: a redraw that left a piece of the question behind counts.
        let start: String = question.chars().take(30).collect();
        assert_eq!(
            screen.matches(&start).count(),
            1,
            "{start:?} shown more than once:\n{screen}"
        );
        assert_eq!(
            screen.matches(question).count(),
            1,
            "{question:?}:\n{screen}"
        );
    }
    assert!(screen.contains("Add them? -> yes"), "{screen}");
    // The menu's entries were wider than the terminal: once chosen, the one chosen shows
    // twice (the answer, then "Key A: ..."), no piece of the menu stays.
    let a_key = format!("{}]", sb.path("keys").join("a.key").display());
    assert_eq!(screen.matches(&a_key).count(), 2, "{screen}");
    let b_key = format!("{}]", sb.path("keys").join("b.key").display());
    assert!(!screen.contains(&b_key), "{screen}");
    assert!(screen.contains(&format!("with -> {GOOGLE}")), "{screen}");
}

#[test]
fn ctrl_c_at_a_menu_says_how_to_continue_and_shows_the_cursor() {
    let sb = Sandbox::new();
    let (dir, _, _) = two_keys(&sb);
    let mut args = vec!["enroll", "--person", "Ada Lovelace", "--device", &dir];
    args.extend(GOOGLE_ONLY);
    let mut p = spawn_pty(&sb, &args);
    let mut who = person(&[], Some("How many keys"));
    assert!(!converse(&mut p, &mut who), "stopped at the menu");
    let (shown, code) = stop_now(&mut p, None);
    assert_eq!(code, 8, "{shown:?} {:?}", who.transcript);
    assert!(shown.contains(CONTINUE), "{shown}");
    assert!(
        cursor_visible(&format!("{}{shown}", who.transcript)),
        "{shown:?}"
    );
    // What was answered stays: the person and the account.
    let status = status_json(&sb, "Ada Lovelace");
    assert_eq!(status["accounts"].as_array().unwrap().len(), 1);
}

#[test]
fn ctrl_c_at_a_pin_prompt_says_how_to_continue_and_gives_the_terminal_back() {
    let sb = Sandbox::new();
    let dir = keys_with_pins(&sb);
    let mut args = vec!["enroll", "--person", "Ada Lovelace", "--device", &dir];
    args.extend(GOOGLE_ONLY);
    let mut p = spawn_pty_env(&sb, &args, false);
    let mut who = person(&[], Some("PIN of Key A"));
    assert!(!converse(&mut p, &mut who), "stopped at the PIN prompt");
    let (shown, code) = stop_now(&mut p, None);
    assert_eq!(code, 8, "{shown:?} {:?}", who.transcript);
    assert!(shown.contains(CONTINUE), "{shown}");
    assert!(cursor_visible(&format!("{}{shown}", who.transcript)));
}

#[test]
fn stopped_mid_step_then_resumed_without_asking_anything_answered() {
    let sb = Sandbox::new();
    let dir = keys_with_pins(&sb);
    let mut args = vec!["enroll", "--person", "Ada Lovelace", "--device", &dir];
    args.extend(GOOGLE_ONLY);
    let mut p = spawn_pty(&sb, &args);
    let mut who = person(&[], Some("with Key B? [Y/n]"));
    assert!(!converse(&mut p, &mut who), "stopped at Key B's step");
    let (shown, code) = stop_now(&mut p, None);
    assert_eq!(code, 8, "{shown:?} {:?}", who.transcript);
    assert!(shown.contains(CONTINUE), "{shown}");
    assert!(cursor_visible(&format!("{}{shown}", who.transcript)));
    // The record says it is unfinished, and where.
    let text = sb.run(&["status", "Ada Lovelace"]).ok().stdout;
    assert!(
        text.contains("Enrollment unfinished (it stopped at: Google Account, Key B, step 2)"),
        "{text}"
    );
    assert!(!text.contains("Nothing left to disable"), "{text}");
    let fleet = sb.run(&["status"]).ok().stdout;
    assert!(fleet.contains("enrollment unfinished"), "{fleet}");
    assert!(!fleet.contains("nothing left to do"), "{fleet}");

    // SIGTERM works the same way, and the rerun resumes where it stopped.
    let mut p = spawn_pty(&sb, &args);
    let mut again = person(&[], Some("Which of these does"));
    assert!(!converse(&mut p, &mut again));
    assert!(
        again
            .transcript
            .contains("Resuming where the last session stopped: Google Account, Key B, step 2"),
        "{}",
        again.transcript
    );
    for answered in [
        "How many keys",
        "sign in with",
        "Where will you add",
        "live?",
        "Key A?",
    ] {
        assert!(
            !again.asked.iter().any(|q| q.contains(answered)),
            "asked again ({answered}): {:#?}",
            again.asked
        );
    }
    let (shown, code) = stop_now(&mut p, Some(Signal::SIGTERM));
    assert_eq!(code, 8);
    assert!(shown.contains(CONTINUE), "{shown}");
}

#[test]
fn a_typed_name_is_looked_up_without_listing_anyone() {
    let sb = Sandbox::new();
    let (dir, _, _) = two_keys(&sb);
    // Two people in the ledger (each stopped right after being added).
    let answers = sb.path("only-person.toml");
    std::fs::write(&answers, "\"person.new\" = true\n").unwrap();
    for name in ["Ada Lovelace", "Grace Hopper"] {
        enroll_scripted(&sb, name, &answers, &dir, &[]).expect_code(12);
    }
    let mut p = spawn_pty(&sb, &["enroll", "--device", &dir, "--playbook", "google"]);
    let mut who = person(&[], Some("How many keys"));
    // The person misspells the name; keyward offers the close one only.
    who.leave_on = vec![];
    let found = p.expect(Regex(r"\(full name\): ")).unwrap();
    who.transcript
        .push_str(&String::from_utf8_lossy(found.before()));
    p.send("Ada Lovelce\r").unwrap();
    assert!(!converse(&mut p, &mut who));
    let seen = strip_ansi(&who.transcript);
    assert!(seen.contains("Did you mean Ada Lovelace?"), "{seen}");
    assert!(
        !seen.contains("Grace Hopper"),
        "another person was shown: {seen}"
    );
    assert!(
        seen.contains("Ada Lovelace is in the ledger already"),
        "{seen}"
    );
    let _ = stop_now(&mut p, None);
    let people = sb.run(&["status", "--json"]).ok().json();
    assert_eq!(
        people["people"].as_array().unwrap().len(),
        2,
        "nobody added"
    );
}

// ------------------------------------------------------------------ fewer questions, plain words

/// The clean scenario from an answers file: two keys, Google + Microsoft work + Apple, the
/// person has a few weaker methods and removes most of them.
fn clean_scenario(sb: &Sandbox) -> common::Run {
    clean_scenario_with(sb, false)
}

/// The clean scenario, with the Google account in Advanced Protection or not.
fn clean_scenario_with(sb: &Sandbox, advanced_protection: bool) -> common::Run {
    let google = if advanced_protection {
        "google-advanced-protection"
    } else {
        "google"
    };
    // Advanced Protection's steps are all on the web: no question where.
    let platform = if advanced_protection {
        ""
    } else {
        "\"account.google.platform\" = \"web\""
    };
    let (dir, a, b) = two_keys(sb);
    websites(sb, &a, &b);
    let answers = sb.path("clean.toml");
    std::fs::write(
        &answers,
        format!(
            r#""person.new" = true
"accounts.which" = ["google", "microsoft-entra", "apple"]
"account.google.identifier" = "{GOOGLE}"
"account.google-advanced-protection.add" = {advanced_protection}
"account.microsoft-entra.identifier" = "{ENTRA}"
"account.apple.identifier" = "{APPLE}"
"keys.count" = "2"
"keys.a.device" = "{a}"
"keys.a.location" = "on my keyring"
"keys.b.location" = "in the desk drawer at the office"
{platform}
"account.apple.platform" = "iphone"
"step.*.*.done" = true
"confirm.apple.*.enrolled" = true
"method.{google}.on" = ["sms", "totp", "backup_codes"]
"method.microsoft-entra.on" = ["sms", "push"]
"method.apple.on" = ["trusted_device"]
"method.*.*.outcome" = "removed"
"method.{google}.sms.outcome" = "later"
"#
        ),
    )
    .unwrap();
    let page = sb.path("summary.html");
    sb.run_with(
        &[
            "enroll",
            "--answers",
            path_str(&answers),
            "--device",
            &dir,
            "--person",
            "Ada Lovelace",
            "--summary",
            path_str(&page),
        ],
        None,
        &[
            ("KEYWARD_PIN", PIN),
            ("KEYWARD_NEW_PIN", PIN),
            ("KEYWARD_HELPDESK", "IT help desk, +1 555 0100"),
        ],
    )
    .ok()
}

#[test]
fn the_person_keeps_a_one_page_summary_without_any_secret() {
    let sb = Sandbox::new();
    let run = clean_scenario(&sb);
    let page = std::fs::read_to_string(sb.path("summary.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(page.contains("Key A (marked A"), "{page}");
    // Which key is which and where it lives.
    let line = |label: &str| {
        page.lines()
            .find(|l| l.contains(&format!("{label} (marked")))
            .unwrap_or_else(|| panic!("no line for {label}: {page}"))
            .to_string()
    };
    assert!(
        line("Key A").contains("kept on my keyring: opens"),
        "{page}"
    );
    assert!(
        line("Key B").contains("kept in the desk drawer at the office: opens"),
        "{page}"
    );
    assert!(
        page.contains("opens Apple Account (ada@icloud.example)"),
        "{page}"
    );
    assert!(
        page.contains("Turn off Text message codes"),
        "the SMS left on is on the list: {page}"
    );
    assert!(
        page.contains("Call the help desk: IT help desk, +1 555 0100."),
        "{page}"
    );
    // The same as Markdown from the ledger later.
    let md = sb
        .run_with(
            &["summary", "Ada Lovelace"],
            None,
            &[("KEYWARD_HELPDESK", "IT help desk, +1 555 0100")],
        )
        .ok()
        .stdout;
    assert!(md.starts_with("# Your security keys: Ada Lovelace"), "{md}");
    assert!(md.contains("## If a key is lost or stolen"), "{md}");
    // No PIN, no credential id.
    let status = status_json(&sb, "Ada Lovelace");
    let cred = account(&status, "google")["enrollments"][0]["detail"]["credential_id"]
        .as_str()
        .unwrap()
        .to_string();
    for text in [&page, &md, &run.all_output()] {
        assert!(!text.contains(PIN), "PIN in the summary");
    }
    assert!(!page.contains(&cred[..16]) && !md.contains(&cred[..16]));
}

/// The file can be read by its owner only.
fn assert_owner_only(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}: {mode:o}", path.display());
    }
}

/// The page says where each key is kept: written for its owner only, and never over another
/// file unless asked (`--force`).
#[test]
fn the_summary_file_is_private_and_never_silently_replaces_a_file() {
    let sb = Sandbox::new();
    clean_scenario(&sb);
    let page = sb.path("summary.html");
    assert_owner_only(&page);
    let mine = sb.path("notes.md");
    std::fs::write(&mine, "my own notes\n").unwrap();
    let run = sb
        .run(&["summary", "Ada Lovelace", "--output", path_str(&mine)])
        .expect_code(14);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "my own notes\n");
    sb.run(&[
        "summary",
        "Ada Lovelace",
        "--output",
        path_str(&mine),
        "--force",
    ])
    .ok();
    let md = std::fs::read_to_string(&mine).unwrap();
    assert!(md.starts_with("# Your security keys: Ada Lovelace"), "{md}");
    assert_owner_only(&mine);
    // enroll refuses before the session, not after it.
    let answers = sb.path("nothing.toml");
    std::fs::write(&answers, "").unwrap();
    let run = sb
        .run(&[
            "enroll",
            "--answers",
            path_str(&answers),
            "--person",
            "Ada Lovelace",
            "--summary",
            path_str(&page),
        ])
        .expect_code(14);
    assert!(run.stderr.contains("exists already"), "{}", run.stderr);
    assert!(!run.stderr.contains("Resuming"), "{}", run.stderr);
}

#[test]
fn the_clean_scenario_needs_at_most_30_answers() {
    let sb = Sandbox::new();
    let run = clean_scenario(&sb);
    // Each answer taken from the file is echoed once as `question [id] -> answer`.
    let answers: Vec<&str> = run.stderr.lines().filter(|l| l.contains("] -> ")).collect();
    assert!(
        answers.len() <= 30,
        "{} answers:\n{}",
        answers.len(),
        answers.join("\n")
    );
    eprintln!("the clean scenario took {} answers", answers.len());
    assert!(!run.stderr.contains("no question used"), "{}", run.stderr);
    assert!(!run.all_output().contains(PIN), "PIN shown");
    let status = status_json(&sb, "Ada Lovelace");
    for pb in ["google", "microsoft-entra", "apple"] {
        assert_eq!(evidences(account(&status, pb)).len(), 2, "{pb}");
    }
    let google = account(&status, "google");
    assert_eq!(method_status(google, "totp"), "removed");
    assert_eq!(method_status(google, "sms"), "present");
    assert_eq!(
        method_status(google, "voice"),
        "absent",
        "unticked: never set up"
    );
    assert_eq!(status["unfinished"], Value::Null);
}

/// Advanced Protection is a question about the Google account, not a second account: one
/// pass through Google's steps per key, one checklist, and each Google to-do once.
#[test]
fn advanced_protection_is_the_google_account_not_a_second_one() {
    let sb = Sandbox::new();
    let plain = clean_scenario_with(&sb, false);
    let count = |run: &common::Run| run.stderr.lines().filter(|l| l.contains("] -> ")).count();
    let sb2 = Sandbox::new();
    let run = clean_scenario_with(&sb2, true);
    assert!(!run.stderr.contains("no question used"), "{}", run.stderr);
    // The follow-up question, and Advanced Protection's own two steps (done once), at most.
    assert!(
        count(&run) <= count(&plain) + 3,
        "{} answers with Advanced Protection, {} without:\n{}",
        count(&run),
        count(&plain),
        run.stderr
    );
    assert!(count(&run) <= 30, "the issue's goal holds with it too");
    eprintln!(
        "answers: {} with Advanced Protection, {} without",
        count(&run),
        count(&plain)
    );
    assert_eq!(
        run.stderr
            .matches("Is ada@example.com in Google's Advanced Protection")
            .count(),
        1
    );
    assert_eq!(
        run.stderr.matches("Enroll in Advanced Protection").count(),
        1,
        "enrolled once, after both keys: {}",
        run.stderr
    );
    let enrolled = run
        .stderr
        .find("Step 4 of 5: Enroll in Advanced Protection");
    let key_b = run
        .stderr
        .find("Verified on Key B: the passkey for ada@example.com");
    assert!(enrolled > key_b && key_b.is_some(), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("Done step 4? [step.google-advanced-protection.4.done]"),
        "a step for the whole account names no key: {}",
        run.stderr
    );
    let status = status_json(&sb2, "Ada Lovelace");
    let accounts = status["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 3, "{status:#}");
    assert!(
        !accounts.iter().any(|a| a["playbook"] == "google"),
        "{status:#}"
    );
    let google = account(&status, "google-advanced-protection");
    assert_eq!(evidences(google).len(), 2, "both keys in the one account");
    assert_eq!(method_status(google, "sms"), "present");
    assert_eq!(status["unfinished"], Value::Null);
    let md = sb2.run(&["summary", "Ada Lovelace"]).ok().stdout;
    assert_eq!(
        md.matches("Turn off Text message codes").count(),
        1,
        "each Google to-do once: {md}"
    );
    let text = sb2.run(&["status", "Ada Lovelace"]).ok().stdout;
    assert_eq!(
        text.matches("Text message codes").count(),
        1,
        "each Google to-do once: {text}"
    );
}

/// Advanced Protection's enrollment, done once after the last key, left for later: the next
/// run comes back to it although every key is in, and until then the person is unfinished.
#[test]
fn advanced_protection_left_for_later_is_asked_again_though_every_key_is_in() {
    let sb = Sandbox::new();
    let (dir, a, b) = two_keys(&sb);
    websites(&sb, &a, &b);
    let answers = |enrolled: bool| {
        let file = sb.path(&format!("ap-{enrolled}.toml"));
        std::fs::write(
            &file,
            format!(
                r#""person.new" = true
"accounts.which" = ["google"]
"account.google.identifier" = "{GOOGLE}"
"account.google-advanced-protection.add" = true
"keys.count" = "2"
"keys.a.device" = "{a}"
"step.*.*.done" = true
"step.google-advanced-protection.4.done" = {enrolled}
"method.google-advanced-protection.on" = []
"#
            ),
        )
        .unwrap();
        file
    };
    let enroll = |file: &std::path::Path| {
        sb.run_with(
            &[
                "enroll",
                "--answers",
                path_str(file),
                "--device",
                &dir,
                "--person",
                "Ada Lovelace",
            ],
            None,
            &[("KEYWARD_PIN", PIN), ("KEYWARD_NEW_PIN", PIN)],
        )
    };
    let first = enroll(&answers(false));
    assert!(
        first
            .stderr
            .contains("Step 4 of 5: Enroll in Advanced Protection"),
        "{}",
        first.stderr
    );
    let status = status_json(&sb, "Ada Lovelace");
    assert_ne!(status["unfinished"], Value::Null, "{status:#}");
    let second = enroll(&answers(true));
    assert!(
        !second.stderr.contains("nothing to do"),
        "the enrollment is still to do: {}",
        second.stderr
    );
    assert!(
        second
            .stderr
            .contains("Step 4 of 5: Enroll in Advanced Protection"),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains("Step 5 of 5"),
        "and its confirmation: {}",
        second.stderr
    );
    assert!(
        second.stderr.contains("Step 1 of 5") && second.stderr.contains("(done earlier)"),
        "the keys' steps are not done again: {}",
        second.stderr
    );
    let status = status_json(&sb, "Ada Lovelace");
    assert_eq!(status["unfinished"], Value::Null, "{status:#}");
}

/// In `enroll` the person removes a method; whoever ran keyward only recorded it.
#[test]
fn a_method_the_person_removed_in_enroll_says_so_and_who_recorded_it() {
    let sb = Sandbox::new();
    clean_scenario(&sb);
    let text = sb.run(&["status", "Ada Lovelace"]).ok().stdout;
    assert!(
        text.contains("totp: removed by the person, recorded by OS user "),
        "{text}"
    );
    let sb = Sandbox::new();
    let (dir, a, b) = two_keys(&sb);
    websites(&sb, &a, &b);
    let answers = sb.path("answers.toml");
    std::fs::write(&answers, scripted_answers("google", GOOGLE, &a, "sms")).unwrap();
    enroll_scripted(
        &sb,
        "Ada Lovelace",
        &answers,
        &dir,
        &["--playbook", "google", "--operator", "Helpdesk Hana"],
    )
    .ok();
    let text = sb.run(&["status", "Ada Lovelace"]).ok().stdout;
    assert!(
        text.contains("totp: removed by the person, recorded by operator Helpdesk Hana ("),
        "{text}"
    );
}

/// Keys mean nothing without an account: choosing none stops there, plainly, with the
/// "declined" exit code, and records no session (the next one asks again).
#[test]
fn choosing_no_account_stops_before_the_keys_and_records_no_session() {
    let sb = Sandbox::new();
    let (dir, _a, _b) = two_keys(&sb);
    let answers = sb.path("none.toml");
    std::fs::write(&answers, "\"person.new\" = true\n\"accounts.which\" = []\n").unwrap();
    let run = enroll_scripted(&sb, "Ada Lovelace", &answers, &dir, &[]).expect_code(8);
    assert!(
        run.stderr
            .contains("No account chosen, so there is nothing to set up"),
        "{}",
        run.stderr
    );
    for later in [
        "How many keys",
        "PIN",
        "Where will Key A live",
        "every account is done",
    ] {
        assert!(
            !run.stderr.contains(later),
            "went on to `{later}`: {}",
            run.stderr
        );
    }
    let status = status_json(&sb, "Ada Lovelace");
    assert_eq!(status["accounts"], serde_json::json!([]), "{status:#}");
    assert_eq!(status["keys"], serde_json::json!([]), "{status:#}");
    // The help desk never reads "nothing left to do" for someone with nothing set up.
    let text = sb.run(&["status", "Ada Lovelace"]).ok().stdout;
    assert!(text.contains("No account recorded yet"), "{text}");
    assert!(!text.contains("Nothing left"), "{text}");
    let fleet = sb.run(&["status"]).ok().stdout;
    assert!(fleet.contains("no account recorded yet"), "{fleet}");
    assert!(!fleet.contains("nothing left to do"), "{fleet}");
    let page = sb.run(&["summary", "Ada Lovelace"]).ok().stdout;
    assert!(page.contains("Choose the accounts to protect"), "{page}");
    assert!(!page.contains("every account is done"), "{page}");
    // Not answered for good: the next session asks which accounts again.
    let again = sb.path("again.toml");
    std::fs::write(&again, "\"accounts.which\" = []\n").unwrap();
    let run = enroll_scripted(&sb, "Ada Lovelace", &again, &dir, &[]).expect_code(8);
    assert!(run.stderr.contains("[accounts.which]"), "{}", run.stderr);
}

#[test]
fn the_persons_session_carries_no_admin_jargon() {
    let sb = Sandbox::new();
    let run = clean_scenario(&sb);
    // What the person reads (stderr); the help desk's detail stays in `status` (stdout).
    assert_no_admin_jargon(&run.stderr);
}

#[test]
fn every_checklist_entry_a_person_can_see_is_in_plain_words() {
    // The entries of every built-in playbook's checklist, and the generic names a playbook
    // without its own label falls back to.
    let mut names: Vec<String> = keyward::playbook::MethodKind::ALL
        .iter()
        .map(|k| k.description().to_string())
        .collect();
    for p in catalog().all() {
        names.extend(
            p.weaker_methods
                .iter()
                .map(|m| m.display_name().to_string()),
        );
    }
    assert!(names.len() > 40, "{names:?}");
    assert_no_admin_jargon(&names.join("\n"));
}

#[test]
fn the_microsoft_work_checklist_at_a_terminal_carries_no_admin_jargon() {
    let sb = Sandbox::new();
    let (dir, a, b) = two_keys(&sb);
    for k in [&a, &b] {
        website_registers(&sb, k, "login.microsoft.com", ENTRA);
    }
    let args = [
        "enroll",
        "--person",
        "Ada Lovelace",
        "--device",
        &dir,
        "--playbook",
        "microsoft-entra",
    ];
    let mut p = spawn_pty(&sb, &args);
    let mut who = person(&[], None);
    assert!(converse(&mut p, &mut who));
    assert_eq!(exit_code(&p), 0, "questions: {:#?}", who.asked);
    let seen = strip_ansi(&who.transcript);
    // The checklist was drawn, every entry by its plain name.
    assert!(
        who.asked
            .iter()
            .any(|q| q.contains("Which of these does ada@contoso.example still have?")),
        "{:#?}",
        who.asked
    );
    for label in ["Hardware token (codes)", "Phone: text message codes"] {
        assert!(seen.contains(label), "`{label}` not shown:\n{seen}");
    }
    assert_no_admin_jargon(&seen);
}

#[test]
fn a_replacement_key_gets_apples_real_steps_for_itself() {
    let sb = Sandbox::new();
    let dir = apple_with_a_lost_key(&sb);
    let enroll = |answers: &std::path::Path| {
        enroll_scripted(&sb, "Ada Lovelace", answers, &dir, &["--playbook", "apple"])
    };
    // No platform, no key count: both were answered in the first session.
    let again = sb.path("again.toml");
    std::fs::write(
        &again,
        r#""step.apple.*.done" = true
"confirm.apple.c.enrolled" = true
"replace.apple.a.removed" = true
"#,
    )
    .unwrap();
    let run = enroll(&again).ok();
    let said = &run.stderr;
    assert!(said.contains("Use Key C (the one marked C"), "{said}");
    assert_one_key_apple_steps(said);
    assert!(
        said.contains("Does your Apple Account now list Key C among its security keys?"),
        "{said}"
    );
    assert!(!said.contains("no question used"), "{said}");
    assert!(!run.all_output().contains(PIN), "PIN shown");
    assert_apple_opened_by_b_and_c(&sb);
}

/// After the replacement: Key B and the new Key C confirmed in the Apple Account, nothing
/// waiting for a replacement.
fn assert_apple_opened_by_b_and_c(sb: &Sandbox) {
    let status = status_json(sb, "Ada Lovelace");
    assert_eq!(
        evidences(account(&status, "apple")),
        vec![
            ("Key B".into(), "confirmed_by_person".into()),
            ("Key C".into(), "confirmed_by_person".into())
        ]
    );
    assert_eq!(status["needs_replacement"], serde_json::json!([]));
}

/// Apple's steps for a pass that adds one key: they speak of that key, never of two.
fn assert_one_key_apple_steps(said: &str) {
    for step in [
        "Step 1 of 5: Have the new key ready",
        "Step 3 of 5: Add the new key",
        "Step 5 of 5: Confirm the new key is listed",
    ] {
        assert!(said.contains(step), "`{step}` missing: {said}");
    }
    for two in [
        "two keys added at the same time",
        "Have both keys ready",
        "Confirm both keys are listed",
        "both keys now appear",
        "the second key",
    ] {
        assert!(!said.contains(two), "`{two}` said for one key: {said}");
    }
}

/// An Apple Account enrolled with Key A and Key B from an answers file, then Key A lost and a
/// new key (C) in the desk: the keys directory.
fn apple_with_a_lost_key(sb: &Sandbox) -> String {
    let (dir, a, _b) = two_keys(sb);
    let first = sb.path("first.toml");
    std::fs::write(
        &first,
        format!(
            r#""person.new" = true
"keys.count" = "2"
"keys.a.device" = "{a}"
"account.apple.identifier" = "{APPLE}"
"account.apple.platform" = "iphone"
"step.*.*.done" = true
"confirm.apple.*.enrolled" = true
"method.apple.on" = []
"#
        ),
    )
    .unwrap();
    enroll_scripted(sb, "Ada Lovelace", &first, &dir, &["--playbook", "apple"]).ok();
    sb.run(&["key", "lost", "Key A", "--person", "Ada Lovelace"])
        .ok();
    let a_file = a.strip_prefix("virtual:").unwrap();
    std::fs::rename(a_file, sb.path("lost.key")).unwrap();
    sb.run(&[
        "virtual",
        "create",
        path_str(&sb.path("keys").join("c.key")),
    ])
    .ok();
    dir
}

#[test]
fn in_a_terminal_a_lost_key_then_its_replacement_gets_apples_steps_for_the_new_key() {
    let sb = Sandbox::new();
    let dir = apple_with_a_lost_key(&sb);
    let mut p = spawn_pty(
        &sb,
        &[
            "enroll",
            "--device",
            &dir,
            "--person",
            "Ada Lovelace",
            "--playbook",
            "apple",
        ],
    );
    let mut who = person(&[], None);
    assert!(converse(&mut p, &mut who));
    assert_eq!(exit_code(&p), 0, "questions: {:#?}", who.asked);
    let seen = strip_ansi(&who.transcript);
    assert!(seen.contains("Use Key C (the one marked C"), "{seen}");
    assert_one_key_apple_steps(&seen);
    assert!(
        who.asked
            .iter()
            .any(|q| q.contains("Does your Apple Account now list Key C")),
        "{:#?}",
        who.asked
    );
    assert!(!seen.contains(PIN), "PIN shown");
    assert_apple_opened_by_b_and_c(&sb);
}

/// "Does the account list Key A?" records evidence: Enter alone is No, and nothing is
/// recorded as confirmed.
#[test]
fn in_a_terminal_enter_at_an_evidence_question_confirms_nothing() {
    let sb = Sandbox::new();
    let (dir, _a, _b) = two_keys(&sb);
    let mut p = spawn_pty(&sb, &["enroll", "--device", &dir, "--playbook", "apple"]);
    let mut who = person(&[], None);
    who.enter_at = vec!["list Key A among its security keys"];
    assert!(converse(&mut p, &mut who));
    let _ = exit_code(&p);
    let q = who
        .asked
        .iter()
        .find(|q| q.contains("list Key A among its security keys"))
        .unwrap_or_else(|| panic!("not asked: {:#?}", who.asked));
    assert!(q.contains("[y/N]"), "the default is No: {q}");
    let status = status_json(&sb, "Ada Lovelace");
    let apple = account(&status, "apple");
    assert!(
        !evidences(apple).iter().any(|(k, _)| k == "Key A"),
        "Key A recorded as confirmed: {status:#}"
    );
    assert_ne!(status["unfinished"], Value::Null, "{status:#}");
    let text = sb.run(&["status", "Ada Lovelace"]).ok().stdout;
    assert!(text.contains("unfinished"), "{text}");
}

#[test]
fn no_key_after_ready_says_still_no_key_seen_with_the_usb_and_udev_hint() {
    let sb = Sandbox::new();
    let empty = sb.path("no-keys");
    std::fs::create_dir_all(&empty).unwrap();
    let answers = sb.path("a.toml");
    std::fs::write(
        &answers,
        "\"person.new\" = true\n\"accounts.which\" = [\"google\"]\n\
         \"account.google.identifier\" = \"ada@example.com\"\n\
         \"account.google-advanced-protection.add\" = false\n\
         \"keys.count\" = \"2\"\n\"keys.a.plugged\" = true\n",
    )
    .unwrap();
    let dev = format!("virtual-dir:{}", empty.display());
    let run = enroll_scripted(&sb, "Ada Lovelace", &answers, &dev, &[]).expect_code(3);
    assert!(run.stderr.contains("Still no key seen."), "{}", run.stderr);
    assert!(run.stderr.contains("docs/linux-udev.md"), "{}", run.stderr);
    // What was answered is kept: the account, so a rerun does not ask again.
    let status = status_json(&sb, "Ada Lovelace");
    assert_eq!(status["accounts"].as_array().unwrap().len(), 1);
}

#[test]
fn reports_name_every_open_task_and_link_where_it_is_done() {
    let sb = Sandbox::new();
    clean_scenario(&sb);
    sb.run(&[
        "key",
        "lost",
        "Key B",
        "--person",
        "Ada Lovelace",
        "--reason",
        "left on a train",
    ])
    .ok();
    let csv = sb.run(&["report", "--format", "csv"]).ok().stdout;
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(rdr.headers().unwrap().get(7), Some("how_to"), "{csv}");
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    // The text-message codes left on at Google: named, with the page where they go.
    let sms = rows
        .iter()
        .find(|r| &r[2] == "method_to_disable")
        .expect(&csv);
    assert_eq!(&sms[3], "Google Account (ada@example.com)", "{csv}");
    assert!(sms[4].starts_with("Text message codes"), "{csv}");
    assert!(sms[7].starts_with("https://myaccount.google.com/"), "{csv}");
    // Key B is lost: every account it opened needs another key, in names, with where the
    // account's keys are listed.
    let lost: Vec<&csv::StringRecord> = rows
        .iter()
        .filter(|r| &r[2] == "needs_replacement_key")
        .collect();
    assert_eq!(lost.len(), 3, "{csv}");
    for r in &lost {
        assert_eq!(&r[4], "Key B", "{csv}");
        assert!(r[6].contains("needs a replacement for lost Key B"), "{csv}");
    }
    let google = lost
        .iter()
        .find(|r| &r[3] == "Google Account (ada@example.com)")
        .expect(&csv);
    assert!(google[7].starts_with("https://"), "{csv}");
    let key_b = rows
        .iter()
        .find(|r| &r[2] == "key_lost_or_retired")
        .expect(&csv);
    assert_eq!(&key_b[6], "left on a train", "{csv}");
    // Every format reads in names, never `playbook:identifier`.
    let md = sb.run(&["report", "--format", "md"]).ok().stdout;
    let html = sb.run(&["report", "--format", "html"]).ok().stdout;
    let text = sb.run(&["report"]).ok().stdout;
    let fleet = sb.run(&["status"]).ok().stdout;
    for out in [&csv, &md, &html, &text, &fleet] {
        for id in ["google:", "microsoft-entra:", "apple:"] {
            assert!(!out.contains(id), "`{id}` in:\n{out}");
        }
        assert!(
            out.contains("Google Account (ada@example.com) needs a replacement for lost Key B"),
            "{out}"
        );
    }
    // The lost key's place, for the help desk.
    assert!(
        md.contains("Key B (lost: left on a train; was kept in the desk drawer at the office)"),
        "{md}"
    );
    // The person's page says the same in their words, with where to go.
    let page = sb.run(&["summary", "Ada Lovelace"]).ok().stdout;
    assert!(
        page.contains(
            "Google Account (ada@example.com) needs another key in place of the lost Key B"
        ),
        "{page}"
    );
    assert!(!page.contains("google:"), "{page}");
}

/// Grace Hopper is recorded with the Google account `ada@example.com` (a mix-up at the help
/// desk), and stopped right after.
fn someone_else_has_adas_google_address(sb: &Sandbox, dir: &str) {
    let answers = sb.path("grace.toml");
    std::fs::write(
        &answers,
        format!(
            "\"person.new\" = true\n\"account.google.identifier\" = \"{GOOGLE}\"\n\
             \"keys.count\" = \"2\"\n\"keys.a.device\" = \"touch\"\n\
             \"keys.a.location\" = \"on my keyring\"\n\
             \"account.google.platform\" = \"web\"\n\"step.*.*.done\" = false\n"
        ),
    )
    .unwrap();
    enroll_scripted(sb, "Grace Hopper", &answers, dir, &["--playbook", "google"]);
    let status = status_json(sb, "Grace Hopper");
    assert_eq!(account(&status, "google")["identifier"], GOOGLE);
}

#[test]
fn an_address_already_recorded_for_the_provider_is_asked_again_at_the_terminal() {
    let sb = Sandbox::new();
    let (dir, _, _) = two_keys(&sb);
    someone_else_has_adas_google_address(&sb, &dir);
    let mut args = vec!["enroll", "--person", "Ada Lovelace", "--device", &dir];
    args.extend(GOOGLE_ONLY);
    let mut p = spawn_pty(&sb, &args);
    let mut shown = String::new();
    let answer = |p: &mut Session, prompt: &str, keys: &str, shown: &mut String| {
        read_to(p, prompt, shown);
        std::thread::sleep(Duration::from_millis(300));
        p.send(keys).unwrap();
    };
    answer(&mut p, "[Y/n] ", "\r", &mut shown);
    answer(&mut p, "sign in with: ", &format!("{GOOGLE}\r"), &mut shown);
    answer(
        &mut p,
        "another email address or user name: ",
        "ada.lovelace@example.com\r",
        &mut shown,
    );
    read_to(&mut p, "How many keys", &mut shown);
    p.send("\x03").unwrap();
    read_to(&mut p, "To continue", &mut shown);
    let seen = strip_ansi(&shown);
    assert!(
        seen.contains(
            "ada@example.com is already recorded for Google Account for someone else in the \
             ledger. Type a different address, or press Enter to go on."
        ),
        "{seen}"
    );
    assert!(!seen.contains("Grace"), "another person named: {seen}");
    assert!(!seen.to_lowercase().contains("unique"), "{seen}");
    let status = status_json(&sb, "Ada Lovelace");
    let accounts = status["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 1, "{status}");
    assert_eq!(accounts[0]["identifier"], "ada.lovelace@example.com");
}

#[test]
fn an_address_already_recorded_in_an_answers_file_stops_naming_the_file_and_line() {
    let sb = Sandbox::new();
    let (dir, _, _) = two_keys(&sb);
    someone_else_has_adas_google_address(&sb, &dir);
    let answers = sb.path("ada.toml");
    std::fs::write(
        &answers,
        format!(
            "\"person.new\" = true\n# Ada's accounts\n\"account.google.identifier\" = \"{GOOGLE}\"\n"
        ),
    )
    .unwrap();
    let run = enroll_scripted(
        &sb,
        "Ada Lovelace",
        &answers,
        &dir,
        &["--playbook", "google"],
    )
    .expect_code(12);
    assert!(
        run.stderr.contains(&format!(
            "answers file {}, line 3, column 31: the answer for `account.google.identifier` cannot be used: \
             ada@example.com is already recorded for Google Account for someone else",
            answers.display()
        )),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("Grace"), "{}", run.stderr);
    assert!(
        !run.stderr.to_lowercase().contains("unique"),
        "{}",
        run.stderr
    );
    // Nothing half-made: Ada is recorded, without the refused account.
    let status = status_json(&sb, "Ada Lovelace");
    assert_eq!(status["accounts"], serde_json::json!([]));
}

#[test]
fn new_pin_entries_that_differ_are_asked_again_saying_they_did_not_match() {
    let sb = Sandbox::new();
    let (mut p, a, _b) = new_keys_google_session(&sb);
    // Key A: the second entry differs, then both agree; Key B: right at once.
    let other = "champignon-8";
    let mut who = person(&[PIN, other, PIN, PIN, PIN, PIN], None);
    assert!(converse(&mut p, &mut who));
    assert_eq!(exit_code(&p), 0, "questions: {:#?}", who.asked);
    assert!(
        who.transcript.contains("The two PINs do not match"),
        "{}",
        who.transcript
    );
    let asked_a = who
        .asked
        .iter()
        .filter(|q| q.starts_with("New PIN for Key A"))
        .count();
    assert_eq!(asked_a, 2, "asked again, once: {:#?}", who.asked);
    assert!(
        !who.transcript.contains(PIN) && !who.transcript.contains(other),
        "PIN shown"
    );
    // Key A has the PIN typed twice alike, not the other one.
    assert_eq!(
        sb.run_pins(&["--device", &a, "key", "credentials", "list"], &[PIN])
            .code,
        0
    );
    assert!(who.transcript.contains("Verified on Key B"));
}

#[test]
fn ctrl_c_while_keyward_waits_for_a_touch_says_how_to_continue_and_loses_nothing() {
    let sb = Sandbox::new();
    let dir = keys_with_pins(&sb);
    // The person is slow to touch: keyward is still waiting on the keys when stopped.
    for k in ["a.key", "b.key"] {
        let file = sb.path("keys").join(k);
        sb.run(&["virtual", "knob", path_str(&file), "--touch-after", "60"])
            .ok();
    }
    let mut args = vec!["enroll", "--person", "Ada Lovelace", "--device", &dir];
    args.extend(GOOGLE_ONLY);
    let mut p = spawn_pty(&sb, &args);
    let mut who = person(&[], Some("Which one is Key A?"));
    assert!(!converse(&mut p, &mut who), "stopped at the choice of key");
    // The last entry: "I will touch Key A (every key blinks)".
    std::thread::sleep(Duration::from_millis(300));
    p.send("\x1b[B\x1b[B\r").unwrap();
    p.expect("Touch Key A now")
        .expect("keyward waits for a touch");
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let (shown, code) = stop_now(&mut p, None);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "stopped at once, not after the touch"
    );
    assert_eq!(code, 8, "{shown:?}");
    assert!(shown.contains(CONTINUE), "{shown}");
    assert!(cursor_visible(&format!("{}{shown}", who.transcript)));
    // Nothing lost: the person, the account and the number of keys are recorded, and both
    // keys are whole (their PIN still opens them).
    let status = status_json(&sb, "Ada Lovelace");
    assert_eq!(account(&status, "google")["identifier"], GOOGLE);
    for k in ["a.key", "b.key"] {
        let file = sb.path("keys").join(k);
        sb.run(&["virtual", "knob", path_str(&file), "--touch-after", "0"])
            .ok();
        let spec = format!("virtual:{}", file.display());
        assert_eq!(
            sb.run_pins(&["--device", &spec, "key", "credentials", "list"], &[PIN])
                .code,
            0,
            "{k}"
        );
    }
    // The rerun does not ask again how many keys.
    let mut p = spawn_pty(&sb, &args);
    let mut again = person(&[], Some("Which one is Key A?"));
    assert!(!converse(&mut p, &mut again));
    assert!(
        !again.asked.iter().any(|q| q.contains("How many keys")),
        "{:#?}",
        again.asked
    );
    let _ = stop_now(&mut p, None);
}

/// Answer the question `converse` stopped at with `keys`, past keyward's echo of the answer.
fn answer_held(p: &mut Session, keys: &str) {
    std::thread::sleep(Duration::from_millis(300));
    p.send(keys).unwrap();
    p.expect(" -> ").expect("the answer is echoed");
}

#[test]
fn keys_are_let_go_between_questions_so_training_can_act_on_them_and_look_again() {
    let sb = Sandbox::new();
    let (dir, a, b) = two_keys(&sb);
    for k in [&a, &b] {
        sb.run_with(
            &["--device", k, "key", "pin", "set"],
            None,
            &[("KEYWARD_NEW_PIN", PIN)],
        )
        .ok();
    }
    // Key B is not plugged in when the session starts.
    let b_file = sb.path("keys").join("b.key");
    let aside = sb.path("b.key.aside");
    std::fs::rename(&b_file, &aside).unwrap();
    let mut args = vec!["enroll", "--person", "Ada Lovelace", "--device", &dir];
    args.extend(GOOGLE_ONLY);
    let mut p = spawn_pty(&sb, &args);
    let mut who = person(&[], Some("Plug in Key B"));
    assert!(!converse(&mut p, &mut who), "asked to plug in Key B");
    std::fs::rename(&aside, &b_file).unwrap();
    answer_held(&mut p, "\r");
    // While keyward waits for "done" the website writes to Key A...
    who.interrupt_at = Some("with Key A? [Y/n]");
    assert!(!converse(&mut p, &mut who));
    website_registers(&sb, &a, "google.com", GOOGLE);
    answer_held(&mut p, "\r");
    // ...and, Key A verified, the person pulls it out to use Key B.
    who.interrupt_at = Some("with Key B? [Y/n]");
    assert!(!converse(&mut p, &mut who));
    let a_file = sb.path("keys").join("a.key");
    sb.run(&["virtual", "unplug", path_str(&a_file)]).ok();
    answer_held(&mut p, "\r");
    // Not on Key B yet: the website finishes while keyward asks, then "look again".
    who.interrupt_at = Some("What now?");
    assert!(!converse(&mut p, &mut who));
    website_registers(&sb, &b, "google.com", GOOGLE);
    answer_held(&mut p, "\r");
    who.interrupt_at = None;
    assert!(converse(&mut p, &mut who));
    assert_eq!(exit_code(&p), 0, "questions: {:#?}", who.asked);
    let seen = strip_ansi(&who.transcript);
    assert!(seen.contains("Key B: "), "{seen}");
    assert!(seen.contains("Verified on Key A"), "{seen}");
    assert!(seen.contains("Verified on Key B"), "{seen}");
    let status = status_json(&sb, "Ada Lovelace");
    assert_eq!(
        evidences(account(&status, "google")),
        vec![
            ("Key A".to_string(), "seen_on_key".to_string()),
            ("Key B".to_string(), "seen_on_key".to_string())
        ]
    );
}
