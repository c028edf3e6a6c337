// Peer measurement: V8 (node) `new WebAssembly.Instance` of the same
// modules as coldstart.c, compiled once. Prints Markdown table rows.
const fs = require('fs');
const runs = Number(process.argv[4] || 1000);
for (const [label, path] of [['small module', process.argv[3]], ['1 MiB module', process.argv[2]]]) {
  const mod = new WebAssembly.Module(fs.readFileSync(path));
  new WebAssembly.Instance(mod, {});
  const t = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    new WebAssembly.Instance(mod, {});
    t.push(Number(process.hrtime.bigint() - t0));
  }
  t.sort((a, b) => a - b);
  const p50 = t[Math.floor(runs / 2)] / 1e3, p99 = t[Math.floor(runs * 99 / 100)] / 1e3;
  console.log(`| node ${process.version} new WebAssembly.Instance, ${label} | ${runs} | ${p50.toFixed(1)} | ${p99.toFixed(1)} | peer |`);
}
