//! Prompt fingerprints for loop detection: a stable hash of a request's conversation tail.
