use super::*;

#[test]
fn page_names_only_assets_that_are_served() {
    let page = std::str::from_utf8(asset("/dashboard").unwrap().body).unwrap();
    for path in [
        "/dashboard/app.js",
        "/dashboard/style.css",
        "/dashboard/favicon.svg",
    ] {
        assert!(page.contains(path), "{path} not linked");
        assert!(asset(path).is_some(), "{path} not served");
    }
    // default-src 'self' forbids inline code and styles.
    assert!(!page.contains("<script>") && !page.contains("style="));
    assert!(asset("/dashboard/../admin/config").is_none());
}
