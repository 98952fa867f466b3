//! Ctrl-C and SIGTERM during `keyward enroll`: say how to continue, give the terminal back as
//! it was, and leave.
//!
//! The ledger is written the moment anything happens (each write its own transaction), so
//! stopping between two writes loses nothing; an interrupted transaction is rolled back by
//! SQLite. What must not happen is a silent exit that leaves the terminal without echo (a PIN
//! prompt turns echo off) or without a cursor (a menu hides it). The handler does only
//! async-signal-safe work: `write`, `tcsetattr` and `_exit`, on data prepared beforehand.

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

/// Install the handlers for SIGINT and SIGTERM (once per process).
pub fn install() {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    set_line(&continue_line(None));
    #[cfg(unix)]
    // SAFETY: tcgetattr writes into a local; the static is written once, before any handler
    // that reads it is installed, and never again.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::isatty(0) == 1 && libc::tcgetattr(0, &mut t) == 0 {
            SAVED = Some(t);
            HAVE_SAVED.store(true, Ordering::SeqCst);
        }
        let handler = on_signal as *const () as libc::sighandler_t;
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

#[cfg(unix)]
extern "C" fn on_signal(_sig: libc::c_int) {
    // SAFETY: only async-signal-safe calls on data written before the handler was installed
    // (SAVED) or published atomically (LINE, never freed).
    unsafe {
        if HAVE_SAVED.load(Ordering::SeqCst) {
            #[allow(static_mut_refs)]
            if let Some(t) = SAVED.as_ref() {
                libc::tcsetattr(0, libc::TCSANOW, t);
            }
        }
        let line = LINE.load(Ordering::SeqCst);
        if !line.is_null() {
            let bytes: &Vec<u8> = &*line;
            libc::write(2, bytes.as_ptr().cast(), bytes.len());
        }
        libc::_exit(crate::error::ExitCode::Cancelled.code() as libc::c_int);
    }
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
