//! Shared data: one key/value store per `vm_id`, shared by every worker VM and kept across
//! plugin reloads (proxy-wasm-cpp-host `src/shared_data.cc`).

use std::collections::HashMap;
use std::sync::Mutex;

type GetHook = Box<dyn FnMut(&str) -> Option<Vec<u8>> + Send>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedDataError {
    /// The key is missing.
    NotFound,
    /// The value changed since the caller read it (stale cas).
    CasMismatch,
}

/// The store. Thread-safe; cheap to share behind an `Arc`.
pub struct SharedData {
    inner: Mutex<Inner>,
    hook: Mutex<Option<GetHook>>,
}

struct Inner {
    map: HashMap<String, (Vec<u8>, u32)>,
    last_cas: u32,
}

impl Default for SharedData {
    fn default() -> Self {
        SharedData {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                last_cas: 0,
            }),
            hook: Mutex::new(None),
        }
    }
}

impl std::fmt::Debug for SharedData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedData")
            .field("keys", &self.keys())
            .finish()
    }
}

impl SharedData {
    pub fn new() -> Self {
        Self::default()
    }

    /// The value and its cas, or `None` if the key is missing.
    pub fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.lock().map.get(key).cloned()
    }

    /// Sets `key`. `cas == 0` sets unconditionally; otherwise it must equal the current cas (a
    /// missing key accepts any cas, as cpp-host's `SharedData::set` does). Returns the new cas,
    /// which is never 0.
    pub fn set(&self, key: &str, value: &[u8], cas: u32) -> Result<u32, SharedDataError> {
        let mut inner = self.lock();
        if let Some((_, current)) = inner.map.get(key) {
            if cas != 0 && cas != *current {
                return Err(SharedDataError::CasMismatch);
            }
        }
        inner.last_cas = inner.last_cas.wrapping_add(1);
        if inner.last_cas == 0 {
            inner.last_cas = 1;
        }
        let new_cas = inner.last_cas;
        inner.map.insert(key.to_owned(), (value.to_vec(), new_cas));
        Ok(new_cas)
    }

    /// Every key, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.lock().map.keys().cloned().collect();
        keys.sort();
        keys
    }

    /// Installs a hook that runs after every get made by a guest (not by [`SharedData::get`]),
    /// once the guest's value and cas are fixed. If it returns `Some(v)`, `v` is written
    /// unconditionally, so the guest's cas is stale: this injects a competing write between a
    /// filter's get and its set. The hook must not call [`SharedData::on_get`].
    pub fn on_get(&self, hook: impl FnMut(&str) -> Option<Vec<u8>> + Send + 'static) {
        *self.hook.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(hook));
    }

    pub fn clear_hook(&self) {
        *self.hook.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The guest's `proxy_get_shared_data`.
    pub(crate) fn guest_get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        let found = self.get(key);
        let mut hook = self.hook.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = hook.as_mut() {
            if let Some(v) = h(key) {
                let _ = self.set(key, &v, 0);
            }
        }
        found
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Shared queues, also scoped by vm_id (cpp-host `src/shared_queue.cc`). Tokens are never 0.
#[derive(Debug, Default)]
pub(crate) struct SharedQueues {
    inner: Mutex<QueuesInner>,
}

#[derive(Debug, Default)]
struct QueuesInner {
    by_name: HashMap<String, u32>,
    queues: HashMap<u32, Queue>,
    next: u32,
    ready: Vec<(usize, u32, u32)>,
}

#[derive(Debug)]
struct Queue {
    /// (worker, root context id) that registered it and gets `proxy_on_queue_ready`.
    owner: (usize, u32),
    items: std::collections::VecDeque<Vec<u8>>,
}

impl SharedQueues {
    pub(crate) fn register(&self, name: &str, worker: usize, root_context: u32) -> u32 {
        let mut q = self.lock();
        if let Some(&token) = q.by_name.get(name) {
            if let Some(queue) = q.queues.get_mut(&token) {
                queue.owner = (worker, root_context);
            }
            return token;
        }
        q.next += 1;
        let token = q.next;
        q.by_name.insert(name.to_owned(), token);
        q.queues.insert(
            token,
            Queue {
                owner: (worker, root_context),
                items: Default::default(),
            },
        );
        token
    }

    pub(crate) fn resolve(&self, name: &str) -> Option<u32> {
        self.lock().by_name.get(name).copied()
    }

    pub(crate) fn enqueue(&self, token: u32, value: &[u8]) -> bool {
        let mut q = self.lock();
        let Some(queue) = q.queues.get_mut(&token) else {
            return false;
        };
        queue.items.push_back(value.to_vec());
        let (worker, root) = queue.owner;
        q.ready.push((worker, root, token));
        true
    }

    /// `Err(())` if the queue does not exist, `Ok(None)` if it is empty.
    pub(crate) fn dequeue(&self, token: u32) -> Result<Option<Vec<u8>>, ()> {
        let mut q = self.lock();
        let queue = q.queues.get_mut(&token).ok_or(())?;
        Ok(queue.items.pop_front())
    }

    /// Notifications to deliver: (worker, root context id, token).
    pub(crate) fn take_ready(&self) -> Vec<(usize, u32, u32)> {
        std::mem::take(&mut self.lock().ready)
    }

    /// The notifications for one worker's VM, leaving the others'.
    pub(crate) fn take_ready_for(&self, worker: usize) -> Vec<(usize, u32, u32)> {
        let mut q = self.lock();
        let (mine, others) = std::mem::take(&mut q.ready)
            .into_iter()
            .partition(|(w, _, _)| *w == worker);
        q.ready = others;
        mine
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueuesInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}
