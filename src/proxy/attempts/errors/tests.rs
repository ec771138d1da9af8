use super::*;

#[test]
fn retry_after_is_seconds_or_an_http_date_and_nothing_else() {
    assert_eq!(retry_after_secs("7").as_deref(), Some("7"));
    assert_eq!(retry_after_secs(" 1.2 ").as_deref(), Some("2"));
    assert_eq!(retry_after_secs("999999999").as_deref(), Some("86400"));
    assert_eq!(
        retry_after_secs("Sun, 06 Nov 1994 08:49:37 GMT").as_deref(),
        Some("0"),
        "a date in the past: retry now"
    );
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(90)).to_rfc2822();
    let secs: u64 = retry_after_secs(&soon).unwrap().parse().unwrap();
    assert!((88..=91).contains(&secs), "{secs}");
    for bad in ["sk-live-key", "", "-3", "NaN", "inf", "7 days", "1e400"] {
        assert_eq!(retry_after_secs(bad), None, "{bad:?}");
    }
}

#[test]
fn long_codes_are_cut() {
    assert_eq!(short_code("rate_limit"), "rate_limit");
    assert_eq!(short_code(&"x".repeat(500)).len(), 100);
}
