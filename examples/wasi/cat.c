/* cat: copies each file named on the command line (paths inside a
 * preopened directory, e.g. --dir data::/data then /data/x.txt), or
 * standard input when there is none, to standard output. Exit status 1
 * when a file cannot be opened. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int copy(FILE *in) {
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, n, stdout) != n) return -1;
  return ferror(in) ? -1 : 0;
}

int main(int argc, char **argv) {
  int status = 0;
  if (argc < 2) return copy(stdin) ? 1 : 0;
  for (int i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    if (!f) {
      fprintf(stderr, "cat: %s: %s\n", argv[i], strerror(errno));
      status = 1;
      continue;
    }
    if (copy(f)) status = 1;
    fclose(f);
  }
  return status;
}
