"""The official Extism Python host SDK (`pip install extism`) on the spec plug-ins.

Run by scripts/python-sdk-test.sh twice: with the library the `extism-sys` wheel
ships (libextism) and with that file replaced by libinterplug.so. Only the SDK's own
API is used, so passing with both shows libinterplug is a drop-in replacement.

Environment:
  FIXTURES     folder of the .wasm fixtures (default: spec-tests/fixtures)
  EXPECT_IMPL  "interplug" or "libextism": which library must be loaded

Prints one line per failure and ends with "N passed, N failed".
"""

import json
import os
import sys
import threading
import traceback
import uuid

import extism
from extism import CurrentPlugin, Error, ValType

FIXTURES = os.environ.get(
    "FIXTURES",
    os.path.join(os.path.dirname(__file__), "..", "..", "..", "spec-tests", "fixtures"),
)


def fixture(name):
    return os.path.abspath(os.path.join(FIXTURES, name + ".wasm"))


def manifest(name, **extra):
    m = {"wasm": [{"path": fixture(name)}]}
    m.update(extra)
    return m


# ------------------------------------------------------------ host functions --

# Type-inferred host function: strings in and out through Extism memory.
@extism.host_fn(name="shout", namespace="example:other")
def shout(text: str) -> str:
    return text.upper()


# Explicit signature, with the current plug-in, user data and the host context.
@extism.host_fn(
    name="hello_world",
    signature=([ValType.PTR], [ValType.PTR]),
    user_data=b"Hello",
)
def hello_world(plugin: CurrentPlugin, inputs, outputs, greeting):
    name = plugin.input_string(inputs[0])
    context = plugin.host_context()
    if context is not None:
        context.append(name)
    plugin.return_string(outputs[0], "%s, %s!" % (greeting.decode(), name))


@extism.host_fn(name="panic_now", signature=([ValType.PTR], [ValType.PTR]))
def panic_now(plugin, inputs, outputs, *user_data):
    outputs[0].value = 0


HOST_FUNCTIONS = [hello_world, shout, panic_now]


# --------------------------------------------------------------------- tests --

def test_version():
    version = extism.extism_version()
    expected = os.environ.get("EXPECT_IMPL")
    if expected == "interplug":
        assert "interplug" in version, version
    elif expected == "libextism":
        assert "interplug" not in version, version
    assert version.startswith("1."), version


def test_manifest_call():
    with extism.Plugin(manifest("count_vowels"), functions=[]) as plugin:
        out = json.loads(plugin.call("count_vowels", "hello world"))
        assert out == {"count": 3, "total": 3, "vowels": "aeiouAEIOU"}, out
        out = plugin.call("count_vowels", b"hello world", parse=lambda b: json.loads(bytes(b)))
        assert out["total"] == 6, out
        assert plugin.function_exists("count_vowels")
        assert not plugin.function_exists("nope")
        assert isinstance(plugin.id, uuid.UUID)


def test_wasm_bytes_and_compiled():
    with open(fixture("echo"), "rb") as f:
        wasm = f.read()
    with extism.Plugin(wasm, functions=[]) as plugin:
        assert plugin.call("echo", b"\x00\xffbytes") == b"\x00\xffbytes"
        assert plugin.call("echo", b"") == b""
    # CompiledPlugin is not re-exported by the package's __init__.
    compiled = extism.extism.CompiledPlugin(manifest("count_vowels"), functions=[])
    a = extism.Plugin(compiled)
    b = extism.Plugin(compiled)
    assert a.id != b.id
    a.call("count_vowels", "aaa")
    assert json.loads(a.call("count_vowels", "aaa"))["total"] == 6
    assert json.loads(b.call("count_vowels", "aaa"))["total"] == 3


def test_config():
    with extism.Plugin(manifest("count_vowels"), config={"vowels": "lo"}, functions=[]) as p:
        out = json.loads(p.call("count_vowels", "hello world"))
        assert out == {"count": 5, "total": 5, "vowels": "lo"}, out
    with extism.Plugin(manifest("config", config={"k": "from manifest"}), functions=[]) as p:
        assert p.call("get_config", "k") == b"from manifest"
        assert p.call("get_config", "missing") == b"<absent>"
    with extism.Plugin(manifest("config"), config={"k": "v"}, functions=[]) as p:
        assert p.call("get_config", "k") == b"v"


def test_host_functions():
    with extism.Plugin(manifest("host_fns"), functions=HOST_FUNCTIONS) as plugin:
        assert plugin.call("call_host", "bob") == b"Hello, bob!"
        assert plugin.call("call_other", "quiet please") == b"QUIET PLEASE"
        seen = []
        out = plugin.call("call_host", "ctx", host_context=seen)
        assert out == b"Hello, ctx!" and seen == ["ctx"], (out, seen)


def test_errors():
    with extism.Plugin(manifest("fail"), functions=[]) as plugin:
        try:
            plugin.call("fail", "abc")
            raise AssertionError("fail did not raise")
        except Error as e:
            assert str(e) == "failed on purpose: abc", str(e)
        try:
            plugin.call("nonzero", "")
            raise AssertionError("nonzero did not raise")
        except Error as e:
            assert "3" in str(e), str(e)
        try:
            plugin.call("missing", "")
            raise AssertionError("missing function did not raise")
        except Error as e:
            assert "Function not found: missing" in str(e), str(e)
        # The plug-in stays usable, and a success raises nothing.
        assert plugin.call("ok", "") == b"ok"
    try:
        extism.Plugin(b"not wasm", functions=[])
        raise AssertionError("junk accepted")
    except Error as e:
        assert str(e).startswith("Unable to compile Extism plugin"), str(e)
    try:
        extism.Plugin(manifest("host_fns"), functions=[])
        raise AssertionError("missing host functions accepted")
    except Error:
        pass


def test_cancel():
    with extism.Plugin(manifest("limits"), functions=HOST_FUNCTIONS) as plugin:
        handle = plugin.cancel_handle()
        timer = threading.Timer(0.2, handle.cancel)
        timer.start()
        try:
            plugin.call("infinite_loop", "")
            raise AssertionError("infinite_loop returned")
        except Error:
            pass
        finally:
            timer.join()
        assert plugin.call("compute", "10") == b"17818939798065174182"


def test_logging():
    lines = []
    logger = extism.set_log_custom(lines.append, "info")
    with extism.Plugin(manifest("logging"), functions=[]) as plugin:
        assert plugin.call("log_all", "python-marker") == b"logged"
    logger.drain()
    hits = [line for line in lines if "python-marker" in line]
    assert len(hits) == 3, lines


def main():
    tests = [(name, f) for name, f in sorted(globals().items()) if name.startswith("test_")]
    passed = failed = 0
    for name, test in tests:
        try:
            test()
            passed += 1
            print("ok   " + name)
        except Exception:  # noqa: BLE001 - report every failure
            failed += 1
            print("FAIL " + name)
            traceback.print_exc()
    print("library: %s" % extism.extism_version())
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
