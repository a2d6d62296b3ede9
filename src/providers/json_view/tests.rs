use super::*;
use serde_json::Value;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// A reader of `{"name": string, "n": integer, "list": [objects with "name"], "inner": object}`.
#[derive(Default, Debug)]
struct Probe<'a> {
    name: Str<'a>,
    n: U64,
    list: List<Object<Probe<'a>>>,
    inner: Object<Box<Probe<'a>>>,
    set: NotNull,
}

impl<'de> Members<'de> for Probe<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "name" => self.name = map.next_value()?,
            "n" => self.n = map.next_value()?,
            "list" => self.list = map.next_value()?,
            "inner" => self.inner = map.next_value()?,
            "set" => self.set = map.next_value()?,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

impl<'de> Members<'de> for Box<Probe<'de>> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        self.as_mut().member(key, map)
    }
}

fn probe(doc: &str) -> Option<Probe<'_>> {
    serde_json::from_str::<Object<Probe<'_>>>(doc).ok()?.0
}

/// name, n, the list's length, whether inner is an object, whether set is not null.
type Reading = (Option<String>, Option<u64>, Option<usize>, bool, bool);

/// The same reading made on a `Value`.
fn by_value(doc: &str) -> Option<Reading> {
    let Ok(Value::Object(o)) = serde_json::from_str::<Value>(doc) else {
        return None;
    };
    Some((
        o.get("name").and_then(Value::as_str).map(str::to_string),
        o.get("n").and_then(Value::as_u64),
        o.get("list").and_then(Value::as_array).map(Vec::len),
        o.get("inner").and_then(Value::as_object).is_some(),
        o.get("set").is_some_and(|v| !v.is_null()),
    ))
}

fn by_view(doc: &str) -> Option<Reading> {
    let p = probe(doc)?;
    Some((
        p.name.as_deref().map(str::to_string),
        p.n.0,
        p.list.0.as_ref().map(Vec::len),
        p.inner.0.is_some(),
        p.set.0,
    ))
}

#[test]
fn reads_what_value_reads() {
    let docs = [
        r#"{"name":"a","n":3,"list":[{"name":"x"},1,null],"inner":{"name":"y"},"set":0}"#,
        r#"{"name":"a\"b\u00e9","n":-1}"#,
        r#"{"name":5,"n":1.5,"list":{},"inner":[],"set":null}"#,
        r#"{"name":null,"n":"3","list":"x","inner":"y"}"#,
        r#"{"name":["a"],"n":{"x":1},"list":null,"inner":null,"set":[]}"#,
        r#"{"name":"first","name":"second","n":1,"n":null}"#,
        r#"{"name":"first","name":7}"#,
        r#"{"n":18446744073709551615,"other":[1,{"a":[true,false]}]}"#,
        r#"{"n":18446744073709551616}"#,
        r#"{}"#,
        r#"[]"#,
        r#""text""#,
        r#"null"#,
        r#"{"na\u006de":"escaped key"}"#,
        r#"{"x":1e400}"#,
        r#"{"x":1} trailing"#,
        r#"{"x":1,}"#,
        r#"{"x":[1,]}"#,
        r#"{"x":"\ud800"}"#,
        "{\"x\":\"a\tb\"}",
        r#" {"name" : "spaced" } "#,
    ];
    for doc in docs {
        assert_eq!(by_view(doc), by_value(doc), "{doc}");
    }
}

#[test]
fn rejects_what_value_rejects() {
    let deep = format!("{{\"x\":{}1{}}}", "[".repeat(200), "]".repeat(200));
    let bad_utf8_value: &[u8] = b"{\"x\":\"\xff\"}";
    let bad_utf8_key: &[u8] = b"{\"\xff\":1}";
    for doc in [
        deep.as_bytes(),
        bad_utf8_value,
        bad_utf8_key,
        b"{\"x\":-1e999}",
    ] {
        let value = serde_json::from_slice::<Value>(doc).is_ok();
        let view = serde_json::from_slice::<Object<Probe<'_>>>(doc).is_ok();
        assert!(!value, "{}", String::from_utf8_lossy(doc));
        assert_eq!(view, value, "{}", String::from_utf8_lossy(doc));
    }
}

#[test]
fn strings_without_escapes_are_borrowed() {
    let p = probe(r#"{"name":"plain","list":[{"name":"esc\naped"}]}"#).unwrap();
    assert!(matches!(p.name.0, Some(Cow::Borrowed("plain"))));
    let inner = p.list.0.unwrap().into_iter().next().unwrap().0.unwrap();
    assert!(matches!(inner.name.0, Some(Cow::Owned(ref s)) if s == "esc\naped"));
}
