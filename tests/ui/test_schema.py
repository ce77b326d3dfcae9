"""adamlab.ui.schema: saved states checked field by field, bad fields named and left out, nothing raised."""

from adamlab.ui.schema import Bool, Choice, Fields, Int, Num, Point, Seq, Text, check, summary

RACER = Fields({"kind": Choice(["sgd", "adam"]), "name": Text(40), "enabled": Bool(),
                "values": Fields({"lr": Num(0, 10, lo_open=True)})})
SCHEMA = Fields({"beta1": Num(0, 1, hi_open=True), "steps": Int(1, 100_000), "start": Point(-1e6, 1e6),
                 "optimizers": Seq(RACER, max_len=12), "problem": Choice(["quadratic", "abs"])})


def test_good_fields_pass_bad_ones_are_named_and_left_out():
    state = {"beta1": 0.9, "steps": 10**23, "start": [1e40, 0.0], "problem": "abs", "junk": 1,
             "optimizers": [{"kind": "adam", "values": {"lr": "fast"}}, {"kind": "sgd", "name": "SGD"}]}
    clean, problems = check(SCHEMA, state)
    assert clean == {"beta1": 0.9, "problem": "abs",
                     "optimizers": [{"kind": "adam", "values": {}}, {"kind": "sgd", "name": "SGD"}]}
    assert problems == ["steps: 100000000000000000000000 is outside [1, 100000]",
                        "start[0]: 1e+40 is outside [-1e+06, 1e+06]",
                        "junk: unknown field",
                        "optimizers[0].values.lr: 'fast' is not a number"]


def test_lists_are_bounded_before_their_items_are_looked_at():
    clean, problems = check(SCHEMA, {"optimizers": [{"kind": "adam"}] * 10_000})
    assert clean == {} and problems == ["optimizers: 10,000 entries, at most 12 are allowed"]


def test_types_edges_and_non_finite_values():
    assert check(SCHEMA, {"beta1": 1.0})[1] == ["beta1: 1 is outside [0, 1)"]
    assert check(SCHEMA, {"beta1": True})[1] == ["beta1: True is not a number"]
    assert check(SCHEMA, {"beta1": float("nan")})[1] == ["beta1: nan is not a finite number"]
    assert check(SCHEMA, {"steps": 2.0}) == ({"steps": 2}, [])
    assert check(SCHEMA, {"steps": 2.5})[1] == ["steps: 2.5 is not a whole number"]
    assert check(SCHEMA, "not a dict") == ({}, ["state: 'not a dict' is not a set of fields"])
    (problem,) = check(SCHEMA, {"beta1": 10**400})[1]  # an int too big for a float: no OverflowError
    assert problem.startswith("beta1: 1000") and problem.endswith("… is not a finite number")


def test_summary_names_the_first_problems_and_counts_the_rest():
    problems = [f"f{i}: bad" for i in range(5)]
    assert summary(problems) == "f0: bad; f1: bad; f2: bad (and 2 more)"
