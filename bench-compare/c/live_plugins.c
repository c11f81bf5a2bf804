/*
 * What a live plug-in costs, measured through the Extism C API: the same program is
 * linked once against the official libextism and once against libinterplug
 * (bench-compare/c/run.sh builds and runs both, in one sitting).
 *
 *   live_plugins bytes N WASM        N plug-ins made from the bytes of WASM
 *   live_plugins compiled N WASM     N instances of one compiled plug-in of WASM
 *   live_plugins instantiate N WASM  time to make an instance from a compiled
 *                                    plug-in, call it once and free it, N times
 *                                    (a runtime may instantiate at creation or at
 *                                    the first call: both are in)
 *
 * Every plug-in is called once (count_vowels with a short text) and kept alive; the
 * program then prints its resident memory from /proc/self/status (Linux).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "extism.h"

static const char INPUT[] = "Hello, World! The quick brown fox jumps over the lazy dog.";

/* A kB field of /proc/self/status, or 0. */
static long status_kib(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long value = 0;
  size_t n = strlen(key);
  if (f == NULL) return 0;
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, key, n) == 0) {
      value = strtol(line + n, NULL, 10);
      break;
    }
  }
  fclose(f);
  return value;
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  uint8_t *data;
  long size;
  if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0) return NULL;
  rewind(f);
  data = malloc((size_t)size);
  if (data == NULL || fread(data, 1, (size_t)size, f) != (size_t)size) return NULL;
  fclose(f);
  *len = (size_t)size;
  return data;
}

static void call_once(ExtismPlugin *plugin, size_t index) {
  if (extism_plugin_call(plugin, "count_vowels", (const uint8_t *)INPUT,
                         sizeof INPUT - 1) != EXTISM_SUCCESS) {
    const char *error = extism_plugin_error(plugin);
    fprintf(stderr, "call of plug-in %zu failed: %s\n", index, error ? error : "(no message)");
    exit(1);
  }
  if (extism_plugin_output_length(plugin) == 0) {
    fprintf(stderr, "no output\n");
    exit(1);
  }
}

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
  size_t len = 0, i, n;
  uint8_t *wasm;
  char *error = NULL;
  long base;
  ExtismPlugin **plugins;
  ExtismCompiledPlugin *compiled = NULL;
  if (argc != 4) {
    fprintf(stderr, "usage: live_plugins bytes|compiled|instantiate N WASM\n");
    return 2;
  }
  n = (size_t)strtoul(argv[2], NULL, 10);
  wasm = read_file(argv[3], &len);
  if (wasm == NULL) {
    fprintf(stderr, "cannot read %s\n", argv[3]);
    return 1;
  }
  plugins = calloc(n, sizeof *plugins);
  if (strcmp(argv[1], "bytes") != 0) {
    compiled = extism_compiled_plugin_new(wasm, len, NULL, 0, false, &error);
    if (compiled == NULL) {
      fprintf(stderr, "compile: %s\n", error);
      return 1;
    }
  }
  if (strcmp(argv[1], "instantiate") == 0) {
    double start = now_us();
    /* 20 first, so that one-time work is not measured. */
    for (i = 0; i < n + 20; i++) {
      ExtismPlugin *plugin;
      if (i == 20) start = now_us();
      plugin = extism_plugin_new_from_compiled(compiled, &error);
      if (plugin == NULL) {
        fprintf(stderr, "instantiate: %s\n", error);
        return 1;
      }
      call_once(plugin, i);
      extism_plugin_free(plugin);
    }
    printf("mode=instantiate n=%zu us_per_instance=%.2f\n", n, (now_us() - start) / (double)n);
    return 0;
  }
  base = status_kib("VmRSS:");
  for (i = 0; i < n; i++) {
    plugins[i] = compiled ? extism_plugin_new_from_compiled(compiled, &error)
                          : extism_plugin_new(wasm, len, NULL, 0, false, &error);
    if (plugins[i] == NULL) {
      fprintf(stderr, "plug-in %zu: %s\n", i, error);
      return 1;
    }
    call_once(plugins[i], i);
  }
  printf("mode=%s n=%zu base_kib=%ld rss_kib=%ld hwm_kib=%ld\n", argv[1], n, base,
         status_kib("VmRSS:"), status_kib("VmHWM:"));
  for (i = 0; i < n; i++) extism_plugin_free(plugins[i]);
  extism_compiled_plugin_free(compiled);
  free(plugins);
  free(wasm);
  return 0;
}
