//! Ctrl-C and SIGTERM during `keyward enroll`: say how to continue, give the terminal back as
//! it was, and leave.
//!
//! The ledger is written the moment anything happens (each write its own transaction), so
//! stopping between two writes loses nothing; an interrupted transaction is rolled back by
//! SQLite. What must not happen is a silent exit that leaves the terminal without echo (a PIN
//! prompt turns echo off) or without a cursor (a menu hides it). The signal itself is caught in
//! one place, `temp_file`, which first removes the temporary files and then runs this hook.

use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

/// The line printed on stop, as bytes of a leaked `String` (replaced once the person is known).
static LINE: AtomicPtr<Vec<u8>> = AtomicPtr::new(std::ptr::null_mut());
/// The terminal settings of standard input when the session began.
static mut SAVED: Option<libc::termios> = None;
static HAVE_SAVED: AtomicBool = AtomicBool::new(false);
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// What `keyward enroll` prints when stopped.
pub fn continue_line(person: Option<&str>) -> String {
    match person {
        Some(name) => format!(
            "Stopped. Nothing done so far is lost. To continue: keyward enroll --person \"{name}\""
        ),
        None => "Stopped. Nothing done so far is lost. To continue: keyward enroll".to_string(),
    }
}

/// Name the person in the stop line from now on.
pub fn set_person(name: &str) {
    set_line(&continue_line(Some(name)));
}

fn set_line(line: &str) {
    // Cursor visible again, then the line on a fresh line of its own.
    let bytes = format!("\x1b[?25h\r\n{line}\r\n").into_bytes();
    let new = Box::into_raw(Box::new(bytes));
    // The old line is leaked on purpose: a handler running right now may still read it.
    LINE.store(new, Ordering::SeqCst);
}

/// From now on, a signal that ends the process (after its temporary files are removed, see
/// `temp_file`) gives the terminal back and says how to continue (once per process).
pub fn install() {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    set_line(&continue_line(None));
    #[cfg(unix)]
    // SAFETY: tcgetattr writes into a local; the static is written once, before the hook
    // that reads it is registered, and never again.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::isatty(0) == 1 && libc::tcgetattr(0, &mut t) == 0 {
            SAVED = Some(t);
            HAVE_SAVED.store(true, Ordering::SeqCst);
        }
    }
    crate::temp_file::on_stop(stopped);
}

/// Runs on the signal thread once the clean-up is done; returns the exit code.
fn stopped() -> i32 {
    #[cfg(unix)]
    // SAFETY: SAVED was written once before this hook was registered and never again.
    unsafe {
        if HAVE_SAVED.load(Ordering::SeqCst) {
            #[allow(static_mut_refs)]
            if let Some(t) = SAVED.as_ref() {
                libc::tcsetattr(0, libc::TCSANOW, t);
            }
        }
    }
    let line = LINE.load(Ordering::SeqCst);
    if !line.is_null() {
        // SAFETY: published atomically by `set_line` and never freed.
        let bytes: &Vec<u8> = unsafe { &*line };
        use std::io::Write;
        let _ = std::io::stderr().write_all(bytes);
    }
    i32::from(crate::error::ExitCode::Cancelled.code())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_continue_line_names_the_person_when_known() {
        assert_eq!(
            super::continue_line(Some("Ada Lovelace")),
            "Stopped. Nothing done so far is lost. To continue: keyward enroll --person \"Ada Lovelace\""
        );
        assert!(super::continue_line(None).ends_with("keyward enroll"));
    }
}
