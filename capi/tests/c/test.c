/*
 * C test of the Extism C API as implemented by libinterplug.
 *
 *   cc -std=c11 -I include capi/tests/c/test.c -L <dir> -linterplug \
 *      -Wl,-rpath,<dir> -lpthread -o test && ./test spec-tests/fixtures
 *
 * It is written against <extism.h> only, so it also runs against the official
 * libextism (link with -lextism_sys instead): differences that are deliberate
 * are accepted both ways, and the robustness section (NULL and bad arguments,
 * which libextism does not promise to survive) runs only on interplug.
 *
 * Prints one line per failed check and ends with "N passed, N failed"; exits 1 on
 * any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <extism.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int passed = 0;
static int failed = 0;
static int verbose = 0;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (cond) {                                                                \
      passed++;                                                                \
    } else {                                                                   \
      failed++;                                                                \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);          \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
    }                                                                          \
  } while (0)

static const char *fixtures = "spec-tests/fixtures";
static int is_interplug = 0;

/* ------------------------------------------------------------ helpers -- */

static uint8_t *read_file(const char *name, size_t *len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", fixtures, name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s (pass the fixtures folder as argv[1])\n",
            path);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *data = malloc((size_t)size);
  if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(2);
  }
  fclose(f);
  *len = (size_t)size;
  return data;
}

/* Creates a plug-in from a fixture; aborts the test run when that fails. */
static ExtismPlugin *load(const char *name, const ExtismFunction **fns,
                          ExtismSize n_fns) {
  size_t len;
  uint8_t *wasm = read_file(name, &len);
  char *err = NULL;
  ExtismPlugin *p = extism_plugin_new(wasm, len, fns, n_fns, false, &err);
  free(wasm);
  if (!p) {
    fprintf(stderr, "cannot create %s: %s\n", name, err ? err : "(no message)");
    extism_plugin_new_error_free(err);
    exit(2);
  }
  return p;
}

static int32_t call_str(ExtismPlugin *p, const char *func, const char *input) {
  return extism_plugin_call(p, func, (const uint8_t *)input, strlen(input));
}

/* The last output as a NUL-terminated string (static buffer). */
static const char *output(ExtismPlugin *p) {
  static char buf[4096];
  ExtismSize len = extism_plugin_output_length(p);
  const uint8_t *data = extism_plugin_output_data(p);
  if (len >= sizeof buf) len = sizeof buf - 1;
  if (len) memcpy(buf, data, (size_t)len);
  buf[len] = 0;
  return buf;
}

static const char *error_or(ExtismPlugin *p, const char *none) {
  const char *e = extism_plugin_error(p);
  return e ? e : none;
}

static int starts_with(const char *s, const char *prefix) {
  return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ------------------------------------------------------ host functions -- */

/* User data of hello_world: a greeting and a call counter. */
typedef struct {
  const char *greeting;
  int calls;
} Hello;

static int hello_freed = 0;
static int tags_ok = 1;
static int scratch_ok = 1;

static void free_hello(void *data) {
  (void)data;
  hello_freed++;
}

/* Copies block `h` into `buf` (NUL-terminated); returns its length. */
static size_t read_block(ExtismCurrentPlugin *p, ExtismMemoryHandle h,
                         char *buf, size_t cap) {
  ExtismSize len = extism_current_plugin_memory_length(p, h);
  if (len >= cap) len = cap - 1;
  if (len) memcpy(buf, extism_current_plugin_memory(p) + h, (size_t)len);
  buf[len] = 0;
  return (size_t)len;
}

/* Allocates a block holding `text`; returns its handle. */
static ExtismMemoryHandle write_block(ExtismCurrentPlugin *p, const char *text) {
  size_t len = strlen(text);
  ExtismMemoryHandle h = extism_current_plugin_memory_alloc(p, len);
  /* Read the base only after allocating: the memory may have moved. */
  if (h) memcpy(extism_current_plugin_memory(p) + h, text, len);
  return h;
}

/* extism:host/user hello_world: "<greeting>, <input>!"; counts calls in the
 * user data and, when there is a host context (an int*), increments it. */
static void hello_world(ExtismCurrentPlugin *p, const ExtismVal *in,
                        ExtismSize n_in, ExtismVal *out, ExtismSize n_out,
                        void *user_data) {
  Hello *hello = user_data;
  hello->calls++;
  if (n_in != 1 || n_out != 1 || in[0].t != EXTISM_PTR || out[0].t != EXTISM_PTR)
    tags_ok = 0;
  int *ctx = extism_current_plugin_host_context(p);
  if (ctx) (*ctx)++;
  char input[256], text[512];
  read_block(p, (ExtismMemoryHandle)in[0].v.i64, input, sizeof input);
  snprintf(text, sizeof text, "%s, %s!", hello->greeting, input);
  out[0].v.i64 = (int64_t)write_block(p, text);
}

/* example:other shout: the input in upper case. */
static void shout(ExtismCurrentPlugin *p, const ExtismVal *in, ExtismSize n_in,
                  ExtismVal *out, ExtismSize n_out, void *user_data) {
  (void)n_in;
  (void)n_out;
  (void)user_data;
  char text[256];
  read_block(p, (ExtismMemoryHandle)in[0].v.i64, text, sizeof text);
  /* A scratch block, freed again: its handle is no block afterwards. */
  ExtismMemoryHandle scratch = extism_current_plugin_memory_alloc(p, 64);
  if (scratch == 0 || extism_current_plugin_memory_length(p, scratch) != 64)
    scratch_ok = 0;
  extism_current_plugin_memory_free(p, scratch);
  if (extism_current_plugin_memory_length(p, scratch) != 0) scratch_ok = 0;
  for (char *c = text; *c; c++)
    if (*c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A');
  out[0].v.i64 = (int64_t)write_block(p, text);
}

/* extism:host/user panic_now: returns the null handle. */
static void panic_now(ExtismCurrentPlugin *p, const ExtismVal *in,
                      ExtismSize n_in, ExtismVal *out, ExtismSize n_out,
                      void *user_data) {
  (void)p;
  (void)in;
  (void)n_in;
  (void)user_data;
  if (n_out) out[0].v.i64 = 0;
}

static const ExtismValType PTR1[] = {EXTISM_PTR};

static ExtismFunction *make_fn(const char *name, ExtismFunctionType f,
                               void *data, void (*free_data)(void *)) {
  ExtismFunction *fn = extism_function_new(name, PTR1, 1, PTR1, 1, f, data, free_data);
  CHECK(fn != NULL, "extism_function_new(%s)", name);
  return fn;
}

/* --------------------------------------------------------------- tests -- */

static void test_version(void) {
  const char *v = extism_version();
  CHECK(v != NULL && starts_with(v, "1."), "version %s", v ? v : "NULL");
}

static void test_from_wasm(void) {
  ExtismPlugin *p = load("count_vowels.wasm", NULL, 0);
  CHECK(call_str(p, "count_vowels", "hello world") == EXTISM_SUCCESS, "%s",
        error_or(p, ""));
  CHECK(strcmp(output(p), "{\"count\":3,\"total\":3,\"vowels\":\"aeiouAEIOU\"}") == 0,
        "output %s", output(p));
  CHECK(extism_plugin_error(p) == NULL, "error after success");
  CHECK(call_str(p, "count_vowels", "hello world") == 0, "second call");
  CHECK(strstr(output(p), "\"total\":6") != NULL, "vars kept: %s", output(p));

  /* The output stays valid across non-call operations. */
  const uint8_t *data = extism_plugin_output_data(p);
  ExtismSize len = extism_plugin_output_length(p);
  CHECK(extism_plugin_function_exists(p, "count_vowels"), "function exists");
  CHECK(!extism_plugin_function_exists(p, "nope"), "missing function");
  CHECK(!extism_plugin_function_exists(p, ""), "empty name");
  CHECK(len == strlen(output(p)) && memcmp(data, output(p), (size_t)len) == 0,
        "output moved");

  const uint8_t *id = extism_plugin_id(p);
  int nonzero = 0;
  for (int i = 0; id && i < 16; i++) nonzero |= id[i];
  CHECK(id != NULL && nonzero, "plug-in id");
  CHECK(extism_plugin_reset(p), "reset");
  extism_plugin_allow_http_response_headers(p);
  CHECK(call_str(p, "count_vowels", "a") == 0, "call after reset: %s", error_or(p, ""));
  extism_plugin_free(p);
}

static void test_from_manifest(void) {
  char manifest[4096];
  snprintf(manifest, sizeof manifest,
           "{\"wasm\": [{\"path\": \"%s/count_vowels.wasm\"}], "
           "\"config\": {\"vowels\": \"lo\"}}",
           fixtures);
  char *err = NULL;
  ExtismPlugin *p = extism_plugin_new((const uint8_t *)manifest, strlen(manifest),
                                      NULL, 0, false, &err);
  CHECK(p != NULL, "manifest: %s", err ? err : "");
  if (!p) {
    extism_plugin_new_error_free(err);
    return;
  }
  CHECK(call_str(p, "count_vowels", "hello world") == 0, "%s", error_or(p, ""));
  CHECK(strcmp(output(p), "{\"count\":5,\"total\":5,\"vowels\":\"lo\"}") == 0,
        "output %s", output(p));
  extism_plugin_free(p);

  /* Creation errors. */
  const char *junk = "this is not wasm";
  err = NULL;
  p = extism_plugin_new((const uint8_t *)junk, strlen(junk), NULL, 0, false, &err);
  CHECK(p == NULL, "junk accepted");
  CHECK(starts_with(err, "Unable to compile Extism plugin: "), "message %s",
        err ? err : "NULL");
  extism_plugin_new_error_free(err);

  /* A missing host import fails creation. */
  size_t len;
  uint8_t *wasm = read_file("host_fns.wasm", &len);
  err = NULL;
  p = extism_plugin_new(wasm, len, NULL, 0, false, &err);
  CHECK(p == NULL && err != NULL, "missing imports accepted");
  extism_plugin_new_error_free(err);
  /* errmsg may be NULL. */
  p = extism_plugin_new(wasm, len, NULL, 0, false, NULL);
  CHECK(p == NULL, "missing imports accepted");
  free(wasm);
}

static void test_errors(void) {
  ExtismPlugin *p = load("fail.wasm", NULL, 0);
  int32_t rc = call_str(p, "fail", "abc");
  CHECK(rc == -1, "rc %d", rc);
  CHECK(strcmp(error_or(p, ""), "failed on purpose: abc") == 0, "error %s",
        error_or(p, "NULL"));

  rc = call_str(p, "nonzero", "");
  CHECK(rc == 3, "rc %d", rc);
  CHECK(extism_plugin_error(p) == NULL, "error %s", error_or(p, ""));

  rc = call_str(p, "nope", "");
  CHECK(rc == -1, "rc %d", rc);
  CHECK(strcmp(error_or(p, ""), "Function not found: nope") == 0, "error %s",
        error_or(p, "NULL"));

  /* Calls after a failed call work, and clear the error. */
  CHECK(call_str(p, "ok", "") == 0, "ok after failures: %s", error_or(p, ""));
  CHECK(strcmp(output(p), "ok") == 0, "output %s", output(p));
  CHECK(extism_plugin_error(p) == NULL, "error not cleared");
  extism_plugin_free(p);

  /* A trap. */
  ExtismFunction *pn = make_fn("panic_now", panic_now, NULL, NULL);
  const ExtismFunction *fns[] = {pn};
  p = load("limits.wasm", fns, 1);
  extism_function_free(pn);
  rc = call_str(p, "unreachable", "");
  CHECK(rc == (is_interplug ? -1 : 134), "trap rc %d", rc);
  CHECK(extism_plugin_error(p) != NULL, "trap without error");
  CHECK(call_str(p, "compute", "10") == 0, "after trap: %s", error_or(p, ""));
  CHECK(strcmp(output(p), "17818939798065174182") == 0, "output %s", output(p));
  extism_plugin_free(p);
}

/* The previous output as the next input: interplug copies it before the call
 * resets the memory it lives in (libextism 1.41 reads it after, and the plug-in
 * sees garbage or nothing). */
static void test_chaining(void) {
  ExtismPlugin *p = load("echo.wasm", NULL, 0);
  /* Chaining: the previous output as the next input. */
  CHECK(call_str(p, "echo", "chain me, a longer input than before") == 0, "echo");
  CHECK(extism_plugin_call(p, "echo", extism_plugin_output_data(p),
                           extism_plugin_output_length(p)) == 0 &&
            strcmp(output(p), "chain me, a longer input than before") == 0,
        "chained call: %s", output(p));
  /* A part of it, twice. */
  CHECK(extism_plugin_call(p, "echo", extism_plugin_output_data(p) + 6,
                           extism_plugin_output_length(p) - 6) == 0,
        "chained call: %s", error_or(p, ""));
  CHECK(extism_plugin_call(p, "echo", extism_plugin_output_data(p),
                           extism_plugin_output_length(p)) == 0 &&
            strcmp(output(p), "me, a longer input than before") == 0,
        "chained call: %s", output(p));
  /* The previous error as the next input, then as the next name: its buffer must
     stay valid during the call that replaces it (valgrind: no invalid read). */
  CHECK(call_str(p, "no_such_function", "x") == -1 && extism_plugin_error(p) != NULL,
        "unknown function fails");
  char *saved = strdup(extism_plugin_error(p));
  const char *err = extism_plugin_error(p);
  CHECK(extism_plugin_call(p, "echo", (const uint8_t *)err, strlen(err)) == 0 &&
            strcmp(output(p), saved) == 0,
        "error as input: %s", output(p));
  CHECK(call_str(p, "no_such_function", "x") == -1, "unknown function fails again");
  CHECK(extism_plugin_call(p, extism_plugin_error(p), (const uint8_t *)"x", 1) == -1 &&
            extism_plugin_error(p) != NULL &&
            strstr(extism_plugin_error(p), "no_such_function") != NULL,
        "error as name: %s", error_or(p, "(none)"));
  free(saved);
  /* The previous output (with its NUL) as the next function name. */
  CHECK(extism_plugin_call(p, "echo", (const uint8_t *)"echo", 5) == 0, "echo name");
  CHECK(extism_plugin_call(p, (const char *)extism_plugin_output_data(p),
                           (const uint8_t *)"by name", 7) == 0 &&
            strcmp(output(p), "by name") == 0,
        "output as name: %s", error_or(p, output(p)));
  extism_plugin_free(p);
}

static void test_config(void) {
  ExtismPlugin *p = load("config.wasm", NULL, 0);
  CHECK(call_str(p, "get_config", "k") == 0 && strcmp(output(p), "<absent>") == 0,
        "initial %s", output(p));
  const char *set = "{\"k\": \"v\", \"other\": \"x\"}";
  CHECK(extism_plugin_config(p, (const uint8_t *)set, strlen(set)), "set");
  CHECK(call_str(p, "get_config", "k") == 0 && strcmp(output(p), "v") == 0,
        "after set %s", output(p));
  const char *rm = "{\"k\": null}";
  CHECK(extism_plugin_config(p, (const uint8_t *)rm, strlen(rm)), "remove");
  CHECK(call_str(p, "get_config", "k") == 0 && strcmp(output(p), "<absent>") == 0,
        "after remove %s", output(p));
  CHECK(call_str(p, "get_config", "other") == 0 && strcmp(output(p), "x") == 0,
        "other key %s", output(p));
  const char *bad[] = {"{not json", "{\"k\": 1}", "[]"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    CHECK(!extism_plugin_config(p, (const uint8_t *)bad[i], strlen(bad[i])),
          "accepted %s", bad[i]);
  CHECK(call_str(p, "get_config", "other") == 0 && strcmp(output(p), "x") == 0,
        "bad config changed state: %s", output(p));
  extism_plugin_free(p);
}

static void test_host_functions(void) {
  Hello hello = {"Hello", 0};
  hello_freed = 0;
  ExtismFunction *hw = make_fn("hello_world", hello_world, &hello, free_hello);
  ExtismFunction *sh = make_fn("shout", shout, NULL, NULL);
  ExtismFunction *pn = make_fn("panic_now", panic_now, NULL, NULL);
  extism_function_set_namespace(sh, "example:other");
  const ExtismFunction *fns[] = {hw, sh, pn};
  ExtismPlugin *p = load("host_fns.wasm", fns, 3);
  /* Like the official SDKs: free the function objects right away. */
  extism_function_free(hw);
  extism_function_free(sh);
  extism_function_free(pn);
  CHECK(hello_freed == 0, "user data freed while the plug-in needs it");

  CHECK(call_str(p, "call_host", "bob") == 0, "%s", error_or(p, ""));
  CHECK(strcmp(output(p), "Hello, bob!") == 0, "output %s", output(p));
  CHECK(hello.calls == 1, "calls %d", hello.calls);
  CHECK(tags_ok, "argument or result slots not tagged EXTISM_PTR");
  CHECK(call_str(p, "call_other", "quiet") == 0 && strcmp(output(p), "QUIET") == 0,
        "shout %s", output(p));
  CHECK(scratch_ok, "memory_alloc / memory_length / memory_free");

  /* Host context. */
  int ctx = 0;
  const char *in = "ctx";
  int32_t rc = extism_plugin_call_with_host_context(
      p, "call_host", (const uint8_t *)in, strlen(in), &ctx);
  CHECK(rc == 0 && ctx == 1, "host context: rc %d ctx %d", rc, ctx);
  CHECK(call_str(p, "call_host", "again") == 0 && ctx == 1,
        "host context leaked into a plain call: %d", ctx);
  CHECK(hello.calls == 3, "calls %d", hello.calls);

  extism_plugin_free(p);
  CHECK(hello_freed == 1, "free_user_data called %d times", hello_freed);
}

static void *cancel_later(void *handle) {
  struct timespec delay = {0, 200 * 1000 * 1000};
  nanosleep(&delay, NULL);
  extism_plugin_cancel((const ExtismCancelHandle *)handle);
  return NULL;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_cancel(void) {
  ExtismFunction *pn = make_fn("panic_now", panic_now, NULL, NULL);
  const ExtismFunction *fns[] = {pn};
  ExtismPlugin *p = load("limits.wasm", fns, 1);
  extism_function_free(pn);
  const ExtismCancelHandle *handle = extism_plugin_cancel_handle(p);
  CHECK(handle != NULL, "cancel handle");

  /* A cancel while idle is not remembered. */
  CHECK(extism_plugin_cancel(handle), "idle cancel");
  CHECK(call_str(p, "compute", "1") == 0, "call after idle cancel: %s",
        error_or(p, ""));

  pthread_t thread;
  double start = now_s();
  pthread_create(&thread, NULL, cancel_later, (void *)handle);
  int32_t rc = call_str(p, "infinite_loop", "");
  double took = now_s() - start;
  pthread_join(thread, NULL);
  CHECK(rc != 0, "cancelled call succeeded");
  CHECK(extism_plugin_error(p) != NULL, "no error after cancel");
  if (verbose) fprintf(stderr, "cancel: rc %d, %s\n", rc, error_or(p, "NULL"));
  CHECK(took < 10.0, "cancel took %.1f s", took);
  CHECK(call_str(p, "compute", "10") == 0 &&
            strcmp(output(p), "17818939798065174182") == 0,
        "usable after cancel: %s", error_or(p, output(p)));
  extism_plugin_free(p);
}

static void test_fuel(void) {
  /* libextism refuses a function object given to a second plug-in: one each. */
  ExtismFunction *pn = make_fn("panic_now", panic_now, NULL, NULL);
  ExtismFunction *pn2 = make_fn("panic_now", panic_now, NULL, NULL);
  const ExtismFunction *fns[] = {pn};
  const ExtismFunction *fns2[] = {pn2};
  size_t len;
  uint8_t *wasm = read_file("limits.wasm", &len);
  char *err = NULL;
  ExtismPlugin *p =
      extism_plugin_new_with_fuel_limit(wasm, len, fns, 1, false, 100000, &err);
  CHECK(p != NULL, "fuel plug-in: %s", err ? err : "");
  if (p) {
    CHECK(call_str(p, "compute", "10") == 0, "small call: %s", error_or(p, ""));
    int32_t rc = call_str(p, "compute", "10000000");
    CHECK(rc == -1, "rc %d", rc);
    CHECK(strstr(error_or(p, ""), "fuel") != NULL, "error %s", error_or(p, "NULL"));
    extism_plugin_free(p);
  }
  extism_plugin_new_error_free(err);

  /* The same through a compiled plug-in. */
  err = NULL;
  ExtismCompiledPlugin *c = extism_compiled_plugin_new_with_fuel_limit(
      wasm, len, fns2, 1, false, 100000, &err);
  CHECK(c != NULL, "compiled fuel plug-in: %s", err ? err : "");
  if (c) {
    p = extism_plugin_new_from_compiled(c, NULL);
    CHECK(p && call_str(p, "compute", "10000000") == -1, "fuel limit lost");
    extism_plugin_free(p);
    extism_compiled_plugin_free(c);
  }
  extism_plugin_new_error_free(err);
  extism_function_free(pn);
  extism_function_free(pn2);
  free(wasm);
}

static void test_compiled(void) {
  size_t len;
  uint8_t *wasm = read_file("count_vowels.wasm", &len);
  char *err = NULL;
  ExtismCompiledPlugin *c =
      extism_compiled_plugin_new(wasm, len, NULL, 0, false, &err);
  free(wasm);
  CHECK(c != NULL, "compile: %s", err ? err : "");
  if (!c) return;
  ExtismPlugin *a = extism_plugin_new_from_compiled(c, &err);
  ExtismPlugin *b = extism_plugin_new_from_compiled(c, &err);
  extism_compiled_plugin_free(c);
  CHECK(a && b, "instantiate");
  if (!a || !b) return;
  CHECK(memcmp(extism_plugin_id(a), extism_plugin_id(b), 16) != 0, "same id");
  CHECK(call_str(a, "count_vowels", "aaa") == 0 && strstr(output(a), "\"total\":3"),
        "a %s", output(a));
  CHECK(call_str(a, "count_vowels", "aaa") == 0 && strstr(output(a), "\"total\":6"),
        "a %s", output(a));
  /* Separate instances: b has its own vars. */
  CHECK(call_str(b, "count_vowels", "aaa") == 0 && strstr(output(b), "\"total\":3"),
        "b %s", output(b));
  extism_plugin_free(a);
  extism_plugin_free(b);

  err = NULL;
  c = extism_compiled_plugin_new((const uint8_t *)"junk", 4, NULL, 0, false, &err);
  CHECK(c == NULL && starts_with(err, "Unable to compile Extism plugin: "),
        "compile junk: %s", err ? err : "NULL");
  extism_plugin_new_error_free(err);
}

static char drained[65536];
static int drained_lines = 0;

static void drain(const char *data, ExtismSize size) {
  drained_lines++;
  size_t used = strlen(drained);
  if (used + size + 1 < sizeof drained) {
    memcpy(drained + used, data, (size_t)size);
    drained[used + size] = 0;
  }
  if (verbose) fprintf(stderr, "log line (%d bytes): %.*s|\n", (int)size, (int)size, data);
}

static void test_logging(void) {
  CHECK(extism_log_custom("info"), "log_custom");
  /* libextism accepts any filter text, and only one setup per process. */
  if (is_interplug) {
    CHECK(!extism_log_custom("loudest"), "unknown level accepted");
    CHECK(extism_log_custom(NULL), "log_custom NULL level (error)");
    CHECK(extism_log_custom("info"), "log_custom again");
  }
  ExtismPlugin *p = load("logging.wasm", NULL, 0);
  CHECK(call_str(p, "log_level", "") == 0 && strcmp(output(p), "2") == 0,
        "level seen by the plug-in: %s", output(p));
  CHECK(call_str(p, "log_all", "marker-1234") == 0, "%s", error_or(p, ""));
  drained[0] = 0;
  drained_lines = 0;
  extism_log_drain(drain);
  int found = 0;
  for (const char *s = drained; (s = strstr(s, "marker-1234")); s++) found++;
  CHECK(found == 3, "%d plug-in log lines (info, warn, error) in: %s", found, drained);
  CHECK(strstr(drained, "INFO") && strstr(drained, "WARN") && strstr(drained, "ERROR"),
        "levels missing in %s", drained);
  /* Drained lines are gone. */
  drained[0] = 0;
  extism_log_drain(drain);
  CHECK(strstr(drained, "marker-1234") == NULL, "lines drained twice");
  extism_plugin_free(p);
}

/* ------------------------------------- robustness (interplug's promise) -- */

static void never_called(ExtismCurrentPlugin *p, const ExtismVal *in,
                         ExtismSize n_in, ExtismVal *out, ExtismSize n_out,
                         void *d) {
  (void)p, (void)in, (void)n_in, (void)out, (void)n_out, (void)d;
}

static int kept_freed = 0;
static void free_kept(void *d) {
  (void)d;
  kept_freed++;
}

static void test_robustness(void) {
  char *err = NULL;
  /* NULL everything. */
  CHECK(extism_plugin_new(NULL, 0, NULL, 0, false, &err) == NULL, "NULL wasm");
  extism_plugin_new_error_free(err);
  err = NULL;
  CHECK(extism_plugin_new(NULL, 10, NULL, 5, false, &err) == NULL && err,
        "NULL wasm with length");
  extism_plugin_new_error_free(err);
  CHECK(extism_plugin_new_from_compiled(NULL, NULL) == NULL, "NULL compiled");
  CHECK(extism_compiled_plugin_new(NULL, 0, NULL, 0, false, NULL) == NULL, "NULL");
  CHECK(extism_plugin_call(NULL, "f", NULL, 0) == -1, "call NULL");
  CHECK(extism_plugin_call_with_host_context(NULL, "f", NULL, 0, NULL) == -1,
        "call NULL");
  CHECK(extism_plugin_error(NULL) == NULL, "error NULL");
  CHECK(extism_error(NULL) == NULL, "error NULL");
  CHECK(extism_plugin_output_length(NULL) == 0, "output NULL");
  extism_plugin_output_data(NULL);
  CHECK(!extism_plugin_config(NULL, (const uint8_t *)"{}", 2), "config NULL");
  CHECK(!extism_plugin_function_exists(NULL, "f"), "exists NULL");
  CHECK(!extism_plugin_reset(NULL), "reset NULL");
  CHECK(extism_plugin_id(NULL) == NULL, "id NULL");
  CHECK(extism_plugin_cancel_handle(NULL) == NULL, "cancel handle NULL");
  CHECK(!extism_plugin_cancel(NULL), "cancel NULL");
  extism_plugin_allow_http_response_headers(NULL);
  extism_plugin_free(NULL);
  extism_compiled_plugin_free(NULL);
  extism_function_free(NULL);
  extism_function_set_namespace(NULL, "x");
  extism_plugin_new_error_free(NULL);
  CHECK(extism_current_plugin_memory(NULL) == NULL, "memory NULL");
  CHECK(extism_current_plugin_memory_alloc(NULL, 4) == 0, "alloc NULL");
  CHECK(extism_current_plugin_memory_length(NULL, 8) == 0, "length NULL");
  extism_current_plugin_memory_free(NULL, 8);
  CHECK(extism_current_plugin_host_context(NULL) == NULL, "context NULL");
  CHECK(!extism_log_file(NULL, "info"), "log file NULL");
  CHECK(!extism_log_file("/nonexistent-dir/x.log", "info"), "bad log path");
  extism_log_drain(NULL);

  /* Bad function definitions. */
  CHECK(extism_function_new(NULL, PTR1, 1, PTR1, 1, never_called, NULL, NULL) == NULL,
        "NULL name");
  CHECK(extism_function_new("\xff\xfe", PTR1, 1, PTR1, 1, never_called, NULL, NULL) ==
            NULL,
        "invalid UTF-8 name");
  CHECK(extism_function_new("f", PTR1, 1, PTR1, 1, NULL, NULL, NULL) == NULL,
        "NULL callback");
  CHECK(extism_function_new("f", NULL, 3, PTR1, 1, never_called, NULL, NULL) == NULL,
        "NULL types with a count");
  const int bad_type[] = {42};
  CHECK(extism_function_new("f", (const ExtismValType *)bad_type, 1, PTR1, 1,
                            never_called, NULL, NULL) == NULL,
        "unknown value type");
  ExtismFunction *v128 = extism_function_new(
      "hello_world", (const ExtismValType[]){ExtismValType_V128}, 1, PTR1, 1,
      never_called, NULL, NULL);
  size_t len;
  uint8_t *wasm = read_file("host_fns.wasm", &len);
  const ExtismFunction *v128s[] = {v128};
  err = NULL;
  CHECK(extism_plugin_new(wasm, len, v128s, 1, false, &err) == NULL && err,
        "v128 host function accepted");
  extism_plugin_new_error_free(err);
  extism_function_free(v128);

  /* A function object given to two plug-ins, and NULL entries in the array. */
  kept_freed = 0;
  Hello hello = {"Hi", 0};
  ExtismFunction *hw = make_fn("hello_world", hello_world, &hello, free_kept);
  ExtismFunction *sh = make_fn("shout", shout, NULL, NULL);
  ExtismFunction *pn = make_fn("panic_now", panic_now, NULL, NULL);
  extism_function_set_namespace(sh, "example:other");
  extism_function_set_namespace(pn, "\xff");   /* ignored: invalid UTF-8 */
  extism_function_set_namespace(pn, NULL);     /* ignored */
  const ExtismFunction *fns[] = {hw, NULL, sh, pn};
  ExtismPlugin *a = extism_plugin_new(wasm, len, fns, 4, false, &err);
  ExtismPlugin *b = extism_plugin_new(wasm, len, fns, 4, false, &err);
  free(wasm);
  extism_function_free(hw);
  extism_function_free(sh);
  extism_function_free(pn);
  CHECK(a && b, "function given twice");
  if (a && b) {
    CHECK(call_str(a, "call_host", "a") == 0 && strcmp(output(a), "Hi, a!") == 0,
          "a: %s", output(a));
    extism_plugin_free(a);
    CHECK(kept_freed == 0, "user data freed while b uses it");
    CHECK(call_str(b, "call_host", "b") == 0 && strcmp(output(b), "Hi, b!") == 0,
          "b: %s", output(b));
    extism_plugin_free(b);
  }
  CHECK(kept_freed == 1, "free_user_data called %d times", kept_freed);

  /* Bad calls. */
  ExtismPlugin *p = load("echo.wasm", NULL, 0);
  CHECK(extism_plugin_call(p, NULL, NULL, 0) == -1 && extism_plugin_error(p),
        "NULL name");
  CHECK(extism_plugin_call(p, "\xff", NULL, 0) == -1 && extism_plugin_error(p),
        "invalid UTF-8 name");
  CHECK(extism_plugin_call(p, "echo", NULL, 5) == -1 && extism_plugin_error(p),
        "NULL input with a length");
  CHECK(extism_plugin_call(p, "echo", NULL, 0) == 0 &&
            extism_plugin_output_length(p) == 0,
        "NULL empty input: %s", error_or(p, ""));
  CHECK(extism_plugin_output_data(p) != NULL, "output data NULL");
  CHECK(!extism_plugin_function_exists(p, NULL), "exists NULL name");
  CHECK(!extism_plugin_function_exists(p, "\xff"), "exists invalid UTF-8");
  CHECK(!extism_plugin_config(p, NULL, 5), "config NULL json");
  CHECK(!extism_plugin_config(p, (const uint8_t *)"\xff", 1), "config bad bytes");
  CHECK(extism_plugin_error(p) != NULL, "config error message");
  CHECK(extism_plugin_config(p, (const uint8_t *)"{\"a\":null}", 10), "config");
  CHECK(call_str(p, "echo", "still fine") == 0 &&
            strcmp(output(p), "still fine") == 0,
        "echo %s", output(p));
  extism_plugin_free(p);
}

/* A host function that uses its own plug-in (given as user data): interplug
 * answers with error values instead of deadlocking. */
static int reentrant_rc = 0;
static int reentrant_error_null = 0;
static void reentrant(ExtismCurrentPlugin *p, const ExtismVal *in, ExtismSize n_in,
                      ExtismVal *out, ExtismSize n_out, void *user_data) {
  (void)in, (void)n_in, (void)n_out;
  ExtismPlugin **self = user_data;
  reentrant_rc = call_str(*self, "call_host", "inner");
  reentrant_error_null = extism_plugin_error(*self) == NULL;
  extism_plugin_free(*self); /* refused: the plug-in is running */
  out[0].v.i64 = (int64_t)write_block(p, "outer");
}

static void test_reentrancy(void) {
  ExtismPlugin *self = NULL;
  ExtismFunction *hw = make_fn("hello_world", reentrant, &self, NULL);
  ExtismFunction *sh = make_fn("shout", shout, NULL, NULL);
  ExtismFunction *pn = make_fn("panic_now", panic_now, NULL, NULL);
  extism_function_set_namespace(sh, "example:other");
  const ExtismFunction *fns[] = {hw, sh, pn};
  self = load("host_fns.wasm", fns, 3);
  extism_function_free(hw);
  extism_function_free(sh);
  extism_function_free(pn);
  CHECK(call_str(self, "call_host", "x") == 0 && strcmp(output(self), "outer") == 0,
        "outer call: %s", error_or(self, output(self)));
  CHECK(reentrant_rc == -1, "re-entrant call rc %d", reentrant_rc);
  CHECK(reentrant_error_null, "re-entrant error access should give NULL");
  extism_plugin_free(self);
}

/* Several threads calling one plug-in: calls are serialised, none is lost. */
#define THREADS 4
#define CALLS 25
static void *count_many(void *plugin) {
  for (int i = 0; i < CALLS; i++)
    if (call_str(plugin, "count_vowels", "aei") != 0) return (void *)1;
  return NULL;
}

static void test_threads(void) {
  ExtismPlugin *p = load("count_vowels.wasm", NULL, 0);
  pthread_t threads[THREADS];
  for (int i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, count_many, p);
  int failures = 0;
  for (int i = 0; i < THREADS; i++) {
    void *result;
    pthread_join(threads[i], &result);
    failures += result != NULL;
  }
  CHECK(failures == 0, "%d threads saw a failed call", failures);
  CHECK(call_str(p, "count_vowels", "") == 0, "last call");
  char want[64];
  snprintf(want, sizeof want, "\"total\":%d", THREADS * CALLS * 3);
  CHECK(strstr(output(p), want) != NULL, "lost updates: %s", output(p));
  extism_plugin_free(p);
}

int main(int argc, char **argv) {
  if (argc > 1) fixtures = argv[1];
  verbose = getenv("TEST_VERBOSE") != NULL;
  alarm(120); /* a hang (a cancel that never lands) fails the run */
  is_interplug = strstr(extism_version(), "interplug") != NULL;
  fprintf(stderr, "testing %s (%s)\n", extism_version(),
          is_interplug ? "interplug" : "other implementation");

#define RUN(test)                                                              \
  do {                                                                         \
    if (verbose) fprintf(stderr, "== %s\n", #test);                            \
    test();                                                                    \
  } while (0)
  RUN(test_version);
  RUN(test_from_wasm);
  RUN(test_from_manifest);
  RUN(test_errors);
  RUN(test_config);
  RUN(test_host_functions);
  RUN(test_cancel);
  RUN(test_fuel);
  RUN(test_compiled);
  RUN(test_logging);
  if (is_interplug) {
    RUN(test_robustness);
    RUN(test_chaining); /* libextism 1.41 gives empty output here */
    RUN(test_reentrancy);
    RUN(test_threads);
  }

  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
