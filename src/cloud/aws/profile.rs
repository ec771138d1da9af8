//! A profile of AWS's shared credentials and config files.
//!
//! Written by hand: the files are INI with two AWS twists (the config
//! file names sections `[profile name]`, except `[default]`; keys may be
//! indented continuation lines, which we ignore), and only three keys and
//! the region are read; an INI crate would still need both twists.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use super::Credentials;
use crate::secrets::Secret;

/// Where a profile lives, and what was read from it last.
#[derive(Debug)]
pub struct ProfileFile {
    credentials: Option<PathBuf>,
    config: Option<PathBuf>,
    profile: String,
    /// The files' modification times at the last read.
    seen: Mutex<(Option<SystemTime>, Option<SystemTime>)>,
}

impl Clone for ProfileFile {
    fn clone(&self) -> Self {
        Self::new(
            self.credentials.clone(),
            self.config.clone(),
            self.profile.clone(),
        )
    }
}

/// One section's keys.
#[derive(Debug, Default, PartialEq)]
struct Section {
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    session_token: Option<String>,
    region: Option<String>,
}

impl ProfileFile {
    pub fn new(credentials: Option<PathBuf>, config: Option<PathBuf>, profile: String) -> Self {
        Self {
            credentials,
            config,
            profile,
            seen: Mutex::new((None, None)),
        }
    }

    /// The profile's keys: the credentials file's section, else the config
    /// file's. `Err` says what was looked at.
    pub fn read(&self) -> Result<Credentials, String> {
        let stamps = (
            mtime(self.credentials.as_deref()),
            mtime(self.config.as_deref()),
        );
        let found = [
            (self.credentials.as_deref(), false),
            (self.config.as_deref(), true),
        ]
        .into_iter()
        .filter_map(|(path, config)| Some((path?, config)))
        .find_map(|(path, config)| {
            let text = std::fs::read_to_string(path).ok()?;
            let section = section(&text, &self.profile, config)?;
            credentials(section)
        });
        match found {
            Some(c) => {
                *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = stamps;
                Ok(c)
            }
            None => Err(format!(
                "no profile `{}` with aws_access_key_id and aws_secret_access_key in {}",
                self.profile,
                self.paths()
            )),
        }
    }

    /// The keys again when a file changed since the last read (and still
    /// holds them).
    pub fn read_if_changed(&self) -> Option<Credentials> {
        let stamps = (
            mtime(self.credentials.as_deref()),
            mtime(self.config.as_deref()),
        );
        let changed = *self.seen.lock().unwrap_or_else(|e| e.into_inner()) != stamps;
        if changed {
            self.read().ok()
        } else {
            None
        }
    }

    /// The profile's `region` (config file first, as the SDKs do).
    pub fn region(&self) -> Option<String> {
        [
            (self.config.as_deref(), true),
            (self.credentials.as_deref(), false),
        ]
        .into_iter()
        .filter_map(|(path, config)| Some((path?, config)))
        .find_map(|(path, config)| {
            let text = std::fs::read_to_string(path).ok()?;
            section(&text, &self.profile, config)?.region
        })
    }

    fn paths(&self) -> String {
        let names: Vec<String> = [&self.credentials, &self.config]
            .into_iter()
            .flatten()
            .map(|p| p.display().to_string())
            .collect();
        if names.is_empty() {
            "no credentials file (HOME is unset)".into()
        } else {
            names.join(" or ")
        }
    }
}

fn mtime(path: Option<&Path>) -> Option<SystemTime> {
    std::fs::metadata(path?).and_then(|m| m.modified()).ok()
}

fn credentials(s: Section) -> Option<Credentials> {
    Some(Credentials {
        access_key_id: s.access_key_id?,
        secret_access_key: Secret::new(s.secret_access_key?),
        session_token: s.session_token.map(Secret::new),
    })
}

/// Section `profile` of an INI text; in a config file (`config`) its
/// header is `[profile name]`, except for `default`.
fn section(text: &str, profile: &str, config: bool) -> Option<Section> {
    let mut out: Option<Section> = None;
    let mut inside = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            let name = name.trim();
            // In the config file a profile is `[profile name]`; a bare
            // `[name]` there is not one (except `[default]`).
            let name = match (config, name.strip_prefix("profile ")) {
                (true, Some(n)) => Some(n.trim()),
                (true, None) => (name == "default").then_some(name),
                (false, _) => Some(name),
            };
            let Some(name) = name else {
                inside = false;
                continue;
            };
            inside = name == profile;
            if inside {
                out.get_or_insert_with(Section::default);
            }
            continue;
        }
        // Indented lines continue a nested key (`s3 =` blocks): not ours.
        if !inside || line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else {
            continue;
        };
        let value = value.trim().to_string();
        let Some(s) = out.as_mut() else { continue };
        match key.trim() {
            "aws_access_key_id" => s.access_key_id = Some(value),
            "aws_secret_access_key" => s.secret_access_key = Some(value),
            "aws_session_token" => s.session_token = Some(value),
            "region" => s.region = Some(value),
            _ => {}
        }
    }
    out
}

/// The access key id of section `profile`, for tests.
#[cfg(test)]
pub(super) fn parse_section(text: &str, profile: &str, config: bool) -> Option<Option<String>> {
    section(text, profile, config).map(|s| s.access_key_id)
}
