//! Temporary files beside the file they will become: the new ledger, a virtual key's next
//! version. They may hold secrets (a virtual key holds its PIN hash and private keys), so:
//!
//! - they are created new, mode 0600, in the target's own folder (a rename never crosses file
//!   systems, and they are as private as the target);
//! - they are removed on every way out: dropped, an error, and SIGINT, SIGTERM or SIGHUP (see
//!   [`remove_on_signals`]); only SIGKILL and a power cut escape, and for those
//! - leftovers of a process that no longer runs are removed the next time keyward works in that
//!   folder ([`remove_stale`]).
//!
//! Names: `.{target}.{pid}-{nanos}.tmp`, so that the owner's process id can be read back.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Files (and folders) to remove if a signal ends the process.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Set once a signal is ending the process (see [`hold_if_ending`]).
static ENDING: AtomicBool = AtomicBool::new(false);

/// Called by `main` before it returns: while a signal is ending the process, the rest of it
/// must not exit on its own (with an error about the files just removed) first.
pub fn hold_if_ending() {
    while ENDING.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Whether a signal is ending the process.
pub fn ending() -> bool {
    ENDING.load(Ordering::SeqCst)
}

/// Requests waiting for a key's answer (see [`KeyRequest`]).
static KEY_REQUESTS: AtomicUsize = AtomicUsize::new(0);

/// How long a signal's clean-up waits for requests on a key to be cancelled there.
const CANCEL_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Held while a request waits for a key's answer. A signal's clean-up gives it a moment to
/// cancel the request on the key (CTAPHID_CANCEL) before the process ends: a key left
/// blinking would otherwise take a late touch and make a passkey no record knows of.
pub struct KeyRequest(());

pub fn key_request() -> KeyRequest {
    KEY_REQUESTS.fetch_add(1, Ordering::SeqCst);
    KeyRequest(())
}

impl Drop for KeyRequest {
    fn drop(&mut self) {
        KEY_REQUESTS.fetch_sub(1, Ordering::SeqCst);
    }
}

fn wait_for_key_requests() {
    let until = std::time::Instant::now() + CANCEL_GRACE;
    while KEY_REQUESTS.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// What SQLite may create beside a database file.
pub const SQLITE_SIDE_FILES: &[&str] = &["-wal", "-shm", "-journal"];

fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Create something on disk (`make`) so that a signal's clean-up cannot slip in between:
/// either `make` runs first and what it made is removed with the rest (`path`, when given, is
/// remembered), or the clean-up runs first and `make` never does (the clean-up holds the
/// list until the process ends). Without this, a folder removed by the clean-up could be made
/// again a moment later by the command still running (`create_dir_all` of a ledger's folder).
pub fn create_guarded<T>(path: Option<&Path>, make: impl FnOnce() -> T) -> T {
    let mut live = live();
    if let Some(p) = path {
        live.push(p.to_path_buf());
    }
    make()
}

/// What a command does once a signal's clean-up is done, instead of ending as the signal
/// would: it returns the exit code to end with (`keyward enroll` gives the terminal back, says
/// how to continue, and ends with "cancelled").
static ON_STOP: Mutex<Option<fn() -> i32>> = Mutex::new(None);

/// Run `hook` after the clean-up when a signal ends the process (see [`ON_STOP`]).
pub fn on_stop(hook: fn() -> i32) {
    *ON_STOP
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(hook);
}

/// `path` is no longer ours to remove (it was renamed into place, or already removed).
pub fn forget(path: &Path) {
    live().retain(|p| p != path);
}

fn remove(path: &Path) {
    if path.is_dir() {
        let _ = std::fs::remove_dir_all(path);
    } else {
        let _ = std::fs::remove_file(path);
        for suffix in SQLITE_SIDE_FILES {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(side));
        }
    }
}

/// On SIGINT, SIGTERM and SIGHUP: let a request waiting on a key be cancelled there (see
/// [`KeyRequest`]), remove every remembered path, then end as the signal would have (same
/// exit status for the shell). Call once, early in `main`.
#[cfg(unix)]
pub fn remove_on_signals() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("keyward-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                ENDING.store(true, Ordering::SeqCst);
                wait_for_key_requests();
                // Held until the process ends: nothing made through `create_guarded` or
                // `TempFile` can appear after the clean-up.
                let live = live();
                for p in live.iter().rev() {
                    remove(p);
                }
                let hook = *ON_STOP
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if let Some(hook) = hook {
                    std::process::exit(hook());
                }
                let _ = signal_hook::low_level::emulate_default_handler(signal);
                std::process::exit(128 + signal);
            }
        });
}

#[cfg(not(unix))]
pub fn remove_on_signals() {}

/// A new private temporary file beside `target`, removed when dropped unless persisted.
pub struct TempFile {
    path: PathBuf,
    file: Option<File>,
}

fn folder_of(target: &Path) -> PathBuf {
    match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn name_of(target: &Path) -> String {
    target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into())
}

impl TempFile {
    /// Create it (mode 0600, never over an existing file) in `target`'s folder.
    pub fn beside(target: &Path) -> io::Result<TempFile> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = folder_of(target).join(format!(
            ".{}.{}-{nanos}.tmp",
            name_of(target),
            std::process::id()
        ));
        let mut o = std::fs::OpenOptions::new();
        o.read(true).write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        // Remembered before it exists, under the clean-up's lock: a signal either removes it
        // or comes before it is made.
        match create_guarded(Some(&path), || o.open(&path)) {
            Ok(file) => Ok(TempFile {
                path,
                file: Some(file),
            }),
            Err(e) => {
                forget(&path);
                Err(e)
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&mut self) -> &mut File {
        self.file
            .as_mut()
            .expect("the file is open until persisted")
    }

    /// Close it without removing it (for a file another library then opens by path, as
    /// SQLite does); it is still removed on drop.
    pub fn close(&mut self) {
        self.file = None;
    }

    /// Put it at `target`, replacing what is there, atomically. Returns its open file.
    pub fn replace(mut self, target: &Path) -> io::Result<Option<File>> {
        std::fs::rename(&self.path, target)?;
        forget(&self.path);
        Ok(self.file.take())
    }

    /// Put it at `target` only if nothing is there (`AlreadyExists` otherwise): a hard link,
    /// or a rename on a file system without links. Returns its open file.
    pub fn place_new(mut self, target: &Path) -> io::Result<Option<File>> {
        match std::fs::hard_link(&self.path, target) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(e),
            Err(_) if !target.exists() => std::fs::rename(&self.path, target)?,
            Err(e) => return Err(e),
        }
        Ok(self.file.take())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        self.file = None;
        remove(&self.path);
        forget(&self.path);
    }
}

/// Whether a process with this id is running (a process we may not signal still runs).
#[cfg(unix)]
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(not(unix))]
fn alive(_pid: u32) -> bool {
    true
}

/// The owner's process id, for a temporary file of `name`: today's `.{name}.{pid}-{nanos}.tmp`
/// and older keywards' `.{name}.{pid}.tmp` and `.{name}.new-{pid}-{nanos}` (each with
/// SQLite's side files).
fn owner(file: &str, name: &str) -> Option<u32> {
    let rest = file.strip_prefix(&format!(".{name}."))?;
    let rest = SQLITE_SIDE_FILES
        .iter()
        .find_map(|s| rest.strip_suffix(s))
        .unwrap_or(rest);
    let digits = if let Some(r) = rest.strip_prefix("new-") {
        r.split('-').next()?
    } else {
        let r = rest.strip_suffix(".tmp")?;
        r.split('-').next()?
    };
    digits.parse().ok()
}

/// Remove the temporary files beside `target` left by processes that no longer run (killed
/// with SIGKILL, or by a power cut). Returns how many were removed.
pub fn remove_stale(target: &Path) -> usize {
    let name = name_of(target);
    let Ok(entries) = std::fs::read_dir(folder_of(target)) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = owner(&file, &name) {
            if pid != std::process::id()
                && !alive(pid)
                && std::fs::remove_file(entry.path()).is_ok()
            {
                removed += 1;
            }
        }
    }
    removed
}

/// Remove folders in `parent` named `{prefix}{pid}-...` whose process no longer runs (the
/// demo's scratch folders after a SIGKILL).
pub fn remove_stale_folders(parent: &Path, prefix: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file
            .strip_prefix(prefix)
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id()
            && !alive(pid)
            && entry.path().is_dir()
            && std::fs::remove_dir_all(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_read_from_every_name_keyward_ever_used() {
        assert_eq!(owner(".l.sqlite.42-123.tmp", "l.sqlite"), Some(42));
        assert_eq!(owner(".l.sqlite.new-42-123", "l.sqlite"), Some(42));
        assert_eq!(owner(".l.sqlite.new-42-123-wal", "l.sqlite"), Some(42));
        assert_eq!(owner(".key-a.42.tmp", "key-a"), Some(42));
        assert_eq!(owner("key-a", "key-a"), None);
        assert_eq!(owner(".key-a.notes", "key-a"), None);
    }

    #[test]
    fn private_removed_on_drop_and_stale_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("k");
        let t = TempFile::beside(&target).unwrap();
        let p = t.path().to_path_buf();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        drop(t);
        assert!(!p.exists());
        // A dead process's leftover goes; a live one's (ours) stays.
        let dead = dir.path().join(format!(".k.{}.tmp", u32::MAX - 1));
        let mine = dir.path().join(format!(".k.{}-1.tmp", std::process::id()));
        std::fs::write(&dead, b"secret").unwrap();
        std::fs::write(&mine, b"secret").unwrap();
        assert_eq!(remove_stale(&target), 1);
        assert!(!dead.exists() && mine.exists());
    }
}
