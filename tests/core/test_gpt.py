"""The NumPy GPT against independent truth: finite differences, a slow scalar-autograd GPT written here,
per-document runs versus padded batches, and microgpt.py's own printed losses."""

import copy
import math
import random
import threading

import numpy as np
import pytest

from adamlab.core import gpt
from adamlab.core.gpt import GPTConfig

# ---------------------------------------------------------------------------------------------------------
# helpers


def random_batch(cfg, B, T, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, cfg.vocab_size, size=(B, T))
    y = rng.integers(0, cfg.vocab_size, size=(B, T))
    return x, y


def numeric_grads(params, cfg, x, y, mask, h=1e-6):
    """Central differences of the loss for every entry of every parameter (float64)."""
    out = {}
    for name, p in params.items():
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + h
            lp = gpt.loss(params, cfg, x, y, mask)
            p[idx] = old - h
            lm = gpt.loss(params, cfg, x, y, mask)
            p[idx] = old
            g[idx] = (lp - lm) / (2 * h)
        out[name] = g
    return out


class V:
    """A scalar with reverse-mode autodiff: the slow, obviously-correct reference (micrograd in 30 lines)."""

    def __init__(self, data, parents=()):
        self.data, self.grad, self.parents = float(data), 0.0, parents  # parents: ((node, local grad), ...)

    def __add__(self, o):
        o = o if isinstance(o, V) else V(o)
        return V(self.data + o.data, ((self, 1.0), (o, 1.0)))

    __radd__ = __add__

    def __mul__(self, o):
        o = o if isinstance(o, V) else V(o)
        return V(self.data * o.data, ((self, o.data), (o, self.data)))

    __rmul__ = __mul__

    def __sub__(self, o):
        return self + (-1.0) * o

    def __truediv__(self, o):
        return self * o ** -1.0

    def __pow__(self, k):
        return V(self.data**k, ((self, k * self.data ** (k - 1)),))

    def exp(self):
        e = math.exp(self.data)
        return V(e, ((self, e),))

    def log(self):
        return V(math.log(self.data), ((self, 1.0 / self.data),))

    def relu(self):
        return V(max(0.0, self.data), ((self, float(self.data > 0)),))

    def backward(self):
        order, seen = [], set()

        def visit(v):
            if id(v) not in seen:
                seen.add(id(v))
                for p, _ in v.parents:
                    visit(p)
                order.append(v)

        visit(self)
        self.grad = 1.0
        for v in reversed(order):
            for p, local in v.parents:
                p.grad += local * v.grad


def slow_gpt_loss(P, cfg, x, y, mask):
    """One position at a time with a growing key/value list, one head at a time, all scalars."""
    C, H, hd = cfg.n_embd, cfg.n_head, cfg.head_dim

    def lin(vec, W):
        return [sum((W[o][i] * vec[i] for i in range(len(vec))), V(0.0)) for o in range(len(W))]

    def rms(vec):
        scale = (sum((a * a for a in vec), V(0.0)) * (1.0 / len(vec)) + 1e-5) ** -0.5
        return [a * scale for a in vec]

    def smax(zs):
        m = max(z.data for z in zs)
        es = [(z - m).exp() for z in zs]
        tot = sum(es, V(0.0))
        return [e / tot for e in es]

    total, wsum = V(0.0), float(np.sum(mask))
    for b in range(x.shape[0]):
        keys = [[] for _ in range(cfg.n_layer)]
        vals = [[] for _ in range(cfg.n_layer)]
        for t in range(x.shape[1]):
            h = rms([P["wte"][x[b, t]][c] + P["wpe"][t][c] for c in range(C)])
            for li in range(cfg.n_layer):
                L = f"layer{li}."
                n1 = rms(h)
                q, k, v = lin(n1, P[L + "attn_wq"]), lin(n1, P[L + "attn_wk"]), lin(n1, P[L + "attn_wv"])
                keys[li].append(k)
                vals[li].append(v)
                heads = []
                for hh in range(H):
                    sl = slice(hh * hd, (hh + 1) * hd)
                    scores = [sum((a * b2 for a, b2 in zip(q[sl], kk[sl])), V(0.0)) * (1 / math.sqrt(hd))
                              for kk in keys[li]]
                    a = smax(scores)
                    heads += [sum((a[s] * vals[li][s][sl][j] for s in range(len(a))), V(0.0)) for j in range(hd)]
                h = [u + r for u, r in zip(lin(heads, P[L + "attn_wo"]), h)]
                m = [z.relu() for z in lin(rms(h), P[L + "mlp_fc1"])]
                h = [u + r for u, r in zip(lin(m, P[L + "mlp_fc2"]), h)]
            probs = smax(lin(h, P["lm_head"]))
            if mask[b, t]:
                total = total + probs[y[b, t]].log() * (-float(mask[b, t]) / wsum)
    return total


# ---------------------------------------------------------------------------------------------------------
# shapes and init


def test_microgpt_preset_has_4192_parameters_with_microgpt_names_and_shapes():
    cfg = GPTConfig(vocab_size=27)
    shapes = gpt.param_shapes(cfg)
    assert gpt.num_params(cfg) == 4192
    assert list(shapes) == ["wte", "wpe", "lm_head", "layer0.attn_wq", "layer0.attn_wk", "layer0.attn_wv",
                            "layer0.attn_wo", "layer0.mlp_fc1", "layer0.mlp_fc2"]
    assert shapes["wte"] == (27, 16) and shapes["wpe"] == (16, 16) and shapes["lm_head"] == (27, 16)
    assert shapes["layer0.mlp_fc1"] == (64, 16) and shapes["layer0.mlp_fc2"] == (16, 64)
    assert 16 * 27 * 2 + 16 * 16 + 4 * 256 + 2 * 1024 == 4192  # by hand


def test_init_params_are_views_into_one_flat_gaussian_buffer():
    cfg = GPTConfig(vocab_size=30, n_embd=32, n_layer=3)
    P = gpt.init_params(cfg, seed=3, std=0.08, dtype=np.float32)
    flat = gpt.flat_buffer(P)
    assert flat is not None and flat.size == gpt.num_params(cfg) and flat.dtype == np.float32
    assert all(p.dtype == np.float32 for p in P.values())
    flat[:] = 0
    assert all(np.all(p == 0) for p in P.values())  # views, not copies
    P = gpt.init_params(cfg, seed=3)
    flat = gpt.flat_buffer(P)
    assert abs(flat.std() - 0.08) < 0.003 and abs(flat.mean()) < 0.003
    assert np.array_equal(flat, gpt.flat_buffer(gpt.init_params(cfg, seed=3)))
    assert not np.array_equal(flat, gpt.flat_buffer(gpt.init_params(cfg, seed=4)))
    assert gpt.flat_buffer({"a": np.zeros((2, 2)), "b": np.zeros((2, 2))}) is None


def test_microgpt_init_draws_gauss_row_by_row_in_microgpt_order():
    cfg = GPTConfig(vocab_size=5, n_embd=4, n_head=2, block_size=3)
    P = gpt.microgpt_init(cfg, random.Random(7))
    rng = random.Random(7)
    for name, (r, c) in gpt.param_shapes(cfg).items():
        expected = [[rng.gauss(0, 0.08) for _ in range(c)] for _ in range(r)]
        assert P[name].tolist() == expected, name


@pytest.mark.parametrize("kwargs", [dict(vocab_size=1), dict(vocab_size=5, n_embd=10, n_head=4),
                                    dict(vocab_size=5, block_size=0), dict(vocab_size=5, n_layer=0)])
def test_bad_config_raises_value_error_naming_the_field(kwargs):
    with pytest.raises(ValueError, match="vocab_size|n_embd|block_size|n_layer"):
        GPTConfig(**kwargs)


# ---------------------------------------------------------------------------------------------------------
# gradients


CONFIGS = [
    GPTConfig(vocab_size=7, n_embd=8, n_head=2, n_layer=2, block_size=6),
    GPTConfig(vocab_size=5, n_embd=6, n_head=3, n_layer=1, block_size=4),
    GPTConfig(vocab_size=4, n_embd=4, n_head=1, n_layer=1, block_size=3),
]


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("padded", [False, True])
def test_grads_match_finite_differences(cfg, padded):
    P = gpt.init_params(cfg, seed=1, std=0.5)  # larger weights so every path carries gradient
    B, T = 3, cfg.block_size
    x, y = random_batch(cfg, B, T, seed=2)
    mask = None
    if padded:
        mask = np.ones((B, T))
        mask[0, T - 2 :] = 0  # a short document
        mask[2, 1:] = 0  # a one-token document
    loss, G = gpt.loss_and_grads(P, cfg, x, y, mask)
    assert loss == pytest.approx(gpt.loss(P, cfg, x, y, mask), rel=1e-13)
    num = numeric_grads(P, cfg, x, y, mask)
    for name in P:
        assert G[name].shape == P[name].shape
        np.testing.assert_allclose(G[name], num[name], rtol=1e-5, atol=1e-8, err_msg=name)


def test_loss_and_grads_match_a_slow_scalar_autograd_gpt():
    cfg = GPTConfig(vocab_size=6, n_embd=8, n_head=2, n_layer=2, block_size=5)
    P = gpt.init_params(cfg, seed=5, std=0.3)
    x, y = random_batch(cfg, 2, 5, seed=6)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=float)
    SP = {n: [[V(w) for w in row] for row in p] for n, p in P.items()}
    slow = slow_gpt_loss(SP, cfg, x, y, mask)
    slow.backward()
    loss, G = gpt.loss_and_grads(P, cfg, x, y, mask)
    assert loss == pytest.approx(slow.data, abs=1e-12)
    for name in P:
        expected = np.array([[w.grad for w in row] for row in SP[name]])
        np.testing.assert_allclose(G[name], expected, rtol=1e-9, atol=1e-13, err_msg=name)


def test_padded_batch_equals_documents_run_one_by_one():
    """Right padding never leaks into real positions (causal attention), and the mask averages over tokens."""
    cfg = GPTConfig(vocab_size=9, n_embd=8, n_head=2, n_layer=2, block_size=7)
    P = gpt.init_params(cfg, seed=0, std=0.2)
    rng = np.random.default_rng(1)
    lengths = [7, 3, 5]
    docs = [(rng.integers(0, 9, L), rng.integers(0, 9, L)) for L in lengths]
    x = np.full((3, 7), 8)
    y = np.full((3, 7), 8)
    mask = np.zeros((3, 7))
    for b, (xi, yi) in enumerate(docs):
        x[b, : len(xi)], y[b, : len(yi)], mask[b, : len(xi)] = xi, yi, 1
    x[1, 3:] = 2  # garbage in the padding must not matter
    loss, G = gpt.loss_and_grads(P, cfg, x, y, mask)
    total, grad_sum = 0.0, {n: 0 for n in P}
    for xi, yi in docs:
        li, gi = gpt.loss_and_grads(P, cfg, xi[None], yi[None])
        total += li * len(xi)
        for n in P:
            grad_sum[n] = grad_sum[n] + gi[n] * len(xi)
    assert loss == pytest.approx(total / sum(lengths), rel=1e-12)
    for n in P:
        np.testing.assert_allclose(G[n], grad_sum[n] / sum(lengths), rtol=1e-9, atol=1e-14, err_msg=n)


def test_float32_parameters_compute_in_float32_and_agree_with_float64():
    cfg = GPTConfig(vocab_size=11, n_embd=16, n_head=4, n_layer=2, block_size=8)
    P64 = gpt.init_params(cfg, seed=2)
    P32 = {n: p.astype(np.float32) for n, p in P64.items()}
    x, y = random_batch(cfg, 4, 8, seed=3)
    l64, g64 = gpt.loss_and_grads(P64, cfg, x, y)
    l32, g32 = gpt.loss_and_grads(P32, cfg, x, y)
    assert all(g.dtype == np.float32 for g in g32.values())
    assert l32 == pytest.approx(l64, rel=1e-5)
    for n in P64:
        np.testing.assert_allclose(g32[n], g64[n], rtol=2e-3, atol=2e-6, err_msg=n)


def test_grads_are_written_into_the_given_buffers_without_stale_values():
    cfg = GPTConfig(vocab_size=7, n_embd=8, n_head=2, n_layer=1, block_size=6)
    P = gpt.init_params(cfg, seed=1)
    G = gpt.zeros_like_params(cfg)
    flat = gpt.flat_buffer(G)
    x, y = random_batch(cfg, 2, 6, seed=1)
    gpt.loss_and_grads(P, cfg, x, y, grads=G)  # fills every row of wpe and several of wte
    _, ret = gpt.loss_and_grads(P, cfg, x[:, :2], y[:, :2], grads=G)
    assert ret is G and gpt.flat_buffer(ret) is flat
    _, fresh = gpt.loss_and_grads(P, cfg, x[:, :2], y[:, :2])
    for n in P:
        np.testing.assert_array_equal(G[n], fresh[n], err_msg=n)


def _plain_grads(cfg, make=np.zeros):
    return {n: make(shape) for n, shape in gpt.param_shapes(cfg).items()}


def _replaced(arrays, name, dtype=None, order="C"):
    arrays[name] = np.array(arrays[name], dtype=dtype, order=order)
    return arrays


def _read_only(a):
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("bad, message", [
    (lambda cfg: gpt.zeros_like_params(cfg, np.float32),
     r"grads\['wte'\] .* dtype float64 .* got float32 of shape \(7, 8\)"),
    (lambda cfg: gpt.zeros_like_params(GPTConfig(vocab_size=8, n_embd=8, n_head=2, block_size=6)),
     r"grads\['wte'\] .* shape \(7, 8\) .* got float64 of shape \(8, 8\)"),
    (lambda cfg: {**_plain_grads(cfg), "lm_head": np.zeros((8, 7)).T}, r"grads\['lm_head'\] .* got a non-contiguous"),
    (lambda cfg: {n: g for n, g in _plain_grads(cfg).items() if n != "layer0.mlp_fc2"},
     r"grads\['layer0.mlp_fc2'\] .* got missing"),
    # flat-buffer views that cannot be written in place: an entry swapped for a float32 or Fortran-ordered
    # copy, a strided or a read-only buffer
    (lambda cfg: _replaced(gpt.zeros_like_params(cfg), "lm_head", np.float32), r"grads\['lm_head'\] .* got float32"),
    (lambda cfg: _replaced(gpt.zeros_like_params(cfg), "layer0.mlp_fc1", None, "F"),
     r"grads\['layer0.mlp_fc1'\] .* got a non-contiguous"),
    (lambda cfg: gpt.views(np.zeros(2 * gpt.num_params(cfg))[::2], cfg), r"grads\['wte'\] .* got a non-contiguous"),
    (lambda cfg: gpt.views(_read_only(np.zeros(gpt.num_params(cfg))), cfg), r"grads\['wte'\] .* got a read-only"),
])
def test_unusable_grads_buffers_are_refused_by_name_before_anything_is_written(bad, message):
    cfg = GPTConfig(vocab_size=7, n_embd=8, n_head=2, n_layer=1, block_size=6)
    P = gpt.init_params(cfg, seed=1)
    G = bad(cfg)
    before = {n: g.copy() for n, g in G.items()}
    with pytest.raises(ValueError, match=message):
        gpt.loss_and_grads(P, cfg, *random_batch(cfg, 2, 6, seed=1), grads=G)
    assert all(np.array_equal(G[n], before[n]) for n in G)
    # a plain dict of right arrays is filled like the flat buffer
    plain = _plain_grads(cfg, np.empty)
    _, got = gpt.loss_and_grads(P, cfg, *random_batch(cfg, 2, 6, seed=1), grads=plain)
    _, want = gpt.loss_and_grads(P, cfg, *random_batch(cfg, 2, 6, seed=1))
    assert got is plain
    for n in want:  # (q, k and v one by one here, in one fused matmul there: equal up to rounding)
        np.testing.assert_allclose(plain[n], want[n], rtol=1e-12, atol=1e-17, err_msg=n)


def test_params_of_mixed_dtypes_or_wrong_shapes_are_refused_by_name():
    cfg = GPTConfig(vocab_size=7, n_embd=8, n_head=2, n_layer=1, block_size=6)
    x, y = random_batch(cfg, 2, 6, seed=1)
    mixed = _replaced(gpt.init_params(cfg, dtype=np.float32), "lm_head", np.float64)
    other = gpt.init_params(GPTConfig(vocab_size=8, n_embd=8, n_head=2, block_size=6))
    for call in (lambda P: gpt.loss_and_grads(P, cfg, x, y), lambda P: gpt.loss(P, cfg, x, y),
                 lambda P: gpt.forward(P, cfg, x), lambda P: gpt.sample(P, cfg, 2)):
        with pytest.raises(ValueError, match=r"params\['lm_head'\] .* dtype float32 .* got float64"):
            call(mixed)
        with pytest.raises(ValueError, match=r"params\['wte'\] must be an array of shape \(7, 8\)"):
            call(other)
        with pytest.raises(ValueError, match=r"params\['wte'\] is missing"):
            call({})


def test_copied_or_hand_made_params_use_their_own_arrays_not_stale_fused_views():
    """A deep copy of a Params copies its fused views separately: they must not be read or written in
    place of the copy's arrays (the copy then works like a plain dict). Nor does a Params made by hand
    (no fused views) fail."""
    cfg = GPTConfig(vocab_size=7, n_embd=8, n_head=2, n_layer=1, block_size=6)
    x, y = random_batch(cfg, 2, 6, seed=1)
    P = gpt.init_params(cfg, seed=3)
    Pc, Gc = copy.deepcopy(P), copy.deepcopy(gpt.zeros_like_params(cfg))
    for name in Pc:  # e.g. an optimizer stepping the copy's tensors one by one
        Pc[name] *= 1.5
    plain = {n: a.copy() for n, a in Pc.items()}
    want_loss, want = gpt.loss_and_grads(plain, cfg, x, y)
    got_loss, got = gpt.loss_and_grads(Pc, cfg, x, y, grads=Gc)
    assert got is Gc and got_loss == pytest.approx(want_loss, rel=1e-13)
    for n in want:
        np.testing.assert_allclose(Gc[n], want[n], rtol=1e-12, atol=1e-17, err_msg=n)
    np.testing.assert_allclose(gpt.forward(Pc, cfg, x), gpt.forward(plain, cfg, x), rtol=1e-13)
    hand = gpt.Params(plain)
    assert gpt.loss_and_grads(hand, cfg, x, y, grads=gpt.Params(_plain_grads(cfg)))[0] == pytest.approx(want_loss,
                                                                                                      rel=1e-13)


@pytest.mark.parametrize("B", [2, 64])  # a small step and a workspace-sized one
def test_big_vocabularies_gather_and_scatter_the_embedding_instead_of_a_one_hot(monkeypatch, B):
    """V + block_size > ONEHOT_MAX_ROWS: the embedding is a gather and its gradient a scatter-add (repeated
    tokens included), with the same numbers as the one-hot matmuls, and no (V + block_size)² identity cached."""
    cfg = GPTConfig(vocab_size=300, n_embd=8, n_head=2, n_layer=1, block_size=8)
    P = gpt.init_params(cfg, seed=2, std=0.3)
    x, y = random_batch(cfg, B, 8, seed=3)
    x[1, :3] = x[0, 2]  # a token repeated within and across documents: its rows add up
    mask = np.ones((B, 8))
    mask[0, 5:] = 0
    gpt.clear_workspace()
    cached = set(gpt._IDENTITIES)
    loss, G = gpt.loss_and_grads(P, cfg, x, y, mask)
    assert not any(n >= 300 for n, _ in set(gpt._IDENTITIES) - cached)
    with monkeypatch.context() as m:
        m.setattr(gpt, "ONEHOT_MAX_ROWS", 10**6)
        gpt.clear_workspace()
        want_loss, want = gpt.loss_and_grads(P, cfg, x, y, mask)
    gpt.clear_workspace()
    assert loss == pytest.approx(want_loss, rel=1e-13)
    for n in want:
        np.testing.assert_allclose(G[n], want[n], rtol=1e-11, atol=1e-16, err_msg=n)
    # and stale rows are cleared: a shorter batch after a longer one leaves wpe's unused rows at zero
    gpt.loss_and_grads(P, cfg, x[:, :3], y[:, :3], grads=G)
    assert not G["wpe"][3:].any()


def test_uniform_model_loss_is_log_vocab():
    cfg = GPTConfig(vocab_size=27)
    P = gpt.init_params(cfg, std=0.0)
    x, y = random_batch(cfg, 2, 5, seed=0)
    loss, G = gpt.loss_and_grads(P, cfg, x, y)
    assert loss == pytest.approx(math.log(27), rel=1e-12)


@pytest.mark.parametrize("bad", ["long", "vocab", "shape", "mask"])
def test_bad_inputs_raise_value_error(bad):
    cfg = GPTConfig(vocab_size=5, block_size=4)
    P = gpt.init_params(cfg)
    x = np.zeros((2, 3), dtype=int)
    kwargs = {}
    if bad == "long":
        x = np.zeros((2, 5), dtype=int)
    elif bad == "vocab":
        x = np.full((2, 3), 5)
    elif bad == "mask":
        kwargs["mask"] = np.zeros((2, 3))
    y = x if bad != "shape" else np.zeros((2, 2), dtype=int)
    with pytest.raises(ValueError, match="inputs|targets|mask"):
        gpt.loss_and_grads(P, cfg, x, y, **kwargs)


# ---------------------------------------------------------------------------------------------------------
# sampling


def test_greedy_sampling_follows_the_argmax_and_stops_at_bos_or_block_size():
    cfg = GPTConfig(vocab_size=6, n_embd=8, n_head=2, block_size=6)
    for seed in range(6):
        P = gpt.init_params(cfg, seed=seed, std=1.0)
        (s,) = gpt.sample(P, cfg, n=1, temperature=0, seed=0)
        seq = [cfg.bos]
        while len(seq) <= cfg.block_size:
            nxt = int(gpt.forward(P, cfg, np.array([seq]))[0, -1].argmax())
            if nxt == cfg.bos:
                break
            seq.append(nxt)
        assert s == seq[1:]
        assert len(s) <= cfg.block_size and cfg.bos not in s


def test_sampling_draws_from_softmax_over_temperature_and_is_seeded():
    cfg = GPTConfig(vocab_size=5, n_embd=8, n_head=2, block_size=4)
    P = gpt.init_params(cfg, seed=0, std=0.6)
    T = 0.7
    logits = gpt.forward(P, cfg, np.array([[cfg.bos, 2]]))[0, -1]
    p = np.exp(logits / T) / np.exp(logits / T).sum()
    n = 20000
    samples = gpt.sample(P, cfg, n=n, temperature=T, seed=1, prefix=[2])
    assert all(s[0] == 2 for s in samples)
    first = np.array([s[1] if len(s) > 1 else cfg.bos for s in samples])
    freq = np.bincount(first, minlength=5) / n
    assert np.all(np.abs(freq - p) < 4 * np.sqrt(p * (1 - p) / n) + 1e-3), (freq, p)
    assert gpt.sample(P, cfg, n=5, temperature=T, seed=3) == gpt.sample(P, cfg, n=5, temperature=T, seed=3)
    assert max(len(s) for s in samples) <= cfg.block_size


def test_sample_rejects_bad_arguments():
    cfg = GPTConfig(vocab_size=5, block_size=4)
    P = gpt.init_params(cfg)
    with pytest.raises(ValueError, match="temperature"):
        gpt.sample(P, cfg, temperature=-1)
    with pytest.raises(ValueError, match="prefix"):
        gpt.sample(P, cfg, prefix=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="n must"):
        gpt.sample(P, cfg, n=0)


# ---------------------------------------------------------------------------------------------------------
# microgpt.py itself

# Printed by microgpt.py (Karpathy, 2026) run unmodified on makemore's names.txt, except that the loss was
# printed with repr() instead of :.4f. The 4-decimal figures are the ones microgpt prints.
MICROGPT_LOSSES = {1: 3.3659669475848504, 2: 3.4242727838717717, 3: 3.177802125458052}
MICROGPT_PRINTED = {1: 3.3660, 2: 3.4243, 3: 3.1778, 1000: 2.6497}


def test_reproduces_microgpt_losses_with_a_straightforward_adam(names_path):
    """microgpt's data order, initial weights, Adam and linear decay; a plain Adam written here."""
    rng = random.Random(42)
    docs = [line.strip() for line in names_path.read_text().strip().split("\n") if line.strip()]
    rng.shuffle(docs)
    uchars = sorted(set("".join(docs)))
    cfg = GPTConfig(vocab_size=len(uchars) + 1)
    P = gpt.microgpt_init(cfg, rng)
    flat = gpt.flat_buffer(P)
    G = gpt.zeros_like_params(cfg)
    g = gpt.flat_buffer(G)
    m, v = np.zeros_like(flat), np.zeros_like(flat)
    lr, b1, b2, eps, steps = 0.01, 0.85, 0.99, 1e-8, 1000
    losses = {}
    for step in range(steps):
        tokens = [cfg.bos] + [uchars.index(ch) for ch in docs[step % len(docs)]] + [cfg.bos]
        n = min(cfg.block_size, len(tokens) - 1)
        loss, _ = gpt.loss_and_grads(P, cfg, np.array([tokens[:n]]), np.array([tokens[1 : n + 1]]), grads=G)
        losses[step + 1] = loss
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat, v_hat = m / (1 - b1 ** (step + 1)), v / (1 - b2 ** (step + 1))
        flat -= lr * (1 - step / steps) * m_hat / (v_hat**0.5 + eps)
    for step, expected in MICROGPT_LOSSES.items():
        assert losses[step] == pytest.approx(expected, abs=1e-8), step
    for step, printed in MICROGPT_PRINTED.items():
        assert f"{losses[step]:.4f}" == f"{printed:.4f}", step


# ---------------------------------------------------------------------------------------------------------
# BLAS threads


@pytest.fixture
def openblas_at_two_threads():
    """OpenBLAS's (get, set) thread-count functions with the count set to 2; restored afterwards."""
    fns = gpt._find_openblas()
    if fns is None:
        pytest.skip("NumPy is not linked to OpenBLAS here")
    get, set_ = fns
    before = get()
    set_(2)
    yield get
    set_(before)


def test_blas_threads_limits_and_restores_the_openblas_thread_count(openblas_at_two_threads):
    get = openblas_at_two_threads
    with gpt.blas_threads(1):
        assert get() == 1
        with gpt.blas_threads(4):  # never raises the count
            assert get() == 1
    assert get() == 2
    with pytest.raises(RuntimeError):
        with gpt.blas_threads(1):
            raise RuntimeError("boom")
    assert get() == 2  # restored on the way out of an exception too


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2"])
def test_blas_threads_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="n must be"):
        gpt.blas_threads(bad)


def test_one_blas_thread_gives_the_same_loss_and_grads():
    """The thread count only changes how a matmul is split (and so, at most, the order of a sum)."""
    cfg = GPTConfig(vocab_size=27, n_embd=32, n_head=4, n_layer=2, block_size=16)
    P = gpt.init_params(cfg, seed=1)
    rng = np.random.default_rng(2)
    x, y = rng.integers(0, 27, (64, 16)), rng.integers(0, 27, (64, 16))
    loss_a, G_a = gpt.loss_and_grads(P, cfg, x, y)
    with gpt.blas_threads(1):
        loss_b, G_b = gpt.loss_and_grads(P, cfg, x, y)
    assert loss_a == pytest.approx(loss_b, rel=1e-14)
    for n in G_a:
        np.testing.assert_allclose(G_a[n], G_b[n], rtol=1e-12, atol=1e-17, err_msg=n)


def test_blas_thread_limits_of_overlapping_blocks_in_two_threads_hold_until_the_last_closes(openblas_at_two_threads):
    get = openblas_at_two_threads
    entered, release = threading.Event(), threading.Event()
    seen = []

    def other():
        with gpt.blas_threads(1):
            entered.set()
            release.wait(5)
            seen.append(get())

    t = threading.Thread(target=other)
    with gpt.blas_threads(1):
        t.start()
        entered.wait(5)
    assert get() == 1  # this thread's block closed, the other thread's is still open
    release.set()
    t.join()
    assert seen == [1] and get() == 2  # restored once both closed


# ---------------------------------------------------------------------------------------------------------
# the activation workspace (reused buffers) must never leak one call's numbers into another's


def _big_case(seed, B=24, T=16, C=32):
    cfg = GPTConfig(vocab_size=27, n_embd=C, n_head=4, n_layer=2, block_size=16)
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, 27, (B, T)), rng.integers(0, 27, (B, T))
    return cfg, gpt.init_params(cfg, seed=seed), x, y


def _reference_loss(P, cfg, x, y):
    """Cross-entropy from the public forward (fresh arrays, no workspace), written out here."""
    z = gpt.forward(P, cfg, x).reshape(x.size, -1)
    z = z - z.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(x.size), y.reshape(-1)]))


def test_workspace_calls_of_different_shapes_do_not_disturb_each_other():
    cfg, P, x, y = _big_case(0)
    assert x.size * cfg.n_embd >= gpt.WORKSPACE_MIN_ELEMENTS  # this size does use the workspace
    loss_a, G = gpt.loss_and_grads(P, cfg, x, y)
    first = {n: g.copy() for n, g in G.items()}
    assert loss_a == pytest.approx(_reference_loss(P, cfg, x, y), rel=1e-12)
    # other shapes in between (smaller T, bigger batch, the validation loss) reuse the same buffers
    gpt.loss_and_grads(P, cfg, x[:, :9], y[:, :9])
    gpt.loss_and_grads(P, cfg, np.tile(x, (2, 1)), np.tile(y, (2, 1)))
    assert gpt.loss(P, cfg, x[:5], y[:5]) == pytest.approx(_reference_loss(P, cfg, x[:5], y[:5]), rel=1e-12)
    loss_b, G = gpt.loss_and_grads(P, cfg, x, y)
    assert loss_b == loss_a
    for n in first:
        np.testing.assert_array_equal(G[n], first[n], err_msg=n)


def test_workspace_is_per_thread_so_concurrent_trainings_agree_with_serial_ones():
    cases = [_big_case(seed) for seed in (1, 2)]
    serial = [gpt.loss_and_grads(P, cfg, x, y) for cfg, P, x, y in cases]
    results = [[] for _ in cases]

    def work(j):
        cfg, P, x, y = cases[j]
        for _ in range(15):
            loss, G = gpt.loss_and_grads(P, cfg, x, y)
            results[j].append((loss, G["layer0.attn_wq"].copy(), G["wte"].copy()))

    threads = [threading.Thread(target=work, args=(j,)) for j in range(len(cases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (loss, G), got in zip(serial, results):
        assert len(got) == 15
        for loss_t, gq, gwte in got:
            assert loss_t == loss
            np.testing.assert_array_equal(gq, G["layer0.attn_wq"])
            np.testing.assert_array_equal(gwte, G["wte"])


def test_clear_workspace_releases_the_buffers_and_results_stay_the_same():
    cfg, P, x, y = _big_case(3)
    loss_a, G = gpt.loss_and_grads(P, cfg, x, y)
    wq = G["layer1.attn_wq"].copy()
    # at least the (N, 4C) MLP activations of both layers were kept
    assert gpt.clear_workspace() >= 2 * x.size * 4 * cfg.n_embd * 8
    assert gpt.clear_workspace() == 0
    loss_b, G = gpt.loss_and_grads(P, cfg, x, y)
    assert loss_b == loss_a
    np.testing.assert_array_equal(G["layer1.attn_wq"], wq)


def test_fused_and_plain_dict_params_give_the_same_model():
    """Views of a flat buffer embed by a one-hot matmul (small batches) and fill the gradients with fused
    matmuls; a plain dict of copies gathers rows and goes tensor by tensor. The embedding is the same sum
    wte[tok] + wpe[t] either way (the one-hot's other terms are exact zeros)."""
    cfg = GPTConfig(vocab_size=27)
    P = gpt.init_params(cfg, seed=5)
    plain = {n: a.copy() for n, a in P.items()}
    rng = np.random.default_rng(6)
    x, y = rng.integers(0, 27, (2, 9)), rng.integers(0, 27, (2, 9))
    x[0, :4] = x[1, :4] = 3  # repeated tokens: their gradients add up in wte's row 3
    np.testing.assert_array_equal(gpt.forward(P, cfg, x), gpt.forward(plain, cfg, x))
    emb = plain["wte"][x] + plain["wpe"][:9]  # (2, 9, C), straightforward
    h = emb / np.sqrt((emb**2).mean(-1, keepdims=True) + 1e-5)
    cache = []
    gpt.forward(P, cfg, x, cache)
    np.testing.assert_allclose(cache[0][0], h.reshape(18, -1), rtol=1e-14, atol=0)
    loss_a, G_a = gpt.loss_and_grads(P, cfg, x, y)
    loss_b, G_b = gpt.loss_and_grads(plain, cfg, x, y)
    assert loss_a == pytest.approx(loss_b, rel=1e-14)
    for n in G_a:
        np.testing.assert_allclose(G_a[n], G_b[n], rtol=1e-12, atol=1e-17, err_msg=n)


def _row_softmax(z):
    """Softmax along the last axis, each row shifted by its own max, written out here."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_one_common_shift_gives_the_same_softmax_as_per_row_shifts():
    rng = np.random.default_rng(11)
    z = rng.normal(0, 8, (3, 4, 7, 7))  # spread of a few dozen: within EXP_SPREAD
    shift = gpt.common_shift(z)
    assert shift == z.max()
    np.testing.assert_allclose(gpt.softmax(z.copy(), shift=shift), _row_softmax(z), rtol=1e-13, atol=1e-300)
    # a causal mask added after the shift was taken: masked entries become exact zeros
    masked = z + gpt.causal_bias(7, np.float64)
    got = gpt.softmax(masked.copy(), shift=shift)
    assert np.all(got[..., np.triu_indices(7, 1)[0], np.triu_indices(7, 1)[1]] == 0)
    np.testing.assert_allclose(got, _row_softmax(masked), rtol=1e-13, atol=1e-300)


def test_no_shift_at_all_when_allowed_and_every_entry_is_within_exp_spread_of_zero():
    """‖z‖₂ <= EXP_SPREAD bounds every |z_i|: exp is then safe as it is and softmax subtracts nothing
    (the attention scores' case; the logits always get a max, see the next test)."""
    z = np.random.default_rng(12).normal(0, 1, (4, 7, 7))  # ‖z‖ ≈ 14, like microgpt's attention scores
    assert gpt.common_shift(z, allow_zero=True) == 0.0
    assert gpt.common_shift(z) == z.max()
    masked = z + gpt.causal_bias(7, np.float64)
    np.testing.assert_allclose(gpt.softmax(masked.copy(), shift=0.0), _row_softmax(masked), rtol=1e-13, atol=1e-300)
    # float32 at the edge: ‖(42, −42, 0)‖ = 59.4, so e^42 and e^−42 are taken unshifted, without overflow
    edge = np.array([[42.0, -42.0, 0.0]], np.float32)
    assert gpt.common_shift(edge, allow_zero=True) == 0.0
    with np.errstate(all="raise"):
        got = gpt.softmax(edge.copy(), shift=0.0)
    np.testing.assert_allclose(got, _row_softmax(edge.astype(np.float64)), rtol=1e-6)
    # just past the bound, the global max takes over (spread 1.5 here)
    assert gpt.common_shift(np.array([[60.5, 59.0]]), allow_zero=True) == 60.5


@pytest.mark.parametrize("dtype, a", [(np.float32, 10.0), (np.float32, 15.0), (np.float64, 20.0), (np.float64, 30.0)])
def test_the_loss_of_a_confident_prediction_keeps_its_relative_precision(dtype, a):
    """One position, one-dimensional model, logits ≈ (a, 0), target 0: the loss is log(1 + e^−a), tiny. Its
    error must stay within the dtype's ε, as log-sum-exp with the row's max subtracted gives (without it,
    the error grows to ~a·ε: float32 rounded the loss at a = 15 to 0)."""
    cfg = GPTConfig(vocab_size=2, n_embd=1, n_head=1, n_layer=1, block_size=1)
    P = gpt.zeros_like_params(cfg, dtype)
    P["wte"][:] = 1.0  # the embedding normalises to ~1 and the layers (all zero) leave it there
    P["lm_head"][:, 0] = (a, 0.0)
    x, y = np.array([[1]]), np.array([[0]])
    z = gpt.forward(P, cfg, x)[0, 0].astype(np.float64)
    want = math.log1p(math.exp(z[1] - z[0]))  # exact for these logits
    for got in (gpt.loss_and_grads(P, cfg, x, y)[0], gpt.loss(P, cfg, x, y)):
        assert abs(got - want) <= 2 * np.finfo(dtype).eps


@pytest.mark.parametrize("z", [np.array([[0.0, 1.0], [1000.0, 1001.0]]),  # rows far apart
                               np.array([[0.0, np.nan]]), np.array([[0.0, np.inf]]),
                               np.array([[-np.inf, 0.0]])])
def test_common_shift_refuses_wide_or_non_finite_arrays_and_softmax_falls_back_to_rows(z):
    assert gpt.common_shift(z) is None
    with np.errstate(all="ignore"):
        got, want = gpt.softmax(z.copy()), _row_softmax(z)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=1e-15)


def test_huge_logits_still_give_the_exact_loss_and_finite_grads():
    """Weights ×300: logits spread over thousands, so each row needs its own shift (one shift would
    underflow whole rows of exp to zero). The loss must still equal the straightforward one."""
    cfg = GPTConfig(vocab_size=27)
    P = gpt.init_params(cfg, seed=4)
    for name in ("lm_head", "layer0.mlp_fc2"):
        P[name] *= 300
    x, y = random_batch(cfg, 3, 9, 5)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # (exp may underflow: that is fine)
        loss, G = gpt.loss_and_grads(P, cfg, x, y)
    assert gpt.common_shift(gpt.forward(P, cfg, x)) is None  # the per-row path was the one exercised
    assert loss == pytest.approx(_reference_loss(P, cfg, x, y), rel=1e-12)
    assert all(np.isfinite(g).all() for g in G.values())


def test_small_steps_of_many_lengths_reuse_plans_without_mixing_them_up():
    """Names have many lengths: each (B, T) gets its own plan of buffers and views, built once and reused.
    Interleaving lengths must give exactly what a fresh computation gives."""
    cfg = GPTConfig(vocab_size=27)
    P = gpt.init_params(cfg, seed=8)
    batches = [random_batch(cfg, 1, T, T) for T in (2, 7, 16, 5)]
    first = []
    for x, y in batches:
        loss, G = gpt.loss_and_grads(P, cfg, x, y)
        first.append((loss, {n: g.copy() for n, g in G.items()}))
        assert loss == pytest.approx(_reference_loss(P, cfg, x, y), rel=1e-13)
    for (x, y), (loss, G0) in zip(reversed(batches), reversed(first)):
        loss_again, G = gpt.loss_and_grads(P, cfg, x, y)
        assert loss_again == loss
        for n in G0:
            np.testing.assert_array_equal(G[n], G0[n], err_msg=n)


def test_validation_keeps_only_forward_buffers():
    """loss() (validation, often on a bigger batch than training) must not reserve the backward's scratch:
    the gradient buffers of a (512·16)-row validation batch would otherwise stay allocated for the run."""
    cfg, P, x, y = _big_case(9)
    gpt.clear_workspace()
    assert gpt.loss(P, cfg, x, y) == pytest.approx(_reference_loss(P, cfg, x, y), rel=1e-12)
    names = {name for name, _ in gpt._WORKSPACE.arrays}
    assert "layer0.qkv" in names and not names & {"dx", "da", "dy", "dqkv", "datt", "probs", "onehot", "tmp2"}
    forward_bytes = gpt.clear_workspace()
    gpt.loss_and_grads(P, cfg, x, y)
    assert gpt.clear_workspace() > forward_bytes  # training does reserve them
