use super::*;

#[test]
fn parses_base_urls() {
    let u = Upstream::parse("https://api.openai.com/v1/").unwrap();
    assert!(u.tls);
    assert_eq!((u.host.as_str(), u.port), ("api.openai.com", 443));
    assert_eq!(u.target("/chat/completions"), "/v1/chat/completions");
    assert_eq!(u.authority, "api.openai.com");
    let u = Upstream::parse("http://127.0.0.1:9000").unwrap();
    assert_eq!(u.target("/v1/messages"), "/v1/messages");
    assert_eq!(u.authority, "127.0.0.1:9000");
    assert!(Upstream::parse("ftp://x").is_err());
    assert!(Upstream::parse("http://x/?key=1").is_err());
}

#[tokio::test]
async fn ip_literals_need_no_lookup() {
    let u = Upstream::parse("http://127.0.0.1:9").unwrap();
    assert_eq!(u.addr().await.unwrap(), "127.0.0.1:9".parse().unwrap());
}
