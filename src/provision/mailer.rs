//! The PIN mailer: the one file a random first PIN is written to, so that it can be printed
//! into sealed letters. Created new (never over an existing file) with mode 0600; each line is
//! on disk before the key it belongs to is recorded in the ledger.

use super::roster::Slot;
use super::ProvisionError;
use crate::pin::Pin;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub const HEADER: &str = "label,name,email,key_serial,pin\n";

/// Where the mailer's bytes go: its file, or in tests a disk that fills up part-way.
pub trait MailerSink: Write {
    /// Wait until what was written is on disk.
    fn sync(&mut self) -> std::io::Result<()>;
    /// Cut the file back to `len` bytes, so a line cut short by a failed write is not left.
    fn truncate(&mut self, len: u64) -> std::io::Result<()>;
}

impl MailerSink for File {
    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_data()
    }
    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        self.set_len(len)?;
        self.seek(SeekFrom::Start(len))?;
        self.sync_data()
    }
}

pub struct PinMailer {
    path: PathBuf,
    file: Box<dyn MailerSink>,
    /// Bytes known to be complete on disk: whole lines only.
    len: u64,
}

impl PinMailer {
    /// Create the mailer. An existing file at `path` is an error: it may hold PINs from an
    /// earlier run that nobody has printed yet.
    pub fn create(path: &Path) -> Result<PinMailer, ProvisionError> {
        let err = |message: String| ProvisionError::Mailer {
            path: path.to_path_buf(),
            message,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => err(
                "the file already exists and may hold PINs not yet delivered; it is never \
                 overwritten: give a new file name (for a resumed run, e.g. a `-2` suffix)"
                    .into(),
            ),
            _ => err(format!("could not be created: {e}")),
        })?;
        PinMailer::with_sink(path, Box::new(file)).inspect_err(|_| {
            // A file left behind would block the next run as "may hold PINs" although it
            // holds none.
            let _ = std::fs::remove_file(path);
        })
    }

    /// A mailer writing to `sink` (new and empty) as if it were the file at `path`; the
    /// header is written first.
    pub fn with_sink(path: &Path, sink: Box<dyn MailerSink>) -> Result<PinMailer, ProvisionError> {
        let mut mailer = PinMailer {
            path: path.to_path_buf(),
            file: sink,
            len: 0,
        };
        // Nothing is in it yet: a failure here must not speak of "the lines already in it".
        let header = HEADER.as_bytes();
        if let Err(e) = mailer
            .file
            .write_all(header)
            .and_then(|_| mailer.file.flush())
            .and_then(|_| mailer.file.sync())
        {
            return Err(ProvisionError::Mailer {
                path: path.to_path_buf(),
                message: format!("could not be created: its first line could not be written ({e})"),
            });
        }
        mailer.len = header.len() as u64;
        Ok(mailer)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one key's PIN and wait until it is on disk.
    pub fn add(&mut self, slot: &Slot, key_id: &str, pin: &Pin) -> Result<(), ProvisionError> {
        let mut line = zeroize::Zeroizing::new(Vec::new());
        {
            let mut w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(&mut *line);
            w.write_record([
                slot.label.as_str(),
                slot.person.as_str(),
                slot.email.as_deref().unwrap_or(""),
                key_id,
                pin.as_str(),
            ])
            .and_then(|_| w.flush().map_err(csv::Error::from))
            .map_err(|e| ProvisionError::Mailer {
                path: self.path.clone(),
                message: format!("could not format a line: {e}"),
            })?;
        }
        self.write_durably(&line)
    }

    /// All of `bytes` reach the disk, or none: a line cut short (the disk filled up mid-way)
    /// is cut off again, because a half-written PIN looks like a whole one on paper.
    fn write_durably(&mut self, bytes: &[u8]) -> Result<(), ProvisionError> {
        match self
            .file
            .write_all(bytes)
            .and_then(|_| self.file.flush())
            .and_then(|_| self.file.sync())
        {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                let message = match self.file.truncate(self.len) {
                    Ok(()) => {
                        format!("could not be written ({e}); the lines already in it are complete")
                    }
                    Err(t) => format!(
                        "could not be written ({e}), and its last line could not be removed \
                         ({t}): that line may be cut short; do not print it"
                    ),
                };
                Err(ProvisionError::Mailer {
                    path: self.path.clone(),
                    message,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A disk that is already full.
    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("No space left on device"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl MailerSink for Full {
        fn sync(&mut self) -> std::io::Result<()> {
            Ok(())
        }
        fn truncate(&mut self, _: u64) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Issue 11, item 7: a mailer that could not even be started does not claim complete lines.
    #[test]
    fn a_mailer_that_could_not_be_created_says_so() {
        let e = PinMailer::with_sink(Path::new("pins.csv"), Box::new(Full))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("could not be created"), "{e}");
        assert!(!e.contains("lines already in it"), "{e}");
    }

    fn slot() -> Slot {
        Slot {
            person: "Lovelace, Ada".into(),
            email: Some("ada@x.org".into()),
            index: 1,
            of: 1,
            label: "Ada #1".into(),
        }
    }

    #[test]
    fn created_private_and_never_over_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pins.csv");
        let mut m = PinMailer::create(&path).unwrap();
        m.add(&slot(), "K-1", &Pin::new("48213975")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "label,name,email,key_serial,pin\nAda #1,\"Lovelace, Ada\",ada@x.org,K-1,48213975\n"
        );
        drop(m);
        let e = PinMailer::create(&path).err().unwrap().to_string();
        assert!(e.contains("already exists"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }
}
