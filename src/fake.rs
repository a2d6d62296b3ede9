//! An in-memory [`Host`] for native unit tests: it holds the stream's state (headers, body
//! buffer, trailers, filter state, metrics, logs) and tests assert on that final state.

use crate::host::{Body, Host, HostError, LogLevel, Map};
use std::collections::BTreeMap;

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
        _headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(), HostError> {
        self.local_response = Some((status, body.to_vec()));
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
}
