use super::*;

/// Each thread has its own peak: a fresh thread per case.
fn on_fresh_thread(f: impl FnOnce() + Send + 'static) {
    std::thread::spawn(f).join().unwrap();
}

#[test]
fn a_burst_is_collected_once_per_fourfold_fall() {
    on_fresh_thread(|| {
        for n in 1..=1000 {
            opened(n);
        }
        let trims: Vec<usize> = (0..1000).rev().filter(|&open| due(open)).collect();
        assert_eq!(trims, vec![249, 62, 15]);
    });
}

#[test]
fn steady_load_is_never_collected() {
    on_fresh_thread(|| {
        for _ in 0..10_000 {
            opened(101);
            assert!(!due(100));
        }
    });
}

#[test]
fn a_few_connections_are_never_collected() {
    on_fresh_thread(|| {
        opened(MIN_PEAK - 1);
        assert!(!due(0));
    });
}

#[test]
fn collecting_is_safe_on_any_thread() {
    on_fresh_thread(|| {
        let kept: Vec<Vec<u8>> = (0..1000).map(|i| vec![0; i]).collect();
        drop(kept);
        collect();
    });
}
