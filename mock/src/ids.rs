//! Deterministic identifiers: the same request body always gets the same id, so
//! responses are byte-for-byte reproducible.

/// 64-bit FNV-1a hash (stable across Rust versions, unlike `DefaultHasher`).
pub fn body_hash(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

/// `prefix` followed by the 16 hex digits of [`body_hash`].
pub fn id_for(prefix: &str, body: &[u8]) -> String {
    format!("{prefix}{:016x}", body_hash(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_reference_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(body_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(body_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(id_for("x-", b"a"), "x-af63dc4c8601ec8c");
    }
}
