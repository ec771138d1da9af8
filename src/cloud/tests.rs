use super::fill_region;

#[test]
fn region_placeholders_are_filled() {
    assert_eq!(
        fill_region(
            "https://bedrock-runtime.{region}.amazonaws.com",
            "eu-west-3"
        ),
        "https://bedrock-runtime.eu-west-3.amazonaws.com"
    );
    assert_eq!(
        fill_region("https://{region}-aiplatform.googleapis.com/v1", "us-east5"),
        "https://us-east5-aiplatform.googleapis.com/v1"
    );
    assert_eq!(
        fill_region("https://{region}-aiplatform.googleapis.com/v1", "global"),
        "https://aiplatform.googleapis.com/v1"
    );
    assert_eq!(
        fill_region("http://127.0.0.1:9000", "us-east-1"),
        "http://127.0.0.1:9000"
    );
}
