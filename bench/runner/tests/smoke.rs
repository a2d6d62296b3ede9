//! Runs every measurement at tiny sizes: the table must have every row, each with a value, and
//! a verdict wherever a target is set. Needs the filter (`TOLLBOOTH_WASM`, as `make test-rust`
//! sets it, or `target/wasm32-wasip1/release/tollbooth.wasm`); builds the pass-through module.

use std::path::PathBuf;

use tollbooth_bench::{passthrough_wasm, render, run, Scale, Settings, ROW_IDS};

#[test]
fn every_figure_is_measured_at_tiny_sizes() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let filter_wasm = std::env::var_os("TOLLBOOTH_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target/wasm32-wasip1/release/tollbooth.wasm"));
    assert!(
        filter_wasm.is_file(),
        "{} is missing: run `make wasm` first",
        filter_wasm.display()
    );
    let settings = Settings {
        passthrough_wasm: passthrough_wasm(&repo).unwrap(),
        filter_wasm,
        criterion_dir: None,
        scale: Scale::smoke(),
        repo,
    };
    let report = run(&settings).unwrap();
    let table = render(&report.rows);
    let ids: Vec<&str> = report.rows.iter().map(|r| r.id).collect();
    assert_eq!(ids, ROW_IDS, "{table}");
    for row in &report.rows {
        assert!(!row.measured.is_empty(), "{table}");
        assert!(!row.measured.contains("NaN"), "{table}");
        assert_eq!(row.target.is_empty(), row.pass.is_none(), "{table}");
        assert!(table.contains(&row.figure));
    }
    // Corpora: prose, code and the five adversarial texts.
    assert_eq!(report.notes.len(), 7, "{:?}", report.notes);
}
