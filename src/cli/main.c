/* `tensor-wasm`: the command-line front end. Dispatches to one function
 * per command (run.c, validate.c); each parses its own options and returns
 * the process exit status (0 ok, 1 trap, 2 usage or module error).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char main_usage[] =
    "Usage: tensor-wasm COMMAND [options]\n"
    "\n"
    "Commands:\n"
    "  run FILE [--invoke NAME] [--args JSON] [--max-memory BYTES]\n"
    "           [--timeout MS]\n"
    "           compile and run a .wasm or .wat module, print the results\n"
    "  validate FILE\n"
    "           decode and validate a module without running it\n"
    "  snapshot save|restore|inspect ...\n"
    "           capture an instance, restore one, or print a header\n"
    "  gpu info [--mock]\n"
    "           describe the GPUs, driver, MPS/MIG state (or say there are none)\n"
    "  worker --fd N\n"
    "           a tenant's GPU worker process (started by a supervisor)\n"
    "  serve [--addr HOST:PORT] [--data DIR] [--config FILE]\n"
    "           run the HTTP API (functions, invoke, jobs, metrics)\n"
    "  token create --tenant T --scope deploy,invoke,read\n"
    "           make an API token (offline with --data DIR)\n"
    "  deploy FILE --name NAME    upload a module to a server\n"
    "  invoke NAME --export E --args JSON   call a deployed function\n"
    "  functions [get|delete NAME]          list or manage functions\n"
    "  jobs [get|cancel ID]                 list or manage async jobs\n"
    "  observe  live status board of a server\n"
    "  version  print the version\n"
    "  help     show this help\n"
    "\n"
    "Run 'tensor-wasm COMMAND --help' for a command's options.\n"
    "Example: tensor-wasm run examples/add.wat --invoke add --args '[2,3]'\n";

static const char version_usage[] =
    "Usage: tensor-wasm version\n"
    "\n"
    "Prints the version of tensor-wasm.\n";

static const char help_usage[] =
    "Usage: tensor-wasm help [COMMAND]\n"
    "\n"
    "Shows the list of commands, or COMMAND's options.\n";

static int cmd_version(int argc, char **argv) {
  if (argc > 1 && tw_cli_is_help(argv[1])) {
    fputs(version_usage, stdout);
    return TW_CLI_OK;
  }
  if (argc > 1)
    return tw_cli_usage_error("version", "unexpected argument '%s'", argv[1]);
  printf("tensor-wasm %s\n", TW_CLI_VERSION);
  return TW_CLI_OK;
}

static int cmd_help(int argc, char **argv);

struct command {
  const char *name;
  int (*fn)(int argc, char **argv);
};

static const struct command commands[] = {
    {"run", tw_cli_cmd_run},
    {"validate", tw_cli_cmd_validate},
    {"serve", tw_cli_cmd_serve},
    {"token", tw_cli_cmd_token},
    {"deploy", tw_cli_cmd_deploy},
    {"invoke", tw_cli_cmd_invoke},
    {"functions", tw_cli_cmd_functions},
    {"jobs", tw_cli_cmd_jobs},
    {"observe", tw_cli_cmd_observe},
    {"gpu", tw_cli_cmd_gpu},
    {"worker", tw_cli_cmd_worker},
    {"snapshot", tw_cli_cmd_snapshot},
    {"version", cmd_version},
    {"help", cmd_help},
};

static const struct command *find_command(const char *name) {
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(commands[i].name, name) == 0) return &commands[i];
  return NULL;
}

static int cmd_help(int argc, char **argv) {
  if (argc > 1 && tw_cli_is_help(argv[1])) {
    fputs(help_usage, stdout);
    return TW_CLI_OK;
  }
  if (argc > 1) {
    const struct command *c = find_command(argv[1]);
    if (!c || c->fn == cmd_help) {
      if (c) {
        fputs(help_usage, stdout);
        return TW_CLI_OK;
      }
      return tw_cli_usage_error("help", "unknown command '%s'", argv[1]);
    }
    char help_flag[] = "--help";
    char *sub[] = {argv[1], help_flag, NULL};
    return c->fn(2, sub);
  }
  fputs(main_usage, stdout);
  return TW_CLI_OK;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(main_usage, stderr);
    return TW_CLI_USAGE;
  }
  const char *name = argv[1];
  if (tw_cli_is_help(name)) {
    fputs(main_usage, stdout);
    return TW_CLI_OK;
  }
  if (strcmp(name, "--version") == 0) return cmd_version(1, argv + 1);
  const struct command *c = find_command(name);
  if (!c) {
    fprintf(stderr,
            "tensor-wasm: unknown command '%s'\n"
            "Try 'tensor-wasm help' for the list of commands.\n",
            name);
    return TW_CLI_USAGE;
  }
  return c->fn(argc - 1, argv + 1);
}
