use super::*;

#[test]
fn group_lists_parse_and_reject_unknown_names() {
    assert_eq!(
        GroupBy::parse_list("key, model,key").unwrap(),
        vec![GroupBy::Key, GroupBy::Model]
    );
    assert_eq!(GroupBy::parse_list("").unwrap(), vec![]);
    let err = GroupBy::parse_list("day,week").unwrap_err();
    assert_eq!(
        err,
        "unknown group_by `week` (expected key, model, provider, route, status, day, hour)"
    );
}

#[test]
fn query_deserializes_from_snake_case_json() {
    let q: UsageQuery =
        serde_json::from_str(r#"{"key":"k","group_by":["model","hour"],"limit":5}"#).unwrap();
    assert_eq!(q.group_by, vec![GroupBy::Model, GroupBy::Hour]);
    assert_eq!(q.limit, Some(5));
}

#[test]
fn user_values_are_bound_never_spliced() {
    let q = UsageQuery {
        key: Some("k'; DROP TABLE x; --".into()),
        from_ms: Some(5),
        group_by: vec![GroupBy::Day],
        limit: Some(3),
        ..Default::default()
    };
    let sql = build(&q, "switchyard_usage", Dialect::Postgres);
    assert!(!sql.text.contains("DROP"), "{}", sql.text);
    assert!(
        sql.text.contains("WHERE key = $1 AND at_ms >= $2"),
        "{}",
        sql.text
    );
    assert!(
        sql.text.ends_with("GROUP BY 1 ORDER BY 1 LIMIT $3"),
        "{}",
        sql.text
    );
    assert_eq!(sql.params.len(), 3);
    let sql = build(&q, "switchyard_usage", Dialect::Sqlite);
    assert!(
        sql.text.contains("WHERE key = ?1 AND at_ms >= ?2"),
        "{}",
        sql.text
    );
}

#[test]
fn spend_columns_come_from_the_enum_and_skip_empty_values() {
    let cases = [
        (SpendBy::Key, "key"),
        (SpendBy::Route, "route"),
        (SpendBy::Provider, "provider"),
    ];
    for (by, col) in cases {
        let sql = spend_by_sql(by, "t", Dialect::Postgres);
        assert!(sql.starts_with(&format!("SELECT {col}, ")), "{sql}");
        assert!(
            sql.ends_with(&format!("WHERE at_ms >= $1 AND {col} <> '' GROUP BY {col}")),
            "{sql}"
        );
    }
    let sql = spend_total_sql("t", Dialect::Sqlite);
    assert!(sql.contains("COALESCE(SUM(cost_usd), 0)"), "{sql}");
    assert!(sql.ends_with("WHERE at_ms >= ?1"), "{sql}");
}
