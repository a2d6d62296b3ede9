"""A minimal Proxy-Wasm module, assembled byte by byte, for config tests that need Envoy to load *a* wasm
without building tollbooth (wasm32-wasip1) first.

It exports what Envoy's Proxy-Wasm host (ABI 0.2.1) needs to start a VM and configure a plugin, and can also
define counters with given names and add to them in ``proxy_on_vm_start`` so that Envoy's stats tag
extraction can be checked on real stats.

Binary format: WebAssembly Core Specification, "Binary Format"
(https://webassembly.github.io/spec/core/binary/index.html). ABI functions: Proxy-Wasm ABI v0.2.1
(https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1).
"""

from __future__ import annotations

I32 = b"\x7f"
I64 = b"\x7e"

# Memory layout (one 64 KiB page): host allocations at ALLOC_AT (plugin configuration etc.),
# metric names at NAMES_AT, the id returned by proxy_define_metric at ID_SLOT.
ALLOC_AT = 32768
NAMES_AT = 8192
ID_SLOT = 4096
COUNTER = 0  # proxy-wasm MetricType::Counter


def _uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _sleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        done = (n == 0 and not byte & 0x40) or (n == -1 and byte & 0x40)
        out.append(byte if done else byte | 0x80)
        if done:
            return bytes(out)


def _vec(items: list[bytes]) -> bytes:
    return _uleb(len(items)) + b"".join(items)


def _name(s: str) -> bytes:
    b = s.encode()
    return _uleb(len(b)) + b


def _section(section_id: int, content: bytes) -> bytes:
    return bytes([section_id]) + _uleb(len(content)) + content


def _functype(params: list[bytes], results: list[bytes]) -> bytes:
    return b"\x60" + _vec(params) + _vec(results)


def _i32(n: int) -> bytes:
    return b"\x41" + _sleb(n)


def _body(code: bytes) -> bytes:
    body = b"\x00" + code + b"\x0b"  # no locals, code, end
    return _uleb(len(body)) + body


def stub_module(counters: dict[str, int] | None = None) -> bytes:
    """The module's bytes. ``counters`` maps metric names to the amount added at VM start."""
    counters = counters or {}
    types = [
        _functype([], []),  # 0: proxy_abi_version_0_2_1
        _functype([I32], [I32]),  # 1: proxy_on_memory_allocate
        _functype([I32, I32], []),  # 2: proxy_on_context_create
        _functype([I32, I32], [I32]),  # 3: proxy_on_vm_start, proxy_on_configure
        _functype([I32, I32, I32, I32], [I32]),  # 4: import proxy_define_metric
        _functype([I32, I64], [I32]),  # 5: import proxy_increment_metric
    ]
    imports = [
        _name("env") + _name("proxy_define_metric") + b"\x00" + _uleb(4),
        _name("env") + _name("proxy_increment_metric") + b"\x00" + _uleb(5),
    ]
    define, increment = 0, 1  # imported functions come first in the function index space
    data = bytearray()
    on_vm_start = bytearray()
    for metric, amount in counters.items():
        ptr = NAMES_AT + len(data)
        raw = metric.encode()
        data += raw
        on_vm_start += _i32(COUNTER) + _i32(ptr) + _i32(len(raw)) + _i32(ID_SLOT)
        on_vm_start += b"\x10" + _uleb(define) + b"\x1a"  # call, drop
        on_vm_start += _i32(ID_SLOT) + b"\x28\x02\x00"  # i32.load align=4
        on_vm_start += b"\x42" + _sleb(amount)  # i64.const
        on_vm_start += b"\x10" + _uleb(increment) + b"\x1a"
    on_vm_start += _i32(1)
    # Own functions: 2 abi marker, 3 allocate, 4 context_create, 5 vm_start, 6 configure.
    funcs = [0, 1, 2, 3, 3]
    bodies = [_body(b""), _body(_i32(ALLOC_AT)), _body(b""), _body(bytes(on_vm_start)), _body(_i32(1))]
    exports = [
        _name("memory") + b"\x02" + _uleb(0),
        _name("proxy_abi_version_0_2_1") + b"\x00" + _uleb(2),
        _name("proxy_on_memory_allocate") + b"\x00" + _uleb(3),
        _name("proxy_on_context_create") + b"\x00" + _uleb(4),
        _name("proxy_on_vm_start") + b"\x00" + _uleb(5),
        _name("proxy_on_configure") + b"\x00" + _uleb(6),
    ]
    segment = b"\x00" + _i32(NAMES_AT) + b"\x0b" + _uleb(len(data)) + bytes(data)
    return (
        b"\x00asm\x01\x00\x00\x00"
        + _section(1, _vec(types))
        + _section(2, _vec(imports))
        + _section(3, _vec([_uleb(t) for t in funcs]))
        + _section(5, _vec([b"\x00\x01"]))  # one memory, min 1 page
        + _section(7, _vec(exports))
        + _section(10, _vec(bodies))
        + _section(11, _vec([segment]))
    )
