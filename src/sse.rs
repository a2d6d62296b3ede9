//! Incremental server-sent events (SSE) parsing. Not wired into the filter yet.
