//! Header maps as Envoy keeps them, and the proxy-wasm pairs encoding.

/// An ordered header (or trailer) map. Keys are lower-cased as Envoy's `LowerCaseString` does;
/// a key may repeat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderMap(Vec<(String, String)>);

impl HeaderMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn get_all(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.0
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Appends a value (Envoy `addCopy`).
    pub fn add(&mut self, name: &str, value: &str) {
        self.0.push((name.to_ascii_lowercase(), value.to_owned()));
    }

    /// Replaces every value of `name` with one value (Envoy `setCopy`: remove, then add).
    pub fn set(&mut self, name: &str, value: &str) {
        self.remove(name);
        self.add(name, value);
    }

    pub fn remove(&mut self, name: &str) {
        let name = name.to_ascii_lowercase();
        self.0.retain(|(k, _)| *k != name);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keys and values in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn to_vec(&self) -> Vec<(String, String)> {
        self.0.clone()
    }

    /// Envoy `HeaderMap::byteSize`: the sum of key and value lengths.
    pub fn byte_size(&self) -> usize {
        self.0.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    /// Every value of `name` joined by "," (Envoy `getAllOfHeaderAsString`, used by the
    /// `request.headers.<name>` property).
    pub(crate) fn joined(&self, name: &str) -> Option<String> {
        let all = self.get_all(name);
        if all.is_empty() {
            None
        } else {
            Some(all.join(","))
        }
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for HeaderMap {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = HeaderMap::new();
        for (k, v) in iter {
            map.add(k.as_ref(), v.as_ref());
        }
        map
    }
}

impl<K: AsRef<str>, V: AsRef<str>> From<Vec<(K, V)>> for HeaderMap {
    fn from(v: Vec<(K, V)>) -> Self {
        v.into_iter().collect()
    }
}

impl<K: AsRef<str>, V: AsRef<str>, const N: usize> From<[(K, V); N]> for HeaderMap {
    fn from(v: [(K, V); N]) -> Self {
        v.into_iter().collect()
    }
}

/// Encodes pairs the proxy-wasm way (the SDK's `utils::serialize_map`): the count as u32 LE,
/// then (key length, value length) u32 LE pairs, then each key and value followed by a NUL.
pub(crate) fn serialize_pairs<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> Vec<u8> {
    let size = 4 + pairs
        .iter()
        .map(|(k, v)| 10 + k.as_ref().len() + v.as_ref().len())
        .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&(k.as_ref().len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.as_ref().len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_ref());
        out.push(0);
        out.extend_from_slice(v.as_ref());
        out.push(0);
    }
    out
}

/// Decodes pairs; `None` if the bytes are malformed. An empty input is an empty map.
pub(crate) fn deserialize_pairs(bytes: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let word = |at: usize| -> Option<usize> {
        let b = bytes.get(at..at + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let count = word(0)?;
    let mut data = 4usize.checked_add(count.checked_mul(8)?)?;
    if data > bytes.len() {
        return None;
    }
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let klen = word(4 + i * 8)?;
        let vlen = word(8 + i * 8)?;
        let key = bytes.get(data..data.checked_add(klen)?)?.to_vec();
        data = data.checked_add(klen + 1)?;
        let value = bytes.get(data..data.checked_add(vlen)?)?.to_vec();
        data = data.checked_add(vlen + 1)?;
        out.push((key, value));
    }
    Some(out)
}

pub(crate) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_round_trip_in_the_sdk_layout() {
        let pairs = vec![(":method", "GET"), (":path", "/bytes/1")];
        let bytes = serialize_pairs(&pairs);
        assert_eq!(&bytes[..4], &2u32.to_le_bytes());
        assert_eq!(&bytes[4..12], &[7, 0, 0, 0, 3, 0, 0, 0]);
        assert_eq!(&bytes[20..28], b":method\0");
        let back = deserialize_pairs(&bytes).unwrap();
        assert_eq!(
            back,
            vec![
                (b":method".to_vec(), b"GET".to_vec()),
                (b":path".to_vec(), b"/bytes/1".to_vec())
            ]
        );
        assert_eq!(deserialize_pairs(&[]), Some(vec![]));
        assert_eq!(deserialize_pairs(&[9, 0, 0, 0]), None);
        assert_eq!(deserialize_pairs(&bytes[..bytes.len() - 3]), None);
    }

    #[test]
    fn header_map_is_case_insensitive_and_set_replaces_all() {
        let mut h = HeaderMap::from([("X-A", "1"), ("x-a", "2"), ("b", "3")]);
        assert_eq!(h.get("x-A"), Some("1"));
        assert_eq!(h.joined("x-a").as_deref(), Some("1,2"));
        h.set("X-a", "9");
        assert_eq!(h.get_all("x-a"), vec!["9"]);
        assert_eq!(h.iter().last(), Some(("x-a", "9")));
        h.remove("B");
        assert_eq!(h.len(), 1);
    }
}
