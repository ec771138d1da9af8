use super::*;

#[test]
fn usage_query_parses_filters_times_and_groups() {
    let q = usage_query(
        "key=team-a&from=2026-11-26T00:00:00Z&to=1800000000000&group_by=model,day&limit=5",
    )
    .unwrap();
    assert_eq!(q.key.as_deref(), Some("team-a"));
    assert_eq!(q.from_ms, Some(1_795_651_200_000));
    assert_eq!(q.to_ms, Some(1_800_000_000_000));
    assert_eq!(q.group_by, vec![GroupBy::Model, GroupBy::Day]);
    assert_eq!(q.limit, Some(5));
    assert!(usage_query("from=yesterday").is_err());
    assert!(usage_query("colour=red").is_err());
}
