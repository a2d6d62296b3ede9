use super::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// Worst first, as the brief for goodput orders them.
const WORST_FIRST: [Finish; 6] = [
    Finish::Error,
    Finish::ContentFilter,
    Finish::Length,
    Finish::Other,
    Finish::ToolCalls,
    Finish::Stop,
];

#[test]
fn finish_names_and_success() {
    let names = WORST_FIRST.map(Finish::as_str);
    assert_eq!(
        names,
        [
            "error",
            "content_filter",
            "length",
            "other",
            "tool_calls",
            "stop"
        ]
    );
    let success = WORST_FIRST.map(Finish::is_success);
    assert_eq!(success, [false, false, false, false, true, true]);
}

#[test]
fn the_least_successful_finish_wins() {
    assert_eq!(Finish::worst([]), None);
    for (i, worse) in WORST_FIRST.iter().enumerate() {
        for better in WORST_FIRST.iter().skip(i) {
            assert_eq!(Finish::worst([*worse, *better]), Some(*worse));
            assert_eq!(Finish::worst([*better, *worse]), Some(*worse));
        }
    }
    let mut all = WORST_FIRST;
    all.reverse();
    assert_eq!(Finish::worst(all), Some(Finish::Error));
    assert_eq!(
        Finish::worst([Finish::Stop, Finish::ToolCalls, Finish::Stop]),
        Some(Finish::ToolCalls)
    );
}
