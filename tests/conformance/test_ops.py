"""Ops against PyTorch, one row each: values, dtypes, shapes, errors, gradients (and double
backward where PyTorch has it), contiguous and non-contiguous inputs. See harness.py.

Adding an op costs one row: case(name, fn(m, *inputs), *input specs, **flags).
"""

from __future__ import annotations

import pytest
from harness import Const, Given, case, case_params, check_case, ints

CASES = [
    # elementwise and broadcasting
    case("add-broadcast", lambda m, a, b: a + b, (3, 4), (4,), second=True),
    case("mul-scalar", lambda m, a: a * 2.5, (3, 4), second=True),
    case("div", lambda m, a, b: a / b, (2, 3), (2, 3), domain="positive", second=True),
    case("pow-tensor", lambda m, a, b: a**b, (2, 3), (2, 3), domain="positive", second=True),
    case("exp", lambda m, a: m.exp(a), (2, 5), second=True),
    case("tanh", lambda m, a: a.tanh(), (2, 5), second=True),
    case("sigmoid", lambda m, a: m.sigmoid(a), (2, 5), second=True),
    case("where", lambda m, c, a, b: m.where(c, a, b), Const([[True, False, True]]), (2, 3), (3,)),
    # reductions
    case("sum-dim", lambda m, a: a.sum(dim=1, keepdim=True), (3, 4), second=True),
    case("mean-all", lambda m, a: a.mean(), (3, 4), second=True),
    case("max-dim", lambda m, a: a.max(dim=1), (3, 4)),
    case("logsumexp", lambda m, a: m.logsumexp(a, dim=-1), (3, 4), second=True),
    case("var-unbiased", lambda m, a: a.var(dim=0), (5, 3), second=True),
    case("softmax", lambda m, a: a.softmax(-1), (3, 4), second=True),
    # shapes and views
    case("view-split-heads", lambda m, x: x.split(4, dim=2)[1].view(2, 3, 2, 2), (2, 3, 12),
         noncontig=False),
    case("transpose-view", lambda m, x: x.transpose(0, 1).reshape(-1), (3, 4)),
    case("permute", lambda m, x: x.permute(2, 0, 1), (2, 3, 4)),
    case("gather", lambda m, x, i: x.gather(1, i), (3, 4), ints([[0, 1], [3, 3], [2, 0]])),
    case("index-list", lambda m, x: x[[0, 2], 1:], (3, 4)),
    case("matmul", lambda m, a, b: a @ b, (2, 3, 4), (4, 5), second=True),
    case("cat", lambda m, a, b: m.cat([a, b], dim=1), (2, 3), (2, 2)),
    case("stack", lambda m, a, b: m.stack([a, b]), (2, 3), (2, 3)),
    # errors PyTorch raises
    case("matmul-shape-error", lambda m, a, b: a @ b, (2, 3), (4, 5)),
    case("add-broadcast-error", lambda m, a, b: a + b, (2, 3), (4,)),
    case("view-bad-shape", lambda m, a: a.view(5, -1), (3, 4)),
    case("getitem-out-of-range", lambda m, a: a[5], (3, 4), error="index 5 is out of bounds for dimension 0 with size 3"),
    case("given-ties-max", lambda m, a: a.amax(dim=1), Given([[1.0, 3.0, 3.0], [2.0, 2.0, 0.5]])),
]


@pytest.mark.parametrize("c, dtype, noncontig", case_params(CASES))
def test_op(c, dtype, noncontig):
    check_case(c, dtype, noncontig)
