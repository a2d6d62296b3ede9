//! Review: the one-pass readers against the `Value` accessors they claim to equal, on generated
//! nasty documents (duplicate keys, escapes, lone surrogates, out-of-range numbers, damage).

use super::review_gen::{document, nested, Rng};
use super::*;
use serde_json::Value;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// Reads members `k` (string), `n` (count), `z` (not null), `l` (array length) and `o` (an
/// object read the same way) of an object.
#[derive(Default, Debug, PartialEq)]
struct Probe {
    k: Option<String>,
    n: Option<u64>,
    z: bool,
    l: Option<usize>,
    o: Option<Box<Probe>>,
}

impl<'de> Members<'de> for Probe {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "k" => self.k = map.next_value::<Str<'de>>()?.0.map(Cow::into_owned),
            "n" => self.n = map.next_value::<U64>()?.0,
            "z" => self.z = map.next_value::<NotNull>()?.0,
            "l" => self.l = map.next_value::<List<Skip>>()?.0.map(|v| v.len()),
            "o" => self.o = map.next_value::<Object<Probe>>()?.0.map(Box::new),
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

/// The same reading on a `Value`.
fn reference(v: &serde_json::Map<String, Value>) -> Probe {
    Probe {
        k: v.get("k").and_then(Value::as_str).map(str::to_string),
        n: v.get("n").and_then(Value::as_u64),
        z: v.get("z").is_some_and(|z| !z.is_null()),
        l: v.get("l").and_then(Value::as_array).map(Vec::len),
        o: v.get("o")
            .and_then(Value::as_object)
            .map(|o| Box::new(reference(o))),
    }
}

/// Checks one document; whether it was an object.
fn check(doc: &[u8]) -> bool {
    let fast = serde_json::from_slice::<Object<Probe>>(doc)
        .ok()
        .and_then(|o| o.0);
    let slow = match serde_json::from_slice::<Value>(doc) {
        Ok(Value::Object(m)) => Some(reference(&m)),
        _ => None,
    };
    assert_eq!(fast, slow, "{}", String::from_utf8_lossy(doc));
    fast.is_some()
}

#[test]
fn generated_documents_read_as_the_value_tree() {
    let mut rng = Rng::new(0x5eed_0001);
    let read = (0..20_000).filter(|_| check(&document(&mut rng))).count();
    // Most are valid objects, the rest damaged: both kinds are compared.
    assert!((8_000..19_000).contains(&read), "{read} objects");
}

#[test]
fn edge_documents_read_as_the_value_tree() {
    let docs: Vec<String> = vec![
        r#"{"k":"a","k":"b"}"#.into(),
        r#"{"k":"a","k":1}"#.into(),
        r#"{"k":"\ud800"}"#.into(),
        r#"{"x":"\ud800"}"#.into(),
        r#"{"\ud800":1}"#.into(),
        r#"{"k":"\udc00"}"#.into(),
        r#"{"k":"\ud83d\ude00","n":18446744073709551615}"#.into(),
        r#"{"n":18446744073709551616}"#.into(),
        r#"{"n":-0}"#.into(),
        r#"{"n":-0.0}"#.into(),
        r#"{"n":0e0}"#.into(),
        r#"{"n":1.0}"#.into(),
        r#"{"n":1e400}"#.into(),
        r#"{"x":1e400}"#.into(),
        r#"{"x":-1e400}"#.into(),
        r#"{"n":01}"#.into(),
        r#"{"z":null,"z":0}"#.into(),
        r#"{"z":0,"z":null}"#.into(),
        r#"{"l":[1,2,{"a":[]}],"l":{}}"#.into(),
        r#"{"o":{"k":"in","o":{"n":3}},"o":{"n":4}}"#.into(),
        "\u{feff}{}".into(),
        "{} ".into(),
        "{}\u{0}".into(),
        "{\"k\":\"a\u{1}\"}".into(),
        format!(r#"{{"x":{}}}"#, nested(126, "1")),
        format!(r#"{{"x":{}}}"#, nested(127, "1")),
        format!(r#"{{"x":{}}}"#, nested(128, "1")),
        format!(r#"{{"l":{}}}"#, nested(127, "")),
        format!(r#"{{"k":"{}"}}"#, "\\u00e9".repeat(50_000)),
    ];
    for d in &docs {
        let _ = check(d.as_bytes());
    }
}
