use super::*;

#[test]
fn outcomes_say_their_label_metric_and_whether_they_spent_an_attempt() {
    let cases = [
        (Outcome::Status(503), "503", "status", true),
        (Outcome::Timeout, "timeout", "timeout", true),
        (Outcome::Error, "error", "error", true),
        (Outcome::Rejected, "rejected", "rejected", true),
        (Outcome::Disabled, "disabled", "rejected", false),
        (
            Outcome::Breaker(RefusalReason::Benched),
            "benched",
            "rejected",
            false,
        ),
        (Outcome::RateLimited, "rate_limited", "rejected", false),
        (Outcome::AdapterFailed, "script", "error", false),
        (Outcome::Context, "context", "rejected", false),
    ];
    for (o, label, metric, spent) in cases {
        assert_eq!(
            (o.label().as_ref(), o.metric_label(), o.spent()),
            (label, metric, spent),
            "{o:?}"
        );
    }
}
