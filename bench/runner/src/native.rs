//! Rows for criterion's native microbenchmarks (`benches/core.rs`): the median of each
//! benchmark measured in the last hour, read from criterion's `new/estimates.json` files.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::stats::human;
use crate::Row;

fn estimates(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "new") {
                let f = p.join("estimates.json");
                if f.is_file() {
                    out.push(f);
                }
            } else {
                estimates(&p, out);
            }
        }
    }
}

fn fresh(path: &Path) -> bool {
    let Ok(modified) = std::fs::metadata(path).and_then(|m| m.modified()) else {
        return false;
    };
    SystemTime::now()
        .duration_since(modified)
        .is_ok_and(|age| age < Duration::from_secs(3600))
}

/// One info row per benchmark (`native: <id>`), sorted by id.
pub fn rows(criterion_dir: &Path) -> anyhow::Result<Vec<Row>> {
    let mut files = Vec::new();
    estimates(criterion_dir, &mut files);
    let mut rows = Vec::new();
    for f in files.iter().filter(|f| fresh(f)) {
        let est: Value = serde_json::from_slice(&std::fs::read(f)?)?;
        let Some(ns) = est
            .pointer("/median/point_estimate")
            .and_then(Value::as_f64)
        else {
            continue;
        };
        // .../<id parts>/new/estimates.json; benchmark.json beside it has the full id.
        let dir = f.parent().unwrap_or(f);
        let id = std::fs::read(dir.join("benchmark.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|b| b.get("full_id").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| {
                dir.parent()
                    .and_then(|d| d.strip_prefix(criterion_dir).ok())
                    .map(|d| d.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
        rows.push(Row::info(
            "native",
            format!("native (criterion): {id}"),
            human(ns * 1e-9),
        ));
    }
    rows.sort_by(|a, b| a.figure.cmp(&b.figure));
    Ok(rows)
}
