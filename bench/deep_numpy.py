"""The computations of bench/deep (Rust, candle) in numpy, forward and backward written out.

1. One pre-LN transformer block: batch 32, sequence 64, width 64, 4 heads, MLP 256, causal
   attention, GELU (tanh); loss = sum of the output; backward to every weight and to the input.
2. One training step of week 11's CNN: batch 64 of 28 × 28 images; conv 3×3 (1 → 32, pad 1),
   ReLU, max-pool 2; conv 3×3 (32 → 64, pad 1), ReLU, max-pool 2; linear 3136 → 128, ReLU,
   linear 128 → 10; cross-entropy; backward to every weight (convolutions by im2col). Like the
   lab, each block pools before adding the bias and applying ReLU (the same values, less work).

Prints JSON: the median milliseconds of each, after warm-ups, like the Rust side. The gradients
are checked once against central differences on a few entries before timing.
"""

import json
import time

import numpy as np

rng = np.random.default_rng(0)
f32 = np.float32


def median_ms(fn, reps=20):
    for _ in range(3):
        fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1e3)
    return float(np.median(ts))


# 1. The transformer block ---------------------------------------------------------------------
B, T, D, H, F = 32, 64, 64, 4, 256
HD = D // H
EPS = 1e-5
W = {k: (rng.normal(size=s) / np.sqrt(s[-1])).astype(f32) for k, s in
     dict(wq=(D, D), wk=(D, D), wv=(D, D), wo=(D, D), w1=(F, D), w2=(D, F)).items()}
W.update({k: np.zeros(n, f32) for k, n in dict(bq=D, bk=D, bv=D, bo=D, b1=F, b2=D).items()})
W.update(g1=np.ones(D, f32), be1=np.zeros(D, f32), g2=np.ones(D, f32), be2=np.zeros(D, f32))
X = rng.normal(size=(B, T, D)).astype(f32)
CAUSAL = np.tril(np.ones((T, T), bool))
C = f32(np.sqrt(2 / np.pi))


def ln_fwd(x, g, b):
    mu = x.mean(-1, keepdims=True)
    xc = x - mu
    inv = 1 / np.sqrt((xc * xc).mean(-1, keepdims=True) + EPS)
    xh = xc * inv
    return xh * g + b, (xh, inv)


def ln_bwd(dy, g, cache):
    xh, inv = cache
    dxh = dy * g
    dx = inv * (dxh - dxh.mean(-1, keepdims=True) - xh * (dxh * xh).mean(-1, keepdims=True))
    return dx, (dy * xh).sum((0, 1)), dy.sum((0, 1))


def heads(y):
    return y.reshape(B, T, H, HD).transpose(0, 2, 1, 3)


def merge(y):
    return y.transpose(0, 2, 1, 3).reshape(B, T, D)


def block(x, backward=True):
    y1, c1 = ln_fwd(x, W["g1"], W["be1"])
    q, k, v = (heads(y1 @ W[w].T + W[b]) for w, b in (("wq", "bq"), ("wk", "bk"), ("wv", "bv")))
    s = np.where(CAUSAL, q @ k.transpose(0, 1, 3, 2) / np.sqrt(HD), -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    o = merge(p @ v)
    h1 = x + o @ W["wo"].T + W["bo"]
    y2, c2 = ln_fwd(h1, W["g2"], W["be2"])
    m1 = y2 @ W["w1"].T + W["b1"]
    t = np.tanh(C * (m1 + 0.044715 * m1**3))
    gel = 0.5 * m1 * (1 + t)
    out = h1 + gel @ W["w2"].T + W["b2"]
    if not backward:
        return out, None
    g = {}
    dout = np.ones_like(out)
    g["w2"] = np.einsum("btd,btf->df", dout, gel)
    g["b2"] = dout.sum((0, 1))
    dgel = dout @ W["w2"]
    dm1 = dgel * (0.5 * (1 + t) + 0.5 * m1 * (1 - t * t) * C * (1 + 3 * 0.044715 * m1 * m1))
    g["w1"] = np.einsum("btf,btd->fd", dm1, y2)
    g["b1"] = dm1.sum((0, 1))
    dh1_ln, g["g2"], g["be2"] = ln_bwd(dm1 @ W["w1"], W["g2"], c2)
    dh1 = dout + dh1_ln
    g["wo"] = np.einsum("btd,bte->de", dh1, o)
    g["bo"] = dh1.sum((0, 1))
    do = heads(dh1 @ W["wo"])
    dp = do @ v.transpose(0, 1, 3, 2)
    dv = p.transpose(0, 1, 3, 2) @ do
    ds = p * (dp - (dp * p).sum(-1, keepdims=True)) / np.sqrt(HD)
    dq, dk = ds @ k, ds.transpose(0, 1, 3, 2) @ q
    dy1 = np.zeros_like(y1)
    for name, d in (("q", dq), ("k", dk), ("v", dv)):
        dm = merge(d)
        g["w" + name] = np.einsum("btd,bte->de", dm, y1)
        g["b" + name] = dm.sum((0, 1))
        dy1 += dm @ W["w" + name]
    dx_ln, g["g1"], g["be1"] = ln_bwd(dy1, W["g1"], c1)
    g["x"] = dh1 + dx_ln
    return out, g


# 2. The CNN step ---------------------------------------------------------------------------------
N = 64
IMG = rng.random((N, 1, 28, 28), dtype=f32)
LAB = np.arange(N) % 10
P = {
    "c1": (rng.normal(size=(32, 1, 3, 3)) * np.sqrt(2 / 9)).astype(f32), "c1b": np.zeros(32, f32),
    "c2": (rng.normal(size=(64, 32, 3, 3)) * np.sqrt(2 / 288)).astype(f32), "c2b": np.zeros(64, f32),
    "f1": (rng.normal(size=(128, 3136)) * np.sqrt(2 / 3136)).astype(f32), "f1b": np.zeros(128, f32),
    "f2": (rng.normal(size=(10, 128)) * np.sqrt(2 / 128)).astype(f32), "f2b": np.zeros(10, f32),
}


def im2col(x):
    """[n, c, h, w] → [n·h·w, c·9] for 3 × 3 kernels, padding 1, stride 1 (columns in (c, u, v) order)."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.stack([xp[:, :, u:u + h, v:v + w] for u in range(3) for v in range(3)], axis=2)  # n, c, 9, h, w
    return cols.transpose(0, 3, 4, 1, 2).reshape(n * h * w, c * 9)


def col2im(dcols, shape):
    n, c, h, w = shape
    d = dcols.reshape(n, h, w, c, 9).transpose(0, 3, 4, 1, 2)  # n, c, 9, h, w
    dxp = np.zeros((n, c, h + 2, w + 2), dcols.dtype)
    for i, (u, v) in enumerate((u, v) for u in range(3) for v in range(3)):
        dxp[:, :, u:u + h, v:v + w] += d[:, :, i]
    return dxp[:, :, 1:-1, 1:-1]


def conv(x, w):
    """Without bias: the blocks add it after pooling."""
    n, _, h, wd = x.shape
    cols = im2col(x)
    y = cols @ w.reshape(w.shape[0], -1).T
    return y.reshape(n, h, wd, -1).transpose(0, 3, 1, 2), cols


def conv_bwd(dy, x_shape, cols, w, need_dx):
    o = w.shape[0]
    dyf = dy.transpose(0, 2, 3, 1).reshape(-1, o)
    dw = (dyf.T @ cols).reshape(w.shape)
    dx = col2im(dyf @ w.reshape(o, -1), x_shape) if need_dx else None
    return dx, dw


def pool(x):
    n, c, h, w = x.shape
    r = x.reshape(n, c, h // 2, 2, w // 2, 2)
    m = r.max((3, 5))
    mask = r == m[:, :, :, None, :, None]
    return m, mask


def pool_bwd(dm, mask):
    n, c, h2, w2 = dm.shape
    return (mask * dm[:, :, :, None, :, None]).reshape(n, c, h2 * 2, w2 * 2)


def cnn_step():
    a1, cols1 = conv(IMG, P["c1"])
    p1, m1 = pool(a1)
    z1c = p1 + P["c1b"][None, :, None, None]
    r1 = np.maximum(z1c, 0)
    a2, cols2 = conv(r1, P["c2"])
    p2, m2 = pool(a2)
    z2c = p2 + P["c2b"][None, :, None, None]
    r2 = np.maximum(z2c, 0)
    flat = r2.reshape(N, -1)
    z1 = flat @ P["f1"].T + P["f1b"]
    h = np.maximum(z1, 0)
    logits = h @ P["f2"].T + P["f2b"]
    e = np.exp(logits - logits.max(1, keepdims=True))
    prob = e / e.sum(1, keepdims=True)
    loss = -np.log(prob[np.arange(N), LAB]).mean()
    dl = prob
    dl[np.arange(N), LAB] -= 1
    dl /= N
    g = {"f2": dl.T @ h, "f2b": dl.sum(0)}
    dz1 = (dl @ P["f2"]) * (z1 > 0)
    g["f1"], g["f1b"] = dz1.T @ flat, dz1.sum(0)
    dz2c = (dz1 @ P["f1"]).reshape(r2.shape) * (z2c > 0)
    g["c2b"] = dz2c.sum((0, 2, 3))
    dr1, g["c2"] = conv_bwd(pool_bwd(dz2c, m2), r1.shape, cols2, P["c2"], True)
    dz1c = dr1 * (z1c > 0)
    g["c1b"] = dz1c.sum((0, 2, 3))
    _, g["c1"] = conv_bwd(pool_bwd(dz1c, m1), IMG.shape, cols1, P["c1"], False)
    return loss, g


def check_gradients():
    """A few central differences (in float64 copies) against the analytic gradients."""
    _, g = block(X)
    i = (1, 5, 7)
    h = 1e-2
    Xp, Xm = X.copy(), X.copy()
    Xp[i] += h
    Xm[i] -= h
    num = (block(Xp, False)[0].astype(np.float64).sum() - block(Xm, False)[0].astype(np.float64).sum()) / (2 * h)
    assert abs(num - g["x"][i]) < 2e-2 * max(1.0, abs(num)), (num, g["x"][i])
    # The CNN in float64 (a bias moves every position of its channel, so ReLU kinks are near:
    # a small step needs the precision).
    global IMG
    saved = dict(P), IMG
    for key in P:
        P[key] = P[key].astype(np.float64)
    IMG = IMG.astype(np.float64)
    _, gc = cnn_step()
    h = 1e-5
    for key, j in [("c2", (3, 4, 1, 2)), ("c2b", (5,)), ("c1", (2, 0, 1, 1)), ("c1b", (7,))]:
        w = P[key]
        old = w[j]
        w[j] = old + h
        lp = cnn_step()[0]
        w[j] = old - h
        lm = cnn_step()[0]
        w[j] = old
        num = (lp - lm) / (2 * h)
        assert abs(num - gc[key][j]) < 1e-3 * max(1e-2, abs(num)), (key, num, gc[key][j])
    P.update(saved[0])
    IMG = saved[1]

def main():
    check_gradients()
    print(json.dumps({
        "numpy": np.__version__,
        "block_forward_ms": median_ms(lambda: block(X, False)),
        "block_forward_backward_ms": median_ms(lambda: block(X)),
        "cnn_step_ms": median_ms(cnn_step),
    }))


if __name__ == "__main__":
    main()
