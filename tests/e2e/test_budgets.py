"""Budgets end to end: real OpenAI and Anthropic SDK clients through the host (real
tollbooth.wasm, live clock) in front of the mock upstream.

Every expected number comes from CONFIG below, the price table (examples/prices.json), the
request sent, or the OpenAI cookbook's token counting ("How to count tokens with tiktoken":
3 tokens per message, 3 to prime the reply, plus the tokens of each field; "user" and "hi"
are one o200k_base token each, so the chat ``[{"role": "user", "content": "hi"}]`` is
3 + 1 + 1 + 3 = 8 input tokens). A per-minute limit L refills continuously, L per 60 s, so
the wait after a full bucket of requests is 60/L seconds less the time since it filled."""

from __future__ import annotations

import calendar
import json
import re
import time
import urllib.request
from datetime import datetime, timezone
from decimal import Decimal

import anthropic
import openai
import pytest

import harness

RUN_HEADER = "x-agent-run-id"
LOOP_THRESHOLD = 3
LOOP_WINDOW_S = 60
TPM = 6000
CONFIG = {
    **json.loads(harness.EXAMPLE_CONFIG.read_text()),
    "budgets": {
        "tenants": {
            "rpm-3": {"requests_per_minute": 3},
            "rpm-30": {"requests_per_minute": 30},
            "claude-1": {"requests_per_minute": 1},
            "meter": {"requests_per_minute": 10, "tokens_per_minute": TPM},
            "broke-day": {"usd_per_day": "0.01"},
            "broke-month": {"usd_per_month": "0.01"},
        },
        "runs": {"header": RUN_HEADER},
        "loops": {"threshold": LOOP_THRESHOLD, "window_seconds": LOOP_WINDOW_S},
    },
}
PRICES = json.loads((harness.ROOT / "examples" / "prices.json").read_text())["prices"]
HI = [{"role": "user", "content": "hi"}]
HI_INPUT_TOKENS = 8  # cookbook count, see the module docstring


@pytest.fixture(scope="module")
def stack():
    with harness.start(CONFIG, headers_mode=True) as s:
        yield s


def go_duration(ms: int) -> str:
    """Go's time.Duration.String() at millisecond precision (how the filter writes waits)."""
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    h, m, s, frac = ms // 3_600_000, ms // 60_000 % 60, ms // 1000 % 60, ms % 1000
    out = (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + str(s)
    if frac:
        out += "." + f"{frac:03}".rstrip("0")
    return out + "s"


def parse_go_duration(text: str) -> int:
    """Milliseconds from a Go duration string such as `1.08s`, `6s`, `1m0s`, `350ms`."""
    if text.endswith("ms"):
        return int(text[:-2])
    total = Decimal(0)
    for value, unit in re.findall(r"([\d.]+)([hms])", text):
        total += Decimal(value) * {"h": 3600, "m": 60, "s": 1}[unit]
    return int(total * 1000)


def waits(low_ms: float, high_ms: float) -> set[str]:
    """The texts "Please try again in X" can have for a wait between low and high ms: the
    filter rounds the wait up to whole seconds for the message."""
    lo, hi = max(0, int(low_ms // 1000)), int(-(-high_ms // 1000))
    return {go_duration(s * 1000) for s in range(lo, hi + 1)}


def openai_client(url: str, tenant: str, max_retries: int = 0, hook=None, **headers: str) -> openai.OpenAI:
    http = openai.DefaultHttpxClient(event_hooks={"response": [hook]}) if hook else None
    return openai.OpenAI(base_url=url + "/v1", api_key="sk-test-not-a-real-key", max_retries=max_retries,
                         default_headers={"x-tenant-id": tenant, **headers}, http_client=http)


def post(stack, tenant: str, content: str, **headers: str) -> tuple[int, dict[str, str], dict]:
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}).encode()
    status, h, resp, _ = harness.raw_request(stack.url, "/v1/chat/completions", body,
                                             {"content-type": "application/json", "x-tenant-id": tenant, **headers})
    return status, h, json.loads(resp)


def upstream(stack, tenant: str) -> list[dict]:
    """Requests of `tenant` in the mock's log (the last 64 requests it received)."""
    with urllib.request.urlopen(stack.mock_url + "/__mock/requests", timeout=10) as r:
        entries = json.loads(r.read())["requests"]
    return [e for e in entries if e["headers"].get("x-tenant-id") == tenant]


def last_seq(stack) -> int:
    with urllib.request.urlopen(stack.mock_url + "/__mock/requests", timeout=10) as r:
        entries = json.loads(r.read())["requests"]
    return entries[-1]["seq"] if entries else 0


def refused_metric(stack, tenant: str, limit: str) -> int:
    return stack.stats().get(f"wasmcustom.tollbooth.tenant.{tenant}.limit.{limit}.refused_requests", 0)


def test_openai_sdk_gets_rate_limit_error_with_the_filters_message(stack):
    """requests_per_minute 3: three requests pass, the fourth is refused with a wait of
    20 s (60/3) less the time the four took."""
    start = time.monotonic()
    for i in range(3):
        status, _, _ = post(stack, "rpm-3", f"question {i}")
        assert status == 200
    seen = last_seq(stack)
    with pytest.raises(openai.RateLimitError) as err:
        openai_client(stack.url, "rpm-3").chat.completions.create(model="gpt-4o-mini", messages=HI)
    elapsed_ms = (time.monotonic() - start) * 1000
    e = err.value
    assert e.status_code == 429
    assert e.code == "rate_limit_exceeded" and e.type == "rate_limit_exceeded"
    prefix = "Rate limit reached for tenant rpm-3 on requests per minute: limit 3, used 3, requested 1."
    expected = {f"{prefix} Please try again in {w}." for w in waits(20_000 - elapsed_ms, 20_000)}
    assert e.body["message"] in expected
    assert e.message == f"Error code: 429 - {e.body['message']}"
    h = e.response.headers
    assert 20_000 - elapsed_ms <= int(h["retry-after-ms"]) <= 20_000
    assert int(h["retry-after"]) == -(-int(h["retry-after-ms"]) // 1000)
    assert "x-should-retry" not in h, "a rate limit heals by itself: the client may retry"
    assert last_seq(stack) == seen, "the refused request reached the upstream"
    assert refused_metric(stack, "rpm-3", "requests_per_minute") == 1


def test_openai_sdk_retries_after_retry_after_and_succeeds(stack):
    """requests_per_minute 30: one request back every 2 s. The bucket is filled, then left
    to give exactly one request back, which is taken: the SDK's call is refused with a wait
    close to 2 s. The SDK's own backoff would retry after 0.5 s at most and be refused again,
    so [429, 200] after at least the wait shows it waited as retry-after-ms said."""
    admitted, first_refusal = 0, None
    for i in range(60):
        status, h, body = post(stack, "rpm-30", f"fill {i}")
        if status == 429:
            first_refusal = (h, body)
            break
        assert status == 200
        admitted += 1
    assert first_refusal is not None, "the bucket never filled"
    assert admitted >= 30
    h, body = first_refusal
    assert body["error"]["message"].startswith(
        "Rate limit reached for tenant rpm-30 on requests per minute: limit 30, used 30, requested 1. Please try again in ")
    time.sleep(int(h["retry-after-ms"]) / 1000)
    status, _, _ = post(stack, "rpm-30", "the one that came back")
    assert status == 200
    before = last_seq(stack)

    attempts: list[tuple[int, float, str | None]] = []
    hook = lambda r: attempts.append((r.status_code, time.monotonic(), r.headers.get("retry-after-ms")))  # noqa: E731
    c = openai_client(stack.url, "rpm-30", max_retries=2, hook=hook)
    start = time.monotonic()
    completion = c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "retry me"}])
    elapsed = time.monotonic() - start
    assert completion.choices[0].message.content == "Mock reply to: retry me"
    assert [a[0] for a in attempts] == [429, 200]
    wait_s = int(attempts[0][2]) / 1000
    assert wait_s > 1.0, "the refusal should ask for about 2 s"
    assert attempts[1][1] - attempts[0][1] >= wait_s
    assert wait_s <= elapsed < wait_s + 1.0
    mine = [e for e in upstream(stack, "rpm-30") if e["seq"] > before]
    assert len(mine) == 1, "only the admitted retry reaches the upstream"
    assert json.loads(mine[0]["body"])["messages"][0]["content"] == "retry me"


def seconds_to_window_end(limit: str, now: float) -> int:
    t = datetime.fromtimestamp(now, timezone.utc)
    if limit == "day":
        return 86_400 - int(now) % 86_400
    year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
    return calendar.timegm((year, month, 1, 0, 0, 0)) - int(now)


@pytest.mark.parametrize("window", ["day", "month"])
def test_spent_usd_budget_is_insufficient_quota_and_not_retried(stack, window):
    """usd_per_<window> $0.01. The first request reserves 8 input tokens at $2.50/M (OpenAI
    cache writes cost the input price) + 100 output tokens at $10/M = $0.00102, fits, and is
    reported by the upstream as 100,000 prompt tokens: $0.25 spent. The next one is refused
    until the window ends: insufficient_quota, x-should-retry: false."""
    tenant = f"broke-{window}"
    p = PRICES["gpt-4o"]
    first = openai_client(stack.url, tenant, **{"x-mock-usage": "100000,0"}).chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "spend it all"}], max_tokens=100)
    spent = Decimal(100_000) * Decimal(str(p["input"])) / 1_000_000
    assert first.headers["x-llm-cost-usd"] == format(spent.normalize(), "f") == "0.25"
    requested = (HI_INPUT_TOKENS * Decimal(str(p["input"])) + 100 * Decimal(str(p["output"]))) / 1_000_000
    assert requested == Decimal("0.00102")

    seen = last_seq(stack)
    attempts: list[int] = []
    c = openai_client(stack.url, tenant, max_retries=2, hook=lambda r: attempts.append(r.status_code))
    before = time.time()
    start = time.monotonic()
    with pytest.raises(openai.RateLimitError) as err:
        c.chat.completions.create(model="gpt-4o", messages=HI, max_tokens=100)
    elapsed = time.monotonic() - start
    after = time.time()
    e = err.value
    assert e.status_code == 429
    assert e.code == "insufficient_quota" and e.type == "insufficient_quota"
    assert attempts == [429], "the SDK retried a spent budget"
    assert elapsed < 1.0
    assert e.response.headers["x-should-retry"] == "false"
    low, high = seconds_to_window_end(window, after), seconds_to_window_end(window, before)
    assert low <= int(e.response.headers["retry-after"]) <= high
    prefix = (f"Budget exhausted for tenant {tenant} on usd per {window}: limit $0.01, used ${format(spent.normalize(), 'f')}, "
              f"requested ${format(requested.normalize(), 'f')}.")
    assert e.body["message"] in {f"{prefix} Please try again in {w}." for w in waits(low * 1000, high * 1000)}
    assert last_seq(stack) == seen, "the refused request reached the upstream"
    assert refused_metric(stack, tenant, f"usd_per_{window}") == 1


def test_anthropic_sdk_gets_rate_limit_error(stack):
    """requests_per_minute 1: the second message is refused for 60 s less the time taken."""
    c = anthropic.Anthropic(base_url=stack.url, api_key="sk-ant-test-not-real", max_retries=0,
                            default_headers={"x-tenant-id": "claude-1"})
    start = time.monotonic()
    msg = c.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "first"}])
    assert msg.content[0].text == "Mock reply to: first"
    seen = last_seq(stack)
    with pytest.raises(anthropic.RateLimitError) as err:
        c.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "second"}])
    elapsed_ms = (time.monotonic() - start) * 1000
    e = err.value
    assert e.status_code == 429
    assert e.body["type"] == "error" and e.body["error"]["type"] == "rate_limit_error"
    prefix = "Rate limit reached for tenant claude-1 on requests per minute: limit 1, used 1, requested 1."
    assert e.body["error"]["message"] in {f"{prefix} Please try again in {w}." for w in waits(60_000 - elapsed_ms, 60_000)}
    assert e.body["error"]["message"] in e.message
    assert 60_000 - elapsed_ms <= int(e.response.headers["retry-after-ms"]) <= 60_000
    assert int(e.response.headers["retry-after"]) == -(-int(e.response.headers["retry-after-ms"]) // 1000)
    assert last_seq(stack) == seen


def test_loop_in_an_agent_run_is_refused(stack):
    """loops threshold 3 in 60 s: the third sending of one conversation in a run is refused;
    another conversation in the run, and the same conversation in another run, pass."""
    convo = [{"role": "system", "content": "You are a coding agent."},
             {"role": "user", "content": "The test still fails. Try again."}]
    c = openai_client(stack.url, "loopy", **{RUN_HEADER: "run-7"})
    for _ in range(LOOP_THRESHOLD - 1):
        c.chat.completions.create(model="gpt-4o-mini", messages=convo)
    seen = last_seq(stack)
    start = time.monotonic()
    with pytest.raises(openai.RateLimitError) as err:
        c.chat.completions.create(model="gpt-4o-mini", messages=convo)
    elapsed_ms = (time.monotonic() - start) * 1000
    e = err.value
    assert e.status_code == 429
    assert e.body["message"] == (
        f"Loop detected: the same conversation was sent {LOOP_THRESHOLD} times within {LOOP_WINDOW_S}s by tenant loopy, "
        "run run-7. Change the request or wait before repeating it.")
    assert e.code == "rate_limit_exceeded"
    assert e.response.headers["x-should-retry"] == "false"
    assert int(e.response.headers["retry-after"]) <= LOOP_WINDOW_S
    assert last_seq(stack) == seen, "the looping request reached the upstream"

    other = [*convo, {"role": "assistant", "content": "Patched the parser."}, {"role": "user", "content": "Now it passes."}]
    assert c.chat.completions.create(model="gpt-4o-mini", messages=other).choices
    assert openai_client(stack.url, "loopy", **{RUN_HEADER: "run-8"}).chat.completions.create(
        model="gpt-4o-mini", messages=convo).choices
    sent = [(e["headers"].get(RUN_HEADER), json.loads(e["body"])["messages"]) for e in upstream(stack, "loopy")]
    assert sent == [("run-7", convo)] * (LOOP_THRESHOLD - 1) + [("run-7", other), ("run-8", convo)]
    assert refused_metric(stack, "loopy", "loop") == 1
    assert elapsed_ms < 1000


def test_admitted_response_carries_openai_rate_limit_headers(stack):
    """requests_per_minute 10, tokens_per_minute 6000. The first request reserves 1 request
    and 8 input + 100 output tokens on fresh buckets; the upstream reports 20 + 5 tokens,
    which replace the reservation; the second reserves 108 more."""
    c = openai_client(stack.url, "meter", **{"x-mock-usage": "20,5"})
    start = time.monotonic()
    first = c.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HI, max_tokens=100)
    second = c.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HI, max_tokens=100)
    elapsed_ms = (time.monotonic() - start) * 1000
    reserved = HI_INPUT_TOKENS + 100
    h = first.headers
    assert (h["x-ratelimit-limit-requests"], h["x-ratelimit-remaining-requests"], h["x-ratelimit-reset-requests"]) == (
        "10", str(10 - 1), go_duration(60_000 // 10))
    assert (h["x-ratelimit-limit-tokens"], h["x-ratelimit-remaining-tokens"], h["x-ratelimit-reset-tokens"]) == (
        str(TPM), str(TPM - reserved), go_duration(-(-reserved * 60_000 // TPM)))

    assert elapsed_ms < 6000, "a request's worth of the 10 per minute came back in between"
    h = second.headers
    assert h["x-ratelimit-limit-requests"] == "10" and h["x-ratelimit-remaining-requests"] == str(10 - 2)
    assert 12_000 - elapsed_ms <= parse_go_duration(h["x-ratelimit-reset-requests"]) <= 12_000
    # Used: the first request's 25 (settled, draining at 0.1 token/ms) and the second's 108.
    remaining = int(h["x-ratelimit-remaining-tokens"])
    assert TPM - 25 - reserved <= remaining <= min(TPM - reserved, TPM - 25 - reserved + int(TPM * elapsed_ms / 60_000))
    assert -(-reserved * 60_000 // TPM) <= parse_go_duration(h["x-ratelimit-reset-tokens"]) <= -(-(25 + reserved) * 60_000 // TPM)
