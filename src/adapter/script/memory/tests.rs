use super::*;
use std::alloc::System;

#[test]
fn counts_what_this_thread_holds() {
    let a = CountingAlloc(System);
    let before = held();
    let layout = Layout::from_size_align(4096, 8).unwrap();
    // SAFETY: the layout is non-zero; each pointer is freed once with it.
    unsafe {
        let p = a.alloc(layout);
        assert_eq!(held() - before, 4096);
        let p = a.realloc(p, layout, 10_000);
        assert_eq!(held() - before, 10_000);
        a.dealloc(p, Layout::from_size_align(10_000, 8).unwrap());
    }
    assert_eq!(held(), before);
}
