//! Tokenizer throughput through the filter: the request body callback with `end_of_stream`
//! (where the prompt is parsed and counted) for a large prompt, minus the same callback for a
//! tiny prompt, minus what the pass-through module's callback costs more for the large body
//! (the host moving the bytes). MB = 10^6 bytes of prompt text (the JSON body is a little
//! larger: escapes).

use tollbooth_host::Host;

use crate::corpus::{self, Text};
use crate::overhead::Turns;
use crate::stats::{diff, human, interleaved, Reps};
use crate::traffic::{self, check_metered, check_passed, drive};
use crate::{Report, Row, Settings};

/// Seconds the filter spends on `text` as a prompt, beyond a tiny prompt and beyond the
/// pass-through. The response has no usage, so the filter's own estimate is what it records:
/// checked, to be sure the prompt was counted and not passed through unmetered.
fn cost(f: &mut Host, p: &mut Host, text: &str, reps: Reps) -> anyhow::Result<f64> {
    let big = traffic::json_exchange(traffic::chat_request(text, false), false);
    let tiny = traffic::json_exchange(traffic::chat_request("Hi", false), false);
    let min_tokens = (text.len() / 100).max(1) as u64;
    check_metered(&drive(f, &big)?.1, "estimate", min_tokens)?;
    check_passed(&drive(p, &big)?.1)?;
    let (mut fh, mut ph) = (Turns::new(f), Turns::new(p));
    let mut probes = vec![
        fh.request_end(&big),
        fh.request_end(&tiny),
        ph.request_end(&big),
        ph.request_end(&tiny),
    ];
    let m = interleaved(reps, &mut probes)?;
    let [fb, ft, pb, pt] = m[..] else {
        anyhow::bail!("four medians expected");
    };
    Ok(diff(fb, ft) - diff(pb, pt))
}

fn mb(len: usize) -> f64 {
    len as f64 / 1e6
}

pub fn figures(s: &Settings, f: &mut Host, p: &mut Host, r: &mut Report) -> anyhow::Result<()> {
    let sc = &s.scale;
    let prose = corpus::prose(&s.repo, sc.big)?;
    let code = corpus::code(&s.repo, sc.big)?;
    for (id, t) in [("tok_prose", &prose), ("tok_code", &code)] {
        r.notes.push(t.describe());
        let secs = cost(f, p, &t.text, sc.heavy)?;
        let rate = mb(t.len()) / secs;
        r.rows.push(Row::at_least(
            id,
            format!(
                "tokenizer through the filter, {} ({} bytes, o200k_base)",
                t.name,
                t.len()
            ),
            rate,
            format!("{rate:.1} MB/s"),
            25.0,
            "≥ 25 MB/s",
        ));
    }
    let adversarial: [(&'static str, Text); 5] = [
        ("adv_one_char", corpus::one_char(sc.big)),
        ("adv_letters", corpus::random_letters(sc.mid, 5)),
        ("adv_lowercase", corpus::random_lowercase(sc.mid, 5)),
        ("adv_base64", corpus::base64(sc.big, 7)),
        ("adv_nested", corpus::nested_json(sc.nested)),
    ];
    for (id, t) in &adversarial {
        r.notes.push(t.describe());
        let secs = cost(f, p, &t.text, sc.heavy)?;
        let per_mb = secs * 1e3 / mb(t.len());
        r.rows.push(Row::at_most(
            id,
            format!("adversarial: {} ({} bytes)", t.name, t.len()),
            per_mb,
            format!("{per_mb:.0} ms/MB"),
            40.0,
            "≤ 40 ms/MB",
        ));
    }
    linearity(s, f, p, &prose.text, r)
}

/// The same 1 KB block of prose repeated to 1 KB, 100 KB and 1 MB: cost per byte at each size
/// against 1 KB.
fn linearity(
    s: &Settings,
    f: &mut Host,
    p: &mut Host,
    prose: &str,
    r: &mut Report,
) -> anyhow::Result<()> {
    let sc = &s.scale;
    let block = corpus::repeat_block(prose, sc.small);
    let per_byte = |f: &mut Host, p: &mut Host, len: usize, reps: Reps| -> anyhow::Result<f64> {
        let text = corpus::repeat_block(&block, len);
        Ok(cost(f, p, &text, reps)? / text.len() as f64)
    };
    let base = per_byte(f, p, sc.small, sc.light)?;
    for (id, len, reps) in [
        ("linear_100k", sc.mid, sc.light),
        ("linear_1m", sc.big, sc.heavy),
    ] {
        let at = per_byte(f, p, len, reps)?;
        let ratio = at / base;
        r.rows.push(Row::at_most(
            id,
            format!(
                "linearity: cost per byte at {len} B / at {} B (prompt = one prose block repeated)",
                sc.small
            ),
            ratio,
            format!("{ratio:.2} ({}/B vs {}/B)", human(at), human(base)),
            2.0,
            "≤ 2",
        ));
    }
    Ok(())
}
