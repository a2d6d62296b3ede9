//! Native reference and native speed, one file and encoding per process (tiktoken-rs panics
//! when fancy-regex gives up backtracking, and the release profile aborts on panic):
//!
//! usage: tok-reference FILE o200k_base|cl100k_base
//!
//! Prints: file, encoding, tiktoken-rs `encode_ordinary` count on the whole text (the true
//! reference), tiktoken-rs native MB/s, bpe-openai native count and MB/s.

use anyhow::{bail, Context, Result};
use std::time::Instant;

fn best<F: FnMut() -> usize>(mut f: F) -> (usize, f64) {
    let t = Instant::now();
    let n = f();
    let mut b = t.elapsed().as_secs_f64();
    let wall = Instant::now();
    let mut runs = 1;
    while runs < 5 && wall.elapsed().as_secs_f64() < 2.0 {
        let t = Instant::now();
        std::hint::black_box(f());
        b = b.min(t.elapsed().as_secs_f64());
        runs += 1;
    }
    (n, b)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let file = args.first().context("FILE ENCODING")?;
    let enc = args.get(1).context("FILE ENCODING")?;
    let text = std::fs::read_to_string(file)?;
    let (tk, bp) = match enc.as_str() {
        "o200k_base" => (tiktoken_rs::o200k_base()?, bpe_openai::o200k_base()),
        "cl100k_base" => (tiktoken_rs::cl100k_base()?, bpe_openai::cl100k_base()),
        _ => bail!("unknown encoding {enc}"),
    };
    let mb = text.len() as f64 / 1e6;
    let (b, bt) = best(|| bp.count(text.as_str()));
    let (pieces, st) = best(|| bp.split(text.as_str()).count());
    if std::env::var_os("SPLIT_ONLY").is_some() {
        println!("{file} {enc}: {pieces} pieces, bpe-openai pre-tokenizer alone {:.1} MB/s, count {:.1} MB/s", mb / st, mb / bt);
        return Ok(());
    }
    let (t, tt) = best(|| tk.encode_ordinary(&text).len());
    let name = std::path::Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    println!(
        "| {name} | {enc} | {t} | {:.1} | {b} | {:.1} | {} |",
        mb / tt,
        mb / bt,
        if b == t { "yes" } else { "NO" }
    );
    Ok(())
}
