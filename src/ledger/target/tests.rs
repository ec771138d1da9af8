use super::*;

fn parse(s: &str) -> Result<LedgerTarget, String> {
    LedgerTarget::parse(s, Path::new("/etc/switchyard"))
}

#[test]
fn sqlite_paths_are_relative_to_the_config_folder() {
    let want = LedgerTarget::Sqlite("/etc/switchyard/data/usage.db".into());
    assert_eq!(parse("sqlite:data/usage.db").unwrap(), want);
    assert_eq!(parse("data/usage.db").unwrap(), want);
    assert_eq!(parse("sqlite://data/usage.db").unwrap(), want);
    assert_eq!(
        parse("sqlite:///var/lib/usage.db").unwrap(),
        LedgerTarget::Sqlite("/var/lib/usage.db".into())
    );
    assert_eq!(
        parse("sqlite:/var/lib/usage.db").unwrap().label(),
        "sqlite:/var/lib/usage.db"
    );
}

#[test]
fn postgres_urls_keep_the_password_out_of_labels_and_debug() {
    let url = "postgres://app:s3cr%40t@db.internal:6543/usage?sslmode=disable";
    let t = parse(url).unwrap();
    assert_eq!(t, LedgerTarget::Postgres(url.to_string()));
    assert_eq!(t.label(), "postgres://db.internal:6543/usage");
    assert!(!format!("{t:?}").contains("s3cr"));
    let said = t.redact("auth failed for s3cr@t and s3cr%40t");
    assert_eq!(said, "auth failed for *** and ***");
    assert_eq!(
        parse("postgresql://h/db").unwrap().label(),
        "postgres://h/db"
    );
}

#[test]
fn bad_targets_say_what_is_expected() {
    assert!(parse("").unwrap_err().contains("empty ledger path"));
    assert!(parse("sqlite:").unwrap_err().contains("empty ledger path"));
    assert!(parse("mysql://h/db")
        .unwrap_err()
        .contains("unsupported ledger scheme `mysql`"));
    let err = parse("postgres://u:hunter2@h:5432").unwrap_err();
    assert!(err.contains("names no database"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    let err = parse("postgres://u:hunter2@h:notaport/db").unwrap_err();
    assert!(!err.contains("hunter2"), "{err}");
}
