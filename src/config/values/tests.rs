use super::*;

fn t(s: &str) -> Scalar {
    Scalar::Text(s.to_string())
}

#[test]
fn durations() {
    assert_eq!(duration(&t("250ms")), Ok(Duration::from_millis(250)));
    assert_eq!(duration(&t("30s")), Ok(Duration::from_secs(30)));
    assert_eq!(duration(&t("2m")), Ok(Duration::from_secs(120)));
    assert_eq!(duration(&t("30d")), Ok(Duration::from_secs(30 * 86400)));
    assert_eq!(duration(&Scalar::Int(5)), Ok(Duration::from_secs(5)));
    assert!(duration(&t("5 parsecs"))
        .unwrap_err()
        .contains("unknown duration unit"));
}

#[test]
fn sizes() {
    assert_eq!(size(&t("10MiB")), Ok(10 * 1024 * 1024));
    assert_eq!(size(&t("64kb")), Ok(64_000));
    assert_eq!(size(&Scalar::Int(12)), Ok(12));
    assert!(size(&t("3 apples")).is_err());
}

#[test]
fn interpolation() {
    let env = |n: &str| (n == "K").then(|| "secret".to_string());
    assert_eq!(interpolate("a${K}b", env), Ok("asecretb".into()));
    assert_eq!(interpolate("${X:-dflt}", env), Ok("dflt".into()));
    assert_eq!(interpolate("$$5", env), Ok("$5".into()));
    assert_eq!(
        interpolate("${X}", env),
        Err(Interpolation::Unset("X".into()))
    );
    assert!(matches!(
        interpolate("${K", env),
        Err(Interpolation::Malformed(_))
    ));
}
