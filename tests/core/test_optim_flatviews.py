"""optim.FlatViews: a new dict of views of one buffer (``flatten``'s, ``gpt.Params``) is taken as one flat
buffer at a glance; once the dict is changed (an entry replaced, renamed or moved) or deep-copied, it is
checked like any dict and still stepped correctly."""

import copy

import numpy as np
import pytest

from adamlab.core.optim import Adam, FlatViews, Optimizer, flatten

SHAPES = {"a": (5, 3), "b": (7,), "c": (2, 1, 2), "s": ()}


def start(seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s) for k, s in SHAPES.items()}


def grads_at(params, t):
    return {k: np.asarray(np.sin(3 * p) + 0.1 * t) for k, p in params.items()}  # (0-d stays an array)


def reference(steps, seed=0):
    """Adam on a plain dict of separate arrays (stepped tensor by tensor)."""
    params, opt = start(seed), Adam(lr=0.05)
    for t in range(steps):
        opt.step(params, grads_at(params, t))
    return params


@pytest.fixture
def gathers(monkeypatch):
    """The number of times step() copied gradients together (instead of using their buffer in place)."""
    count = [0]
    original = Optimizer._gather

    def counted(slot, grads):
        count[0] += 1
        return original(slot, grads)

    monkeypatch.setattr(Optimizer, "_gather", staticmethod(counted))
    return count


def test_flatten_views_remember_the_buffer_they_tile():
    fp = flatten(SHAPES)
    assert isinstance(fp.views, FlatViews)
    buffer, layout, made = fp.views.tiling
    assert buffer is fp.buffer and layout.names == tuple(SHAPES) and made == tuple(fp.views.values())
    assert layout.offsets == (0, 15, 22, 26) and layout.shapes == tuple(SHAPES.values())
    # equal layouts are one object (so step() compares them at a glance)
    assert flatten(SHAPES).views.tiling[1] is layout
    with pytest.raises(ValueError, match="the shapes need 15 numbers, the buffer holds 16"):
        FlatViews.over(np.zeros(16), {"a": (5, 3)})
    # a buffer that is itself a view: its views' .base is another array, so nothing is remembered
    assert FlatViews.over(np.zeros(30)[:15], {"a": (5, 3)}).tiling is None


@pytest.mark.parametrize("turns", [None, 2, 3])
def test_new_flat_views_every_step_are_used_in_place(gathers, turns):
    """A new buffer and dict every step, or two or three buffers taken in turns (refilled each time)."""
    params, opt = flatten(start()).views, Adam(lr=0.05)
    pool = [flatten(SHAPES).views for _ in range(turns or 0)]
    for t in range(20):
        if turns is None:
            grads = flatten(grads_at(params, t)).views
        else:
            grads = pool[t % turns]
            for k, g in grads_at(params, t).items():
                grads[k][...] = g
        opt.step(params, grads)
    assert gathers[0] == 0 and list(opt._state) == ["__flat__"]
    want = reference(20)
    for k in SHAPES:
        np.testing.assert_array_equal(params[k], want[k])


@pytest.mark.parametrize("change", ["replaced", "moved"])
def test_a_changed_dict_is_checked_like_any_dict(gathers, change):
    params, opt = flatten(start()).views, Adam(lr=0.05)
    for t in range(20):
        grads = flatten(grads_at(params, t)).views
        if change == "replaced":  # an entry is a separate array now: not one buffer any more
            grads["b"] = grads["b"].copy()
        else:  # the same views in another order: the names no longer match the params' order
            grads["a"] = grads.pop("a")
        opt.step(params, grads)
    # the stale record was not trusted: copied together every step, or (names in another order) stepped
    # tensor by tensor, as any such dict is
    if change == "replaced":
        assert gathers[0] == 20 and list(opt._state) == ["__flat__"]
    else:
        assert gathers[0] == 0 and list(opt._state) == list(SHAPES)
    want = reference(20)
    for k in SHAPES:
        np.testing.assert_array_equal(params[k], want[k])


def test_a_renamed_entry_is_refused_not_stepped_as_the_old_name():
    params, opt = flatten(start()).views, Adam(lr=0.05)
    opt.step(params, flatten(grads_at(params, 0)).views)
    grads = flatten(grads_at(params, 1)).views
    grads["t"] = grads.pop("s")  # the last entry, so the views are still the same ones in the same order
    with pytest.raises((KeyError, ValueError)):
        opt.step(params, grads)


def test_a_deep_copy_is_stepped_through_its_own_arrays():
    """deepcopy copies the views apart from the buffer (each becomes its own array): the copy must be
    stepped through those arrays, not through the copied buffer no array shows any more."""
    params = copy.deepcopy(flatten(start()).views)
    opt = Adam(lr=0.05)
    for t in range(20):
        opt.step(params, grads_at(params, t))
    want = reference(20)
    for k in SHAPES:
        np.testing.assert_array_equal(params[k], want[k])
