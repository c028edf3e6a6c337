/* The smallest WASI command: greets, names its arguments and the
 * environment variable GREETING if set, and exits with status 0. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  const char *who = getenv("GREETING");
  printf("Hello from WebAssembly%s%s!\n", who ? ", " : "", who ? who : "");
  for (int i = 1; i < argc; i++) printf("arg %d: %s\n", i, argv[i]);
  return 0;
}
