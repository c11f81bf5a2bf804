/*
 * greet.c: a C host for Extism plug-ins, built against libinterplug.
 *
 *   cc greet.c $(pkg-config --cflags --libs interplug) -o greet
 *   ./greet host_fns.wasm call_host world        # -> Hello, world!
 *
 * Loads a plug-in from a manifest, gives it a host function
 * (extism:host/user hello_world, a block in, a block out) and calls it.
 */
#include <extism.h>

#include <stdio.h>
#include <string.h>

/* Reads the input block and returns a new block "<greeting>, <input>!". */
static void hello_world(ExtismCurrentPlugin *plugin, const ExtismVal *inputs,
                        ExtismSize n_inputs, ExtismVal *outputs,
                        ExtismSize n_outputs, void *user_data) {
  const char *greeting = user_data;
  char text[512];
  (void)n_inputs;
  (void)n_outputs;
  ExtismMemoryHandle in = (ExtismMemoryHandle)inputs[0].v.i64;
  ExtismSize len = extism_current_plugin_memory_length(plugin, in);
  int n = snprintf(text, sizeof text, "%s, %.*s!", greeting,
                   (int)(len < 256 ? len : 256),
                   (const char *)extism_current_plugin_memory(plugin) + in);
  if (n < 0) n = 0;
  if (n >= (int)sizeof text) n = (int)sizeof text - 1;
  ExtismMemoryHandle out = extism_current_plugin_memory_alloc(plugin, (ExtismSize)n);
  /* Take the base pointer again after allocating: the memory may have moved. */
  if (out) memcpy(extism_current_plugin_memory(plugin) + out, text, (size_t)n);
  outputs[0].v.i64 = (int64_t)out;
}

/* host_fns.wasm also imports these two; they return no block (empty output). */
static void nothing(ExtismCurrentPlugin *plugin, const ExtismVal *inputs,
                    ExtismSize n_inputs, ExtismVal *outputs, ExtismSize n_outputs,
                    void *user_data) {
  (void)plugin, (void)inputs, (void)n_inputs, (void)n_outputs, (void)user_data;
  outputs[0].v.i64 = 0;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s PLUGIN.wasm FUNCTION INPUT\n", argv[0]);
    return 2;
  }
  char manifest[4096];
  snprintf(manifest, sizeof manifest, "{\"wasm\": [{\"path\": \"%s\"}]}", argv[1]);

  const ExtismValType ptr[] = {EXTISM_PTR};
  ExtismFunction *functions[3] = {
      extism_function_new("hello_world", ptr, 1, ptr, 1, hello_world, "Hello", NULL),
      extism_function_new("panic_now", ptr, 1, ptr, 1, nothing, NULL, NULL),
      extism_function_new("shout", ptr, 1, ptr, 1, nothing, NULL, NULL),
  };
  extism_function_set_namespace(functions[2], "example:other");

  char *error = NULL;
  ExtismPlugin *plugin =
      extism_plugin_new((const uint8_t *)manifest, strlen(manifest),
                        (const ExtismFunction **)functions, 3, false, &error);
  /* The plug-in keeps what it needs: the function objects can go now. */
  for (int i = 0; i < 3; i++) extism_function_free(functions[i]);
  if (plugin == NULL) {
    fprintf(stderr, "%s\n", error);
    extism_plugin_new_error_free(error);
    return 1;
  }

  int32_t rc = extism_plugin_call(plugin, argv[2], (const uint8_t *)argv[3],
                                  strlen(argv[3]));
  if (rc != EXTISM_SUCCESS) {
    const char *message = extism_plugin_error(plugin);
    fprintf(stderr, "call failed (%d): %s\n", rc, message ? message : "");
    extism_plugin_free(plugin);
    return 1;
  }
  fwrite(extism_plugin_output_data(plugin), 1,
         (size_t)extism_plugin_output_length(plugin), stdout);
  putchar('\n');
  extism_plugin_free(plugin);
  return 0;
}
