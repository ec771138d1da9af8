use super::*;

#[test]
fn slots_refuse_past_the_limit_and_come_back_on_drop() {
    let slots: &'static Slots = Box::leak(Box::new(Slots::new()));
    let a = slots.try_take(2).unwrap();
    let b = slots.try_take(2).unwrap();
    assert!(slots.try_take(2).is_none());
    assert_eq!(slots.in_use(), 2);
    drop(a);
    let c = slots.try_take(2).unwrap();
    assert!(
        slots.try_take(3).is_some(),
        "a raised limit applies at once"
    );
    drop((b, c));
    assert_eq!(slots.in_use(), 0);
}
