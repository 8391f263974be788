#!/usr/bin/python3
"""peers_torch.py - the original PatchTSMixer (has_tool_age cv4 config:
512x17, patch 8, d_model 16, 8 layers, mix_channel, gated + self
attention, std scaler, the 3-linear abyss head) timed in PyTorch, for
bench/peers.sh to print beside `abyss bench nn`.

Plain torch modules in the order transformers' PatchTSMixer runs them (the
Debian machine has python3-torch 1.13 but not transformers); weights are
random: timing only. --onnx PATH also exports the model (dynamic batch) for
peers_ort.js. Figures: median (best) of --repeat runs, like abyss.
"""
import argparse
import math
import statistics
import time

import torch
from torch import nn

T, C, L, S, D, E, LAYERS, H, HEADS = 512, 17, 8, 8, 16, 2, 8, 512, 1
P = (T - L) // S + 1


class Gate(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.attn_layer = nn.Linear(n, n)

    def forward(self, x):
        return x * torch.softmax(self.attn_layer(x), dim=-1)


class MLP(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc1 = nn.Linear(n, n * E)
        self.fc2 = nn.Linear(n * E, n)
        self.drop = nn.Dropout(0.2)

    def forward(self, x):
        x = self.drop(nn.functional.gelu(self.fc1(x)))
        return self.drop(self.fc2(x))


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = nn.Linear(D, D)
        self.k_proj = nn.Linear(D, D)
        self.v_proj = nn.Linear(D, D)
        self.out_proj = nn.Linear(D, D)
        self.drop = nn.Dropout(0.2)

    def forward(self, x):  # [N, P, D]
        n, p, d = x.shape
        hd = d // HEADS
        q = (self.q_proj(x) * hd ** -0.5).view(n, p, HEADS, hd).transpose(1, 2)
        k = self.k_proj(x).view(n, p, HEADS, hd).transpose(1, 2)
        v = self.v_proj(x).view(n, p, HEADS, hd).transpose(1, 2)
        w = self.drop(torch.softmax(q @ k.transpose(-1, -2), dim=-1))
        return self.out_proj((w @ v).transpose(1, 2).reshape(n, p, d))


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.ch_norm = nn.LayerNorm(D, eps=1e-5)
        self.ch_gate = Gate(C)
        self.ch_mlp = MLP(C)
        self.pm_norm = nn.LayerNorm(D, eps=1e-5)
        self.attn = Attention()
        self.norm_attn = nn.LayerNorm(D, eps=1e-5)
        self.pm_mlp = MLP(P)
        self.pm_gate = Gate(P)
        self.fm_norm = nn.LayerNorm(D, eps=1e-5)
        self.fm_mlp = MLP(D)
        self.fm_gate = Gate(D)

    def forward(self, x):  # [B, C, P, D]
        r = x
        x = self.ch_norm(x).permute(0, 3, 2, 1)
        x = self.ch_mlp(self.ch_gate(x)).permute(0, 3, 2, 1)
        x = x + r
        r = x
        x = self.pm_norm(x)
        b, c, p, d = x.shape
        a = self.attn(x.reshape(b * c, p, d)).reshape(b, c, p, d)
        x = self.pm_gate(self.pm_mlp(x.transpose(2, 3))).transpose(2, 3)
        x = self.norm_attn(x + a)
        x = x + r
        r = x
        x = self.fm_gate(self.fm_mlp(self.fm_norm(x)))
        return x + r


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.patcher = nn.Linear(L, D)
        self.register_buffer("pos", torch.randn(P, D) * 0.1)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
        self.head_drop = nn.Dropout(0.2)
        self.h1 = nn.Linear(P * D, H)
        self.h2 = nn.Linear(H, H)
        self.h3 = nn.Linear(H, H)

    def forward(self, x):  # [B, T, C]
        loc = x.mean(dim=1, keepdim=True)
        scale = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + 1e-5)
        x = (x - loc) / scale
        b = x.shape[0]
        # S == L and T == L + S (P - 1): patches are a reshape
        x = x.transpose(1, 2).reshape(b, C, P, L)
        x = self.patcher(x) + self.pos
        for layer in self.layers:
            x = layer(x)
        x = self.head_drop(x.reshape(b, C, P * D))
        y = self.h3(self.h2(self.h1(x))).transpose(1, 2)
        return y * scale + loc


def timed(fn, repeat):
    fn()  # warm-up: allocator, first-touch pages
    t = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return statistics.median(t), min(t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--onnx", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = Model()
    x = torch.randn(64, T, C)
    y = torch.randn(64, H, C)
    if a.onnx:
        m.eval()
        torch.onnx.export(m, x[:1], a.onnx, input_names=["past_values"],
                          output_names=["prediction"], opset_version=14,
                          dynamic_axes={"past_values": {0: "batch"},
                                        "prediction": {0: "batch"}})
    print(f"torch {torch.__version__}, {a.threads} thread(s): median (best) "
          f"of {a.repeat}")
    m.eval()
    with torch.no_grad():
        def hole():
            for i in range(40):
                m(x[i:i + 1])
        for what, fn, nwin in (
                ("one hole, 40 windows one by one", hole, None),
                ("one hole, 40 windows batched", lambda: m(x[:40]), None),
                ("batch 1", lambda: m(x[:1]), 1),
                ("batch 64", lambda: m(x), 64)):
            med, best = timed(fn, a.repeat)
            extra = f"  {nwin / med:8.1f} windows/s" if nwin else ""
            print(f"    {what:<34} {med * 1e3:9.2f} ms ({best * 1e3:8.2f})"
                  f"{extra}")
    m.train()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
    for bsz in (32, 64):
        def step():
            opt.zero_grad()
            loss = nn.functional.mse_loss(m(x[:bsz]), y[:bsz])
            loss.backward()
            opt.step()
        med, best = timed(step, a.repeat)
        print(f"    training step, batch {bsz:<18} {med * 1e3:9.2f} ms "
              f"({best * 1e3:8.2f})")


if __name__ == "__main__":
    main()
