use std::collections::HashMap;
use std::path::Path;

use super::{Grant, KeyFile, KeyGrant, Tokens, TOKEN_URI};
use crate::cloud::aws::Env;

const SERVICE_ACCOUNT: &str = include_str!("../../../tests/fixtures/gcp/service-account.json");

struct FakeEnv(HashMap<&'static str, String>);

impl Env for FakeEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

#[test]
fn a_service_account_key_file_is_read() {
    let key = KeyFile::parse(SERVICE_ACCOUNT).unwrap();
    assert_eq!(key.project.as_deref(), Some("switchyard-test"));
    let KeyGrant::ServiceAccount {
        email,
        key_id,
        token_uri,
        ..
    } = &key.grant
    else {
        panic!("{key:?}")
    };
    assert_eq!(email, "gateway@switchyard-test.iam.gserviceaccount.com");
    assert!(key_id.is_some());
    assert_eq!(token_uri, TOKEN_URI);
    let grant = key.into_grant().unwrap();
    assert!(matches!(grant, Grant::ServiceAccount { .. }));
    // The private key is among the secrets, line by line.
    let tokens = Tokens::new(grant);
    let secrets = tokens.secrets();
    assert!(secrets.len() > 10);
    assert!(SERVICE_ACCOUNT.contains(secrets[3].as_ref()));
}

#[test]
fn gcloud_user_credentials_are_read() {
    let text = r#"{"type":"authorized_user","client_id":"cid.apps.googleusercontent.com","client_secret":"csecret","refresh_token":"1//refresh","quota_project_id":"quota-proj"}"#;
    let key = KeyFile::parse(text).unwrap();
    assert_eq!(key.project.as_deref(), Some("quota-proj"));
    assert!(matches!(key.grant, KeyGrant::AuthorizedUser { .. }));
    let tokens = Tokens::new(key.into_grant().unwrap());
    let secrets: Vec<String> = tokens
        .secrets()
        .into_iter()
        .map(|s| s.into_owned())
        .collect();
    assert_eq!(secrets, ["csecret", "1//refresh"]);
}

#[test]
fn bad_key_files_say_what_is_wrong() {
    let err = |t: &str| KeyFile::parse(t).unwrap_err();
    assert!(err("not json").contains("not a Google credentials file"));
    assert!(err(r#"{"type":"external_account"}"#).contains("`external_account` are not supported"));
    assert!(err(r#"{"type":"service_account","private_key":"x"}"#)
        .contains("`client_email` is missing"));
    let bad_pem = r#"{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}"#;
    let e = KeyFile::parse(bad_pem).unwrap().into_grant().unwrap_err();
    assert!(e.contains("not an RSA key"), "{e}");
}

#[test]
fn the_key_file_is_found_where_google_looks() {
    let env = |pairs: &[(&'static str, &str)]| {
        FakeEnv(pairs.iter().map(|(k, v)| (*k, v.to_string())).collect())
    };
    let configured = KeyFile::locate(Some(Path::new("/etc/sa.json")), &env(&[])).unwrap();
    assert_eq!(configured, Path::new("/etc/sa.json"));
    let from_env = KeyFile::locate(None, &env(&[("GOOGLE_APPLICATION_CREDENTIALS", "/x.json")]));
    assert_eq!(from_env.unwrap(), Path::new("/x.json"));
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_string_lossy().to_string();
    let err = KeyFile::locate(None, &env(&[("HOME", &home)])).unwrap_err();
    assert!(err.contains("no Google credentials"), "{err}");
    let gcloud = dir.path().join(".config/gcloud");
    std::fs::create_dir_all(&gcloud).unwrap();
    std::fs::write(gcloud.join("application_default_credentials.json"), "{}").unwrap();
    let adc = KeyFile::locate(None, &env(&[("HOME", &home)])).unwrap();
    assert!(adc.ends_with(".config/gcloud/application_default_credentials.json"));
}

#[test]
fn the_same_credentials_share_their_tokens_across_configs() {
    let grant = || {
        KeyFile::parse(SERVICE_ACCOUNT)
            .unwrap()
            .into_grant()
            .unwrap()
    };
    let a = Tokens::shared(grant());
    let b = Tokens::shared(grant());
    assert!(std::sync::Arc::ptr_eq(&a, &b));
}
