use super::random_error;

#[test]
fn error_draws_follow_the_rate_and_the_seed() {
    let count = |seed: u64, rate: f64| {
        (1..=10_000)
            .filter(|&n| random_error(seed, n, rate))
            .count()
    };
    let n = count(7, 0.2);
    assert!((1800..2200).contains(&n), "{n} errors of 10000 at 20%");
    assert_eq!(count(7, 0.2), n, "same seed, same draws");
    assert_ne!(count(8, 0.2), n, "another seed, other draws");
    assert_eq!(count(7, 0.0), 0);
    assert_eq!(count(7, 1.0), 10_000);
}
