//! Review: the price memo keeps what the client sends bounded in bytes, not only in names.

use super::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn table() -> PriceTable {
    PriceTable::new([
        ("gpt-4o".to_string(), PriceEntry::new(Price::flat(2, 8))),
        (
            "claude-sonnet-4".to_string(),
            PriceEntry::new(Price::flat(3, 15)),
        ),
    ])
}

fn retained_bytes(memo: &PriceMemo) -> usize {
    memo.names
        .borrow()
        .iter()
        .map(|(k, v)| k.len() + v.as_ref().map_or(0, String::len))
        .sum()
}

/// A request's `model` is the client's string (finalize looks it up when the response's model
/// is unpriced), as long as the body limit allows. Before the fix the memo kept 1024 of them
/// whole: 1024 requests with a 4 MiB `model` pinned 4 GiB in the VM for its lifetime.
#[test]
fn long_client_model_names_are_looked_up_but_not_remembered() {
    let t = table();
    let memo = PriceMemo::default();
    for i in 0..(PriceMemo::MAX_NAMES + 8) {
        let unknown = format!("{i}-{}", "x".repeat(4096));
        assert_eq!(memo.lookup(&t, &unknown), None);
        let priced = format!("gpt-4o-{i}-{}", "y".repeat(4096));
        assert_eq!(memo.lookup(&t, &priced), t.lookup("gpt-4o"));
        assert_eq!(memo.lookup(&t, &priced), t.lookup(&priced));
    }
    assert!(memo.names.borrow().is_empty());
    // Short names are still remembered, and the bytes stay bounded.
    for i in 0..(PriceMemo::MAX_NAMES + 8) {
        let name = format!("claude-sonnet-4-{i}-{}", "z".repeat(230));
        assert_eq!(memo.lookup(&t, &name), t.lookup(&name));
    }
    assert_eq!(memo.names.borrow().len(), PriceMemo::MAX_NAMES);
    let bound = PriceMemo::MAX_NAMES * 2 * PriceMemo::MAX_NAME_BYTES;
    assert!(retained_bytes(&memo) <= bound);
}

#[test]
fn a_name_at_the_limit_is_remembered_one_past_it_is_not() {
    let t = table();
    let memo = PriceMemo::default();
    let at = format!("gpt-4o{}", "a".repeat(PriceMemo::MAX_NAME_BYTES - 6));
    let past = format!("{at}b");
    assert_eq!(memo.lookup(&t, &at), t.lookup("gpt-4o"));
    assert_eq!(memo.lookup(&t, &past), t.lookup("gpt-4o"));
    assert!(memo.names.borrow().contains_key(&at));
    assert!(!memo.names.borrow().contains_key(&past));
    assert_eq!(memo.lookup(&t, &at), t.lookup("gpt-4o"));
}

/// Prefixes longer than the longest entry name cannot be entries: before the fix every prefix
/// of the name was tried, one map lookup each, so a 4 MiB `model` cost ~0.36 s of native CPU
/// per lookup (finalize makes up to two, five normalised names each). The table now knows its
/// longest name; huge names are still priced right (no timing here: speed is `make bench`'s).
#[test]
fn a_huge_model_name_is_priced_by_its_prefix() {
    let t = PriceTable::new(
        (0..2000)
            .map(|i| (format!("model-{i}"), PriceEntry::new(Price::flat(1, 1))))
            .chain([("gpt-4o".to_string(), PriceEntry::new(Price::flat(2, 8)))]),
    );
    assert_eq!(t.longest, "model-1999".len());
    let unknown = "q".repeat(1 << 20);
    let priced = format!("gpt-4o-{unknown}");
    assert_eq!(t.lookup(&unknown), None);
    assert!(t.lookup("gpt-4o").is_some());
    assert_eq!(t.lookup(&priced), t.lookup("gpt-4o"));
}

#[test]
fn prefixes_are_found_whatever_the_entry_lengths() {
    let t = PriceTable::new([
        ("a".to_string(), PriceEntry::new(Price::flat(1, 1))),
        ("abcdef".to_string(), PriceEntry::new(Price::flat(6, 6))),
        (
            "\u{e9}t\u{e9}".to_string(),
            PriceEntry::new(Price::flat(3, 3)),
        ),
    ]);
    let input = |m: &str| t.lookup(m).map(|e| e.standard.input);
    assert_eq!(input("abcdefg"), Some(6));
    assert_eq!(input("abcdef"), Some(6));
    assert_eq!(input("abcde"), Some(1));
    assert_eq!(input("\u{e9}t\u{e9}\u{e9}"), Some(3));
    assert_eq!(input("\u{e9}t"), None);
    assert_eq!(input("b"), None);
    assert_eq!(PriceTable::default().lookup("abc"), None);
}
