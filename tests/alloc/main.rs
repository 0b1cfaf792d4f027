//! The book-update path allocates nothing per message in the steady state: frames parsed
//! with a reused parser and applied to books, counted by a global allocator.

use polybox_tests::FeedBooks;
use polybox_tests::alloc_count::{CountingAlloc, allocations};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[test]
fn steady_state_book_updates_allocate_nothing() {
    let frames = polybox_tests::simulated_frames(20, 20_000, 3);
    let deltas: Vec<&String> = frames
        .iter()
        .filter(|f| f.contains("\"price_change\"") || f.contains("\"last_trade_price\""))
        .collect();
    assert!(deltas.len() > 15_000, "{}", deltas.len());
    let mut feed = FeedBooks::default();
    // Warm up: the snapshots, then every delta once (books reach their depth, ids are
    // interned, the output vector has grown).
    for f in &frames {
        feed.apply(f);
    }
    let (messages, allocs) = allocations(|| deltas.iter().map(|f| feed.apply(f)).sum::<usize>());
    assert!(messages >= deltas.len());
    assert_eq!(allocs, 0, "{allocs} allocations over {messages} messages");

    // The counter does count: a snapshot allocates its levels.
    let snapshot = frames.iter().find(|f| f.contains("\"book\"")).unwrap();
    let (_, allocs) = allocations(|| feed.apply(snapshot));
    assert!(allocs > 0);
}
