"""Optimizers in NumPy: torch.optim's formulas, names and defaults, and the newer ones from their papers.

Every optimizer works in place on arrays of any shape and on dicts of named tensors::

    opt = Adam(lr=1e-2)
    opt.step(xy, grad)                         # one ndarray: (2,), or (K, 2) for K starts at once
    opt.step(params, grads)                    # dicts name -> ndarray (a model)
    make_optimizer("lion", lr=3e-4)            # by kind name; OPTIMIZERS lists them with a description

The modules:
    base       the machinery (validation, per-tensor and flat-buffer state, state_dict, the tiny-array
               path) and SGD, Adagrad, RMSprop, Adam, AdamW
    adaptive   NAdam, RAdam, Adamax, Adadelta, Adafactor (torch.optim, checked against torch 2.13)
    muon       Muon (torch.optim.Muon) and MuonAdamW (Muon for hidden matrices, AdamW for the rest)
    beyond     Lion, AdEMAMix, ScheduleFreeAdamW, ADOPT (from the papers and the authors' code)
    registry   the kinds offered by the GUI, CLI and Trainer: make_optimizer, optimizer_label, descriptions
"""

from adamlab.core.optim.adaptive import Adadelta, Adafactor, Adamax, NAdam, RAdam
from adamlab.core.optim.base import (  # noqa: F401  (the private names: used by ema.py, the stepper, the tests)
    _FLAT, SINGLE, STATE_LABELS, TINY, SGD, Adagrad, Adam, AdamW, FlatParams, FlatViews, Optimizer, RMSprop,
    _adam_denom, _bias_corrections, _real, _with_l2, flatten,
)
from adamlab.core.optim.beyond import ADOPT, AdEMAMix, Lion, ScheduleFreeAdamW
from adamlab.core.optim.muon import NS_COEFFICIENTS, Muon, MuonAdamW, adjusted_lr, newton_schulz
from adamlab.core.optim.registry import (
    OPTION_ALIASES, OPTIMIZERS, OptimizerKind, hyper_from_knobs, kind_arguments, make_optimizer, optimizer_label,
)

__all__ = [
    "Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW",
    "NAdam", "RAdam", "Adamax", "Adadelta", "Adafactor", "Muon", "MuonAdamW",
    "Lion", "AdEMAMix", "ScheduleFreeAdamW", "ADOPT",
    "OPTIMIZERS", "OptimizerKind", "make_optimizer", "optimizer_label", "kind_arguments", "hyper_from_knobs",
    "OPTION_ALIASES", "newton_schulz", "adjusted_lr", "NS_COEFFICIENTS",
    "flatten", "FlatParams", "FlatViews", "SINGLE", "TINY", "STATE_LABELS",
]
