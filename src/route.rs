//! Which requests are LLM traffic: path globs, optionally bound to a host.
//!
//! A glob is matched against the path without its query string, segment by segment: `*` matches
//! within one segment (`/openai/deployments/*/chat/completions`), `**` matches zero or more whole
//! segments (`/**/v1/chat/completions` matches `/v1/chat/completions` and
//! `/proxy/openai/v1/chat/completions`).

/// A compiled path glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathGlob {
    segments: Vec<String>,
}

impl PathGlob {
    pub fn parse(pattern: &str) -> Result<Self, String> {
        if !pattern.starts_with('/') {
            return Err(format!("path `{pattern}` must start with '/'"));
        }
        let segments: Vec<String> = pattern[1..].split('/').map(str::to_string).collect();
        if segments.iter().any(|s| s.contains("**") && s != "**") {
            return Err(format!("path `{pattern}`: `**` must be a whole segment"));
        }
        // One `**` keeps matching linear in the path's segments; more would be O(n^k).
        if segments.iter().filter(|s| *s == "**").count() > 1 {
            return Err(format!("path `{pattern}`: at most one `**`"));
        }
        Ok(Self { segments })
    }

    /// Whether the glob matches every path (`/**`).
    pub fn is_catch_all(&self) -> bool {
        self.segments.len() == 1 && self.segments.first().is_some_and(|s| s == "**")
    }

    pub fn matches(&self, path: &str) -> bool {
        let path = path.split(['?', '#']).next().unwrap_or("");
        let Some(rest) = path.strip_prefix('/') else {
            return false;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        match_segments(&self.segments, &parts)
    }
}

fn match_segments(pattern: &[String], parts: &[&str]) -> bool {
    match pattern.split_first() {
        None => parts.is_empty(),
        Some((seg, rest)) if seg == "**" => (0..=parts.len()).any(|skip| {
            parts
                .get(skip..)
                .is_some_and(|tail| match_segments(rest, tail))
        }),
        Some((seg, rest)) => match parts.split_first() {
            Some((part, tail)) => match_segment(seg, part) && match_segments(rest, tail),
            None => false,
        },
    }
}

/// `*` wildcards inside one segment.
fn match_segment(pattern: &str, text: &str) -> bool {
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else {
        return rest.is_empty();
    };
    for piece in middle {
        match rest.find(piece) {
            Some(i) => rest = &rest[i + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn m(p: &str, path: &str) -> bool {
        PathGlob::parse(p).unwrap().matches(path)
    }

    #[test]
    fn globs() {
        assert!(m("/v1/chat/completions", "/v1/chat/completions"));
        assert!(m("/v1/chat/completions", "/v1/chat/completions?x=1"));
        assert!(!m("/v1/chat/completions", "/v1/chat/completions/x"));
        assert!(m("/**/v1/chat/completions", "/v1/chat/completions"));
        assert!(m("/**/v1/chat/completions", "/a/b/v1/chat/completions"));
        assert!(!m("/**/v1/chat/completions", "/v1/completions"));
        assert!(m(
            "/openai/deployments/*/chat/completions",
            "/openai/deployments/gpt4o/chat/completions"
        ));
        assert!(!m(
            "/openai/deployments/*/chat/completions",
            "/openai/deployments/a/b/chat/completions"
        ));
        assert!(m(
            "/v1/models/*:generateContent",
            "/v1/models/gemini-pro:generateContent"
        ));
        assert!(!m(
            "/v1/models/*:generateContent",
            "/v1/models/gemini-pro:streamGenerateContent"
        ));
        assert!(m("/**", "/anything/at/all"));
        assert!(!m("/v1/*", "v1/x"));
    }

    #[test]
    fn bad_globs() {
        assert!(PathGlob::parse("v1").is_err());
        assert!(PathGlob::parse("/a**/b").is_err());
        assert!(PathGlob::parse("/**/a/**/b").is_err());
    }
}
