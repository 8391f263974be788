// peers_ort.js - the ONNX export of bench/peers_torch.py timed in ONNX
// Runtime (npm onnxruntime-node, CPU), for bench/peers.sh.
// usage: node peers_ort.js MODEL.onnx [threads] [repeat]
// Figures: median (best) of repeat runs, like abyss bench nn.
'use strict';
const ort = require('onnxruntime-node');

async function timed(fn, repeat) {
  await fn(); // warm-up
  const t = [];
  for (let i = 0; i < repeat; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  t.sort((a, b) => a - b);
  return [t[Math.floor(t.length / 2)], t[0]];
}

async function main() {
  const [model, threads = '1', repeat = '5'] = process.argv.slice(2);
  const n = parseInt(threads, 10), r = parseInt(repeat, 10);
  const s = await ort.InferenceSession.create(model, {
    intraOpNumThreads: n, interOpNumThreads: 1,
    graphOptimizationLevel: 'all', executionMode: 'sequential'});
  const T = 512, C = 17;
  const mk = (b) => {
    const d = new Float32Array(b * T * C);
    for (let i = 0; i < d.length; i++) d[i] = Math.sin(i * 0.37) * 2;
    return new ort.Tensor('float32', d, [b, T, C]);
  };
  const x1 = mk(1), x40 = mk(40), x64 = mk(64);
  const run = (x) => s.run({past_values: x});
  console.log(`onnxruntime-node, ${n} thread(s): median (best) of ${r}`);
  const jobs = [
    ['one hole, 40 windows one by one',
     async () => { for (let i = 0; i < 40; i++) await run(x1); }, 0],
    ['one hole, 40 windows batched', () => run(x40), 0],
    ['batch 1', () => run(x1), 1],
    ['batch 64', () => run(x64), 64],
  ];
  for (const [what, fn, nwin] of jobs) {
    const [med, best] = await timed(fn, r);
    const w = nwin ? `  ${(nwin / med).toFixed(1).padStart(8)} windows/s` : '';
    console.log(`    ${what.padEnd(34)} ${(med * 1e3).toFixed(2).padStart(9)}` +
                ` ms (${(best * 1e3).toFixed(2).padStart(8)})${w}`);
  }
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
