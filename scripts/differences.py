#!/usr/bin/env python3
"""Shows the deliberate differences from Extism (docs/differences.md) side by side.

Runs the same plug-in calls through the Extism C API of two libraries (ctypes, no SDK):
the official libextism (`scripts/fetch-oracle.sh`) and interplug's libinterplug.so
(`cargo build -p interplug-capi`), and prints what each returns.

Usage: scripts/differences.py OFFICIAL_LIB INTERPLUG_LIB
"""
import base64
import ctypes
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMITS = os.path.join(ROOT, "spec-tests", "fixtures", "limits.wasm")
# Kernel loads and stores 4 GiB into the Extism memory, far past any block. Both
# runtimes accept modules in the text format.
KERNEL_FAR = b"""(module
  (import "extism:host/env" "load_u64" (func $load (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store (param i64 i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func (export "load_far") (result i32)
    (drop (call $load (i64.const 0xFFFFFF00))) (i32.const 0))
  (func (export "store_far") (result i32)
    (call $store (i64.const 0xFFFFFF00) (i64.const 1)) (i32.const 0))
  (func (export "ok") (result i32) (local $h i64)
    (local.set $h (call $alloc (i64.const 8)))
    (call $store (local.get $h) (i64.const 0x6b6f))
    (call $output_set (local.get $h) (i64.const 2)) (i32.const 0)))"""
# A reactor (no `_start`) whose start function traps.
TRAPPING_START = b"""(module
  (func $boom unreachable)
  (start $boom)
  (func (export "zero") (result i32) (i32.const 0)))"""


HOST_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64,
                           ctypes.c_void_p, ctypes.c_uint64, ctypes.c_void_p)
NOOP = HOST_FN(lambda *args: None)


class Lib:
    def __init__(self, path):
        lib = ctypes.CDLL(path)
        lib.extism_plugin_new.restype = ctypes.c_void_p
        lib.extism_plugin_new.argtypes = [
            ctypes.c_char_p, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64,
            ctypes.c_bool, ctypes.POINTER(ctypes.c_char_p)]
        lib.extism_plugin_call.restype = ctypes.c_int32
        lib.extism_plugin_call.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint64]
        lib.extism_plugin_error.restype = ctypes.c_char_p
        lib.extism_plugin_error.argtypes = [ctypes.c_void_p]
        lib.extism_plugin_output_length.restype = ctypes.c_uint64
        lib.extism_plugin_output_length.argtypes = [ctypes.c_void_p]
        lib.extism_plugin_output_data.restype = ctypes.POINTER(ctypes.c_uint8)
        lib.extism_plugin_output_data.argtypes = [ctypes.c_void_p]
        lib.extism_plugin_free.argtypes = [ctypes.c_void_p]
        lib.extism_function_new.restype = ctypes.c_void_p
        lib.extism_function_new.argtypes = [
            ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_uint64,
            ctypes.POINTER(ctypes.c_int), ctypes.c_uint64, HOST_FN, ctypes.c_void_p,
            ctypes.c_void_p]
        self.lib = lib

    def panic_now(self):
        """The `limits` plug-in imports `panic_now(ptr) -> ptr`; this one does nothing
        (a C API function serves one plug-in: a new one each time)."""
        i64 = (ctypes.c_int * 1)(1)  # ExtismValType I64
        return self.lib.extism_function_new(b"panic_now", i64, 1, i64, 1, NOOP, None, None)

    def new(self, manifest):
        data = json.dumps(manifest).encode()
        err = ctypes.c_char_p()
        functions = (ctypes.c_void_p * 1)(self.panic_now())
        plugin = self.lib.extism_plugin_new(data, len(data), functions, 1, False,
                                            ctypes.byref(err))
        if not plugin:
            return None, (err.value or b"").decode(errors="replace")
        return plugin, None

    def call(self, plugin, name, data=b""):
        rc = self.lib.extism_plugin_call(plugin, name.encode(), data, len(data))
        if rc != 0:
            msg = (self.lib.extism_plugin_error(plugin) or b"").decode(errors="replace")
            return "rc=%d error=%r" % (rc, msg[:90])
        n = self.lib.extism_plugin_output_length(plugin)
        out = bytes(self.lib.extism_plugin_output_data(plugin)[:n])
        return "ok %r" % out[:60].decode(errors="replace")


def scenario(lib, title, manifest, calls):
    plugin, error = lib.new(manifest)
    if plugin is None:
        return ["%s: creation refused: %r" % (title, error[:110])]
    lines = []
    for name, data in calls:
        lines.append("%s: %s(%r) -> %s" % (title, name, data, lib.call(plugin, name, data)))
    lib.lib.extism_plugin_free(plugin)
    return lines


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    limits = {"wasm": [{"path": LIMITS}]}
    scenarios = [
        ("oom, max_pages 40 > initial 17", dict(limits, memory={"max_pages": 40}),
         [("alloc_loop", b""), ("compute", b"1"), ("compute", b"1")]),
        ("oom, max_pages 4 < initial 17", dict(limits, memory={"max_pages": 4}),
         [("compute", b"1"), ("compute", b"1")]),
        ("trap", limits, [("unreachable", b""), ("compute", b"1")]),
        ("start function traps",
         {"wasm": [{"data": base64.b64encode(TRAPPING_START).decode()}]},
         [("zero", b""), ("zero", b"")]),
        ("Extism memory far past any block",
         {"wasm": [{"data": base64.b64encode(KERNEL_FAR).decode()}]},
         [("load_far", b""), ("store_far", b""), ("ok", b"")]),
    ]
    for label, path in (("official", sys.argv[1]), ("interplug", sys.argv[2])):
        lib = Lib(path)
        print("== %s (%s)" % (label, os.path.basename(path)))
        for title, manifest, calls in scenarios:
            for line in scenario(lib, title, manifest, calls):
                print("  " + line)


if __name__ == "__main__":
    main()
