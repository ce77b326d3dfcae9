"""``loss_and_grads`` without a ``grads=`` buffer, the call the README shows first: the same numbers as with
one, gradients the caller keeps are never written again, and Adam steps them as one flat buffer in place."""

import copy
import weakref

import numpy as np
import pytest

from adamlab.core import gpt
from adamlab.core.gpt import GPTConfig
from adamlab.core.optim import Adam, Optimizer

MICROGPT = GPTConfig(vocab_size=27)
TWO_LAYERS = GPTConfig(vocab_size=11, n_embd=16, n_head=4, n_layer=2, block_size=8)
WIDE = GPTConfig(vocab_size=27, n_embd=32, n_head=4, n_layer=2, block_size=16)  # B·T·C uses the workspace


def batch(cfg, B, T, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, cfg.vocab_size, (B, T)), rng.integers(0, cfg.vocab_size, (B, T))


def offsets(arrays):
    """Each array's element offset from the start of the buffer it views."""
    base = gpt.flat_buffer(arrays)
    assert base is not None, "not views tiling one flat buffer"
    return [(a.ctypes.data - base.ctypes.data) // a.itemsize for a in arrays.values()]


@pytest.mark.parametrize("cfg, B, T, dtype, masked", [
    (MICROGPT, 1, 7, np.float64, False),  # microgpt's step
    (TWO_LAYERS, 4, 8, np.float32, True),
    (WIDE, 64, 16, np.float64, True),
])
def test_the_plain_call_gives_the_buffer_calls_numbers_bit_for_bit(cfg, B, T, dtype, masked):
    P = gpt.init_params(cfg, seed=3, dtype=dtype)
    x, y = batch(cfg, B, T, seed=4)
    mask = None
    if masked:
        mask = np.ones((B, T))
        mask[0, T // 2:] = 0
    loss, G = gpt.loss_and_grads(P, cfg, x, y, mask)
    buf = gpt.zeros_like_params(cfg, dtype)
    loss_buf, _ = gpt.loss_and_grads(P, cfg, x, y, mask, grads=buf)
    assert loss == loss_buf
    assert list(G) == list(P)
    for n in P:
        assert G[n].dtype == dtype and G[n].shape == P[n].shape
        np.testing.assert_array_equal(G[n], buf[n], err_msg=n)
    # views of one flat buffer laid out like the parameters' own
    assert offsets(G) == offsets(P) and gpt.flat_buffer(G).size == gpt.num_params(cfg)


def test_gradients_the_caller_keeps_are_never_written_again():
    """A kept dict, an array taken from a dropped dict, a view of one, the buffer itself, a shallow copy:
    each keeps its numbers through later calls on other batches (which do reuse the dropped buffers)."""
    cfg = MICROGPT
    P = gpt.init_params(cfg, seed=1)
    kept = []  # (the object kept, a copy of its numbers then)

    def call(seed):
        return gpt.loss_and_grads(P, cfg, *batch(cfg, 1, 5 + seed % 4, seed))[1]

    G = call(0)
    kept.append((G, {n: g.copy() for n, g in G.items()}))
    a = call(1)["lm_head"]
    kept.append((a, a.copy()))
    v = call(2)["wte"][3:9].T
    kept.append((v, v.copy()))
    buf = gpt.flat_buffer(call(3))
    kept.append((buf, buf.copy()))
    c = copy.copy(call(4))
    kept.append((c, {n: g.copy() for n, g in c.items()}))
    fused = call(5).fused["wte_wpe"]
    kept.append((fused, fused.copy()))
    for seed in range(6, 20):  # results dropped at once: their buffers are taken back
        call(seed)
    for obj, then in kept:
        if isinstance(obj, dict):
            for n in then:
                np.testing.assert_array_equal(obj[n], then[n], err_msg=n)
        else:
            np.testing.assert_array_equal(obj, then)
    # and they were all different numbers to begin with (different batches)
    assert not np.array_equal(kept[0][1]["lm_head"], kept[1][1])


def test_the_usual_loop_takes_turns_between_two_buffers_and_matches_the_buffer_loop(monkeypatch):
    """loss, grads = loss_and_grads(...); opt.step(params, grads): last step's grads are still held during
    the call (the name, the optimizer's cache), so two buffers alternate and nothing is allocated. Adam
    steps them in place as one flat buffer (never copied together), exactly as with a grads= buffer."""
    monkeypatch.setattr(Optimizer, "_gather", lambda *a: pytest.fail("gradients were copied together"))
    cfg = MICROGPT
    P_plain, P_buf = gpt.init_params(cfg, seed=2), gpt.init_params(cfg, seed=2)
    opt_plain, opt_buf = (Adam(lr=1e-2, betas=(0.85, 0.99), eps=1e-8) for _ in range(2))
    buf = gpt.zeros_like_params(cfg)
    seen = []  # weak references: they do not hold a buffer
    for step in range(12):
        x, y = batch(cfg, 1, 3 + step % 6, seed=step)
        loss, grads = gpt.loss_and_grads(P_plain, cfg, x, y)
        opt_plain.step(P_plain, grads)
        loss_buf, _ = gpt.loss_and_grads(P_buf, cfg, x, y, grads=buf)
        opt_buf.step(P_buf, buf)
        assert loss == loss_buf
        seen.append(weakref.ref(gpt.flat_buffer(grads)))
    assert all(r() is not None for r in seen) and len({id(r()) for r in seen}) == 2
    for n in P_plain:
        np.testing.assert_array_equal(P_plain[n], P_buf[n], err_msg=n)
    state = opt_plain.state_dict()
    assert state["slots"].tolist() == ["__flat__"] and state["flat.names"].tolist() == list(P_plain)
    want = opt_buf.state_dict()
    for key in ("slot0.state.exp_avg", "slot0.state.exp_avg_sq"):
        np.testing.assert_array_equal(state[key], want[key])


def test_params_from_init_params_tile_one_buffer_in_param_shapes_order():
    cfg = TWO_LAYERS
    P = gpt.init_params(cfg, seed=0)
    shapes = gpt.param_shapes(cfg)
    assert list(P) == list(shapes) and [a.shape for a in P.values()] == list(shapes.values())
    assert offsets(P) == list(np.cumsum([0] + [r * c for r, c in shapes.values()])[:-1])


def test_threads_get_their_own_buffers():
    """Two threads training the same model each get their own gradient buffers (a buffer handed out in
    one thread is never taken back by another)."""
    import threading

    cfg = MICROGPT
    P = gpt.init_params(cfg, seed=5)
    x, y = batch(cfg, 1, 7, seed=6)
    want = {n: g.copy() for n, g in gpt.loss_and_grads(P, cfg, x, y)[1].items()}
    bad = []

    def work():
        for _ in range(200):
            G = gpt.loss_and_grads(P, cfg, x, y)[1]
            if not all(np.array_equal(G[n], want[n]) for n in want):
                bad.append(1)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad


def test_clear_workspace_forgets_the_buffers_but_not_what_the_caller_holds():
    cfg = MICROGPT
    P = gpt.init_params(cfg, seed=7)
    x, y = batch(cfg, 1, 6, seed=8)
    _, G = gpt.loss_and_grads(P, cfg, x, y)
    then = {n: g.copy() for n, g in G.items()}
    gpt.clear_workspace()
    assert not gpt._WORKSPACE.gradients
    _, G2 = gpt.loss_and_grads(P, cfg, *batch(cfg, 1, 4, seed=9))
    assert gpt.flat_buffer(G2) is not gpt.flat_buffer(G)
    for n in then:
        np.testing.assert_array_equal(G[n], then[n])


def test_views_refuses_a_buffer_of_the_wrong_size_or_shape():
    cfg = MICROGPT
    n = gpt.num_params(cfg)
    for bad in (np.zeros(n - 1), np.zeros(n + 1), np.zeros((2, n // 2))):
        with pytest.raises(ValueError, match=f"the model needs {n} in 1-D"):
            gpt.views(bad, cfg)
