//! Content-coding decoders for metering a compressed response (RFC 9110 §8.4.1): `gzip`
//! (`x-gzip`) and `deflate`. The filter asks upstreams for identity encoding, but a server may
//! compress anyway; the client still receives the original bytes, and the filter meters the
//! decoded copy. Pure Rust (flate2 over miniz_oxide), incremental, and bounded: decoded output
//! past a cap is an error, so a small compressed body cannot make the filter hold gigabytes.

use flate2::write::{DeflateDecoder, GzDecoder, ZlibDecoder};
use std::io::{self, Write};

/// Most bytes one push may decode to: a compressed chunk never turns into more than this at
/// once, whatever the total cap.
pub const MAX_DECODED_PER_PUSH: usize = 1 << 20;

/// Decoded bytes, handed back after each push; fails once more than `max` bytes in total, or
/// [`MAX_DECODED_PER_PUSH`] at once, were produced.
#[derive(Debug)]
struct Capped {
    out: Vec<u8>,
    total: usize,
    max: usize,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.total = self.total.saturating_add(buf.len());
        if self.total > self.max || self.out.len() + buf.len() > MAX_DECODED_PER_PUSH {
            return Err(io::Error::other("decoded body larger than the cap"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Inner {
    Gzip(GzDecoder<Capped>),
    Zlib(ZlibDecoder<Capped>),
    Raw(DeflateDecoder<Capped>),
    /// `deflate` before its first two bytes told zlib from raw deflate.
    Sniffing(Vec<u8>),
}

/// An incremental decoder for one response body.
pub struct ContentDecoder {
    inner: Inner,
    max: usize,
    failed: Option<String>,
}

impl ContentDecoder {
    /// A decoder for the `content-encoding` value, or `None` for an encoding it does not know
    /// (several codings, `br`, `zstd`…). `max` caps the decoded size.
    pub fn for_encoding(encoding: &[u8], max: usize) -> Option<Self> {
        let e = encoding.trim_ascii();
        let sink = || Capped {
            out: Vec::new(),
            total: 0,
            max,
        };
        let inner = if e.eq_ignore_ascii_case(b"gzip") || e.eq_ignore_ascii_case(b"x-gzip") {
            Inner::Gzip(GzDecoder::new(sink()))
        } else if e.eq_ignore_ascii_case(b"deflate") {
            Inner::Sniffing(Vec::new())
        } else {
            return None;
        };
        Some(Self {
            inner,
            max,
            failed: None,
        })
    }

    /// Decodes the next chunk; returns the bytes it completes. After an error (corrupt data,
    /// output past the cap) every call returns the error.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<u8>, String> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.push_inner(chunk);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    /// The end of the body: the remaining output, or an error if the data was cut short.
    pub fn finish(&mut self) -> Result<Vec<u8>, String> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = match &mut self.inner {
            Inner::Gzip(d) => d.try_finish().map(|()| take(d.get_mut())),
            Inner::Zlib(d) => d.try_finish().map(|()| take(d.get_mut())),
            Inner::Raw(d) => d.try_finish().map(|()| take(d.get_mut())),
            Inner::Sniffing(held) if held.is_empty() => Ok(Vec::new()),
            Inner::Sniffing(_) => Err(io::Error::other("deflate body cut short")),
        }
        .map_err(|e| e.to_string());
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    fn push_inner(&mut self, chunk: &[u8]) -> Result<Vec<u8>, String> {
        if let Inner::Sniffing(held) = &mut self.inner {
            held.extend_from_slice(chunk);
            let [cmf, flg, ..] = held[..] else {
                return Ok(Vec::new());
            };
            let held = std::mem::take(held);
            let sink = Capped {
                out: Vec::new(),
                total: 0,
                max: self.max,
            };
            // RFC 9110 says `deflate` is the zlib format (RFC 1950); some servers send raw
            // deflate (RFC 1951). A zlib header has method 8 and a header checksum.
            self.inner = if cmf & 0x0f == 8 && (u16::from(cmf) * 256 + u16::from(flg)) % 31 == 0 {
                Inner::Zlib(ZlibDecoder::new(sink))
            } else {
                Inner::Raw(DeflateDecoder::new(sink))
            };
            return self.write(&held);
        }
        self.write(chunk)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let result = match &mut self.inner {
            Inner::Gzip(d) => d.write_all(bytes).map(|()| take(d.get_mut())),
            Inner::Zlib(d) => d.write_all(bytes).map(|()| take(d.get_mut())),
            Inner::Raw(d) => d.write_all(bytes).map(|()| take(d.get_mut())),
            Inner::Sniffing(_) => Ok(Vec::new()),
        };
        result.map_err(|e| e.to_string())
    }
}

fn take(sink: &mut Capped) -> Vec<u8> {
    std::mem::take(&mut sink.out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const TEXT: &[u8] =
        b"data: {\"choices\":[{\"delta\":{\"content\":\"Hello\"}}]}\n\ndata: [DONE]\n\n";

    fn encoded(kind: &str, data: &[u8]) -> Vec<u8> {
        match kind {
            "gzip" => {
                let mut e = GzEncoder::new(Vec::new(), Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            "zlib" => {
                let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            _ => {
                let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        }
    }

    fn decode(encoding: &[u8], pieces: &[&[u8]], max: usize) -> Result<Vec<u8>, String> {
        let mut d = ContentDecoder::for_encoding(encoding, max).unwrap();
        let mut out = Vec::new();
        for p in pieces {
            out.extend(d.push(p)?);
        }
        out.extend(d.finish()?);
        Ok(out)
    }

    #[test]
    fn every_coding_decodes_at_every_split() {
        for (kind, encoding) in [
            ("gzip", &b"gzip"[..]),
            ("zlib", b"deflate"),
            ("raw", b"Deflate"),
        ] {
            let body = encoded(kind, TEXT);
            for cut in 0..=body.len() {
                let (a, b) = body.split_at(cut);
                assert_eq!(
                    decode(encoding, &[a, b], 1 << 20).unwrap(),
                    TEXT,
                    "{kind} {cut}"
                );
            }
        }
        assert_eq!(
            decode(b" x-gzip ", &[&encoded("gzip", TEXT)], 1 << 20).unwrap(),
            TEXT
        );
    }

    #[test]
    fn unknown_codings_are_refused() {
        for e in [&b"br"[..], b"zstd", b"gzip, br", b"identity"] {
            assert!(ContentDecoder::for_encoding(e, 10).is_none());
        }
    }

    #[test]
    fn a_bomb_stops_at_the_cap_and_corruption_is_an_error() {
        let zeros = vec![0u8; 10 << 20];
        let bomb = encoded("gzip", &zeros);
        assert!(bomb.len() < 20_000);
        let err = decode(b"gzip", &[&bomb], 1 << 20).unwrap_err();
        assert!(err.contains("cap"), "{err}");
        // A large total cap still bounds what one chunk may decode to.
        let err = decode(b"gzip", &[&bomb], 1 << 30).unwrap_err();
        assert!(err.contains("cap"), "{err}");
        let mut bad = encoded("gzip", TEXT);
        bad[12] ^= 0xff;
        assert!(decode(b"gzip", &[&bad], 1 << 20).is_err());
        let cut = encoded("gzip", TEXT);
        assert!(decode(b"gzip", &[&cut[..cut.len() / 2]], 1 << 20).is_err());
    }
}
