use super::*;

fn frames() -> Vec<Frame> {
    let meta = |s: &'static str| Frame::meta(Bytes::from_static(s.as_bytes()));
    let content = |s: &'static str| Frame::content(Bytes::from_static(s.as_bytes()));
    vec![meta("start"), content("a"), content("b"), meta("end")]
}

#[test]
fn parses_every_fault_and_prints_it_back() {
    let cases = [
        (
            "status:500",
            Fault::Status {
                code: 500,
                retry_after: None,
            },
        ),
        (
            "status:429:7",
            Fault::Status {
                code: 429,
                retry_after: Some(7),
            },
        ),
        ("drop:3", Fault::DropMidStream { after: 3 }),
        ("error:0", Fault::StreamError { after: 0 }),
        ("malformed", Fault::Malformed),
        ("hang", Fault::Hang),
        (
            "endless:50",
            Fault::Endless {
                every: Duration::from_millis(50),
            },
        ),
        ("huge-event:1048576", Fault::HugeEvent { bytes: 1 << 20 }),
        (
            "slow-header:200",
            Fault::SlowHeader {
                every: Duration::from_millis(200),
            },
        ),
        ("wrong-type", Fault::WrongType),
        (
            "late:1500",
            Fault::Late {
                after: Duration::from_millis(1500),
            },
        ),
        ("bad-sse", Fault::BadSse { after: None }),
        ("bad-sse:2", Fault::BadSse { after: Some(2) }),
    ];
    for (text, fault) in cases {
        assert_eq!(text.parse::<Fault>().unwrap(), fault);
        assert_eq!(fault.to_string(), text);
    }
}

#[test]
fn rejects_unknown_faults() {
    for bad in [
        "",
        "status",
        "status:abc",
        "status:70000",
        "drop",
        "drop:1:2",
        "hang:1",
        "boom",
        "huge-event",
        "late",
        "endless:1:2",
        "wrong-type:1",
        "bad-sse:x",
    ] {
        assert!(bad.parse::<Fault>().is_err(), "{bad:?} should not parse");
    }
}

#[test]
fn drop_keeps_events_up_to_the_nth_content_event() {
    let fault = Fault::DropMidStream { after: 1 };
    let (out, ending) = shape_stream(frames(), Some(&fault), Dialect::OpenAi);
    assert_eq!(out, ["start", "a"]);
    assert_eq!(ending, Ending::Abort);

    let fault = Fault::DropMidStream { after: 9 };
    let (out, _) = shape_stream(frames(), Some(&fault), Dialect::OpenAi);
    assert_eq!(out, ["start", "a", "b"]);
}

#[test]
fn stream_error_appends_the_in_band_error() {
    let fault = Fault::StreamError { after: 0 };
    let (out, ending) = shape_stream(frames(), Some(&fault), Dialect::Anthropic);
    assert_eq!(out.len(), 2);
    assert!(out[1].starts_with(b"event: error\n"));
    assert_eq!(ending, Ending::Finish);
}

#[test]
fn defaults_of_the_hostile_faults() {
    assert_eq!(
        "endless".parse::<Fault>().unwrap(),
        Fault::Endless {
            every: Duration::from_millis(100)
        }
    );
    assert_eq!(
        "slow-header".parse::<Fault>().unwrap(),
        Fault::SlowHeader {
            every: Duration::from_secs(1)
        }
    );
}

#[test]
fn endless_repeats_the_first_content_event_forever() {
    let fault = Fault::Endless {
        every: Duration::from_millis(1),
    };
    let (out, ending) = shape_stream(frames(), Some(&fault), Dialect::OpenAi);
    assert_eq!(out, ["start"]);
    assert_eq!(ending, Ending::Repeat(Bytes::from_static(b"a")));
}

#[test]
fn huge_event_follows_the_opening_event() {
    let fault = Fault::HugeEvent { bytes: 200_000 };
    let (out, ending) = shape_stream(frames(), Some(&fault), Dialect::OpenAi);
    assert_eq!(out[0], "start");
    assert_eq!(&out[out.len() - 3..], ["a", "b", "end"]);
    let huge: usize = out[1..out.len() - 3].iter().map(Bytes::len).sum();
    assert_eq!(huge, 200_000);
    assert_eq!(ending, Ending::Finish);
}

#[test]
fn bad_sse_sends_noise_from_the_start_or_after_n_events() {
    let fault = Fault::BadSse { after: None };
    let (out, _) = shape_stream(frames(), Some(&fault), Dialect::OpenAi);
    assert_eq!(out.len(), 1);
    assert!(!out[0].contains(&b'\n'));
    let fault = Fault::BadSse { after: Some(1) };
    let (out, ending) = shape_stream(frames(), Some(&fault), Dialect::OpenAi);
    assert_eq!(&out[..2], ["start", "a"]);
    assert_eq!(out.len(), 3);
    assert_eq!(ending, Ending::Finish);
}

#[test]
fn malformed_inserts_a_bad_event_after_the_first() {
    let (out, _) = shape_stream(frames(), Some(&Fault::Malformed), Dialect::OpenAi);
    assert_eq!(out.len(), 5);
    assert_eq!(out[0], "start");
    assert!(out[1].starts_with(b"data: {"));
}
