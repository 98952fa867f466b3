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

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn identity(fd: i32) -> (u64, u64) {
        // SAFETY: fstat on a standard descriptor into a zeroed struct we own.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::fstat(fd, &mut st) }, 0);
        (st.st_dev as u64, st.st_ino as u64)
    }

    #[test]
    fn stdout_points_at_stderr_while_guarded_and_is_restored() {
        let before = identity(1);
        {
            let _guard = StdoutToStderr::new();
            assert_eq!(identity(1), identity(2));
        }
        assert_eq!(identity(1), before);
    }
}
