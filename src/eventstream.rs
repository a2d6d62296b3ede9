//! AWS event stream (`application/vnd.amazon.eventstream`) frame decoding. Not wired into the filter yet.
