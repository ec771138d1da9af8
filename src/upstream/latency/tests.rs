use super::*;

#[test]
fn averages_decay_towards_new_samples_and_are_forgotten() {
    let l = ModelLatency::default();
    let memory = Duration::from_secs(60);
    l.observe(
        "m",
        Some(Duration::from_millis(100)),
        Duration::from_millis(1000),
        memory,
    );
    assert_eq!(l.current("m"), (Some(100.0), Some(1000.0)));
    l.observe("m", None, Duration::from_millis(2000), memory);
    let (ttft, total) = l.current("m");
    assert_eq!(ttft, Some(100.0));
    assert!((total.unwrap() - 1300.0).abs() < 1e-9);
    assert_eq!(l.current("other"), (None, None));
    l.observe("gone", None, Duration::from_millis(5), Duration::ZERO);
    std::thread::sleep(Duration::from_millis(2));
    assert_eq!(l.current("gone"), (None, None));
}
