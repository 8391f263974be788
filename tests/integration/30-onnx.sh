#!/bin/sh
# 30-onnx.sh ABYSS - `abyss model export DIR --onnx OUT`: every reference
# checkpoint (../shared/vectors/patchtsmixer/{tiny,tiny_common_channel,
# tiny_no_attn,original}) and three random-weight variants for what the
# vectors do not cover (2 and 4 heads, mean and no scaling, the stock
# 1-linear head, overlapping patches with dropped leading steps, no
# positional encoding, common_channel without gating, a constant channel)
# are exported, checked by Debian's python3-onnx checker (full_check), run
# in ONNX Runtime (npm onnxruntime-node, CPU) and compared with
# `abyss model run` on the same inputs: largest relative difference < 0.1 %.
#
# Missing tools (python3-onnx, node, npm, onnxruntime-node that cannot be
# installed) make the script skip with a message, unless ABYSS_REQUIRE_ONNX=1
# (CI), where they fail it. onnxruntime-node is installed into the repo's
# ignored node_modules/ from package.json / package-lock.json when absent.
set -u
BIN=${1:-build/abyss}
VEC=${ABYSS_VECTORS:-../shared/vectors}/patchtsmixer
PY=${ABYSS_PYTHON:-/usr/bin/python3}
TOL=${ABYSS_ONNX_TOL:-1e-3}
HERE=$(dirname "$0")
ROOT=$(cd "$HERE/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
missing() { # what
	if [ "${ABYSS_REQUIRE_ONNX:-0}" = 1 ]; then
		echo "FAIL $1 (ABYSS_REQUIRE_ONNX=1)"
		exit 1
	fi
	echo "skip: $1"
	exit 0
}

# usage errors need nothing else
"$BIN" model export >/dev/null 2>&1
[ $? -eq 2 ] && ok "export without arguments (exit 2)" || bad "export without arguments"
"$BIN" model export "$tmp" >/dev/null 2>&1
[ $? -eq 2 ] && ok "export without --onnx (exit 2)" || bad "export without --onnx"
"$BIN" model export "$tmp/none" --onnx "$tmp/x.onnx" 2>"$tmp/err"
rc=$?
if [ $rc -eq 2 ] && grep -q "without ONNX support" "$tmp/err"; then
	missing "$BIN was built without ONNX support (protobuf-c-compiler libprotobuf-c-dev libonnx-dev)"
fi
[ $rc -eq 3 ] && ok "export of a missing checkpoint (exit 3)" || bad "export of a missing checkpoint: exit $rc"
[ -e "$tmp/x.onnx" ] && bad "a failed export left a file"

"$PY" -c "import onnx" 2>/dev/null || missing "$PY has no onnx module (apt-get install python3-onnx)"
command -v node >/dev/null 2>&1 || missing "node is not installed (apt-get install nodejs)"
ort_loads() { (cd "$ROOT" && node -e "require('onnxruntime-node')") >/dev/null 2>&1; }
if ! ort_loads; then
	command -v npm >/dev/null 2>&1 || missing "npm is not installed (apt-get install npm)"
	echo "installing onnxruntime-node into node_modules/ (CPU only)"
	if [ -f "$ROOT/package-lock.json" ]; then npmcmd=ci; else npmcmd=install; fi
	(cd "$ROOT" && ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip \
		npm $npmcmd --no-audit --no-fund) >"$tmp/npm.log" 2>&1 ||
		{ tail -5 "$tmp/npm.log"; missing "npm $npmcmd onnxruntime-node failed"; }
	ort_loads || missing "onnxruntime-node does not load after npm $npmcmd"
fi

check_one() { # name dir input
	name=$1 dir=$2 input=$3
	if ! "$BIN" model export "$dir" --onnx "$tmp/$name.onnx" 2>"$tmp/err"; then
		bad "$name: export failed: $(cat "$tmp/err")"
		return
	fi
	if "$PY" -c "import onnx, sys; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); assert m.opset_import[0].version == 17, m.opset_import" \
		"$tmp/$name.onnx" 2>"$tmp/err"; then
		ok "$name: onnx checker (full_check, opset 17)"
	else
		bad "$name: onnx checker: $(tail -3 "$tmp/err")"
		return
	fi
	if ! "$BIN" model run "$dir" --input "$input" --output "$tmp/$name.c.safetensors" 2>"$tmp/err"; then
		bad "$name: abyss model run failed: $(cat "$tmp/err")"
		return
	fi
	if node "$HERE/onnx_compare.js" "$tmp/$name.onnx" "$input" \
		"$tmp/$name.c.safetensors" "$TOL" >"$tmp/out" 2>&1; then
		ok "$name: ONNX Runtime = abyss model run: $(sed 's/^[^:]*: //' "$tmp/out")"
	else
		bad "$name: ONNX Runtime vs abyss model run: $(cat "$tmp/out")"
	fi
}

n=0
for v in tiny tiny_common_channel tiny_no_attn original; do
	if [ -f "$VEC/$v/model.safetensors" ]; then
		check_one "$v" "$VEC/$v" "$VEC/$v/inputs.safetensors"
		n=$((n + 1))
	fi
done
[ $n -eq 0 ] && echo "skip: no reference checkpoints under $VEC (variants only)"

if "$PY" "$HERE/onnx_variants.py" "$tmp/var" >"$tmp/names" 2>"$tmp/err"; then
	for v in $(cat "$tmp/names"); do
		check_one "$v" "$tmp/var/$v" "$tmp/var/$v/inputs.safetensors"
	done
else
	bad "onnx_variants.py: $(cat "$tmp/err")"
fi

# the graph declares what it promises: names, dynamic batch, initializers
if [ -f "$tmp/tiny.onnx" ]; then
	if "$PY" - "$tmp/tiny.onnx" "$VEC/tiny/model.safetensors" <<'PYEOF' 2>"$tmp/err"; then
import json, struct, sys
import onnx
from onnx import numpy_helper
m = onnx.load(sys.argv[1])
g = m.graph
assert [i.name for i in g.input] == ["past_values"], g.input
assert [o.name for o in g.output] == ["prediction_outputs"], g.output
dims = g.input[0].type.tensor_type.shape.dim
assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [32, 3], dims
ops = {n.op_type for n in g.node}
assert "Erf" in ops and "LayerNormalization" in ops and "Dropout" not in ops, ops
assert not {"Gelu", "FastGelu", "Tanh"} & ops, ops
with open(sys.argv[2], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    hdr = json.loads(f.read(n))
    base = 8 + n
    inits = {t.name: t for t in g.initializer}
    for name, t in hdr.items():
        if name == "__metadata__":
            continue
        assert name in inits, "no initializer " + name
        a = numpy_helper.to_array(inits[name])
        assert list(a.shape) == t["shape"], (name, a.shape, t["shape"])
        f.seek(base + t["data_offsets"][0])
        raw = f.read(t["data_offsets"][1] - t["data_offsets"][0])
        assert a.astype("<f4").tobytes() == raw, "data of " + name
PYEOF
		ok "tiny: input/output names, dynamic batch, erf GELU, initializers = checkpoint (names, shapes, bits)"
	else
		bad "tiny: graph interface: $(tail -3 "$tmp/err")"
	fi
fi

echo "30-onnx: $fails failure(s)"
[ $fails -eq 0 ]
