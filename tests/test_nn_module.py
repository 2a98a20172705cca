"""nn.Parameter, nn.Module (registration, traversal, hooks, modes, state dicts, moves, repr), the
containers, freezing (no graph recorded for frozen parts) and nn.utils.summary."""

from __future__ import annotations

import copy
import io
from collections import OrderedDict

import numpy as np
import pytest

import framework as fw
import framework.nn as nn
import framework.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(3, 2)
        self.scale = nn.Parameter(fw.ones(2))
        self.register_buffer("steps", fw.zeros((), dtype=fw.int64))
        self.register_buffer("cache", fw.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


def count_nodes(t):
    """Graph nodes reachable from t.grad_fn (AccumulateGrad included), by iterative walk."""
    seen, stack = set(), [t.grad_fn] if t.grad_fn is not None else []
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(fn for fn, _ in node.next_functions if fn is not None)
    return seen


# --- Parameter ---------------------------------------------------------------------------


def test_parameter_is_a_leaf_tensor_sharing_data():
    t = fw.randn(2, 3)
    p = nn.Parameter(t)
    assert isinstance(p, fw.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and p._data is t._data
    y = fw.ones(2, requires_grad=True) * 2  # a non-leaf: the Parameter is a new leaf over it
    q = nn.Parameter(y)
    assert q.is_leaf and q.grad_fn is None and q._data is y._data
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    with fw.no_grad():
        assert nn.Parameter(t).requires_grad  # no_grad doesn't affect new parameters
    assert nn.Parameter().shape == (0,)
    assert type(p * 2) is fw.Tensor  # ops on parameters give plain tensors
    assert type(p.detach()) is fw.Tensor
    with pytest.raises(TypeError, match="argument 'data' must be Tensor, not list"):
        nn.Parameter([1.0, 2.0])
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        nn.Parameter(fw.tensor([1, 2]))


def test_parameter_repr_and_deepcopy():
    p = nn.Parameter(fw.tensor([1.0, 2.0]))
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    q = copy.deepcopy(p)
    assert type(q) is nn.Parameter and q.requires_grad and q._data is not p._data
    np.testing.assert_array_equal(q.detach().numpy(), [1.0, 2.0])


# --- registration ------------------------------------------------------------------------


def test_registration_order_and_names():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "scale", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]  # own first, then children
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert [n for n, _ in net.named_parameters(prefix="net")][1] == "net.fc1.weight"
    assert [n for n, _ in net.named_buffers()] == ["steps", "cache"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "fc2"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "act", "fc2"]
    assert list(net.children()) == [net.fc1, net.act, net.fc2]
    assert len(list(net.modules())) == 4
    assert list(net.state_dict()) == ["scale", "steps", "fc1.weight", "fc1.bias", "fc2.weight",
                                      "fc2.bias"]  # 'cache' is not persistent


def test_shared_parameters_appear_once():
    a = nn.Linear(2, 2)
    seq = nn.Sequential(a, nn.ReLU(), a)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert [n for n, _ in seq.named_parameters(remove_duplicate=False)] == [
        "0.weight", "0.bias", "2.weight", "2.bias"]
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_setattr_errors_as_pytorch():
    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(fw.ones(1))

    with pytest.raises(AttributeError, match=r"cannot assign parameters before Module.__init__\(\) call"):
        Early()

    class EarlyModule(nn.Module):
        def __init__(self):
            self.l = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"cannot assign module before Module.__init__\(\) call"):
        EarlyModule()
    net = Net()
    with pytest.raises(TypeError, match=r"cannot assign 'framework.FloatTensor' as parameter 'scale' "
                                        r"\(framework.nn.Parameter or None expected\)"):
        net.scale = fw.ones(2)
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'fc1'"):
        net.fc1 = 3
    with pytest.raises(TypeError, match="cannot assign 'str' as buffer 'steps'"):
        net.steps = "x"
    net.scale = None  # None is allowed and keeps the name registered
    assert net.scale is None and "scale" not in dict(net.named_parameters())
    net.steps = fw.ones(())  # a tensor over a buffer replaces the buffer
    assert net.get_buffer("steps").item() == 1.0
    net.fc1 = nn.Linear(4, 3, bias=False)
    assert net.fc1.bias is None


def test_register_errors_as_pytorch():
    net = Net()
    with pytest.raises(KeyError, match=r'parameter name can.+t contain "\."'):
        net.register_parameter("a.b", nn.Parameter(fw.ones(1)))
    with pytest.raises(KeyError, match=r"parameter name can.+t be empty string"):
        net.register_parameter("", None)
    with pytest.raises(KeyError, match="attribute 'forward' already exists"):
        net.register_parameter("forward", None)
    with pytest.raises(TypeError, match="cannot assign 'framework.FloatTensor' object to parameter 'w'"):
        net.register_parameter("w", fw.ones(1))
    with pytest.raises(TypeError, match="parameter name should be a string. Got int"):
        net.register_parameter(1, None)
    with pytest.raises(KeyError, match="attribute 'fc1' already exists"):
        net.register_buffer("fc1", fw.ones(1))
    with pytest.raises(TypeError, match="cannot assign 'list' object to buffer 'b'"):
        net.register_buffer("b", [1.0])
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        net.add_module("m", 3)
    with pytest.raises(KeyError, match=r'module name can.+t contain "\.", got: a\.b'):
        net.add_module("a.b", nn.ReLU())


def test_nonleaf_parameter_rejected():
    p = nn.Parameter(fw.ones(2))
    net = nn.Module()
    q = p * 2
    q.__class__ = nn.Parameter  # a Parameter that has a grad_fn can't be registered
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'w'"):
        net.register_parameter("w", q)


def test_getattr_delattr_dir_and_buffer_class():
    net = Net()
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'missing'"):
        net.missing  # noqa: B018
    assert {"fc1", "scale", "steps", "cache"} <= set(dir(net))
    del net.fc2
    del net.scale
    del net.cache
    assert [n for n, _ in net.named_children()] == ["fc1", "act"]
    assert "scale" not in dict(net.named_parameters())
    net.mem = nn.Buffer(fw.zeros(3), persistent=False)
    net.count = nn.Buffer(fw.zeros(()))
    assert [n for n, _ in net.named_buffers()] == ["steps", "mem", "count"]
    assert "mem" not in net.state_dict() and "count" in net.state_dict()


def test_get_submodule_parameter_buffer():
    seq = nn.Sequential(OrderedDict(block=nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))))
    assert seq.get_submodule("block.1") is seq.block[1]
    assert seq.get_submodule("") is seq
    assert seq.get_parameter("block.0.weight") is seq.block[0].weight
    assert seq.get_buffer("block.1.running_mean") is seq.block[1].running_mean
    with pytest.raises(AttributeError, match="Sequential has no attribute `nope`"):
        seq.get_submodule("block.nope")
    with pytest.raises(AttributeError, match="`weight` is not an nn.Module"):
        seq.get_submodule("block.0.weight")
    with pytest.raises(AttributeError, match="`running_mean` is not an nn.Parameter"):
        seq.get_parameter("block.1.running_mean")


# --- calling, hooks ------------------------------------------------------------------------


def test_forward_hooks_fire_in_order_and_can_replace():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: calls.append("pre1"))
    m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))  # replaces the input
    h3 = m.register_forward_hook(lambda mod, args, out: calls.append("post1"))
    m.register_forward_hook(lambda mod, args, out: out + 100)  # replaces the output
    m.register_forward_pre_hook(lambda mod, args: calls.append("pre0"), prepend=True)
    y = m(fw.ones(1, 2))
    assert calls == ["pre0", "pre1", "post1"]
    np.testing.assert_allclose(y.detach().numpy(), m.bias.detach().numpy()[None] + 100, rtol=1e-6)
    h1.remove()
    h3.remove()
    h3.remove()  # idempotent
    calls.clear()
    m(fw.ones(1, 2))
    assert calls == ["pre0"]


def test_hooks_with_kwargs_and_context_manager():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    m = Scale()
    seen = []
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": 3.0}), with_kwargs=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: seen.append(kwargs), with_kwargs=True)
    assert m(fw.ones(1), factor=2.0).item() == 3.0
    assert seen == [{"factor": 3.0}]
    bad = Scale()
    bad.register_forward_pre_hook(lambda mod, args, kwargs: 5, with_kwargs=True)
    with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
        bad(fw.ones(1))
    with bad.register_forward_hook(lambda *a: seen.append("tmp")):
        pass
    assert not bad._forward_hooks


def test_missing_forward():
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required "forward" function'):
        nn.Module()(fw.ones(1))
    with pytest.raises(NotImplementedError, match=r"Module \[ModuleList\] is missing"):
        nn.ModuleList()(fw.ones(1))


# --- modes and gradients -------------------------------------------------------------------


def test_train_eval_requires_grad_zero_grad():
    net = nn.Sequential(Net(), nn.Dropout())
    assert net.eval() is net and not any(m.training for m in net.modules())
    assert net.train() is net and all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train("yes")
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    net(fw.randn(3, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_frozen_backbone_records_no_graph_and_gets_no_grad():
    backbone = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU())
    head = nn.Linear(16, 3)
    x, t = fw.randn(5, 8), fw.tensor([0, 1, 2, 0, 1])
    full = count_nodes(F.cross_entropy(head(backbone(x)), t))
    backbone.requires_grad_(False)
    loss = F.cross_entropy(head(backbone(x)), t)
    frozen = count_nodes(loss)
    # only the head's linear, the loss and the head's two AccumulateGrads remain
    assert sorted(type(n).__name__ for n in frozen) == [
        "AccumulateGrad", "AccumulateGrad", "AddmmBackward0", "CrossEntropyLossBackward0"]
    assert len(full) == 4 + 2 * 3 + 2  # + backbone: 2 linear, 2 relu, 4 AccumulateGrads
    feats = backbone(x)
    assert feats.grad_fn is None and not feats.requires_grad  # nothing recorded at all
    loss.backward()
    assert all(p.grad is None for p in backbone.parameters())
    assert all(p.grad is not None for p in head.parameters())


# --- state dicts ---------------------------------------------------------------------------


def test_state_dict_is_detached_and_shares_memory():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    w = sd["fc1.weight"]
    assert type(w) is fw.Tensor and not w.requires_grad and w._data is net.fc1.weight._data
    kept = net.state_dict(keep_vars=True)
    assert kept["fc1.weight"] is net.fc1.weight
    assert list(net.state_dict(prefix="model."))[0] == "model.scale"


def test_load_state_dict_round_trip_in_place():
    src, dst = Net(), Net()
    with fw.no_grad():
        src.steps.fill_(7)
    weight = dst.fc1.weight
    array = weight._data
    version = weight._version
    result = dst.load_state_dict(src.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    assert dst.fc1.weight is weight and weight._data is array  # copied into the same array
    assert weight._version > version
    for (name, a), (_, b) in zip(src.state_dict().items(), dst.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    # a float64 checkpoint is cast into the float32 parameters
    dst.load_state_dict({k: v.double() if v.is_floating_point() else v
                         for k, v in src.state_dict().items()})
    assert dst.fc1.weight.dtype == fw.float32


def test_load_state_dict_strict_errors_list_every_key():
    net = Net()
    sd = net.state_dict()
    del sd["fc1.bias"], sd["scale"]
    sd["fc3.weight"] = fw.ones(1)
    sd["extra"] = fw.ones(1)
    sd["fc2.weight"] = fw.ones(5, 3)
    sd["fc2.bias"] = fw.ones(4)
    with pytest.raises(RuntimeError) as e:
        net.load_state_dict(sd)
    assert str(e.value) == (
        "Error(s) in loading state_dict for Net:\n"
        '\tMissing key(s) in state_dict: "scale", "fc1.bias". \n'
        '\tUnexpected key(s) in state_dict: "fc3.weight", "extra". \n'
        "\tsize mismatch for fc2.weight: copying a param with shape framework.Size([5, 3]) from "
        "checkpoint, the shape in current model is framework.Size([2, 3]).\n"
        "\tsize mismatch for fc2.bias: copying a param with shape framework.Size([4]) from "
        "checkpoint, the shape in current model is framework.Size([2]).")
    # strict=False reports instead of raising, but size mismatches still raise
    del sd["fc2.weight"], sd["fc2.bias"]
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["scale", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert result.unexpected_keys == ["fc3.weight", "extra"]
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        net.load_state_dict([1, 2])


def test_load_state_dict_assign():
    net = nn.Linear(2, 2)
    new_w = fw.ones(2, 2)
    net.load_state_dict({"weight": new_w, "bias": fw.zeros(2)}, assign=True)
    assert isinstance(net.weight, nn.Parameter) and net.weight._data is new_w._data
    assert net.weight.requires_grad


# --- moving and casting ---------------------------------------------------------------------


def test_to_keeps_parameter_identity_and_int_buffers():
    net = Net()
    w = net.fc1.weight
    net(fw.randn(2, 4)).sum().backward()
    assert net.double() is net
    assert net.fc1.weight is w and w.dtype == fw.float64 and w.grad.dtype == fw.float64
    assert net.steps.dtype == fw.int64  # integer buffers keep their dtype
    out = net(fw.randn(2, 4, dtype=fw.float64))
    assert out.dtype == fw.float64
    out.sum().backward()  # the cast parameter still accumulates gradients
    assert w.grad.dtype == fw.float64
    net.float()
    assert w.dtype == fw.float32
    net.to(fw.float64).to("cpu").cpu()
    assert w.dtype == fw.float64
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point"):
        net.to(fw.int64)


def test_to_device(backend):
    net = Net().to(backend.device)
    assert all(p.device == fw.device(backend.device) for p in net.parameters())
    assert all(b.device == fw.device(backend.device) for b in net.buffers())
    assert net(backend.tensor(np.ones((2, 4), np.float32))).shape == (2, 2)


def test_apply_visits_children_first():
    order = []
    net = Net()
    assert net.apply(lambda m: order.append(type(m).__name__)) is net
    assert order == ["Linear", "ReLU", "Linear", "Net"]

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)

    net.apply(init_weights)
    assert not net.fc1.weight.detach().numpy().any()


def test_deepcopy_module():
    net = Net()
    twin = copy.deepcopy(net)
    assert isinstance(twin.fc1.weight, nn.Parameter) and twin.fc1.weight is not net.fc1.weight
    np.testing.assert_array_equal(twin.fc1.weight.detach().numpy(), net.fc1.weight.detach().numpy())


# --- repr ----------------------------------------------------------------------------------


def test_nested_repr_as_pytorch():
    net = Net()
    net.body = nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.ReLU(), nn.Dropout(0.1)))
    assert repr(net) == (
        "Net(\n"
        "  (fc1): Linear(in_features=4, out_features=3, bias=True)\n"
        "  (act): ReLU()\n"
        "  (fc2): Linear(in_features=3, out_features=2, bias=True)\n"
        "  (body): Sequential(\n"
        "    (0): Linear(in_features=3, out_features=3, bias=True)\n"
        "    (1): Sequential(\n"
        "      (0): ReLU()\n"
        "      (1): Dropout(p=0.1, inplace=False)\n"
        "    )\n"
        "  )\n"
        ")")
    assert repr(nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Tanh()])) == (
        "ModuleList(\n  (0-1): 2 x ReLU()\n  (2): Tanh()\n)")
    assert repr(nn.BatchNorm1d(3)) == (
        "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)")

    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.ReLU()

        def extra_repr(self):
            return "k=1"

    assert repr(WithExtra()) == "WithExtra(\n  k=1\n  (inner): ReLU()\n)"


# --- containers ----------------------------------------------------------------------------


def test_sequential():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    assert isinstance(seq[1:], nn.Sequential) and list(seq[1:]) == [b, c]
    x = fw.randn(4, 2)
    np.testing.assert_allclose(seq(x).detach().numpy(), c(b(a(x))).detach().numpy())
    d = nn.Tanh()
    seq.append(d)
    seq.insert(1, nn.Sigmoid())
    assert [type(m).__name__ for m in seq] == ["Linear", "Sigmoid", "ReLU", "Linear", "Tanh"]
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2", "3", "4"]
    del seq[1]
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2", "3"] and seq[1] is b
    seq.extend(nn.Sequential(nn.ReLU()))
    assert len(seq) == 5
    named = nn.Sequential(OrderedDict(conv=nn.Linear(1, 1), act=nn.ReLU()))
    assert named.act is named[1] and list(named.state_dict()) == ["conv.weight", "conv.bias"]
    with pytest.raises(IndexError, match="index 9 is out of range"):
        seq[9]  # noqa: B018
    with pytest.raises(IndexError, match="Index out of range: 9"):
        seq.insert(9, nn.ReLU())


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    assert len(ml) == 3 and len(list(ml.parameters())) == 6
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh()])
    ml.insert(0, nn.Sigmoid())
    assert [type(m).__name__ for m in ml] == ["Sigmoid", "Linear", "Linear", "Linear", "ReLU", "Tanh"]
    assert isinstance(ml[1:3], nn.ModuleList) and len(ml[1:3]) == 2
    del ml[0]
    assert type(ml[0]).__name__ == "Linear" and ml[-1] is ml[4]
    assert [n for n, _ in ml.named_children()] == ["0", "1", "2", "3", "4"]  # renumbered
    with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable"):
        ml.extend(3)
    md = nn.ModuleDict({"b": nn.ReLU(), "a": nn.Linear(2, 2)})
    assert list(md) == ["b", "a"] and "a" in md and len(md) == 2  # insertion order kept
    md["c"] = nn.Tanh()
    assert list(md.keys()) == ["b", "a", "c"] and md.pop("b") is not None
    assert [n for n, _ in md.named_parameters()] == ["a.weight", "a.bias"]


def test_parameter_list_and_dict():
    pl = nn.ParameterList([fw.ones(2), nn.Parameter(fw.zeros(3))])
    assert all(isinstance(p, nn.Parameter) for p in pl)  # tensors become Parameters
    pl.append(fw.ones(1))
    assert len(pl) == 3 and [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    assert isinstance(pl[1:], nn.ParameterList) and len(pl[1:]) == 2
    assert repr(pl).startswith("ParameterList(\n    (0): Parameter containing: [framework.float32 of size 2]")
    pd = nn.ParameterDict({"w": fw.ones(2)})
    pd["b"] = nn.Parameter(fw.zeros(1))
    assert list(pd.keys()) == ["w", "b"] and isinstance(pd["w"], nn.Parameter)
    assert [n for n, _ in pd.named_parameters()] == ["w", "b"]
    with pytest.raises(TypeError, match="Index given to ParameterDict cannot be used as a key"):
        pd[1] = fw.ones(1)
    with pytest.raises(RuntimeError, match="ParameterList should not be called."):
        pl(1)


# --- summary -------------------------------------------------------------------------------


def test_summary_table_and_totals():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    model[0].requires_grad_(False)
    model.train()
    out = io.StringIO()
    totals = nn.utils.summary(model, (3, 4), file=out)
    assert totals["total_params"] == 40 + 16 + 18
    assert totals["trainable_params"] == 16 + 18 and totals["frozen_params"] == 40
    assert totals["buffer_elements"] == 8 + 8 + 1
    text = out.getvalue()
    assert "Total params: 74" in text and "Frozen params: 40" in text
    rows = {r["name"]: r for r in totals["layers"]}
    assert rows["0"]["output_shape"] == "[3, 8]" and rows["3"]["output_shape"] == "[3, 2]"
    assert rows["0"]["params"] == 40 and rows["0"]["trainable"] == 0 and rows["1"]["buffers"] == 17
    # the forward ran in eval mode under no_grad: modes restored, running stats untouched
    assert all(m.training for m in model.modules())
    assert int(model[1].num_batches_tracked.item()) == 0
    # example input works too
    totals = nn.utils.summary(model, fw.randn(2, 4), file=io.StringIO())
    assert totals["layers"][0]["output_shape"] == "[2, 2]"
    with pytest.raises(TypeError, match="summary\\(\\) expects an input size"):
        nn.utils.summary(model, "x", file=io.StringIO())
