"""Training throughput of week 13's character GPT against week 12's character LSTM, in PyTorch.

The same shapes as the labs (83 characters, sequences of 64; GPT: 2 pre-LN blocks of width 64,
4 heads, MLP 256; LSTM: embedding 32, 128 units), AdamW, one forward + backward + step per
measurement. On the CPU with 2 threads (the workbook's machines) and on the GPU, at the labs'
batch of 32 and at 256, and (GPU only) both models scaled to about 12.6 million parameters on
sequences of 256. Prints one JSON line per setting and writes them to the path given.

The LSTM runs its 64 steps one after another (cuDNN fuses each step, not the sequence); the
transformer processes the 64 positions of a sequence at once.
"""

import json
import sys
import time

import torch
import torch.nn as nn

V, T = 83, 64


class Gpt(nn.Module):
    def __init__(self, d=64, heads=4, layers=2, ff=256, t=64):
        super().__init__()
        T = t
        self.tok = nn.Embedding(V, d)
        self.pos = nn.Embedding(T, d)
        layer = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, V)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(T))
        self.t = T

    def forward(self, x):
        h = self.tok(x) + self.pos(torch.arange(self.t, device=x.device))
        return self.head(self.ln(self.blocks(h, mask=self.mask, is_causal=True)))


class Lstm(nn.Module):
    def __init__(self, e=32, h=128):
        super().__init__()
        self.embed = nn.Embedding(V, e)
        self.lstm = nn.LSTM(e, h, batch_first=True)
        self.head = nn.Linear(h, V)

    def forward(self, x):
        return self.head(self.lstm(self.embed(x))[0])


def tokens_per_second(model, device, batch, steps, t=T):
    model = model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    x = torch.randint(0, V, (batch, t), device=device)
    y = torch.randint(0, V, (batch, t), device=device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    sync()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return batch * x.shape[1] * steps / (time.perf_counter() - t)


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "lstm_vs_transformer.json"
    torch.manual_seed(0)
    rows = []
    devices = [("cpu", 2)] + ([("cuda", None)] if torch.cuda.is_available() else [])
    for device, threads in devices:
        if threads:
            torch.set_num_threads(threads)
        for batch in (32, 256):
            steps = 20 if device == "cpu" else 100
            row = {"device": device if not threads else f"cpu, {threads} threads", "batch": batch}
            for name, make in (("gpt", Gpt), ("lstm", Lstm)):
                m = make()
                row[f"{name}_parameters"] = sum(p.numel() for p in m.parameters())
                row[f"{name}_tokens_per_s"] = tokens_per_second(m, device, batch, steps)
            row["gpt_over_lstm"] = row["gpt_tokens_per_s"] / row["lstm_tokens_per_s"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    if torch.cuda.is_available():
        # At scale: about 12.6 million parameters each, sequences of 256, batch 64.
        row = {"device": "cuda", "batch": 64, "seq": 256, "scale": "large"}
        for name, make in (("gpt", lambda: Gpt(512, 8, 4, 2048, 256)), ("lstm", lambda: Lstm(512, 1536))):
            m = make()
            row[f"{name}_parameters"] = sum(p.numel() for p in m.parameters())
            row[f"{name}_tokens_per_s"] = tokens_per_second(m, "cuda", 64, 30, 256)
        row["gpt_over_lstm"] = row["gpt_tokens_per_s"] / row["lstm_tokens_per_s"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    info = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "rows": rows}
    with open(out_path, "w") as f:
        json.dump(info, f, indent=1)


if __name__ == "__main__":
    main()
