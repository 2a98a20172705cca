"""End to end: train a small model, checkpoint it, load it into a fresh model, freeze all but
the head and fine-tune on a new task. Frozen weights stay bit-identical, the head moves, the
loss falls, and the frozen backbone costs no backward work."""

from __future__ import annotations

import numpy as np

import framework as fw
import framework.nn as nn
import framework.nn.functional as F


def make_model():
    return nn.Sequential(
        nn.Linear(10, 32), nn.ReLU(), nn.LayerNorm(32),
        nn.Linear(32, 32), nn.GELU(),
        nn.Linear(32, 3),  # the head
    )


def task(seed, n=256):
    """Inputs and labels from a random linear teacher (a learnable 3-class problem)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 10)).astype(np.float32)
    labels = (x @ rng.standard_normal((10, 3))).argmax(1)
    return fw.tensor(x), fw.tensor(labels)


def train(model, x, y, steps, lr):
    losses = []
    for _ in range(steps):
        model.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        with fw.no_grad():
            for p in model.parameters():
                if p.grad is not None:
                    p.sub_(lr * p.grad)
        losses.append(loss.item())
    return losses


def snapshot(params):
    return [p.detach().numpy().copy() for p in params]


def test_train_save_load_freeze_finetune(tmp_path):
    fw.manual_seed(0)
    x, y = task(0)
    model = make_model()
    losses = train(model, x, y, steps=60, lr=0.5)
    assert losses[-1] < 0.5 * losses[0], losses[::10]

    path = tmp_path / "pretrained.pt"
    fw.save({"model": model.state_dict(), "step": 60}, path)

    fw.manual_seed(1)  # a fresh model with other weights
    fresh = make_model()
    ckpt = fw.load(path)
    assert ckpt["step"] == 60
    fresh.load_state_dict(ckpt["model"])
    with fw.no_grad():
        np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())

    # freeze everything but the head, then fine-tune on a new task
    fresh.requires_grad_(False)
    head = fresh[-1]
    head.requires_grad_(True)
    backbone = [p for p in fresh.parameters() if not p.requires_grad]
    assert len(backbone) == 6
    frozen_before, head_before = snapshot(backbone), snapshot(head.parameters())

    x2, y2 = task(5)
    out = fresh(x2)
    loss = F.cross_entropy(out, y2)
    # the head's node has no edge into the backbone: nothing was recorded there
    assert out.grad_fn.name() == "AddmmBackward0"
    assert out.grad_fn.next_functions[0] == (None, 0)
    losses = train(fresh, x2, y2, steps=60, lr=0.5)
    assert losses[-1] < 0.8 * losses[0], losses[::10]
    assert loss.item() == losses[0]

    for before, p in zip(frozen_before, backbone):
        np.testing.assert_array_equal(p.detach().numpy(), before)  # bit-identical
        assert p.grad is None
    assert any(not np.array_equal(b, p.detach().numpy())
               for b, p in zip(head_before, head.parameters()))

    # the fine-tuned model round-trips too, frozen flags aside (parameters load by value)
    fw.save(fresh.state_dict(), tmp_path / "finetuned.pt")
    again = make_model()
    again.load_state_dict(fw.load(tmp_path / "finetuned.pt"))
    with fw.no_grad():
        np.testing.assert_array_equal(again(x2).numpy(), fresh(x2).numpy())
