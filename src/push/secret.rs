//! The shared-secret check: the expected secret is kept only as an HMAC tag under a random
//! per-process key, and a presented value is verified against that tag, so the comparison takes
//! the same time whatever the presented value and length. The file is re-read when it changes.

use super::settings::{PushError, SharedSecret};
use axum::http::{HeaderMap, HeaderName};
use ring::hmac;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};
use zeroize::Zeroizing;

/// How often the file's modification time is looked at.
const RECHECK_EVERY: Duration = Duration::from_secs(5);

struct Loaded {
    tag: hmac::Tag,
    modified: Option<SystemTime>,
    checked: Instant,
}

/// Verifies the shared-secret header.
pub(crate) struct SecretCheck {
    header: HeaderName,
    file: PathBuf,
    key: hmac::Key,
    loaded: Mutex<Loaded>,
}

fn file_error(path: &Path, reason: impl Into<String>) -> PushError {
    PushError::SecretFile {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Reads the secret and returns its tag; the bytes are wiped afterwards.
fn tag_of(key: &hmac::Key, path: &Path) -> Result<hmac::Tag, PushError> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| file_error(path, e.to_string()))?);
    let secret = bytes.trim_ascii();
    if secret.is_empty() {
        return Err(file_error(path, "the file is empty"));
    }
    Ok(hmac::sign(key, secret))
}

impl SecretCheck {
    /// Loads the secret file.
    pub fn new(settings: &SharedSecret) -> Result<SecretCheck, PushError> {
        let header = HeaderName::from_bytes(settings.header.as_bytes())
            .map_err(|_| PushError::SecretHeader(settings.header.clone()))?;
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
            .map_err(|_| file_error(&settings.file, "no randomness for the comparison key"))?;
        let tag = tag_of(&key, &settings.file)?;
        Ok(SecretCheck {
            header,
            file: settings.file.clone(),
            key,
            loaded: Mutex::new(Loaded {
                tag,
                modified: modified(&settings.file),
                checked: Instant::now(),
            }),
        })
    }

    /// The current tag, re-reading the file when its modification time changed. A file that
    /// became unreadable keeps the last good secret.
    fn current(&self) -> hmac::Tag {
        let mut l = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if l.checked.elapsed() >= RECHECK_EVERY {
            l.checked = Instant::now();
            let m = modified(&self.file);
            if m != l.modified {
                match tag_of(&self.key, &self.file) {
                    Ok(tag) => {
                        l.tag = tag;
                        l.modified = m;
                        tracing::info!(file = %self.file.display(), "push shared secret reloaded");
                    }
                    Err(e) => tracing::warn!(error = %e, "push shared secret not reloaded"),
                }
            }
        }
        l.tag
    }

    /// Whether the request carries the secret.
    pub fn verify(&self, headers: &HeaderMap) -> bool {
        let Some(presented) = headers.get(&self.header) else {
            return false;
        };
        let tag = self.current();
        hmac::verify(&self.key, presented.as_bytes().trim_ascii(), tag.as_ref()).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-secret", HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn a_rotated_file_replaces_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s");
        std::fs::write(&file, "first\n").unwrap();
        let check = SecretCheck::new(&SharedSecret {
            header: "X-Secret".into(),
            file: file.clone(),
        })
        .unwrap();
        assert!(check.verify(&headers("first")));
        assert!(!check.verify(&headers("firs")));
        assert!(!check.verify(&HeaderMap::new()));

        std::fs::write(&file, "second").unwrap();
        let f = std::fs::File::options().write(true).open(&file).unwrap();
        f.set_modified(SystemTime::now() + Duration::from_secs(60))
            .unwrap();
        // Pretend the last look at the file was long ago.
        check.loaded.lock().unwrap().checked = Instant::now() - RECHECK_EVERY;
        assert!(check.verify(&headers("second")));
        assert!(!check.verify(&headers("first")));

        // An emptied file keeps the last good secret.
        std::fs::write(&file, "").unwrap();
        f.set_modified(SystemTime::now() + Duration::from_secs(120))
            .unwrap();
        check.loaded.lock().unwrap().checked = Instant::now() - RECHECK_EVERY;
        assert!(check.verify(&headers("second")));
    }
}
