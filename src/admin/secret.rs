//! Secrets and tokens: held zeroized in memory, kept only in the OS credential store, read
//! from the environment or a file descriptor. None of these types can be printed.

use super::{AdminError, Result};
use std::sync::Arc;
use zeroize::Zeroizing;

/// The credential store's service name for everything keyward keeps there.
const SERVICE: &str = "keyward-entra";

/// Environment variable a script may use instead of the credential store.
pub const CLIENT_SECRET_ENV: &str = "KEYWARD_ENTRA_CLIENT_SECRET";

/// Environment variable holding the certificate's private key (PEM), instead of the store.
pub const CERTIFICATE_KEY_ENV: &str = "KEYWARD_ENTRA_CERTIFICATE_KEY";

/// A secret or token. `Debug` never shows it; the memory is wiped when dropped.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(s: String) -> Secret {
        Secret(Zeroizing::new(s))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

/// Read one secret from an open file descriptor (first line, trimmed; all of it for a PEM).
pub fn read_fd(fd: i32) -> Result<Secret> {
    use std::io::Read;
    #[cfg(unix)]
    {
        use std::os::fd::FromRawFd;
        if fd < 0 {
            return Err(AdminError::NotConnected(format!(
                "file descriptor {fd} is not valid"
            )));
        }
        // SAFETY: the caller named this descriptor for us to read and close.
        let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
        let mut text = Zeroizing::new(String::new());
        file.read_to_string(&mut text).map_err(|e| {
            AdminError::NotConnected(format!("cannot read file descriptor {fd} ({e})"))
        })?;
        first_line(&text)
    }
    #[cfg(not(unix))]
    {
        let _ = fd;
        Err(AdminError::NotConnected(
            "--secret-fd works on Unix only; use --secret-stdin or the environment".into(),
        ))
    }
}

/// Read one secret from standard input (first line).
pub fn read_stdin() -> Result<Secret> {
    use std::io::Read;
    let mut text = Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| AdminError::NotConnected(format!("cannot read standard input ({e})")))?;
    first_line(&text)
}

fn first_line(text: &str) -> Result<Secret> {
    if text.trim_start().starts_with("-----BEGIN") {
        return Ok(Secret::new(text.trim().to_string()));
    }
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return Err(AdminError::NotConnected(
            "the secret given is empty".to_string(),
        ));
    }
    Ok(Secret::new(line.to_string()))
}

/// The OS credential store: Linux kernel keyutils, macOS Keychain, Windows Credential Manager.
pub struct Store {
    inner: Arc<keyring_core::CredentialStore>,
}

impl Store {
    pub fn open() -> Result<Store> {
        // Tests of the debug build use keyring's in-memory store; compiled out of releases.
        #[cfg(debug_assertions)]
        if std::env::var("KEYWARD_TEST_CREDENTIAL_STORE").as_deref() == Ok("mock") {
            let store = keyring_core::mock::Store::new().map_err(store_err)?;
            return Ok(Store { inner: store });
        }
        native().map(|inner| Store { inner })
    }

    fn entry(&self, name: &str) -> Result<keyring_core::Entry> {
        keyring_core::Entry::new_in_store(&self.inner, SERVICE, name).map_err(store_err)
    }

    pub fn get(&self, name: &str) -> Result<Option<Secret>> {
        match self.entry(name)?.get_password() {
            Ok(s) => Ok(Some(Secret::new(s))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(store_err(e)),
        }
    }

    pub fn set(&self, name: &str, secret: &Secret) -> Result<()> {
        self.entry(name)?
            .set_password(secret.expose())
            .map_err(store_err)
    }

    pub fn delete(&self, name: &str) -> Result<()> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(store_err(e)),
        }
    }
}

fn store_err(e: keyring_core::Error) -> AdminError {
    // keyring's messages name the store and the entry, never the secret.
    AdminError::Store(e.to_string())
}

#[cfg(target_os = "linux")]
fn native() -> Result<Arc<keyring_core::CredentialStore>> {
    use linux_keyutils::{KeyRing, KeyRingIdentifier};
    // A headless session may have no session keyring yet: join (create) it first, or the
    // store cannot find one.
    KeyRing::from_special_id(KeyRingIdentifier::Session, true)
        .map_err(|e| AdminError::Store(format!("no kernel session keyring ({e:?})")))?;
    let store = linux_keyutils_keyring_store::Store::new().map_err(store_err)?;
    Ok(store)
}

#[cfg(target_os = "macos")]
fn native() -> Result<Arc<keyring_core::CredentialStore>> {
    Ok(apple_native_keyring_store::keychain::Store::new().map_err(store_err)?)
}

#[cfg(target_os = "windows")]
fn native() -> Result<Arc<keyring_core::CredentialStore>> {
    Ok(windows_native_keyring_store::Store::new().map_err(store_err)?)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn native() -> Result<Arc<keyring_core::CredentialStore>> {
    Err(AdminError::Store(format!(
        "no credential store on this system; give the secret in {CLIENT_SECRET_ENV}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let s = Secret::new("hunter2-client-secret".into());
        assert_eq!(format!("{s:?}"), "Secret(<hidden>)");
    }

    /// The real OS credential store (kernel keyutils, Keychain, Credential Manager) keeps,
    /// returns and forgets a dummy secret. Ignored by default: it writes to the store of the
    /// session running it. `cargo test --lib admin::secret -- --ignored` (docs/entra.md).
    #[test]
    #[ignore = "uses this session's real credential store (docs/entra.md)"]
    fn the_os_credential_store_round_trips_and_forgets() {
        let store = Store {
            inner: native().expect("this system's credential store opens"),
        };
        let name = format!("keyward-test/{}/client-secret", uuid::Uuid::new_v4());
        let secret = Secret::new(format!("dummy-{}", uuid::Uuid::new_v4()));
        assert!(store.get(&name).unwrap().is_none());
        store.set(&name, &secret).unwrap();
        let back = store.get(&name).unwrap().expect("kept");
        assert_eq!(back.expose(), secret.expose());
        store.delete(&name).unwrap();
        assert!(store.get(&name).unwrap().is_none(), "forgotten");
        store.delete(&name).unwrap();
    }

    #[test]
    fn the_mock_store_round_trips_and_forgets() {
        let store = Store {
            inner: keyring_core::mock::Store::new().unwrap(),
        };
        assert!(store.get("t/c/client-secret").unwrap().is_none());
        store
            .set("t/c/client-secret", &Secret::new("s3cret".into()))
            .unwrap();
        assert_eq!(
            store.get("t/c/client-secret").unwrap().unwrap().expose(),
            "s3cret"
        );
        store.delete("t/c/client-secret").unwrap();
        assert!(store.get("t/c/client-secret").unwrap().is_none());
    }
}
