"""adamlab.watch on real torch optimizers, checked against numbers computed here from tensors captured around
each step: g, w, u for SGD and Adam; Adam-family histograms from ``optimizer.state`` and from the real Δθ;
names, frozen and unused parameters, non-finite values, alignment of steps, resuming, I/O errors."""

import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="adamlab.watch needs PyTorch (pip install torch==2.13.0)")

import adamlab  # noqa: E402
from adamlab.runs import open_run  # noqa: E402



@pytest.fixture(autouse=True)
def _float64_default():
    """float64 models: the hand computations then agree with the watcher's to rounding."""
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


class Tiny(torch.nn.Module):
    """An embedding tied to the output layer, a hidden layer, and a branch used only on even calls."""

    def __init__(self, vocab=11, width=6):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, width)
        self.hidden = torch.nn.Linear(width, width)
        self.branch = torch.nn.Linear(width, width)
        self.out = torch.nn.Linear(width, vocab, bias=False)
        self.out.weight = self.emb.weight  # tied: one tensor, one name
        self.calls = 0

    def forward(self, x):
        h = torch.tanh(self.hidden(self.emb(x)))
        if self.calls % 2 == 0:
            h = h + self.branch(h)
        self.calls += 1
        return self.out(h)


def batch(step, vocab=11):
    g = torch.Generator().manual_seed(step)
    x = torch.randint(0, vocab, (8, 5), generator=g)
    return x, torch.roll(x, 1, dims=1)


def train(model, opt, steps, watcher=None, scale=None, capture=None):
    """Ordinary training; ``capture(step)`` says whether to keep the grads and weights around that step."""
    kept = {}
    names = dict((id(p), n) for n, p in model.named_parameters())
    for step in range(steps):
        x, y = batch(step)
        loss = torch.nn.functional.cross_entropy(model(x).reshape(-1, 11), y.reshape(-1))
        if scale is not None:
            loss = loss * scale(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if capture is not None and capture(step):
            kept[step] = {"before": {names[id(p)]: p.detach().clone() for p in model.parameters()},
                          "grad": {names[id(p)]: p.grad.clone() for p in model.parameters() if p.grad is not None}}
        opt.step()
        if capture is not None and capture(step):
            kept[step]["after"] = {names[id(p)]: p.detach().clone() for p in model.parameters()}
            kept[step]["state"] = {names[id(p)]: {k: (v.clone() if torch.is_tensor(v) else v)
                                                  for k, v in opt.state[p].items()} for p in model.parameters()
                                   if p in opt.state}
        if watcher is not None:
            watcher.log(step, loss=loss.item())
    return kept


def rms(t):
    return math.sqrt(float((t.double() ** 2).mean()))


def check_gwu(run, kept):
    for step, k in kept.items():
        row = run.steps.tolist().index(step)
        for i, name in enumerate(run.tensors):
            if name not in k["grad"]:
                assert run.skipped[row, i] and math.isnan(run.g[row, i])
                continue
            before, after = k["before"][name], k["after"][name]
            assert run.g[row, i] == pytest.approx(rms(k["grad"][name]), rel=1e-6)
            assert run.w[row, i] == pytest.approx(rms(after), rel=1e-6)
            assert run.u[row, i] == pytest.approx(rms(after - before) / rms(before), rel=1e-6)


@pytest.mark.parametrize("make_opt", [
    lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.85, 0.99)),
], ids=["sgd-momentum", "adam"])
def test_g_w_u_equal_hand_computation_from_the_captured_tensors(tmp_path, make_opt):
    torch.manual_seed(0)
    model = Tiny()
    opt = make_opt(model.parameters())
    with adamlab.watch(model, opt, tmp_path / "run", every=3) as w:
        kept = train(model, opt, 10, w, capture=lambda s: s % 3 == 0)
    with open_run(tmp_path / "run") as run:
        assert run.steps.tolist() == [0, 3, 6, 9]  # steps numbered as the loop numbers them
        assert run.tensors == ["emb.weight", "hidden.weight", "hidden.bias", "branch.weight", "branch.bias"]
        check_gwu(run, kept)
        # the branch runs on even calls only: step 3 and 9 had no grad for it
        assert run.skipped[:, 3].tolist() == [False, True, False, True]
        assert not run.nonfinite.any()
        assert run.scalar("loss")[0].tolist() == list(range(10))
        assert run.lr.ravel().tolist() == [opt.param_groups[0]["lr"]] * 4
        if isinstance(opt, torch.optim.SGD):
            assert run.adam is None and "SGD keeps no Adam state" in run.note and len(run.hist_steps) == 0
        else:
            # histograms by default every 102 steps (the multiple of every=3 nearest above 100): step 0 only
            assert run.adam == "adam" and run.hist_every == 102 and run.hist_steps.tolist() == [0]


def hand_hist(values, lo, hi, bins):
    """(below, bins…, above) counts of float64 values, NaNs left out: the bins [lo + kw, lo + (k+1)w)."""
    values = values[~np.isnan(values)]
    edges = np.linspace(lo, hi, bins + 1)
    inside = np.histogram(values[(values >= lo) & (values < hi)], edges)[0]
    return np.concatenate([[np.sum(values < lo)], inside, [np.sum(values >= hi)]])


def adam_hand(state, group, amsgrad=False):
    """m̂/(√v̂+ε) and lr/(√v̂+ε) from Adam's raw state, written out in NumPy."""
    b1, b2 = group["betas"]
    t = float(state["step"])
    m = state["exp_avg"].numpy()
    v = (state["max_exp_avg_sq"] if amsgrad else state["exp_avg_sq"]).numpy()
    m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
    return m_hat / (np.sqrt(v_hat) + group["eps"]), group["lr"] / (np.sqrt(v_hat) + group["eps"])


def check_hist(run, step, name, snr, lr_eff, bins=32, snr_range=(-2, 2), log_lr_range=(-10, 6)):
    for kind, values, (lo, hi) in (("snr", snr, snr_range), ("log_lr", np.log10(lr_eff), log_lr_range)):
        h = run.histogram(name, kind, step=step)
        assert h.step == step
        want = hand_hist(np.ravel(values), lo, hi, bins)
        got = np.concatenate([[h.below], h.counts, [h.above]])
        assert got.tolist() == want.tolist(), (name, kind)
        assert h.nonfinite == 0 and got.sum() == np.size(values)


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("cls", [torch.optim.Adam, torch.optim.AdamW])
def test_adam_histograms_equal_counts_from_optimizer_state(tmp_path, cls, amsgrad):
    torch.manual_seed(1)
    model = Tiny()
    opt = cls(model.parameters(), lr=0.02, betas=(0.9, 0.95), eps=1e-6, amsgrad=amsgrad)
    # gradients that shrink: v falls below its running max, so AMSGrad's v̂ differs from Adam's
    scale = lambda s: 30.0 if s < 3 else 1.0  # noqa: E731
    with adamlab.watch(model, opt, tmp_path / "run", every=2, hist_every=4, bins=32) as w:
        kept = train(model, opt, 9, w, scale=scale, capture=lambda s: s in (0, 8))
    group = {"lr": 0.02, "betas": (0.9, 0.95), "eps": 1e-6}
    with open_run(tmp_path / "run") as run:
        assert run.hist_steps.tolist() == [0, 4, 8]
        for step in (0, 8):
            for name, state in kept[step]["state"].items():
                if name not in kept[step]["grad"]:
                    assert run.histogram(name, "snr", step=step) is None  # no grad that step: no histogram
                    continue
                snr, lr_eff = adam_hand(state, group, amsgrad)
                check_hist(run, step, name, snr, lr_eff)
                if amsgrad and step == 8:  # (the test can tell AMSGrad's v̂ from Adam's)
                    assert not np.allclose(adam_hand(state, group, False)[1], lr_eff)
                if cls is torch.optim.Adam:  # no weight decay: the histogram is of the real step, −Δθ/lr
                    delta = kept[step]["after"][name] - kept[step]["before"][name]
                    np.testing.assert_allclose(-delta.numpy() / 0.02, snr, rtol=1e-7, atol=1e-12)


def test_nadam_and_radam_histograms_are_the_real_normalised_step(tmp_path):
    """NAdam's Nesterov m̂ (with L2 weight decay folded into g) and RAdam's rectified step: the snr histogram
    is −Δθ/lr of the step actually taken, before and after RAdam's rectification starts (ρ_t > 5 from t = 6)."""
    for cls, kw in ((torch.optim.NAdam, {"weight_decay": 0.01}), (torch.optim.RAdam, {})):
        torch.manual_seed(2)
        model = Tiny()
        opt = cls(model.parameters(), lr=0.01, **kw)
        folder = tmp_path / cls.__name__
        with adamlab.watch(model, opt, folder, every=1, hist_every=1, bins=40, snr_range=(-3, 3)) as w:
            kept = train(model, opt, 8, w, capture=lambda s: True)
        with open_run(folder) as run:
            assert run.adam == cls.__name__.lower()
            for step in (0, 7):
                for name, grad in kept[step]["grad"].items():
                    delta = (kept[step]["after"][name] - kept[step]["before"][name]).numpy()
                    h = run.histogram(name, "snr", step=step)
                    got = np.concatenate([[h.below], h.counts, [h.above]])
                    assert got.tolist() == hand_hist(-delta.ravel() / 0.01, -3, 3, 40).tolist(), (cls, step, name)
            # RAdam's effective lr: lr everywhere before rectification, lr·r_t·√(1−β2ᵗ)/(√v+ε) after
            if cls is torch.optim.RAdam:
                name = "hidden.weight"
                h0 = run.histogram(name, "log_lr", step=0)
                assert h0.counts.max() == h0.numel  # all in one bin: log10(0.01) = −2
                assert h0.edges[h0.counts.argmax()] <= -2 < h0.edges[h0.counts.argmax() + 1]
                state = kept[7]["state"][name]
                t, b2 = float(state["step"]), 0.999
                rho_inf = 2 / (1 - b2) - 1
                rho = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
                rect = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
                lr_eff = 0.01 * rect * math.sqrt(1 - b2 ** t) / (np.sqrt(state["exp_avg_sq"].numpy()) + 1e-8)
                h7 = run.histogram(name, "log_lr", step=7)
                want = hand_hist(np.log10(lr_eff).ravel(), -10, 6, 40)
                assert np.concatenate([[h7.below], h7.counts, [h7.above]]).tolist() == want.tolist()


def test_frozen_parameters_are_not_watched_and_wrappers_add_no_prefix(tmp_path):
    torch.manual_seed(3)
    model = Tiny()
    model.hidden.requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    with adamlab.watch(torch.nn.DataParallel(model), opt, tmp_path / "run", every=1) as w:
        train(model, opt, 2, w)
    with open_run(tmp_path / "run") as run:
        assert run.tensors == ["emb.weight", "branch.weight", "branch.bias"]
        assert run.meta["model"]["class"] == "Tiny" and run.meta["model"]["wrapper"] == "DataParallel"
        assert run.meta["model"]["numel"] == sum(p.numel() for p in model.parameters())


def test_non_finite_values_are_recorded_and_flagged_not_a_crash(tmp_path):
    torch.manual_seed(4)
    model = Tiny()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    with adamlab.watch(model, opt, tmp_path / "run", every=1, hist_every=1) as w:
        for step in range(3):
            x, y = batch(step)
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x).reshape(-1, 11), y.reshape(-1))
            loss.backward()
            if step == 1:
                model.hidden.weight.grad[0, 0] = float("inf")
            opt.step()
            w.log(step, loss=float("nan") if step == 1 else loss.item())
    with open_run(tmp_path / "run") as run:
        i = run.tensors.index("hidden.weight")
        assert run.nonfinite[:, i].tolist() == [False, True, True]  # inf grad, then nan weights
        assert math.isinf(run.g[1, i]) and not run.nonfinite[:2, 0].any()  # (step 2's nan spreads to all)
        assert math.isnan(run.scalar("loss")[1][1])
        h = run.histogram(i, "snr", step=2)
        assert h.nonfinite > 0 and h.nonfinite + h.counts.sum() + h.below + h.above == h.numel


def test_log_defaults_bad_values_and_arguments(tmp_path):
    model = Tiny()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    w = adamlab.watch(model, opt, tmp_path / "run", every=1, config={"batch": 8, "note": "x"})
    with pytest.raises(TypeError, match="scalar 'loss' must be a number, got str"):
        w.log(0, loss="high")
    with pytest.raises(ValueError, match="tensor of 2 elements"):
        w.log(0, loss=torch.ones(2))
    with pytest.raises(TypeError, match="samples must be a string or a list of strings"):
        w.log(0, samples=[1])
    train(model, opt, 2)
    w.log(tokens=torch.tensor(80), samples="abc")  # step defaults to the last optimizer step taken
    w.close()
    with pytest.raises(ValueError, match="closed watcher"):
        w.log(0, loss=1.0)
    with open_run(tmp_path / "run") as run:
        assert run.scalar("tokens")[0].tolist() == [1] and run.samples[0].texts == ("abc",)
        assert run.meta["config"] == {"batch": 8, "note": "x"}
    for kw, msg in (({"every": 0}, "every must be an integer >= 1, got 0"),
                    ({"every": 2.5}, "every must be an integer"),
                    ({"every": 3, "hist_every": 10}, "hist_every must be a multiple of every"),
                    ({"bins": 0}, r"bins must be an integer in \[1, 4096\]"),
                    ({"snr_range": (1, -1)}, "snr_range must be finite with low < high")):
        with pytest.raises((ValueError, TypeError), match=msg):
            adamlab.watch(model, opt, tmp_path / "bad", **kw)
    frozen = torch.nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        adamlab.watch(frozen, torch.optim.SGD(frozen.parameters(), lr=0.1), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_hooks_are_removed_on_close_and_nothing_is_copied_between_logging_steps(tmp_path, monkeypatch):
    model = Tiny()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    w = adamlab.watch(model, opt, tmp_path / "run", every=5)
    clones = []
    real_clone = torch.Tensor.clone
    monkeypatch.setattr(torch.Tensor, "clone", lambda self, *a, **k: clones.append(1) or real_clone(self, *a, **k))
    train(model, opt, 10)
    assert len(clones) == 5 + 3  # steps 0 and 5 only; at step 5 (an odd call) the branch's 2 have no grad
    w.close()
    clones.clear()
    train(model, opt, 5)
    assert clones == [] and w.step == 10


def test_resume_appends_to_the_same_run(tmp_path):
    torch.manual_seed(5)
    model = Tiny()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    with adamlab.watch(model, opt, tmp_path / "run", every=2) as w:
        train(model, opt, 4, w)
    with pytest.raises(FileExistsError, match="pass resume=True"):
        adamlab.watch(model, opt, tmp_path / "run")
    with adamlab.watch(model, opt, tmp_path / "run", every=2, start_step=4, resume=True) as w:
        for step in range(4, 8):
            x, y = batch(step)
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x).reshape(-1, 11), y.reshape(-1)).backward()
            opt.step()
    with open_run(tmp_path / "run") as run:
        assert run.steps.tolist() == [0, 2, 4, 6]
        assert [s["type"] for s in run.sessions] == ["open", "close", "resume", "close"]


def test_an_io_error_stops_the_watcher_with_a_warning_and_training_goes_on(tmp_path):
    model = Tiny()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    w = adamlab.watch(model, opt, tmp_path / "run", every=1)

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    w._writer._write = full
    with pytest.warns(RuntimeWarning, match="stopped writing .* No space left on device.*training goes on"):
        train(model, opt, 3, w)
    assert w.step == 3  # the steps were all taken
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w.close()


def test_low_precision_parameters_are_measured_in_float32(tmp_path):
    torch.manual_seed(6)
    layer = torch.nn.Linear(64, 64).to(torch.bfloat16)
    opt = torch.optim.AdamW(layer.parameters(), lr=0.01)
    x = torch.randn(16, 64, dtype=torch.bfloat16)
    with adamlab.watch(layer, opt, tmp_path / "run", every=1, hist_every=1):
        layer(x).float().pow(2).mean().backward()
        grad = layer.weight.grad.float().clone()
        before = layer.weight.detach().float().clone()
        opt.step()
        after = layer.weight.detach().float()
    with open_run(tmp_path / "run") as run:
        assert run.g[0, 0] == pytest.approx(rms(grad), rel=1e-5)
        assert run.u[0, 0] == pytest.approx(rms(after - before) / rms(before), rel=1e-5)
        assert run.meta["tensors"][0]["dtype"] == "bfloat16"
        h = run.histogram(0, "snr")
        assert h.counts.sum() + h.below + h.above == 64 * 64


def test_watch_is_exported_lazily_and_refuses_a_non_optimizer(tmp_path):
    from adamlab.runs.hook import watch
    assert adamlab.watch is watch and callable(adamlab.watch)
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer"):
        adamlab.watch(Tiny(), object(), tmp_path / "x")
