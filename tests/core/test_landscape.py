"""The loss landscape: slices against gpt.loss, filter normalisation, PCA against NumPy's SVD, sharpness against
dense Hessians (finite differences, PyTorch's exact one, a quadratic), Adam's preconditioner and the stability
thresholds against simulations, full-batch training, weight snapshots, the CLI and the PNG writer."""

import io
import json
import math
import subprocess
import sys
import zlib

import numpy as np
import pytest

from adamlab import cli
from adamlab.core import data, gpt, image, landscape, optim, train

TINY = gpt.GPTConfig(vocab_size=8, n_embd=2, n_head=1, n_layer=1, block_size=4)  # 88 parameters


def padded_batch(cfg, B, T, seed, holes=False):
    """Random tokens with right padding: row b has T - (b % T) real positions (mask 1), the rest 0 (and, with
    ``holes``, a zero weight inside some rows too)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, cfg.vocab_size, (B, T))
    y = rng.integers(0, cfg.vocab_size, (B, T))
    mask = np.zeros((B, T))
    for b in range(B):
        mask[b, : T - (b % T)] = 1.0
    if holes:
        mask[::3, 0] = 0.0
        mask[1::4, 1] = 0.5
    return x, y, mask


@pytest.fixture(scope="module")
def names_batch():
    corpus = data.load_corpus("names")
    seqs, _ = data.split_docs(corpus.seqs, 0.1, seed=0)
    cfg = gpt.GPTConfig(corpus.tokenizer.vocab_size)
    return cfg, data.make_batch(seqs[:64], cfg.block_size, corpus.tokenizer.bos)


# ----------------------------------------------------------------------------------------------------------
# slices


@pytest.mark.parametrize("n_layer", [1, 2])
def test_slice_at_the_origin_and_off_grid_points_equals_gpt_loss(names_batch, n_layer):
    cfg0, (x, y, mask) = names_batch
    cfg = gpt.GPTConfig(cfg0.vocab_size, n_embd=16, n_head=4, n_layer=n_layer)
    params = gpt.init_params(cfg, seed=1)
    d1, d2 = landscape.random_plane(params, seed=2)
    alphas, betas = np.array([-0.7, 0.0, 0.4]), np.array([0.0, 0.3])
    Z = landscape.loss_slice(params, cfg, x, y, d1, d2, alphas, betas, mask)
    assert Z.shape == (3, 2) and Z.dtype == np.float64
    for i, a in enumerate(alphas):
        for j, b in enumerate(betas):
            moved = {k: params[k] + a * d1[k] + b * d2[k] for k in params}
            assert Z[i, j] == pytest.approx(gpt.loss(moved, cfg, x, y, mask), rel=1e-13)
    assert Z[1, 0] == pytest.approx(gpt.loss(params, cfg, x, y, mask), rel=1e-14)


def test_slice_buckets_drop_padding_and_keep_interior_zero_weights_exactly():
    cfg = gpt.GPTConfig(vocab_size=11, n_embd=8, n_head=2, block_size=7)
    params = gpt.init_params(cfg, seed=3, std=0.3)
    x, y, mask = padded_batch(cfg, 23, 7, seed=4, holes=True)
    d1, d2 = landscape.random_plane(params, seed=5)
    Z = landscape.loss_slice(params, cfg, x, y, d1, d2, [0.0, 0.5], [0.0, -0.25], mask)
    moved = {k: params[k] + 0.5 * d1[k] - 0.25 * d2[k] for k in params}
    assert Z[0, 0] == pytest.approx(gpt.loss(params, cfg, x, y, mask), rel=1e-13)
    assert Z[1, 1] == pytest.approx(gpt.loss(moved, cfg, x, y, mask), rel=1e-13)
    # no mask: every position counts
    Z = landscape.loss_slice(params, cfg, x, y, d1, d2, [0.5], [-0.25])
    assert Z[0, 0] == pytest.approx(gpt.loss(moved, cfg, x, y), rel=1e-13)
    # the buckets cover every weighted position once and trim only zero-weight tails
    buckets = landscape._split_batch(cfg, x, y, mask, overhead_tokens=4)
    assert sum(b.weights.sum() for b in buckets) == pytest.approx(1.0, rel=1e-14)
    assert sum(b.inputs.shape[0] for b in buckets) == int((mask > 0).any(axis=1).sum()) == 22  # a row of zeros goes
    assert max(b.inputs.shape[1] for b in buckets) == 7 and min(b.inputs.shape[1] for b in buckets) < 7


def test_float32_slices_agree_with_float64_and_are_deterministic(names_batch):
    cfg, (x, y, mask) = names_batch
    params = gpt.init_params(cfg, seed=0)
    d1, d2 = landscape.random_plane(params, seed=0)
    axis = np.linspace(-1, 1, 5)
    z64 = landscape.loss_slice(params, cfg, x, y, d1, d2, axis, axis, mask)
    z32 = landscape.loss_slice(params, cfg, x, y, d1, d2, axis, axis, mask, dtype="float32")
    np.testing.assert_allclose(z32, z64, rtol=2e-6)
    np.testing.assert_array_equal(z64, landscape.loss_slice(params, cfg, x, y, d1, d2, axis, axis, mask))
    p32 = {k: v.astype(np.float32) for k, v in params.items()}  # float32 parameters compute in float32
    assert landscape.loss_slice(p32, cfg, x, y, d1, d2, [0.0], [0.0], mask)[0, 0] == pytest.approx(
        gpt.loss(p32, cfg, x, y, mask), rel=2e-6)


def test_iter_loss_slice_yields_the_rows_in_order(names_batch):
    cfg, (x, y, mask) = names_batch
    params = gpt.init_params(cfg, seed=0)
    d1, d2 = landscape.random_plane(params, seed=1)
    axis = np.linspace(-0.5, 0.5, 4)
    rows = list(landscape.iter_loss_slice(params, cfg, x, y, d1, d2, axis, axis[:3], mask))
    assert [i for i, _ in rows] == [0, 1, 2, 3]
    np.testing.assert_array_equal(np.stack([r for _, r in rows]),
                                  landscape.loss_slice(params, cfg, x, y, d1, d2, axis, axis[:3], mask))


def test_far_out_weights_give_gpt_losses_without_warnings(names_batch):
    cfg, (x, y, mask) = names_batch
    params = gpt.init_params(cfg, seed=0)
    d1, d2 = landscape.random_plane(params, seed=1)
    import warnings

    alphas = [1e150, 1e300, 1e308]  # squares overflow; the weights themselves overflow at the last
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Z = landscape.loss_slice(params, cfg, x, y, d1, d2, alphas, [0.0], mask)
    with np.errstate(all="ignore"):
        expected = [gpt.loss({k: params[k] + a * d1[k] for k in params}, cfg, x, y, mask) for a in alphas]
    np.testing.assert_allclose(Z[:, 0], expected, rtol=1e-12, equal_nan=True)


def test_bad_slice_arguments_are_refused_by_name(names_batch):
    cfg, (x, y, mask) = names_batch
    params = gpt.init_params(cfg, seed=0)
    d1, d2 = landscape.random_plane(params, seed=1)
    with pytest.raises(ValueError, match="alphas"):
        landscape.loss_slice(params, cfg, x, y, d1, d2, [], [0.0], mask)
    with pytest.raises(ValueError, match="betas"):
        landscape.loss_slice(params, cfg, x, y, d1, d2, [0.0], [np.nan], mask)
    with pytest.raises(ValueError, match=r"d2\['lm_head'\]"):
        landscape.loss_slice(params, cfg, x, y, d1, {k: v for k, v in d2.items() if k != "lm_head"}, [0.0], [0.0])
    with pytest.raises(ValueError, match="mask"):
        landscape.loss_slice(params, cfg, x, y, d1, d2, [0.0], [0.0], -mask)


def test_interpolation_ends_are_the_two_weight_sets(names_batch):
    cfg, (x, y, mask) = names_batch
    a, b = gpt.init_params(cfg, seed=0), gpt.init_params(cfg, seed=1)
    ts, losses = landscape.interpolate(a, b, cfg, x, y, ts=[0.0, 0.5, 1.0], mask=mask)
    mid = {k: 0.5 * a[k] + 0.5 * b[k] for k in a}
    np.testing.assert_allclose(losses, [gpt.loss(a, cfg, x, y, mask), gpt.loss(mid, cfg, x, y, mask),
                                        gpt.loss(b, cfg, x, y, mask)], rtol=1e-13)
    ts, losses = landscape.interpolate(a, b, cfg, x, y, mask=mask)
    assert ts[0] == -0.25 and ts[-1] == 1.25 and len(losses) == 61


# ----------------------------------------------------------------------------------------------------------
# directions


def test_filter_normalisation_scales_every_row_to_the_same_row_of_theta():
    params = gpt.init_params(gpt.GPTConfig(27), seed=0)
    params["layer0.mlp_fc1"][3] = 0.0  # an all-zero row stays zero
    d = landscape.filter_normalized(params, seed=7)
    assert list(d) == list(params)
    for name, theta in params.items():
        assert d[name].shape == theta.shape and d[name].dtype == theta.dtype
        np.testing.assert_allclose(np.linalg.norm(d[name], axis=1), np.linalg.norm(theta, axis=1), rtol=1e-12,
                                   atol=0)
    assert not d["layer0.mlp_fc1"][3].any()
    # seeded: the same seed, the same direction; another seed, another one; rows are not just θ's rows
    again = landscape.filter_normalized(params, seed=7)
    assert all(np.array_equal(d[k], again[k]) for k in d)
    other = landscape.filter_normalized(params, seed=8)
    assert not np.array_equal(d["wte"], other["wte"])
    cos = np.sum(d["wte"] * params["wte"], axis=1) / np.linalg.norm(params["wte"], axis=1) ** 2
    assert np.abs(cos).max() < 0.9


def test_filters_of_other_shapes_and_one_d_tensors():
    rng = np.random.default_rng(0)
    params = {"conv": rng.normal(size=(4, 3, 5, 5)), "bias": rng.normal(size=4), "w": rng.normal(size=(6, 2)).astype(np.float32)}
    d = landscape.filter_normalized(params, seed=1)
    np.testing.assert_allclose(np.linalg.norm(d["conv"].reshape(4, -1), axis=1),
                               np.linalg.norm(params["conv"].reshape(4, -1), axis=1), rtol=1e-12)
    assert not d["bias"].any()  # 1-D tensors: zero direction (Li et al.'s --xignore biasbn)
    assert d["w"].dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(d["w"], axis=1), np.linalg.norm(params["w"], axis=1), rtol=1e-6)


def test_random_plane_is_seeded_and_its_two_directions_differ():
    params = gpt.init_params(gpt.GPTConfig(27), seed=0)
    d1, d2 = landscape.random_plane(params, seed=3)
    e1, e2 = landscape.random_plane(params, seed=3)
    assert all(np.array_equal(d1[k], e1[k]) and np.array_equal(d2[k], e2[k]) for k in d1)
    assert not np.array_equal(d1["wte"], d2["wte"])
    with pytest.raises(ValueError, match="seed"):
        landscape.random_plane(params, seed=-1)


# ----------------------------------------------------------------------------------------------------------
# trajectory PCA


def planted_trajectory(P=50, n=40, seed=0):
    """A path θ_t = θ_end + a_t·u + b_t·w + small noise, ending exactly at θ_end: (points (n, P), u, w)."""
    rng = np.random.default_rng(seed)
    u, w = np.linalg.qr(rng.normal(size=(P, 2)))[0].T
    t = np.linspace(0, 1, n)
    end = rng.normal(size=P)
    a = 3 * (t - 1)
    b = np.sin(3 * t) * (1 - t)
    b -= (b - b.mean()) @ (a - a.mean()) / ((a - a.mean()) @ (a - a.mean())) * a  # uncorrelated with a: the
    # cloud's principal axes are then u and w themselves
    pts = end + np.outer(a, u) + np.outer(b, w) + 1e-3 * rng.normal(size=(n, P))
    pts[-1] = end
    return pts, u, w


def test_pca_matches_numpy_svd_of_the_centred_differences_on_a_planted_trajectory():
    pts, u, w = planted_trajectory()
    pca = landscape.trajectory_pca(pts)
    M = pts - pts[-1]
    _, s, vt = np.linalg.svd(M - M.mean(axis=0))
    for i in range(2):
        assert abs(pca.directions[i] @ vt[i]) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(pca.explained, (s[:2] ** 2) / (s ** 2).sum(), rtol=1e-12)
    assert pca.directions @ pca.directions.T == pytest.approx(np.eye(2), abs=1e-12)
    # the planted plane is found, its coordinates are the projections, the path ends at the origin
    assert abs(pca.directions[0] @ u) > 0.999 and abs(pca.directions[1] @ w) > 0.99
    np.testing.assert_allclose(pca.paths[0], M @ pca.directions.T, atol=1e-12)
    np.testing.assert_array_equal(pca.paths[0][-1], [0.0, 0.0])
    assert np.all(pca.paths[0][0] <= 0)  # the sign convention: the start lies at (−, −)
    assert pca.residual[0].max() < 0.02 and pca.explained.sum() > 0.99
    np.testing.assert_allclose(landscape.project(pts, pca), pca.paths[0], atol=1e-12)


def test_several_runs_from_one_start_share_one_plane():
    a, u, w = planted_trajectory(seed=1)
    rng = np.random.default_rng(2)
    b = a[0] + (a - a[0]) * 0.5 + np.outer(np.linspace(0, 1, len(a)), w) * 2 + 1e-3 * rng.normal(size=a.shape)
    b[0] = a[0]
    pca = landscape.trajectory_pca([a, b])
    np.testing.assert_array_equal(pca.origin, a[0])
    assert [p.shape for p in pca.paths] == [(40, 2), (40, 2)]
    np.testing.assert_array_equal(pca.paths[0][0], [0, 0])
    np.testing.assert_array_equal(pca.paths[1][0], [0, 0])
    assert np.all(pca.paths[0][-1] >= 0)  # the first run heads up and to the right
    M = np.concatenate([a - a[0], b - a[0]])
    _, s, vt = np.linalg.svd(M - M.mean(axis=0))
    assert abs(pca.directions[0] @ vt[0]) == pytest.approx(1, abs=1e-12)
    with pytest.raises(ValueError, match="same weights"):
        landscape.trajectory_pca([a, b + 1])
    assert landscape.trajectory_pca([a, b + 1], origin=a[-1]).paths[0][-1] == pytest.approx([0, 0], abs=1e-12)


def test_a_pca_plane_of_several_runs_covers_every_path_and_slices_through_the_start(names_batch):
    cfg, (x, y, mask) = names_batch
    runs = []
    for kind, lr in (("sgd", 0.5), ("adam", 0.01)):
        t = train.Trainer(train.TrainConfig(optimizer=kind, lr=lr, schedule="constant", steps=30, snapshot_every=5,
                                            val_every=0))
        t.run()
        runs.append(landscape.run_trajectory(t))
    plane = landscape.pca_plane([w for _, w in runs], cfg, resolution=5, steps=[s for s, _ in runs])
    assert plane.kind == "pca" and len(plane.paths) == 2 and plane.path is plane.paths[0]
    assert max(np.abs(p).max() for p in plane.paths) == pytest.approx(plane.alphas[-1] / landscape.PCA_MARGIN)
    np.testing.assert_array_equal(plane.path_steps[1], runs[1][0])
    Z = landscape.loss_slice(plane.origin, cfg, x, y, plane.d1, plane.d2, plane.alphas, plane.betas, mask)
    start = landscape.as_params(runs[0][1][0], cfg)  # both runs start at the origin of the plane
    assert Z[2, 2] == pytest.approx(gpt.loss(start, cfg, x, y, mask), rel=1e-12)


def test_pca_refuses_too_few_or_identical_points():
    with pytest.raises(ValueError, match="at least 3"):
        landscape.trajectory_pca(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="all the same"):
        landscape.trajectory_pca(np.ones((4, 5)))


# ----------------------------------------------------------------------------------------------------------
# sharpness


def tiny_case(seed=0):
    params = gpt.init_params(TINY, seed=seed, std=0.5)
    x, y, mask = padded_batch(TINY, 6, 4, seed=seed + 10)
    return params, x, y, mask


def dense_fd_hessian(params, cfg, x, y, mask, h):
    """Column j = (∇L(θ + h·e_j) − ∇L(θ − h·e_j)) / 2h, symmetrised."""
    theta = landscape.as_vector(params, cfg)
    n = theta.size
    H = np.zeros((n, n))
    for j in range(n):
        cols = []
        for sign in (1, -1):
            t = theta.copy()
            t[j] += sign * h
            cols.append(landscape.as_vector(gpt.loss_and_grads(landscape.as_params(t, cfg), cfg, x, y, mask)[1], cfg))
        H[:, j] = (cols[0] - cols[1]) / (2 * h)
    return (H + H.T) / 2


@pytest.fixture(scope="module")
def tiny_hessian():
    params, x, y, mask = tiny_case()
    H = dense_fd_hessian(params, TINY, x, y, mask, 1e-6)
    # the reference is only a reference if no ReLU kink lies within the steps: two step sizes agree (truncation
    # ∝ h² is ~3e-8 of the largest entry at 1e-5 here, 3e-6 at 1e-4: the weights are big, std 0.5)
    np.testing.assert_allclose(dense_fd_hessian(params, TINY, x, y, mask, 2e-6), H, atol=1e-8 * np.abs(H).max())
    return params, x, y, mask, H


def test_sharpness_is_the_top_eigenvalue_of_a_dense_finite_difference_hessian(tiny_hessian):
    params, x, y, mask, H = tiny_hessian
    assert gpt.num_params(TINY) == 88
    ev = np.linalg.eigvalsh(H)
    lam = landscape.sharpness(params, TINY, x, y, mask, iters=88, tol=1e-10)
    assert lam == pytest.approx(ev[-1], rel=1e-6)
    top = landscape.hessian_eigs(params, TINY, x, y, mask, k=3, iters=88, tol=1e-10)
    np.testing.assert_allclose(top.values, ev[::-1][:3], rtol=1e-6)
    u = top.vectors[0]
    assert np.linalg.norm(H @ u - ev[-1] * u) < 1e-5 * ev[-1]
    # the default budget (20 products) is already close on this 88-parameter model
    assert landscape.sharpness(params, TINY, x, y, mask) == pytest.approx(ev[-1], rel=1e-3)


def test_preconditioned_sharpness_is_the_top_eigenvalue_of_p_inverse_h(tiny_hessian):
    params, x, y, mask, H = tiny_hessian
    p = np.exp(np.random.default_rng(0).uniform(-3, 1, H.shape[0]))  # a diagonal over four decades
    expected = np.max(np.linalg.eigvals(H / p[:, None]).real)  # P⁻¹H itself, not symmetric
    precond = landscape.as_params(p, TINY)
    lam = landscape.sharpness(params, TINY, x, y, mask, precond=precond, iters=88, tol=1e-10)
    assert lam == pytest.approx(expected, rel=1e-6)
    assert lam == pytest.approx(np.linalg.eigvalsh(H / np.sqrt(np.outer(p, p)))[-1], rel=1e-6)
    # an L2 penalty adds l2·I to H
    lam_l2 = landscape.sharpness(params, TINY, x, y, mask, precond=precond, iters=88, tol=1e-10, l2=0.3)
    assert lam_l2 == pytest.approx(np.max(np.linalg.eigvals((H + 0.3 * np.eye(88)) / p[:, None]).real), rel=1e-6)
    with pytest.raises(ValueError, match="positive"):
        landscape.sharpness(params, TINY, x, y, mask, precond=landscape.as_params(-p, TINY))


def test_sharpness_against_pytorchs_exact_hessian():
    torch = pytest.importorskip("torch", reason="PyTorch gives the exact (double-backward) Hessian to compare with")
    params, x, y, mask = tiny_case(seed=1)
    f = torch_loss(TINY, x, y, mask)
    theta = landscape.as_vector(params, TINY)
    H = torch.autograd.functional.hessian(f, torch.tensor(theta)).numpy()
    ev = np.linalg.eigvalsh((H + H.T) / 2)
    assert f(torch.tensor(theta)).item() == pytest.approx(gpt.loss(params, TINY, x, y, mask), rel=1e-13)
    top = landscape.hessian_eigs(params, TINY, x, y, mask, k=2, iters=88, tol=1e-10)
    np.testing.assert_allclose(top.values, ev[::-1][:2], rtol=1e-7)
    v = np.random.default_rng(3).normal(size=theta.size)
    hv = landscape.as_vector(landscape.hessian_vector_product(params, TINY, x, y, v, mask), TINY)
    assert np.linalg.norm(hv - H @ v) < 1e-8 * np.linalg.norm(H @ v)


def torch_loss(cfg, inputs, targets, mask):
    """The GPT's loss in PyTorch (float64), written from gpt.py's docstring, as a function of the flat θ."""
    import torch

    x, y = torch.as_tensor(inputs), torch.as_tensor(targets)
    m = torch.as_tensor(mask, dtype=torch.float64)
    B, T = x.shape
    C, H, hd = cfg.n_embd, cfg.n_head, cfg.head_dim
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)

    def rms(v):
        return v * (v.pow(2).mean(-1, keepdim=True) + 1e-5).rsqrt()

    def loss(flat):
        P, off = {}, 0
        for n, (r, c) in gpt.param_shapes(cfg).items():
            P[n] = flat[off : off + r * c].view(r, c)
            off += r * c
        h = rms(P["wte"][x] + P["wpe"][:T])
        for i in range(cfg.n_layer):
            p = f"layer{i}."
            a = rms(h)
            q, k, v = ((a @ P[p + w].T).view(B, T, H, hd).transpose(1, 2) for w in ("attn_wq", "attn_wk", "attn_wv"))
            att = ((q @ k.transpose(-1, -2)) / math.sqrt(hd)).masked_fill(causal, float("-inf")).softmax(-1)
            h = h + (att @ v).transpose(1, 2).reshape(B, T, C) @ P[p + "attn_wo"].T
            h = h + torch.relu(rms(h) @ P[p + "mlp_fc1"].T) @ P[p + "mlp_fc2"].T
        nll = torch.nn.functional.cross_entropy((h @ P["lm_head"].T).reshape(B * T, -1), y.reshape(-1),
                                                reduction="none")
        return (nll * m.reshape(-1)).sum() / m.sum()

    return loss


def quadratic(A, b):
    """∇ of ½θᵀAθ + bᵀθ, in HessianOperator's gradient signature."""
    def gradient(theta, out=None):
        out = np.empty_like(theta) if out is None else out
        out[...] = A @ theta + b
        return 0.5 * theta @ A @ theta + b @ theta, out

    return gradient


def test_lanczos_finds_the_largest_eigenvalue_of_a_known_quadratic_not_the_largest_magnitude():
    rng = np.random.default_rng(0)
    n = 60
    Q = np.linalg.qr(rng.normal(size=(n, n)))[0]
    eig = np.concatenate([[-9.0, -4.0], np.linspace(0.1, 2.0, n - 3), [5.0]])  # |−9| > 5
    A = Q @ np.diag(eig) @ Q.T
    op = landscape.HessianOperator(quadratic(A, rng.normal(size=n)), rng.normal(size=n))
    top = landscape.lanczos(op, n, k=2, iters=60, tol=1e-12)
    np.testing.assert_allclose(top.values, [5.0, 2.0], rtol=1e-9)
    assert abs(top.vectors[0] @ Q[:, -1]) == pytest.approx(1, abs=1e-8)
    assert top.residuals[0] < 1e-8
    # preconditioned: the eigenvalues of P⁻¹A through the symmetric P^-½·A·P^-½
    p = np.exp(rng.uniform(-2, 2, n))
    op_p = landscape.HessianOperator(quadratic(A, np.zeros(n)), np.zeros(n), precond=p)
    lam = landscape.lanczos(op_p, n, iters=60, tol=1e-12).values[0]
    assert lam == pytest.approx(np.max(np.linalg.eigvals(A / p[:, None]).real), rel=1e-9)
    # warm start from the answer: one product suffices
    again = landscape.lanczos(op, n, iters=60, tol=1e-6, v0=top.vectors[0])
    assert again.products == 1 and again.values[0] == pytest.approx(5.0, rel=1e-9)
    # a start vector in an invariant subspace: Lanczos stops there with what it has, exactly
    diag = landscape.lanczos(lambda v: np.arange(1.0, 6.0) * v, 5, k=2, v0=np.eye(5)[2])
    assert diag.products == 1 and diag.values.tolist() == [3.0]


def test_a_relu_kink_inside_the_step_is_stepped_back_from():
    # L(θ) = relu(θ₀)·c + ½θ₁²: at θ₀ = 3e-6 a step of 1e-5 along e₀ crosses the kink at 0, whose gradient jump
    # would read as a curvature of c/2e-5; the curvature on θ's side is 0
    c = 1.0

    def gradient(theta, out=None):
        out = np.zeros_like(theta) if out is None else out
        out[0] = c if theta[0] > 0 else 0.0
        out[1] = theta[1]
        return 0.0, out

    op = landscape.HessianOperator(gradient, np.array([3e-6, 0.5]))
    np.testing.assert_allclose(op.hessian_vector(np.array([1.0, 0.0])), [0.0, 0.0], atol=1e-12)
    assert op.retries >= 1
    np.testing.assert_allclose(op(np.array([0.0, 2.0])), [0.0, 2.0], rtol=1e-9)


def test_sharpness_is_deterministic_and_rejects_bad_arguments(tiny_hessian):
    params, x, y, mask, _ = tiny_hessian
    assert landscape.sharpness(params, TINY, x, y, mask, seed=4) == landscape.sharpness(params, TINY, x, y, mask, seed=4)
    with pytest.raises(ValueError, match="iters"):
        landscape.sharpness(params, TINY, x, y, mask, iters=0)
    with pytest.raises(ValueError, match="l2"):
        landscape.sharpness(params, TINY, x, y, mask, l2=-1.0)


def test_non_finite_weights_give_a_nan_sharpness_not_an_exception(tiny_hessian):
    params, x, y, mask, _ = tiny_hessian
    bad = {k: v.copy() for k, v in params.items()}
    bad["lm_head"][0, 0] = np.nan
    assert math.isnan(landscape.sharpness(bad, TINY, x, y, mask))


def test_gradient_share_is_the_squared_cosine():
    assert landscape.gradient_share(np.array([3.0, 4.0]), np.array([1.0, 0.0])) == pytest.approx(9 / 25)
    assert landscape.gradient_share(np.zeros(2), np.array([1.0, 0.0])) == 0.0


# ----------------------------------------------------------------------------------------------------------
# optimizers: preconditioners and thresholds


def test_adam_preconditioner_is_cohen_et_al_s_p_from_the_optimizer_state():
    cfg = gpt.GPTConfig(27)
    params = gpt.init_params(cfg, seed=0)
    grads = gpt.zeros_like_params(cfg)
    x, y, mask = padded_batch(cfg, 4, 8, seed=1)
    opt = optim.Adam(lr=1e-3, betas=(0.9, 0.95), eps=1e-6)
    with pytest.raises(ValueError, match="first step"):
        landscape.adam_preconditioner(opt, params)
    for _ in range(7):
        gpt.loss_and_grads(params, cfg, x, y, mask, grads=grads)
        opt.step(params, grads)
    P = landscape.adam_preconditioner(opt, params)
    for name in params:
        v = opt.state_of(name)["exp_avg_sq"]
        expected = (1 - 0.9**7) * (np.sqrt(v / (1 - 0.95**7)) + 1e-6)
        np.testing.assert_allclose(P[name], expected, rtol=1e-14)
    # with P, Adam's update is exactly −η·P⁻¹·m
    m = {n: opt.state_of(n)["exp_avg"].copy() for n in params}
    before = {n: params[n].copy() for n in params}
    gpt.loss_and_grads(params, cfg, x, y, mask, grads=grads)
    opt.step(params, grads)
    P = landscape.adam_preconditioner(opt, params)
    for n in params:
        m_new = 0.9 * m[n] + 0.1 * grads[n]
        np.testing.assert_allclose(params[n] - before[n], -1e-3 * m_new / P[n], rtol=1e-9, atol=1e-15)
    with pytest.raises(ValueError, match="Adam"):
        landscape.adam_preconditioner(optim.SGD(lr=0.1), params)
    assert landscape.preconditioner(optim.SGD(lr=0.1), params) is None
    rms = optim.RMSprop(lr=1e-3, alpha=0.9, eps=1e-7)  # θ ← θ − η·g/(√v + ε): P = √v + ε
    for _ in range(3):
        gpt.loss_and_grads(params, cfg, x, y, mask, grads=grads)
        rms.step(params, grads)
    P = landscape.preconditioner(rms, params)
    for n in params:
        np.testing.assert_allclose(P[n], np.sqrt(rms.state_of(n)["square_avg"]) + 1e-7, rtol=1e-14)


def simulate(kind, lam, lr, steps=400, momentum=0.9, betas=(0.9, 0.999)):
    """|θ| after ``steps`` of the optimizer on f(θ) = ½·lam·θ² from θ = 1 (Adam: with its preconditioner
    frozen at P = 1, i.e. m ← β1·m + (1 − β1)·g, θ ← θ − η·m)."""
    if kind == "adam":
        theta, m = 1.0, 0.0
        for _ in range(steps):
            m = betas[0] * m + (1 - betas[0]) * lam * theta
            theta -= lr * m
        return abs(theta)
    opt = optim.make_optimizer(kind, lr=lr, **({"momentum": momentum} if kind != "sgd" else {}))
    theta = np.array([1.0])
    for _ in range(steps):
        opt.step(theta, lam * theta)
    return abs(theta[0])


@pytest.mark.parametrize("kind", ["sgd", "momentum", "nesterov", "adam"])
def test_stability_thresholds_separate_convergence_from_divergence_on_a_quadratic(kind):
    lr = 0.01
    thr = landscape.stability_threshold(kind, lr, betas=(0.9, 0.999), momentum=0.9)
    assert simulate(kind, 0.97 * thr, lr) < 1 and simulate(kind, 1.03 * thr, lr) > 1
    expected = {"sgd": 2 / lr, "momentum": 3.8 / lr, "nesterov": 3.8 / (2.8 * lr), "adam": 38 / lr}[kind]
    assert thr == pytest.approx(expected)
    assert landscape.uses_preconditioner(kind) == (kind == "adam")


def test_unknown_optimizers_have_no_threshold():
    assert landscape.stability_threshold("lion", 0.1) is None
    assert landscape.stability_threshold("sgd", 0.0) is None


# ----------------------------------------------------------------------------------------------------------
# training: full batch, snapshots, tracking


def test_full_batch_mode_trains_on_the_same_batch_every_step(monkeypatch):
    trainer = train.Trainer(train.TrainConfig(optimizer="sgd", lr=0.05, schedule="constant", full_batch=16,
                                              steps=6, val_every=0))
    expected = data.make_batch(trainer.train_seqs[:16], 16, trainer.tokenizer.bos)
    seen = []
    real = gpt.loss_and_grads

    def spy(params, cfg, inputs, targets, mask=None, grads=None):
        seen.append((inputs.copy(), targets.copy(), None if mask is None else mask.copy()))
        return real(params, cfg, inputs, targets, mask, grads)

    monkeypatch.setattr(gpt, "loss_and_grads", spy)
    losses = [trainer.step().loss for _ in range(6)]
    assert len(seen) == 6
    for x, y, m in seen:
        np.testing.assert_array_equal(x, expected[0])
        np.testing.assert_array_equal(y, expected[1])
        np.testing.assert_array_equal(m, expected[2])
    assert trainer.position == 0 and trainer.last.tokens == int(expected[2].sum())
    assert all(b < a for a, b in zip(losses, losses[1:]))  # gradient descent on one batch, small steps: down
    # the step's loss is the loss of the weights before it on that batch
    monkeypatch.setattr(gpt, "loss_and_grads", real)
    before = gpt.loss(trainer.params, trainer.model_config, *expected)
    assert trainer.step is not None and trainer.config.steps == 6
    trainer.set_knobs(steps=7)
    assert trainer.step().loss == pytest.approx(before, rel=1e-12)


def test_full_batch_and_snapshots_survive_a_checkpoint_bit_for_bit(tmp_path):
    cfg = train.TrainConfig(optimizer="sgd", lr=0.05, schedule="constant", full_batch=8, snapshot_every=3,
                            steps=20, val_every=0)
    a = train.Trainer(cfg)
    a.run(10)
    path = train.save_checkpoint(a, tmp_path / "run.npz")
    b = train.load_checkpoint(path)
    assert b.config.full_batch == 8 and b.config.snapshot_every == 3
    np.testing.assert_array_equal(b.snapshots.steps, [0, 3, 6, 9])
    np.testing.assert_array_equal(b.snapshots.weights, a.snapshots.weights)
    a.run()
    b.run()
    np.testing.assert_array_equal(landscape.as_vector(a.params, a.model_config),
                                  landscape.as_vector(b.params, b.model_config))
    np.testing.assert_array_equal(a.snapshots.steps, b.snapshots.steps)
    # a checkpoint from before these fields existed loads with both off
    old = train.TrainConfig.from_json(json.dumps({k: v for k, v in json.loads(cfg.to_json()).items()
                                                  if k not in ("full_batch", "snapshot_every")}))
    assert old.full_batch == 0 and old.snapshot_every == 0


def test_weight_snapshots_stay_evenly_spaced_in_bounded_memory():
    snaps = landscape.WeightSnapshots(5, every=2, capacity=8)
    for step in range(0, 101):
        snaps.record(step, np.full(5, float(step)))
    steps = snaps.steps
    assert len(steps) <= 8 and steps[0] == 0 and np.all(np.diff(steps) == snaps.every)
    assert snaps.every == 16 and steps[-1] == 96
    np.testing.assert_array_equal(snaps.weights[:, 0], steps)
    s, w = snaps.trajectory(np.full(5, 100.0), 100)
    assert s[-1] == 100 and w[-1, 0] == 100
    # snapshots offered only at multiples of 4 (the halving must still make room)
    sparse = landscape.WeightSnapshots(1, every=1, capacity=4)
    for step in range(0, 40, 4):
        sparse.record(step, np.zeros(1))
    assert len(sparse.steps) <= 4 and sparse.steps[0] == 0 and np.all(sparse.steps % sparse.every == 0)
    # the byte budget caps big models
    big = landscape.WeightSnapshots(landscape.SNAPSHOT_BYTES // 8 // 4, every=1)
    assert big.capacity == 4
    copy = landscape.WeightSnapshots(5, every=2, capacity=8)
    copy.load_state_dict(snaps.state_dict())
    np.testing.assert_array_equal(copy.weights, snaps.weights)
    with pytest.raises(ValueError, match="snapshots"):
        copy.load_state_dict({**snaps.state_dict(), "snap.weights": np.zeros((3, 6))})
    with pytest.raises(ValueError, match="every"):
        landscape.WeightSnapshots(5, every=0)


def test_sharpness_tracker_follows_a_gradient_descent_run_with_its_threshold():
    trainer = train.Trainer(train.TrainConfig(optimizer="sgd", lr=0.1, schedule="constant", full_batch=16,
                                              steps=40, val_every=0))
    tracker = landscape.SharpnessTracker(trainer, every=20, iters=30, tol=1e-6)
    assert tracker.after_step(trainer).step == 0
    while not trainer.done:
        trainer.step()
        tracker.after_step(trainer)
    a = tracker.arrays()
    np.testing.assert_array_equal(a["step"], [0, 20, 40])
    np.testing.assert_allclose(a["threshold"], 20.0)
    assert np.all(np.isnan(a["preconditioned"])) and np.all((a["grad_share"] >= 0) & (a["grad_share"] <= 1))
    x, y, mask = tracker.batch
    lam = landscape.sharpness(trainer.params, trainer.model_config, x, y, mask, iters=60, tol=1e-10)
    assert a["sharpness"][-1] == pytest.approx(lam, rel=1e-4)
    assert a["loss"][-1] == pytest.approx(gpt.loss(trainer.params, trainer.model_config, x, y, mask), rel=1e-12)


def test_sharpness_tracker_survives_a_diverged_run():
    trainer = train.Trainer(train.TrainConfig(optimizer="sgd", lr=0.1, schedule="constant", full_batch=8, steps=5,
                                              val_every=0))
    tracker = landscape.SharpnessTracker(trainer, every=1)
    tracker.after_step(trainer)
    trainer.params["lm_head"][0, 0] = np.nan  # weights gone bad
    assert math.isnan(tracker.measure(trainer).sharpness)
    trainer.params["lm_head"][0, 0] = 0.0
    assert math.isfinite(tracker.measure(trainer).sharpness)  # and it goes on once they are finite again


def test_sharpness_tracker_measures_adams_preconditioned_sharpness():
    trainer = train.Trainer(train.TrainConfig(optimizer="adam", lr=1e-3, betas=(0.9, 0.999), schedule="constant",
                                              full_batch=16, steps=10, val_every=0))
    tracker = landscape.SharpnessTracker(trainer, every=10, iters=40, tol=1e-8)
    trainer.run()
    point = tracker.after_step(trainer)
    x, y, mask = tracker.batch
    P = landscape.adam_preconditioner(trainer.optimizer, trainer.params)
    expected = landscape.sharpness(trainer.params, trainer.model_config, x, y, mask, precond=P, iters=60, tol=1e-10)
    assert point.preconditioned == pytest.approx(expected, rel=1e-5)
    assert point.threshold == pytest.approx(38 / 1e-3)


def test_gradient_descent_sharpens_up_to_two_over_eta():
    """The start of EDGE_OF_STABILITY_PRESET: progressive sharpening from ~0.06·(2/η) to 2/η in 400 steps
    (the full preset, 1,500 steps hovering at 2/η, is in benchmarks/bench_landscape.py --eos)."""
    trainer, tracker = landscape.run_preset(landscape.EDGE_OF_STABILITY_PRESET, steps=400)
    a = tracker.arrays()
    ratio = a["sharpness"] / a["threshold"]
    assert ratio[0] < 0.1 and 0.85 < ratio[-1] < 1.3 and ratio.max() < 1.3


# ----------------------------------------------------------------------------------------------------------
# the CLI and the PNG writer


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("runs") / "run.npz"
    trainer = train.Trainer(train.TrainConfig(steps=60, snapshot_every=5, val_every=0))
    trainer.run()
    train.save_checkpoint(trainer, path)
    return path, trainer


def run_cli(capsys, *argv):
    code = cli.main(["landscape", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_writes_the_slice_as_png_and_npz(capsys, saved_run, tmp_path):
    path, trainer = saved_run
    code, out, err = run_cli(capsys, path, "--resolution", 9, "--span", 0.5, "--batch", 32, "--dtype", "float64",
                             "--out", tmp_path / "s")
    assert code == 0, err
    assert "random plane, 9 × 9 points over ±0.5" in out and "wrote" in out
    with np.load(tmp_path / "s.npz") as f:
        Z, alphas = f["Z"], f["alphas"]
        meta = json.loads(str(f["meta"]))
    assert Z.shape == (9, 9) and alphas[0] == -0.5 and meta["directions"] == "random"
    x, y, mask = landscape.fixed_batch(trainer, 32)
    assert Z[4, 4] == pytest.approx(gpt.loss(trainer.params, trainer.model_config, x, y, mask), rel=1e-12)
    rgb = image.read_png(tmp_path / "s.png")
    assert rgb.shape == (400, 400, 3) and len(np.unique(rgb.reshape(-1, 3), axis=0)) > 5


def test_cli_pca_plane_draws_the_path(capsys, saved_run, tmp_path):
    path, _ = saved_run
    code, out, err = run_cli(capsys, path, "--directions", "pca", "--resolution", 7, "--batch", 16, "--log",
                             "--out", tmp_path / "p")
    assert code == 0, err
    assert "PCA over 13 weight vectors" in out
    with np.load(tmp_path / "p.npz") as f:
        assert f["path"].shape == (13, 2) and f["path_steps"][-1] == 60 and f["explained"].sum() <= 1
    rgb = image.read_png(tmp_path / "p.png")
    assert np.any(np.all(rgb == image.hex_rgb("#D55E00").astype(np.uint8), axis=-1))  # the path is drawn


def test_cli_refuses_bad_input_with_one_line_and_status_2(capsys, saved_run, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    no_snaps = tmp_path / "plain.npz"
    t = train.Trainer(train.TrainConfig(steps=2, val_every=0))
    t.run()
    train.save_checkpoint(t, no_snaps)
    cases = [([bad], "Not a readable"), ([tmp_path / "missing.npz"], "not found"),
             ([no_snaps, "--directions", "pca"], "snapshot"), ([saved_run[0], "--resolution", 1], "resolution"),
             ([saved_run[0], "--span", "-1"], "span"), ([saved_run[0], "--out", tmp_path / "no" / "x"], "does not exist")]
    for argv, word in cases:
        code, out, err = run_cli(capsys, *argv)
        assert code == 2 and word in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (argv, err)


def test_cli_train_options_for_full_batch_and_snapshots(capsys, tmp_path):
    path = tmp_path / "fb.npz"
    code = cli.main(["train", "--optimizer", "sgd", "--lr", "0.05", "--schedule", "constant", "--full-batch", "8",
                     "--snapshot-every", "2", "--steps", "6", "--val-every", "0", "--samples", "0", "--quiet",
                     "--save", str(path)])
    out = capsys.readouterr().out
    assert code == 0 and "full batch of 8 documents" in out
    trainer = train.load_checkpoint(path)
    assert trainer.config.full_batch == 8
    np.testing.assert_array_equal(trainer.snapshots.steps, [0, 2, 4, 6])
    code = cli.main(["train", "--resume", str(path), "--full-batch", "16", "--steps", "8", "--quiet"])
    assert code == 2 and "--full-batch" in capsys.readouterr().err


def test_cli_landscape_runs_as_a_command_without_qt(saved_run, tmp_path):
    code = ("import sys, adamlab.cli; rc = adamlab.cli.main(['landscape', sys.argv[1], '--resolution', '3', "
            "'--batch', '4', '--out', sys.argv[2]]); "
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph', 'adamlab.ui', 'torch'))]; "
            "assert rc == 0 and not bad, (rc, bad)")
    subprocess.run([sys.executable, "-c", code, str(saved_run[0]), str(tmp_path / "q")], check=True,
                   capture_output=True, timeout=120)


def test_the_landscape_modules_import_neither_torch_nor_qt():
    code = ("import sys, adamlab, adamlab.core, adamlab.core.landscape, adamlab.core.image, adamlab.cli_landscape; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'pyqtgraph')]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)


def test_png_round_trip_and_format():
    rgb = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    raw = image.png_bytes(rgb)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n" and raw[12:16] == b"IHDR"
    assert zlib.crc32(raw[12:29]) == int.from_bytes(raw[29:33], "big")
    buf = io.BytesIO(raw)
    assert buf.getvalue()[16:24] == (5).to_bytes(4, "big") + (7).to_bytes(4, "big")
    with pytest.raises(ValueError, match="uint8"):
        image.png_bytes(rgb.astype(np.float64))


def test_png_written_atomically(tmp_path):
    rgb = np.zeros((3, 4, 3), np.uint8)
    rgb[1, 2] = (255, 0, 10)
    path = image.write_png(tmp_path / "a.png", rgb)
    np.testing.assert_array_equal(image.read_png(path), rgb)
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_render_map_colours_bands_and_marks_non_finite_cells():
    Z = np.add.outer(np.linspace(0, 1, 11), np.linspace(0, 1, 11))
    Z[0, 0] = np.inf
    rgb = image.render_map(Z, pixels=50, extent=(0, 1, 0, 1), paths=[(np.array([[0.1, 0.1], [0.9, 0.9]]), "#D55E00")])
    assert rgb.shape == (50, 50, 3)
    assert tuple(rgb[-1, 0]) == tuple(image.hex_rgb(image.NAN_COLOR).astype(int))  # (0, 0) is bottom-left
    assert tuple(rgb[0, -1]) != tuple(rgb[-1, -1])  # the top-right corner (highest) differs from bottom-right
    assert np.any(np.all(rgb == (0xD5, 0x5E, 0x00), axis=-1))
