use super::*;

fn decode_all(dec: &mut BodyDecoder, input: &[&[u8]]) -> Vec<BodyEvent> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for part in input {
        buf.extend_from_slice(part);
        while let Some(ev) = dec.decode(&mut buf).unwrap() {
            let end = ev.end;
            out.push(ev);
            if end {
                return out;
            }
        }
    }
    out
}

#[test]
fn parses_a_head_and_leaves_the_body() {
    let raw = b"POST /v1/x?a=1 HTTP/1.1\r\nHost: h:1\r\nX-A:  b \r\n\r\nbody";
    let (head, len) = parse_head(raw).unwrap().unwrap();
    assert_eq!(head.method, "POST");
    assert_eq!(head.target, "/v1/x?a=1");
    assert_eq!(head.minor, 1);
    assert_eq!(
        head.headers,
        vec![("host".into(), "h:1".into()), ("x-a".into(), "b".into())]
    );
    assert_eq!(&raw[len..], b"body");
    assert!(parse_head(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .unwrap()
        .is_none());
    assert!(matches!(
        parse_head(b"GET / HTTP/1.1\r\nbad header\r\n\r\n"),
        Err(HeadError::Malformed(_))
    ));
}

#[test]
fn content_length_bodies_end_with_the_last_byte() {
    let mut dec = BodyDecoder::Length(5);
    let evs = decode_all(&mut dec, &[b"ab", b"cdeNEXT"]);
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[0].data, b"ab");
    assert!(!evs[0].end);
    assert_eq!(evs[1].data, b"cde");
    assert!(evs[1].end);
}

#[test]
fn chunked_bodies_split_anywhere_and_carry_trailers() {
    let wire: &[u8] = b"3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\nx-t: 1\r\nx-u:2\r\n\r\nNEXT";
    for cut in 0..wire.len() {
        let mut dec = BodyDecoder::chunked();
        let evs = decode_all(&mut dec, &[&wire[..cut], &wire[cut..]]);
        let data: Vec<u8> = evs.iter().flat_map(|e| e.data.clone()).collect();
        assert_eq!(data, b"abcdefg", "cut at {cut}");
        let last = evs.last().unwrap();
        assert!(last.end);
        let t = last.trailers.as_ref().unwrap();
        assert_eq!(t.get("x-t"), Some("1"));
        assert_eq!(t.get("x-u"), Some("2"));
    }
    let mut dec = BodyDecoder::chunked();
    let mut buf = BytesMut::from(&b"2\r\nhi\r\n0\r\n\r\nGET"[..]);
    let ev = dec.decode(&mut buf).unwrap().unwrap();
    assert_eq!(
        (ev.data.as_slice(), ev.end, ev.trailers),
        (&b"hi"[..], true, None)
    );
    assert_eq!(&buf[..], b"GET", "the next request stays in the buffer");
}

#[test]
fn malformed_chunks_are_errors() {
    for wire in [&b"zz\r\n"[..], b"2\r\nabX\r\n", b"0\r\nno colon\r\n\r\n"] {
        let mut dec = BodyDecoder::chunked();
        let mut buf = BytesMut::from(wire);
        let mut r = Ok(None);
        for _ in 0..4 {
            r = dec.decode(&mut buf);
            if r.is_err() {
                break;
            }
        }
        assert!(r.is_err(), "{wire:?}");
    }
}

#[test]
fn responses_are_framed() {
    let mut h = HeaderMap::new();
    h.add(":status", "200");
    h.add("x-a", "1");
    h.add("x-bad", "a\r\nb");
    assert_eq!(
        response_head(200, &h),
        b"HTTP/1.1 200 OK\r\nx-a: 1\r\n\r\n".to_vec()
    );
    let mut out = Vec::new();
    chunk(b"hello", &mut out);
    chunk(b"", &mut out);
    let t = HeaderMap::from([("x-usage", "42")]);
    last_chunk(Some(&t), &mut out);
    assert_eq!(out, b"5\r\nhello\r\n0\r\nx-usage: 42\r\n\r\n".to_vec());
}
