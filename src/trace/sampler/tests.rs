use super::*;
use crate::trace::span::SpanId;

fn parent(sampled: bool) -> Parent {
    Parent {
        trace_id: TraceId([1; 16]),
        span_id: SpanId([1; 8]),
        sampled,
        state: None,
    }
}

#[test]
fn names_are_otels() {
    assert_eq!(
        Sampler::named("parentbased_traceidratio", Some(0.25)).unwrap(),
        Sampler {
            parent_based: true,
            ratio: 0.25
        }
    );
    assert_eq!(Sampler::named("always_off", Some(0.5)).unwrap().ratio, 0.0);
    assert!(Sampler::named("sometimes", None).is_err());
    assert!(Sampler::named("traceidratio", Some(1.5)).is_err());
}

#[test]
fn a_parent_based_sampler_follows_the_client() {
    let s = Sampler::named("parentbased_always_off", None).unwrap();
    assert!(s.sampled(TraceId::random(), Some(&parent(true))));
    let s = Sampler::named("parentbased_always_on", None).unwrap();
    assert!(!s.sampled(TraceId::random(), Some(&parent(false))));
    // Not parent-based: the client's flag is not followed.
    let s = Sampler::named("always_on", None).unwrap();
    assert!(s.sampled(TraceId::random(), Some(&parent(false))));
}

#[test]
fn the_ratio_keeps_its_share_of_traces() {
    let s = Sampler::named("traceidratio", Some(0.25)).unwrap();
    let kept = (0..20_000)
        .filter(|_| s.sampled(TraceId::random(), None))
        .count();
    // 5,000 expected; 4 standard deviations is ±245.
    assert!((4_700..5_300).contains(&kept), "{kept}");
    let off = Sampler::named("traceidratio", Some(0.0)).unwrap();
    assert!((0..1000).all(|_| !off.sampled(TraceId::random(), None)));
}

#[test]
fn the_decision_depends_on_the_trace_id_only() {
    let s = Sampler::named("traceidratio", Some(0.5)).unwrap();
    let large = TraceId([0xff; 16]);
    let mut small = [0u8; 16];
    small[8] = 0x01;
    assert!(!s.sampled(large, None));
    assert!(s.sampled(TraceId(small), None));
}
