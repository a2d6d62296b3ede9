//! OpenAI's `x-ratelimit-*` response headers, computed from a tenant's budget state.
