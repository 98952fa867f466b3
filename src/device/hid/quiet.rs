//! `ctap-hid-fido2` prints to stdout in a few places (unknown response fields), whatever its
//! settings. Our stdout carries `--json` results, so while a library call runs, the process's
//! stdout is pointed at stderr and then restored.

use std::io::Write;

pub struct StdoutToStderr {
    #[cfg(unix)]
    saved: Option<i32>,
}

impl StdoutToStderr {
    pub fn new() -> StdoutToStderr {
        let _ = std::io::stdout().flush();
        #[cfg(unix)]
        {
            // SAFETY: dup/dup2 on the standard descriptors; failures leave stdout as it was.
            let saved = unsafe { libc::dup(1) };
            if saved < 0 || unsafe { libc::dup2(2, 1) } < 0 {
                if saved >= 0 {
                    unsafe { libc::close(saved) };
                }
                return StdoutToStderr { saved: None };
            }
            StdoutToStderr { saved: Some(saved) }
        }
        #[cfg(not(unix))]
        {
            StdoutToStderr {}
        }
    }
}

impl Drop for StdoutToStderr {
    fn drop(&mut self) {
        let _ = std::io::stdout().flush();
        #[cfg(unix)]
        if let Some(saved) = self.saved.take() {
            // SAFETY: `saved` is the descriptor dup'ed in `new`, still open and ours.
            unsafe {
                libc::dup2(saved, 1);
                libc::close(saved);
            }
        }
    }
}
