//! An in-memory [`Host`] for native unit tests: it holds the stream's state (headers, body
//! buffer, trailers, filter state, metrics, logs) and tests assert on that final state.

use crate::host::{Body, Host, HostError, LogLevel, Map};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Shared-data entries: key → (value, cas).
pub type SharedMap = BTreeMap<String, (Vec<u8>, u32)>;

/// One shared-data store, shared by the fake hosts of several "VMs": key → (value, cas).
#[derive(Debug, Default, Clone)]
pub struct FakeShared {
    pub data: Rc<RefCell<SharedMap>>,
    next_cas: Rc<RefCell<u32>>,
    /// The next this-many sets fail with a cas mismatch, as if another worker wrote first.
    pub conflicts: Rc<RefCell<u32>>,
}

#[derive(Debug, Default)]
pub struct FakeHost {
    pub request_headers: Vec<(String, String)>,
    pub response_headers: Vec<(String, String)>,
    pub response_trailers: Vec<(String, String)>,
    /// The body buffered for the current callback.
    pub request_body: Vec<u8>,
    pub response_body: Vec<u8>,
    pub properties: BTreeMap<String, Vec<u8>>,
    pub local_response: Option<(u32, Vec<u8>)>,
    pub local_response_headers: Vec<(String, String)>,
    pub shared: FakeShared,
    pub now_ns: u64,
    pub gauges: BTreeMap<String, u64>,
    pub logs: Vec<(LogLevel, String)>,
    pub metric_names: Vec<String>,
    pub metric_values: Vec<u64>,
    /// Maps the filter must not touch any more (released to the peer).
    pub released: Vec<Map>,
}

impl FakeHost {
    pub fn counter(&self, name: &str) -> u64 {
        self.metric_names
            .iter()
            .position(|n| n == name)
            .map_or(0, |i| self.metric_values[i])
    }

    pub fn defined(&self, name: &str) -> bool {
        self.metric_names.iter().any(|n| n == name)
    }

    fn map(&mut self, map: Map) -> Result<&mut Vec<(String, String)>, HostError> {
        if self.released.contains(&map) {
            return Err(HostError(2)); // BadArgument, as Envoy answers for a released map.
        }
        Ok(match map {
            Map::RequestHeaders => &mut self.request_headers,
            Map::ResponseHeaders => &mut self.response_headers,
            Map::ResponseTrailers => &mut self.response_trailers,
        })
    }
}

impl Host for FakeHost {
    fn log(&mut self, level: LogLevel, message: &str) {
        self.logs.push((level, message.to_string()));
    }

    fn header(&mut self, map: Map, name: &str) -> Result<Option<Vec<u8>>, HostError> {
        Ok(self
            .map(map)?
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_bytes().to_vec()))
    }

    fn set_header(&mut self, map: Map, name: &str, value: &str) -> Result<(), HostError> {
        let m = self.map(map)?;
        m.retain(|(k, _)| k != name);
        m.push((name.to_string(), value.to_string()));
        Ok(())
    }

    fn add_header(&mut self, map: Map, name: &str, value: &str) -> Result<(), HostError> {
        self.map(map)?.push((name.to_string(), value.to_string()));
        Ok(())
    }

    fn remove_header(&mut self, map: Map, name: &str) -> Result<(), HostError> {
        self.map(map)?.retain(|(k, _)| k != name);
        Ok(())
    }

    fn body(&mut self, body: Body, start: usize, len: usize) -> Result<Vec<u8>, HostError> {
        let buf = match body {
            Body::Request => &self.request_body,
            Body::Response => &self.response_body,
        };
        Ok(buf
            .get(start..start.saturating_add(len).min(buf.len()))
            .unwrap_or(&[])
            .to_vec())
    }

    fn set_body(
        &mut self,
        body: Body,
        start: usize,
        len: usize,
        data: &[u8],
    ) -> Result<(), HostError> {
        let buf = match body {
            Body::Request => &mut self.request_body,
            Body::Response => &mut self.response_body,
        };
        if start == 0 {
            buf.splice(..len.min(buf.len()), data.iter().copied());
        } else if start >= buf.len() {
            buf.extend_from_slice(data);
        } else {
            return Err(HostError(2));
        }
        Ok(())
    }

    fn set_property(&mut self, path: &str, value: &[u8]) -> Result<(), HostError> {
        self.properties.insert(path.to_string(), value.to_vec());
        Ok(())
    }

    fn send_local_response(
        &mut self,
        status: u32,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(), HostError> {
        self.local_response = Some((status, body.to_vec()));
        self.local_response_headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Ok(())
    }

    fn define_counter(&mut self, name: &str) -> Result<u32, HostError> {
        if let Some(i) = self.metric_names.iter().position(|n| n == name) {
            return Ok(i as u32);
        }
        self.metric_names.push(name.to_string());
        self.metric_values.push(0);
        Ok(self.metric_names.len() as u32 - 1)
    }

    fn increment_counter(&mut self, id: u32, delta: u64) -> Result<(), HostError> {
        if delta == 0 {
            return Err(HostError(2));
        }
        let v = self
            .metric_values
            .get_mut(id as usize)
            .ok_or(HostError(2))?;
        *v += delta;
        Ok(())
    }

    fn define_gauge(&mut self, name: &str) -> Result<u32, HostError> {
        self.gauges.entry(name.to_string()).or_insert(0);
        let i = self.gauges.keys().position(|k| k == name).unwrap_or(0);
        Ok(1_000_000 + i as u32)
    }

    fn set_gauge(&mut self, id: u32, value: u64) -> Result<(), HostError> {
        let i = id.checked_sub(1_000_000).ok_or(HostError(2))? as usize;
        let v = self.gauges.values_mut().nth(i).ok_or(HostError(2))?;
        *v = value;
        Ok(())
    }

    fn now_ns(&mut self) -> u64 {
        self.now_ns
    }

    fn shared_get(&mut self, key: &str) -> Result<Option<(Vec<u8>, u32)>, HostError> {
        Ok(self.shared.data.borrow().get(key).cloned())
    }

    fn shared_set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), HostError> {
        {
            let mut conflicts = self.shared.conflicts.borrow_mut();
            if *conflicts > 0 && cas != 0 {
                *conflicts -= 1;
                return Err(HostError::CAS_MISMATCH);
            }
        }
        let mut data = self.shared.data.borrow_mut();
        if let Some((_, current)) = data.get(key) {
            if cas != 0 && cas != *current {
                return Err(HostError::CAS_MISMATCH);
            }
        }
        let mut next = self.shared.next_cas.borrow_mut();
        *next += 1;
        data.insert(key.to_string(), (value.to_vec(), *next));
        Ok(())
    }
}
