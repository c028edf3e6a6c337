/* wc: counts lines, words and bytes of every regular file in a directory
 * (default "."; preopen it with --dir), in name order, then a total. */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct counts {
  unsigned long lines, words, bytes;
};

static int count(const char *path, struct counts *c) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  int ch, in_word = 0;
  while ((ch = fgetc(f)) != EOF) {
    c->bytes++;
    if (ch == '\n') c->lines++;
    if (isspace(ch)) {
      in_word = 0;
    } else if (!in_word) {
      in_word = 1;
      c->words++;
    }
  }
  fclose(f);
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : ".";
  DIR *d = opendir(dir);
  if (!d) {
    perror(dir);
    return 1;
  }
  char *names[256];
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 256)
    if (e->d_type == DT_REG) names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, n, sizeof names[0], by_name);
  struct counts total = {0, 0, 0};
  for (size_t i = 0; i < n; i++) {
    char path[1024];
    struct counts c = {0, 0, 0};
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    if (count(path, &c) == 0) {
      printf("%7lu %7lu %7lu %s\n", c.lines, c.words, c.bytes, names[i]);
      total.lines += c.lines;
      total.words += c.words;
      total.bytes += c.bytes;
    }
    free(names[i]);
  }
  printf("%7lu %7lu %7lu total\n", total.lines, total.words, total.bytes);
  return 0;
}
