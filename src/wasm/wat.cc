/* WebAssembly text (.wat) to binary, through libwabt's parser and binary
 * writer. This is the only C++ in the library: it is a bridge, not a second
 * front end, so wabt's validator is not run (our own validator judges the
 * binary). Invariants: no C++ exception leaves this file, and every buffer
 * handed out is malloc'd so that tw_free() (plain free) releases it.
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "wabt/binary-writer.h"
#include "wabt/common.h"
#include "wabt/error.h"
#include "wabt/feature.h"
#include "wabt/ir.h"
#include "wabt/resolve-names.h"
#include "wabt/stream.h"
#include "wabt/wast-lexer.h"
#include "wabt/wast-parser.h"

#include "tw/tw.h"

namespace {

/* Text larger than this is refused before wabt sees it: the parser builds
 * an IR several times the size of its input, and no real module's text
 * comes near. */
constexpr size_t kMaxWatBytes = size_t(64) << 20;

void set_err(char *err, size_t errlen, const char *msg) {
  if (err && errlen > 0) std::snprintf(err, errlen, "%s", msg);
}

/* The first error as "line:col: message" (text errors always carry a line
 * and column; a binary-located one would not occur here, but falls back to
 * the message alone). */
void first_error(const wabt::Errors &errors, char *err, size_t errlen) {
  if (!err || errlen == 0) return;
  for (const wabt::Error &e : errors) {
    if (e.error_level != wabt::ErrorLevel::Error) continue;
    if (e.loc.line > 0)
      std::snprintf(err, errlen, "%d:%d: %s", e.loc.line, e.loc.first_column,
                    e.message.c_str());
    else
      std::snprintf(err, errlen, "%s", e.message.c_str());
    return;
  }
  set_err(err, errlen, "text format: unknown parse error");
}

int convert(const char *text, size_t len, uint8_t **out, size_t *out_len,
            char *err, size_t errlen) {
  wabt::Errors errors;
  std::unique_ptr<wabt::WastLexer> lexer =
      wabt::WastLexer::CreateBufferLexer("module.wat", text, len, &errors);
  if (!lexer) {
    set_err(err, errlen, "text format: cannot create lexer");
    return TW_ENOMEM;
  }

  wabt::Features features; /* wabt's defaults are WebAssembly 2.0 */
  wabt::WastParseOptions parse_options(features);
  std::unique_ptr<wabt::Module> module;
  if (wabt::Failed(wabt::ParseWatModule(lexer.get(), &module, &errors,
                                        &parse_options)) ||
      !module) {
    first_error(errors, err, errlen);
    return TW_EMALFORMED;
  }
  if (wabt::Failed(wabt::ResolveNamesModule(module.get(), &errors))) {
    first_error(errors, err, errlen);
    return TW_EMALFORMED;
  }

  wabt::MemoryStream stream;
  wabt::WriteBinaryOptions write_options(features, /*canonicalize_lebs=*/true,
                                         /*relocatable=*/false,
                                         /*write_debug_names=*/false);
  if (wabt::Failed(
          wabt::WriteBinaryModule(&stream, module.get(), write_options))) {
    set_err(err, errlen, "text format: cannot encode the module as binary");
    return TW_EMALFORMED;
  }

  const std::vector<uint8_t> &data = stream.output_buffer().data;
  uint8_t *buf = static_cast<uint8_t *>(std::malloc(data.empty() ? 1
                                                                 : data.size()));
  if (!buf) {
    set_err(err, errlen, "out of memory");
    return TW_ENOMEM;
  }
  if (!data.empty()) std::memcpy(buf, data.data(), data.size());
  *out = buf;
  *out_len = data.size();
  return TW_OK;
}

} // namespace

extern "C" TW_API int tw_wat_to_wasm(const char *text, size_t len,
                                     uint8_t **out, size_t *out_len,
                                     char *err, size_t errlen) {
  if (err && errlen > 0) err[0] = '\0';
  if (!out || !out_len || (!text && len > 0)) {
    set_err(err, errlen, "tw_wat_to_wasm: NULL argument");
    return TW_EINVAL;
  }
  *out = nullptr;
  *out_len = 0;
  if (len > kMaxWatBytes) {
    if (err && errlen > 0)
      std::snprintf(err, errlen,
                    "text module of %zu bytes is over the limit of %zu bytes",
                    len, kMaxWatBytes);
    return TW_ELIMIT;
  }
  static const char empty[1] = {0};
  try {
    return convert(text ? text : empty, len, out, out_len, err, errlen);
  } catch (const std::bad_alloc &) {
    set_err(err, errlen, "out of memory while parsing text");
    return TW_ENOMEM;
  } catch (const std::exception &e) {
    if (err && errlen > 0)
      std::snprintf(err, errlen, "text format: internal error: %s", e.what());
    return TW_EMALFORMED;
  } catch (...) {
    set_err(err, errlen, "text format: internal error");
    return TW_EMALFORMED;
  }
}

extern "C" TW_API void tw_free(void *p) { std::free(p); }
