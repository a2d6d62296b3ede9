"""tollbooth demo: a mock OpenAI-compatible upstream, the proxy-wasm host running the real
tollbooth.wasm (2 worker VMs, like an Envoy with 2 workers), and traffic from several tenants,
one of them through the OpenAI Python SDK. Prints what each client was told it cost, then a
per-tenant table read from the filter's metrics; then budgets: a tenant over its rate limit
and an agent run stopped by loop detection. Run with `make demo`."""

from __future__ import annotations

import json
import sys
import urllib.request
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import harness  # noqa: E402
import openai  # noqa: E402

QUESTION = [{"role": "user", "content": "Which of our services spent the most on LLM calls this week?"}]


def post(url: str, body: dict, headers: dict[str, str]):
    req = urllib.request.Request(url + "/v1/chat/completions", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json", **headers}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return dict(r.headers.items()), json.loads(r.read())


def row(client: str, h) -> None:
    get = lambda k: h.get(k) or h.get(k.title()) or "-"  # noqa: E731
    print(f"  {get('x-llm-tenant'):<18} {client:<22} {get('x-llm-model'):<14} {get('x-llm-input-tokens'):>6} "
          f"{get('x-llm-output-tokens'):>6} {get('x-llm-cached-tokens'):>6} {get('x-llm-reasoning-tokens'):>6} "
          f"{get('x-llm-cost-usd'):>12}  {get('x-llm-usage-source')}")


def stream_demo(stack) -> None:
    print("\nA streamed request (\"stream\": true). The filter asked the upstream for usage, removed that extra")
    print("chunk (the client did not ask for it), and ends the stream with the cost; the OpenAI SDK sees the text:")
    sdk = openai.OpenAI(base_url=stack.url + "/v1", api_key="sk-demo", default_headers={"x-tenant-id": "acme"})
    chunks = list(sdk.chat.completions.create(model="gpt-4o", messages=QUESTION, stream=True))
    print(f"  openai-sdk: {len(chunks)} chunks, text {''.join(c.choices[0].delta.content or '' for c in chunks if c.choices)!r}")
    body = json.dumps({"model": "gpt-4o", "messages": QUESTION, "stream": True}).encode()
    _, _, resp, trailers = harness.raw_request(stack.url, "/v1/chat/completions", body,
                                               {"content-type": "application/json", "x-tenant-id": "acme"})
    lines = [line for line in resp.decode().split("\n") if line]
    print("  the same stream on the wire, last lines:")
    for line in lines[-3:]:
        print(f"    {line}")
    for k, v in sorted(trailers.items()):
        print(f"  trailer {k}: {v}")

    print("\nOther providers through the same filter, detected from the path:")
    import anthropic
    claude = anthropic.Anthropic(base_url=stack.url, api_key="sk-ant-demo", default_headers={"x-tenant-id": "globex"})
    raw = claude.messages.with_raw_response.create(model="claude-haiku-4-5", max_tokens=200, messages=QUESTION,
                                                   extra_headers={"x-mock-usage": "1800,90,1200,0", "x-mock-cache-write": "300"})
    raw.parse()
    row("anthropic-sdk (cache)", raw.headers)
    with claude.messages.stream(model="claude-haiku-4-5", max_tokens=200, messages=QUESTION) as s:
        text = "".join(s.text_stream)
    body = json.dumps({"model": "claude-haiku-4-5", "max_tokens": 200, "messages": QUESTION, "stream": True}).encode()
    _, _, resp, trailers = harness.raw_request(stack.url, "/v1/messages", body,
                                               {"content-type": "application/json", "x-tenant-id": "globex"})
    print(f"  anthropic-sdk stream text {text!r}; the stream's last line on the wire:")
    print("    " + [line for line in resp.decode().split("\n") if line][-1])
    body = json.dumps({"contents": [{"role": "user", "parts": [{"text": QUESTION[0]["content"]}]}]}).encode()
    _, _, _, trailers = harness.raw_request(stack.url, "/v1beta/models/gemini-2.5-flash:streamGenerateContent", body,
                                            {"content-type": "application/json", "x-tenant-id": "initech"})
    row("gemini stream (trailers)", trailers)


def main() -> None:
    print("tollbooth demo: clients -> tollbooth-host (real tollbooth.wasm, 2 worker VMs) -> mock LLM upstream\n")
    with harness.start(headers_mode=True) as stack:
        print(f"host {stack.url}  admin {stack.admin_url}  upstream {stack.mock_url}")
        print("Envoy >=1.35 mode (allow_on_headers_stop_iteration): the cost arrives as response headers.\n")
        print(f"  {'tenant':<18} {'client':<22} {'model':<14} {'input':>6} {'output':>6} {'cached':>6} {'reason':>6} {'cost USD':>12}  source")

        sdk = openai.OpenAI(base_url=stack.url + "/v1", api_key="sk-demo-acme",
                            default_headers={"x-tenant-id": "acme", "x-team": "search"})
        for question in ("Summarise yesterday's incident report.", "Draft a reply to the customer in two lines."):
            raw = sdk.chat.completions.with_raw_response.create(model="gpt-4o", messages=[{"role": "user", "content": question}])
            raw.parse()
            row("openai-sdk", raw.headers)
        raw = sdk.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=QUESTION,
                                                           extra_headers={"x-mock-usage": "5000,120,4096,0"})
        row("openai-sdk (cache hit)", raw.headers)

        for _ in range(3):
            h, _ = post(stack.url, {"model": "gpt-4o-mini", "messages": QUESTION}, {"x-tenant-id": "globex", "x-feature": "autocomplete"})
            row("urllib", h)
        h, _ = post(stack.url, {"model": "o3", "messages": QUESTION}, {"x-tenant-id": "initech", "x-agent-run-id": "run-42"})
        row("urllib (reasoning)", h)
        h, _ = post(stack.url, {"model": "llama-3.1-70b", "messages": QUESTION}, {"x-tenant-id": "initech"})
        row("urllib (unpriced)", h)
        h, _ = post(stack.url, {"model": "gpt-4.1", "messages": QUESTION}, {"authorization": "Bearer sk-live-umbrella-7f3a"})
        row("urllib (API key only)", h)
        try:
            post(stack.url, {"model": "gpt-4o", "messages": QUESTION}, {"x-tenant-id": "globex", "x-mock-status": "500"})
        except urllib.error.HTTPError as e:
            row("urllib (upstream 500)", e.headers)

        stream_demo(stack)

        print("\nPer-tenant spend, read from the filter's metrics (admin /stats, names as Envoy shows them):\n")
        table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for name, value in stack.stats().items():
            parts = name.split(".")
            if len(parts) == 7 and parts[:3] == ["wasmcustom", "tollbooth", "tenant"] and parts[4] == "model":
                table[parts[3]][parts[6]] += value
        print(f"  {'tenant':<18} {'requests':>8} {'input':>8} {'output':>8} {'cost USD':>12} {'unpriced':>9}")
        for tenant in sorted(table):
            t = table[tenant]
            cost = Decimal(t["cost_micro_usd"]) / Decimal(1_000_000)
            print(f"  {tenant:<18} {t['requests']:>8} {t['input_tokens']:>8} {t['output_tokens']:>8} {cost:>12.6f} {t['unpriced_requests']:>9}")
        entry = next(e for e in stack.access_log_entries() if e.get("filter_state"))
        print("\nOne access-log line (the %FILTER_STATE(wasm.tollbooth:PLAIN)% field):")
        print("  " + json.dumps(entry["filter_state"]["wasm.tollbooth"]))

    with harness.start(headers_mode=False) as stack:
        print("\nEnvoy's default mode: response headers cannot wait for the body, so the same figures arrive as trailers:")
        body = json.dumps({"model": "gpt-4o", "messages": QUESTION}).encode()
        _, headers, _, trailers = harness.raw_request(stack.url, "/v1/chat/completions", body,
                                                      {"content-type": "application/json", "x-tenant-id": "acme"})
        print(f"  headers carry x-llm-cost-usd: {'x-llm-cost-usd' in headers}")
        for k, v in sorted(trailers.items()):
            print(f"  trailer {k}: {v}")

    budgets_demo()


# Budgets for the last part of the demo, on tenants of their own (a loop rule applies to every
# tenant, so the traffic above runs without budgets).
BUDGETS = {
    "tenants": {"startup": {"requests_per_minute": 3, "tokens_per_minute": 20000}},
    "runs": {"header": "x-agent-run-id", "max_usd": "0.50"},
    "loops": {"threshold": 3, "window_seconds": 300},
}


def budgets_demo() -> None:
    config = {**json.loads(harness.EXAMPLE_CONFIG.read_text()), "budgets": BUDGETS}
    with harness.start(config, headers_mode=True) as stack:
        print("\nBudgets (a fresh host with this `budgets` section):")
        print("  " + json.dumps(BUDGETS))
        print("\nTenant startup has 3 requests per minute; the OpenAI SDK (retries off) sends 4:")
        sdk = openai.OpenAI(base_url=stack.url + "/v1", api_key="sk-demo-startup", max_retries=0,
                            default_headers={"x-tenant-id": "startup"})
        for i in range(1, 5):
            question = [{"role": "user", "content": f"Question {i}: what is our burn rate?"}]
            try:
                raw = sdk.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=question, max_tokens=200)
            except openai.RateLimitError as e:
                h = e.response.headers
                print(f"  request {i}: {e.status_code}  retry-after: {h.get('retry-after')}  "
                      f"retry-after-ms: {h.get('retry-after-ms')}  ({type(e).__name__}, code {e.code})")
                print(f"    {e.body['message']}")
                continue
            raw.parse()
            h = raw.headers
            print(f"  request {i}: {raw.status_code}  " + "  ".join(
                f"{k}: {h.get(k)}" for k in ("x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
                                             "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens")))
            if i == 1:
                limits = "  ".join(f"{k}: {h.get(k)}" for k in ("x-ratelimit-limit-requests", "x-ratelimit-limit-tokens"))
                print(f"    (OpenAI's rate-limit headers; {limits})")

        print("\nAn agent run (x-agent-run-id: run-42 of tenant agents) stuck in a loop, re-sending the same")
        print("conversation; loop detection stops it at the 3rd repeat, a changed conversation passes:")
        stuck = [{"role": "system", "content": "You are a coding agent."},
                 {"role": "user", "content": "The build still fails. Try the same fix again."}]
        agent = openai.OpenAI(base_url=stack.url + "/v1", api_key="sk-demo-agents", max_retries=2,
                              default_headers={"x-tenant-id": "agents", "x-agent-run-id": "run-42"})
        for i in range(1, 4):
            try:
                agent.chat.completions.create(model="gpt-4o", messages=stuck)
                print(f"  step {i}: 200")
            except openai.RateLimitError as e:
                h = e.response.headers
                print(f"  step {i}: {e.status_code}  x-should-retry: {h.get('x-should-retry')}  retry-after: {h.get('retry-after')}")
                print(f"    {e.body['message']}")
        changed = [*stuck, {"role": "assistant", "content": "Same error."}, {"role": "user", "content": "Read the log first."}]
        agent.chat.completions.create(model="gpt-4o", messages=changed)
        print("  step 4 (changed conversation): 200")

        print("\nPer-tenant requests and refusals, from the filter's metrics:\n")
        table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        refused: dict[str, dict[str, int]] = defaultdict(dict)
        for name, value in stack.stats().items():
            parts = name.split(".")
            if len(parts) != 7 or parts[:3] != ["wasmcustom", "tollbooth", "tenant"]:
                continue
            if parts[4] == "model":
                table[parts[3]][parts[6]] += value
            elif parts[4] == "limit" and parts[6] == "refused_requests" and value:
                refused[parts[3]][parts[5]] = value
                table[parts[3]]["refused"] += value
        print(f"  {'tenant':<18} {'requests':>8} {'cost USD':>12} {'refused':>8}  by limit")
        for tenant in sorted(table):
            t = table[tenant]
            cost = Decimal(t["cost_micro_usd"]) / Decimal(1_000_000)
            by = ", ".join(f"{k} {v}" for k, v in sorted(refused[tenant].items())) or "-"
            print(f"  {tenant:<18} {t['requests']:>8} {cost:>12.6f} {t['refused']:>8}  {by}")


if __name__ == "__main__":
    main()
