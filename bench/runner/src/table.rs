//! The one table `make bench` prints: figure, measured, target, pass or miss.

use std::fmt::Write;

/// One figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Stable name (the smoke test checks every one is there).
    pub id: &'static str,
    pub figure: String,
    pub measured: String,
    /// Empty for figures shown for information.
    pub target: String,
    /// `None` for information.
    pub pass: Option<bool>,
}

impl Row {
    /// A figure without a target.
    pub fn info(id: &'static str, figure: impl Into<String>, measured: impl Into<String>) -> Row {
        Row {
            id,
            figure: figure.into(),
            measured: measured.into(),
            target: String::new(),
            pass: None,
        }
    }

    /// A figure that must be at most `limit`.
    pub fn at_most(
        id: &'static str,
        figure: impl Into<String>,
        value: f64,
        measured: impl Into<String>,
        limit: f64,
        target: impl Into<String>,
    ) -> Row {
        Row {
            id,
            figure: figure.into(),
            measured: measured.into(),
            target: target.into(),
            pass: Some(value.is_finite() && value <= limit),
        }
    }

    /// A figure that must be at least `limit`.
    pub fn at_least(
        id: &'static str,
        figure: impl Into<String>,
        value: f64,
        measured: impl Into<String>,
        limit: f64,
        target: impl Into<String>,
    ) -> Row {
        Row {
            id,
            figure: figure.into(),
            measured: measured.into(),
            target: target.into(),
            pass: Some(value.is_finite() && value >= limit),
        }
    }

    fn result(&self) -> &'static str {
        match self.pass {
            Some(true) => "pass",
            Some(false) => "MISS",
            None => "–",
        }
    }
}

/// The rows as a Markdown table, then a count of the targets met.
pub fn render(rows: &[Row]) -> String {
    let cells = |r: &Row| {
        [
            r.figure.clone(),
            r.measured.clone(),
            if r.target.is_empty() {
                "–".to_owned()
            } else {
                r.target.clone()
            },
            r.result().to_owned(),
        ]
    };
    let head = ["figure", "measured", "target", "result"].map(str::to_owned);
    let body: Vec<[String; 4]> = rows.iter().map(cells).collect();
    let mut width = head.clone().map(|h| h.chars().count());
    for r in &body {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String; 4]| {
        let mut s = String::from("|");
        for (c, w) in cells.iter().zip(width) {
            let pad = w.saturating_sub(c.chars().count());
            let _ = write!(s, " {c}{} |", " ".repeat(pad));
        }
        s.push('\n');
        s
    };
    let mut out = line(&head);
    out.push('|');
    for w in width {
        let _ = write!(out, "{}|", "-".repeat(w + 2));
    }
    out.push('\n');
    for r in &body {
        out.push_str(&line(r));
    }
    let judged = rows.iter().filter(|r| r.pass.is_some()).count();
    let met = rows.iter().filter(|r| r.pass == Some(true)).count();
    let _ = writeln!(out, "\n{met} of {judged} targets met.");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_aligned_with_verdicts() {
        let rows = [
            Row::at_most("a", "VM start", 12.0, "12 ms", 30.0, "≤ 30 ms"),
            Row::at_least("b", "prose", 5.0, "5 MB/s", 25.0, "≥ 25 MB/s"),
            Row::info("c", "compile", "2 s"),
            Row::at_most("d", "nan", f64::NAN, "?", 1.0, "≤ 1"),
        ];
        let t = render(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "| figure   | measured | target    | result |");
        assert_eq!(lines[2], "| VM start | 12 ms    | ≤ 30 ms   | pass   |");
        assert_eq!(lines[3], "| prose    | 5 MB/s   | ≥ 25 MB/s | MISS   |");
        assert_eq!(lines[4], "| compile  | 2 s      | –         | –      |");
        assert!(lines[5].contains("MISS"));
        assert!(t.ends_with("1 of 3 targets met.\n"));
    }
}
