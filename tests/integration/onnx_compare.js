// onnx_compare.js MODEL.onnx INPUT.safetensors C_OUTPUT.safetensors [TOL]
//
// Runs MODEL.onnx in ONNX Runtime (onnxruntime-node, CPU) on the F32 tensor
// past_values of INPUT (all B windows, then the first window alone: the batch
// axis is dynamic) and compares prediction_outputs with the same tensor of
// C_OUTPUT (written by `abyss model run`). The relative difference of an
// element is |onnx - c| / max(|c|, 1e-3 * max|c|): the floor keeps outputs
// that cancel to nearly 0 from turning float noise into a huge ratio (the
// plain |onnx - c| / |c| is printed too). Exits 1 when the largest relative
// difference is TOL (default 1e-3) or more, 2 on a usage or format error.
// Used by 30-onnx.sh.
'use strict';
const fs = require('fs');

function readTensor(path, name) {
  const buf = fs.readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const t = header[name];
  if (!t || t.dtype !== 'F32') throw new Error(`${path}: no F32 tensor ${name}`);
  const [a, b] = t.data_offsets;
  const bytes = buf.subarray(8 + n + a, 8 + n + b);
  // copy: the slice of a Node Buffer need not be 4-byte aligned
  const data = new Float32Array(new Uint8Array(bytes).buffer);
  return { shape: t.shape, data };
}

async function main() {
  const [model, input, cout, tolArg] = process.argv.slice(2);
  if (!cout) {
    console.error('usage: node onnx_compare.js MODEL INPUT C_OUTPUT [TOL]');
    process.exit(2);
  }
  const tol = tolArg ? Number(tolArg) : 1e-3;
  const ort = require('onnxruntime-node');
  const x = readTensor(input, 'past_values');
  const ref = readTensor(cout, 'prediction_outputs');
  const session = await ort.InferenceSession.create(model);
  const run = async (data, shape) => (await session.run(
    { past_values: new ort.Tensor('float32', data, shape) })).prediction_outputs;
  const out = await run(x.data, x.shape);
  if (out.dims.join(',') !== ref.shape.join(',')) {
    console.error(`shape ${out.dims} from ONNX, ${ref.shape} from C`);
    process.exit(1);
  }
  let big = 0;
  for (const v of ref.data) big = Math.max(big, Math.abs(v));
  const floor = Math.max(1e-3 * big, 1e-30);
  let rel = 0, plain = 0, abs = 0, at = 0;
  for (let i = 0; i < ref.data.length; i++) {
    const d = Math.abs(out.data[i] - ref.data[i]);
    const r = d / Math.max(Math.abs(ref.data[i]), floor);
    if (!(r <= rel)) { rel = r; at = i; }
    if (!(d / Math.abs(ref.data[i]) <= plain) && d > 0) plain = d / Math.abs(ref.data[i]);
    if (!(d <= abs)) abs = d;
  }
  // batch of one: same numbers as window 0 of the batched run
  const per = x.data.length / x.shape[0], perOut = ref.data.length / ref.shape[0];
  const one = await run(x.data.slice(0, per), [1, x.shape[1], x.shape[2]]);
  let rel1 = 0;
  for (let i = 0; i < perOut; i++) {
    const r = Math.abs(one.data[i] - ref.data[i]) / Math.max(Math.abs(ref.data[i]), floor);
    if (!(r <= rel1)) rel1 = r;
  }
  console.log(`${model}: ${ref.data.length} outputs [${ref.shape}], ` +
    `max rel diff ${rel.toExponential(3)} (at ${at}: onnx ${out.data[at]}, ` +
    `c ${ref.data[at]}), batch of 1: ${rel1.toExponential(3)}; ` +
    `max abs diff ${abs.toExponential(3)}, max plain |d|/|c| ` +
    `${plain.toExponential(3)}, max |c| ${big.toPrecision(4)}`);
  process.exit(rel < tol && rel1 < tol ? 0 : 1);
}

main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(2); });
