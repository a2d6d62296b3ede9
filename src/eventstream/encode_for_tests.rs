//! A test-only AWS event stream encoder for string headers, written from the message layout in
//! the Smithy "Amazon Event Stream Specification"
//! (<https://smithy.io/2.0/aws/amazon-eventstream.html>), for tests that build Bedrock streams.
//! Header type 7 (string) only: that is all Bedrock's `:event-type`, `:exception-type`,
//! `:message-type` and `:content-type` headers use.

/// One message: prelude (total length, headers length, prelude CRC), string headers, payload,
/// message CRC. Integers are big-endian; the CRC is CRC-32 (IEEE).
pub(crate) fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut encoded = Vec::new();
    for (name, value) in headers {
        encoded.push(u8::try_from(name.len()).unwrap());
        encoded.extend_from_slice(name.as_bytes());
        encoded.push(7);
        encoded.extend_from_slice(&u16::try_from(value.len()).unwrap().to_be_bytes());
        encoded.extend_from_slice(value.as_bytes());
    }
    let total = u32::try_from(16 + encoded.len() + payload.len()).unwrap();
    let mut out = Vec::new();
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&u32::try_from(encoded.len()).unwrap().to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&encoded);
    out.extend_from_slice(payload);
    let message_crc = crc32fast::hash(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    out
}

/// An `event` message with a JSON payload, headers in the order Bedrock sends them.
pub(crate) fn event(event_type: &str, payload: &[u8]) -> Vec<u8> {
    frame(
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload,
    )
}

/// A modeled `exception` message with a JSON payload.
pub(crate) fn exception(exception_type: &str, payload: &[u8]) -> Vec<u8> {
    frame(
        &[
            (":exception-type", exception_type),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        payload,
    )
}
