// V8 runner of the CPU benchmarks (.cjs: CommonJS whatever package.json
// says): node node_runner.cjs FILE N [compile]
// Compiles FILE with WebAssembly.Module (synchronous, so the time covers
// the whole compile that V8's flags ask for), instantiates it with no
// imports, runs a reactor's _initialize, then times only run(N).
// Prints {"result":"R","compile_ms":..,"instantiate_ms":..,"call_ms":..};
// with "compile" as third argument it stops after compiling.
'use strict';
const fs = require('fs');

function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

const [file, nText, mode] = process.argv.slice(2);
const bytes = fs.readFileSync(file);
const n = Number(nText);
const t0 = nowMs();
const wasmModule = new WebAssembly.Module(bytes);
const t1 = nowMs();
if (mode === 'compile') {
  process.stdout.write(`{"compile_ms":${(t1 - t0).toFixed(3)}}\n`);
  process.exit(0);
}
const instance = new WebAssembly.Instance(wasmModule, {});
if (instance.exports._initialize) instance.exports._initialize();
const t2 = nowMs();
const result = instance.exports.run(n);
const t3 = nowMs();
// i64 results arrive as BigInt: print as a decimal string.
process.stdout.write(
  `{"result":"${result.toString()}","compile_ms":${(t1 - t0).toFixed(3)},` +
    `"instantiate_ms":${(t2 - t1).toFixed(3)},"call_ms":${(t3 - t2).toFixed(3)}}\n`);
