#!/usr/bin/env python3
"""onnx_variants.py OUTDIR - writes PatchTSMixer checkpoints with random
weights for the configurations the reference vectors do not cover, each as
OUTDIR/NAME/{config.json,model.safetensors,inputs.safetensors}, for
30-onnx.sh. Standard library only (no numpy, no torch): the tensor names
and shapes follow transformers' PatchTSMixerForPrediction state_dict, the
weights are uniform(+-1/sqrt(in)) like nn.Linear's init, LayerNorm affine
parameters are perturbed so an export that ignored them would show.
"""
import json
import math
import os
import random
import struct
import sys

VARIANTS = {
    # 2 heads, mean scaling, stock 1-linear head, overlapping patches with
    # 3 leading steps dropped (T - (L + S(P-1)) = 33 - 30), no positional
    # encoding
    "heads2_mean_stock_overlap": dict(
        context_length=33, patch_length=6, patch_stride=4, num_input_channels=3,
        d_model=8, num_layers=2, expansion_factor=2, prediction_length=5,
        mode="mix_channel", gated_attn=True, self_attn=True, self_attn_heads=2,
        scaling="mean", use_positional_encoding=False, head_linears=1),
    # 4 heads, no scaling, common_channel without gating, 3-linear head
    "heads4_none_common_nogate": dict(
        context_length=16, patch_length=4, patch_stride=2, num_input_channels=2,
        d_model=8, num_layers=2, expansion_factor=3, prediction_length=6,
        mode="common_channel", gated_attn=False, self_attn=True,
        self_attn_heads=4, scaling=None, use_positional_encoding=True,
        head_linears=3),
    # std scaling with a constant channel, gating without attention,
    # 3-linear head
    "std_gate_noattn_const": dict(
        context_length=24, patch_length=8, patch_stride=8, num_input_channels=4,
        d_model=4, num_layers=3, expansion_factor=2, prediction_length=7,
        mode="mix_channel", gated_attn=True, self_attn=False,
        self_attn_heads=1, scaling="std", use_positional_encoding=True,
        head_linears=3),
}


def params(c):
    """(name, shape) in build_params order."""
    C, D, E = c["num_input_channels"], c["d_model"], c["expansion_factor"]
    P, L, H = c["num_patches"], c["patch_length"], c["prediction_length"]
    out = []

    def lin(name, i, o):
        out.append((name + ".weight", [o, i]))
        out.append((name + ".bias", [o]))

    def ln(name):
        out.append((name + ".norm.weight", [D]))
        out.append((name + ".norm.bias", [D]))

    lin("model.encoder.patcher", L, D)
    if c["use_positional_encoding"]:
        out.append(("model.encoder.positional_encoder.position_enc", [P, D]))
    for l in range(c["num_layers"]):
        pre = "model.encoder.mlp_mixer_encoder.mixers.%d." % l
        if c["mode"] == "mix_channel":
            ln(pre + "channel_feature_mixer.norm")
            if c["gated_attn"]:
                lin(pre + "channel_feature_mixer.gating_block.attn_layer", C, C)
            lin(pre + "channel_feature_mixer.mlp.fc1", C, C * E)
            lin(pre + "channel_feature_mixer.mlp.fc2", C * E, C)
        ln(pre + "patch_mixer.norm")
        if c["self_attn"]:
            for p in ("q_proj", "k_proj", "v_proj", "out_proj"):
                lin(pre + "patch_mixer.self_attn_layer." + p, D, D)
            ln(pre + "patch_mixer.norm_attn")
        lin(pre + "patch_mixer.mlp.fc1", P, P * E)
        lin(pre + "patch_mixer.mlp.fc2", P * E, P)
        if c["gated_attn"]:
            lin(pre + "patch_mixer.gating_block.attn_layer", P, P)
        ln(pre + "feature_mixer.norm")
        lin(pre + "feature_mixer.mlp.fc1", D, D * E)
        lin(pre + "feature_mixer.mlp.fc2", D * E, D)
        if c["gated_attn"]:
            lin(pre + "feature_mixer.gating_block.attn_layer", D, D)
    lin("head.base_forecast_block", P * D, H)
    if c["head_linears"] == 3:
        lin("head.base_forecast_block1", H, H)
        lin("head.base_forecast_block2", H, H)
    return out


def values(rng, name, shape):
    n = 1
    for s in shape:
        n *= s
    if name.endswith(".norm.weight"):
        return [1.0 + 0.1 * rng.gauss(0, 1) for _ in range(n)]
    if name.endswith(".norm.bias"):
        return [0.1 * rng.gauss(0, 1) for _ in range(n)]
    if name.endswith("position_enc"):
        return [0.1 * rng.gauss(0, 1) for _ in range(n)]
    fan_in = shape[1] if len(shape) == 2 else None
    if fan_in is None:  # a bias: its layer's fan-in is not needed here
        fan_in = max(1, n)
    b = 1.0 / math.sqrt(fan_in)
    return [rng.uniform(-b, b) for _ in range(n)]


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, shape, vals in sorted(tensors, key=lambda t: t[0]):
        blob = struct.pack("<%df" % len(vals), *vals)
        header[name] = {"dtype": "F32", "shape": shape,
                        "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    out = sys.argv[1]
    for k, (name, v) in enumerate(sorted(VARIANTS.items())):
        rng = random.Random(1000 + k)
        c = dict(v)
        c["num_patches"] = (c["context_length"] - c["patch_length"]) // \
            c["patch_stride"] + 1
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        cfg = {key: val for key, val in c.items() if key != "head_linears"}
        cfg.update(model_type="patchtsmixer", norm_eps=1e-5, dropout=0.0,
                   head_dropout=0.0, loss="mse", norm_mlp="LayerNorm",
                   positional_encoding_type="sincos", mask_input=False)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        write_safetensors(os.path.join(d, "model.safetensors"),
                          [(n, s, values(rng, n, s)) for n, s in params(c)])
        B, T, C = 3, c["context_length"], c["num_input_channels"]
        x = []
        walk = [rng.uniform(-50, 50) for _ in range(C)]
        for b in range(B):
            for t in range(T):
                for ch in range(C):
                    if name.endswith("_const") and ch == 1:
                        x.append(7.25)  # a constant channel
                        continue
                    walk[ch] += rng.gauss(0, 1 + ch)
                    x.append(walk[ch])
        write_safetensors(os.path.join(d, "inputs.safetensors"),
                          [("past_values", [B, T, C], x)])
        print(name)


if __name__ == "__main__":
    main()
