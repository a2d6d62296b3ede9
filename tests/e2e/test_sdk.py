"""Real SDK clients through the host running the real tollbooth.wasm in front of the mock
upstream. Expected costs are computed here, independently, from examples/prices.json and examples/tollbooth.json."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import openai
import pytest

import harness

# The built-in table, then the example configuration's own entries over it.
PRICES = {**json.loads((harness.ROOT / "examples" / "prices.json").read_text())["prices"],
          **json.loads(harness.EXAMPLE_CONFIG.read_text())["prices"]}


def price_entry(model: str) -> dict:
    """The exact entry, else the longest prefix (how the filter looks models up)."""
    if model in PRICES:
        return PRICES[model]
    return PRICES[max((k for k in PRICES if model.startswith(k)), key=len)]
SALT = json.loads(harness.EXAMPLE_CONFIG.read_text())["tenant"]["api_key_salt"]
MESSAGES = [
    {"role": "system", "content": "You are a terse assistant."},
    {"role": "user", "content": "Summarise the quarterly cloud bill in one line."},
]


def expected_cost(model: str, prompt: int, completion: int, cached: int = 0) -> str:
    p = price_entry(model)
    per_m = Decimal(1_000_000)
    cost = (Decimal(prompt - cached) * Decimal(str(p["input"])) + Decimal(cached) * Decimal(str(p.get("cached_input", p["input"])))
            + Decimal(completion) * Decimal(str(p["output"]))) / per_m
    text = format(cost.normalize(), "f")
    return text


@pytest.fixture(scope="module")
def headers_stack():
    with harness.start(headers_mode=True) as s:
        yield s


@pytest.fixture(scope="module")
def trailers_stack():
    with harness.start(headers_mode=False) as s:
        yield s


def client(url: str, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="sk-test-not-a-real-key", default_headers=headers, max_retries=0)


def test_openai_sdk_sees_cost_headers(headers_stack):
    raw = client(headers_stack.url, **{"x-tenant-id": "acme", "x-team": "search"}).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=MESSAGES)
    completion = raw.parse()
    direct = client(headers_stack.mock_url).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert completion.choices[0].message.content == direct.choices[0].message.content
    u = completion.usage
    h = raw.headers
    assert h["x-llm-tenant"] == "acme"
    assert h["x-llm-model"] == "gpt-4o"
    assert int(h["x-llm-input-tokens"]) == u.prompt_tokens
    assert int(h["x-llm-output-tokens"]) == u.completion_tokens
    assert h["x-llm-usage-source"] == "provider"
    assert h["x-llm-cost-usd"] == expected_cost("gpt-4o", u.prompt_tokens, u.completion_tokens)


def test_cached_and_reasoning_tokens_are_priced(headers_stack):
    c = client(headers_stack.url, **{"x-tenant-id": "acme", "x-mock-usage": "2000,300,1536,256"})
    raw = c.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    assert raw.headers["x-llm-cached-tokens"] == "1536"
    assert raw.headers["x-llm-reasoning-tokens"] == "256"
    assert raw.headers["x-llm-cost-usd"] == expected_cost("gpt-4o-mini", 2000, 300, cached=1536)


def test_default_mode_sends_the_cost_as_trailers(trailers_stack):
    completion = client(trailers_stack.url, **{"x-tenant-id": "acme"}).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert completion.choices[0].message.content.startswith("Mock reply to:")
    body = json.dumps({"model": "gpt-4o", "messages": MESSAGES}).encode()
    status, headers, resp, trailers = harness.raw_request(trailers_stack.url, "/v1/chat/completions", body,
                                                          {"content-type": "application/json", "x-tenant-id": "acme"})
    assert status == 200
    assert "x-llm-cost-usd" not in headers, "default Envoy mode cannot hold headers back"
    usage = json.loads(resp)["usage"]
    assert trailers["x-llm-input-tokens"] == str(usage["prompt_tokens"])
    assert trailers["x-llm-cost-usd"] == expected_cost("gpt-4o", usage["prompt_tokens"], usage["completion_tokens"])


def test_api_key_tenant_is_the_salted_hash(headers_stack):
    key = "sk-proj-e2e-secret-1"
    raw = openai.OpenAI(base_url=headers_stack.url + "/v1", api_key=key, max_retries=0).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=MESSAGES)
    expected = "key-" + hashlib.sha256(SALT.encode() + b"\0" + key.encode()).hexdigest()[:12]
    assert raw.headers["x-llm-tenant"] == expected
    assert all(key not in json.dumps(e) for e in headers_stack.access_log_entries())


def test_provider_errors_reach_the_sdk_and_cost_nothing(headers_stack):
    c = client(headers_stack.url, **{"x-tenant-id": "acme", "x-mock-status": "429"})
    with pytest.raises(openai.RateLimitError) as err:
        c.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert err.value.response.headers["x-llm-usage-source"] == "none"
    assert err.value.response.headers["x-llm-cost-usd"] == "0"


def test_per_tenant_metrics_and_access_log():
    with harness.start(headers_mode=True) as s:
        for tenant, n in (("alpha", 3), ("beta", 2)):
            c = client(s.url, **{"x-tenant-id": tenant})
            for _ in range(n):
                c.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        stats = s.stats()
        assert stats["wasmcustom.tollbooth.tenant.alpha.model.gpt-4o.requests"] == 3
        assert stats["wasmcustom.tollbooth.tenant.beta.model.gpt-4o.requests"] == 2
        entries = [e for e in s.access_log_entries() if e.get("filter_state")]
        assert len(entries) == 5
        tenants = sorted(e["filter_state"]["wasm.tollbooth"]["tenant"] for e in entries)
        assert tenants == ["alpha"] * 3 + ["beta"] * 2
        assert {e["worker"] for e in s.access_log_entries()} <= {0, 1}


def streamed(c: openai.OpenAI, **kw) -> tuple[str, list]:
    chunks = list(c.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True, **kw))
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    return text, chunks


@pytest.mark.parametrize("stack_name", ["headers_stack", "trailers_stack"])
def test_openai_sdk_streams_with_the_same_text_and_no_injected_usage(stack_name, request):
    stack = request.getfixturevalue(stack_name)
    direct_text, _ = streamed(client(stack.mock_url))
    text, chunks = streamed(client(stack.url, **{"x-tenant-id": "acme"}))
    assert text == direct_text and text
    # The filter asked the upstream for usage; a client that did not ask never sees it.
    assert all(ch.usage is None for ch in chunks)
    assert all(ch.choices for ch in chunks)
    # A client that asks gets its usage chunk, as from the provider directly.
    text, chunks = streamed(client(stack.url), stream_options={"include_usage": True})
    assert text == direct_text
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_stream_cost_arrives_as_trailers_and_a_final_comment(trailers_stack):
    body = json.dumps({"model": "gpt-4o", "messages": MESSAGES, "stream": True}).encode()
    status, headers, resp, trailers = harness.raw_request(trailers_stack.url, "/v1/chat/completions", body,
                                                          {"content-type": "application/json", "x-tenant-id": "acme"})
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    text = resp.decode()
    events, _, comment = text.rpartition("data: [DONE]\n\n")
    assert '"choices":[]' not in events
    assert comment.startswith(": tollbooth {") and comment.endswith("}\n\n")
    meta = json.loads(comment.removeprefix(": tollbooth ").strip())
    assert meta["usage_source"] == "provider" and meta["tenant"] == "acme"
    assert trailers["x-llm-output-tokens"] == str(meta["output_tokens"])
    assert trailers["x-llm-cost-usd"] == meta["cost_usd"] == expected_cost("gpt-4o", meta["input_tokens"], meta["output_tokens"])
    # The mock's own usage for the same request, asked for directly.
    direct = list(client(trailers_stack.mock_url).chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}))
    assert meta["input_tokens"] == direct[-1].usage.prompt_tokens
    assert meta["output_tokens"] == direct[-1].usage.completion_tokens


def anthropic_client(url: str, **headers: str):
    import anthropic
    return anthropic.Anthropic(base_url=url, api_key="sk-ant-test-not-real", default_headers=headers, max_retries=0)


CLAUDE = "claude-sonnet-4-5"
CLAUDE_MESSAGES = [{"role": "user", "content": "Summarise the quarterly cloud bill in one line."}]


def anthropic_cost(model: str, usage) -> str:
    """Anthropic bills input, cache reads and cache writes at their own prices."""
    p = price_entry(model)
    price = lambda k, d: Decimal(str(p.get(k, d)))  # noqa: E731
    cost = (Decimal(usage.input_tokens) * price("input", 0)
            + Decimal(usage.cache_read_input_tokens or 0) * price("cached_input", p["input"])
            + Decimal(usage.cache_creation_input_tokens or 0) * price("cache_write_5m", p["input"])
            + Decimal(usage.output_tokens) * price("output", 0)) / Decimal(1_000_000)
    return format(cost.normalize(), "f")


def test_anthropic_sdk_sees_cost_headers(headers_stack):
    c = anthropic_client(headers_stack.url, **{"x-tenant-id": "acme", "x-mock-usage": "3000,200,1000,0",
                                                "x-mock-cache-write": "500"})
    raw = c.messages.with_raw_response.create(model=CLAUDE, max_tokens=256, messages=CLAUDE_MESSAGES)
    msg = raw.parse()
    u = msg.usage
    h = raw.headers
    assert h["x-llm-tenant"] == "acme" and h["x-llm-usage-source"] == "provider"
    total_input = u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens
    assert int(h["x-llm-input-tokens"]) == total_input == 3000
    assert h["x-llm-cached-tokens"] == "1000" and h["x-llm-cache-write-tokens"] == "500"
    assert h["x-llm-cost-usd"] == anthropic_cost(CLAUDE, u)


@pytest.mark.parametrize("stack_name", ["headers_stack", "trailers_stack"])
def test_anthropic_sdk_streams_with_the_same_text(stack_name, request):
    stack = request.getfixturevalue(stack_name)

    def stream(url: str):
        with anthropic_client(url, **{"x-tenant-id": "acme"}).messages.stream(
                model=CLAUDE, max_tokens=256, messages=CLAUDE_MESSAGES) as s:
            text = "".join(s.text_stream)
            return text, s.get_final_message()

    direct_text, direct = stream(stack.mock_url)
    text, final = stream(stack.url)
    assert text == direct_text and text
    assert final.usage.output_tokens == direct.usage.output_tokens
    body = json.dumps({"model": CLAUDE, "max_tokens": 256, "messages": CLAUDE_MESSAGES, "stream": True}).encode()
    status, _, resp, trailers = harness.raw_request(stack.url, "/v1/messages", body,
                                                    {"content-type": "application/json", "x-tenant-id": "acme",
                                                     "anthropic-version": "2023-06-01"})
    assert status == 200
    comment = resp.decode().rsplit("\n\n", 2)[-2]
    meta = json.loads(comment.removeprefix(": tollbooth "))
    assert meta["provider"] == "anthropic" and meta["usage_source"] == "provider"
    assert meta["output_tokens"] == direct.usage.output_tokens
    assert meta["input_tokens"] == direct.usage.input_tokens
    assert trailers["x-llm-cost-usd"] == meta["cost_usd"] == anthropic_cost(CLAUDE, direct.usage)


def test_gemini_stream_is_metered(headers_stack):
    """The streamed JSON array (no alt=sse) and SSE forms give the same usage."""
    body = json.dumps({"contents": [{"role": "user", "parts": [{"text": "Summarise the bill."}]}]}).encode()
    seen = []
    for path in ("/v1beta/models/gemini-2.5-flash:streamGenerateContent",
                 "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"):
        status, _, resp, trailers = harness.raw_request(headers_stack.url, path, body,
                                                        {"content-type": "application/json", "x-tenant-id": "acme"})
        assert status == 200 and trailers["x-llm-usage-source"] == "provider", path
        seen.append((trailers["x-llm-input-tokens"], trailers["x-llm-output-tokens"], trailers["x-llm-cost-usd"]))
    assert seen[0] == seen[1]
