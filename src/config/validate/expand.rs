//! Values filled in at load: `${VAR}` from the environment, and for
//! secrets (`api_key`, header values) `enc:v1:…` decrypted with the master
//! key. Messages never quote a secret.

use super::Ctx;
use crate::config::values::{self, Interpolation};
use crate::secrets::{self, MasterKey, SecretError};

/// Why a value could not be filled in.
pub(super) enum Unresolved {
    /// `${VAR}` names an unset variable: the caller disables what needs it.
    Unset(String),
    /// A config error, to report at the field.
    Invalid(String),
}

impl Ctx<'_> {
    /// Expands `${VAR}` in a value that is not a secret (`base_url`).
    pub(super) fn expand(&mut self, text: &str) -> Result<String, Unresolved> {
        if secrets::is_encrypted(text) {
            return Err(Unresolved::Invalid(
                "`enc:v1:` values are for secrets: api_key and header values".into(),
            ));
        }
        interpolate(text)
    }

    /// A secret: written `enc:v1:…`, decrypted; else `${VAR}`-expanded.
    pub(super) fn expand_secret(&mut self, text: &str) -> Result<String, Unresolved> {
        if !secrets::is_encrypted(text) {
            return interpolate(text);
        }
        let invalid = |e: SecretError| Unresolved::Invalid(e.to_string());
        // A malformed value is reported as such, master key or not.
        secrets::check_format(text).map_err(invalid)?;
        let master = self.master_key().map_err(invalid)?;
        secrets::decrypt(&master, text).map_err(invalid)
    }

    /// `SWITCHYARD_MASTER_KEY`, read once per load, at the first `enc:v1:` value.
    fn master_key(&mut self) -> Result<MasterKey, SecretError> {
        self.master.get_or_insert_with(MasterKey::from_env).clone()
    }
}

fn interpolate(text: &str) -> Result<String, Unresolved> {
    values::interpolate_env(text).map_err(|e| match e {
        Interpolation::Unset(var) => Unresolved::Unset(var),
        Interpolation::Malformed(_) => Unresolved::Invalid("unterminated `${` in value".into()),
    })
}
