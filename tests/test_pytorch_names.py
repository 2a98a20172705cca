"""docs/pytorch_names.md stays true: its tables say which PyTorch names the framework has.

- every row marked yes or partial names a framework object that exists (import + getattr);
- every row marked no names something that is really absent (so a new feature updates the
  table);
- the PyTorch names users reach for most (COMMON below) all appear in the table, so a gap in
  the framework can't hide by being left out of the page.
"""

from __future__ import annotations

import importlib
import pathlib
import re

import pytest

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "pytorch_names.md"
# | `torch.x.y` | `framework.x.y` | yes |      (or — in the framework column for "no")
ROW = re.compile(
    r"^\| `(?P<torch>torch(?:\.\w+)*)` \| (?:`(?P<fw>framework(?:\.\w+)*)`|—) \| "
    r"(?P<status>yes|partial: .+|no(?:: .+)?) \|$"
)

COMMON = """
torch.tensor torch.as_tensor torch.from_numpy torch.zeros torch.ones torch.empty torch.full
torch.zeros_like torch.ones_like torch.full_like torch.arange torch.linspace torch.eye
torch.rand torch.randn torch.randint torch.randperm torch.rand_like torch.randn_like
torch.normal torch.bernoulli torch.multinomial torch.manual_seed torch.Generator
torch.float32 torch.float64 torch.float16 torch.bfloat16 torch.int64 torch.int32 torch.bool
torch.long torch.float torch.device torch.Size torch.Tensor torch.is_tensor
torch.get_default_dtype torch.set_default_dtype
torch.abs torch.add torch.sub torch.mul torch.div torch.pow torch.exp torch.log torch.log2
torch.sqrt torch.rsqrt torch.sin torch.cos torch.tanh torch.sigmoid torch.relu torch.erf
torch.clamp torch.clip torch.floor torch.ceil torch.round torch.sign torch.where
torch.maximum torch.minimum torch.lerp torch.isnan torch.isinf torch.isfinite torch.eq
torch.allclose torch.isclose torch.equal torch.logical_and torch.logical_not
torch.sum torch.mean torch.prod torch.max torch.min torch.amax torch.argmax torch.argmin
torch.std torch.var torch.norm torch.logsumexp torch.all torch.any torch.cumsum
torch.cumprod torch.sort torch.argsort torch.topk torch.unique torch.median
torch.reshape torch.flatten torch.squeeze torch.unsqueeze torch.permute torch.transpose
torch.cat torch.stack torch.split torch.chunk torch.unbind torch.flip torch.roll
torch.tril torch.triu torch.gather torch.scatter torch.index_select torch.masked_fill
torch.nonzero torch.repeat_interleave torch.broadcast_to torch.meshgrid torch.clone
torch.matmul torch.mm torch.bmm torch.einsum torch.outer torch.linalg.norm torch.linalg.inv
torch.Tensor.view torch.Tensor.reshape torch.Tensor.expand torch.Tensor.repeat
torch.Tensor.contiguous torch.Tensor.item torch.Tensor.tolist torch.Tensor.numpy
torch.Tensor.to torch.Tensor.cpu torch.Tensor.cuda torch.Tensor.float torch.Tensor.long
torch.Tensor.detach torch.Tensor.backward torch.Tensor.grad torch.Tensor.requires_grad_
torch.Tensor.size torch.Tensor.shape torch.Tensor.dim torch.Tensor.numel torch.Tensor.T
torch.Tensor.zero_ torch.Tensor.fill_ torch.Tensor.copy_ torch.Tensor.add_ torch.Tensor.mul_
torch.Tensor.masked_fill_ torch.Tensor.softmax torch.Tensor.type_as torch.Tensor.new_zeros
torch.no_grad torch.enable_grad torch.inference_mode torch.set_grad_enabled
torch.autograd.grad torch.autograd.Function torch.autograd.gradcheck
torch.autograd.functional.jacobian torch.utils.checkpoint.checkpoint
torch.nn.Module torch.nn.Parameter torch.nn.Sequential torch.nn.ModuleList torch.nn.ModuleDict
torch.nn.Module.parameters torch.nn.Module.named_parameters torch.nn.Module.state_dict
torch.nn.Module.load_state_dict torch.nn.Module.train torch.nn.Module.eval torch.nn.Module.to
torch.nn.Module.register_buffer torch.nn.Module.register_forward_hook
torch.nn.Module.register_full_backward_hook torch.nn.Module.zero_grad torch.nn.Module.apply
torch.nn.Linear torch.nn.Conv1d torch.nn.Conv2d torch.nn.ConvTranspose2d torch.nn.MaxPool2d
torch.nn.AvgPool2d torch.nn.AdaptiveAvgPool2d torch.nn.BatchNorm1d torch.nn.BatchNorm2d
torch.nn.LayerNorm torch.nn.GroupNorm torch.nn.Dropout torch.nn.Embedding torch.nn.LSTM
torch.nn.GRU torch.nn.MultiheadAttention torch.nn.TransformerEncoderLayer
torch.nn.TransformerEncoder torch.nn.Transformer torch.nn.Flatten torch.nn.Identity
torch.nn.Upsample torch.nn.ReLU torch.nn.LeakyReLU torch.nn.GELU torch.nn.SiLU torch.nn.Tanh
torch.nn.Sigmoid torch.nn.Softmax torch.nn.CrossEntropyLoss torch.nn.MSELoss torch.nn.L1Loss
torch.nn.BCEWithLogitsLoss torch.nn.NLLLoss
torch.nn.functional.relu torch.nn.functional.gelu torch.nn.functional.softmax
torch.nn.functional.log_softmax torch.nn.functional.cross_entropy torch.nn.functional.mse_loss
torch.nn.functional.binary_cross_entropy_with_logits torch.nn.functional.dropout
torch.nn.functional.linear torch.nn.functional.conv2d torch.nn.functional.max_pool2d
torch.nn.functional.pad torch.nn.functional.interpolate torch.nn.functional.one_hot
torch.nn.functional.normalize torch.nn.functional.layer_norm
torch.nn.functional.scaled_dot_product_attention
torch.nn.init.xavier_uniform_ torch.nn.init.kaiming_normal_ torch.nn.init.normal_
torch.nn.init.zeros_ torch.nn.utils.clip_grad_norm_
torch.optim.SGD torch.optim.Adam torch.optim.AdamW torch.optim.RMSprop
torch.optim.Optimizer.zero_grad torch.optim.Optimizer.step
torch.optim.lr_scheduler.StepLR torch.optim.lr_scheduler.CosineAnnealingLR
torch.optim.lr_scheduler.OneCycleLR torch.optim.lr_scheduler.LambdaLR
torch.optim.lr_scheduler.ReduceLROnPlateau torch.optim.lr_scheduler.LinearLR
torch.optim.lr_scheduler.SequentialLR
torch.utils.data.Dataset torch.utils.data.DataLoader torch.utils.data.TensorDataset
torch.utils.data.random_split torch.utils.data.Subset
torch.save torch.load torch.cuda.is_available torch.cuda.synchronize torch.autocast
torch.compile
""".split()


def table_rows():
    """(line number, torch name, framework name or None, status) for every table row."""
    rows, bad = [], []
    for n, line in enumerate(DOC.read_text().splitlines(), 1):
        if not line.startswith("| `torch"):
            continue
        m = ROW.match(line)
        if m is None:
            bad.append(f"line {n}: {line}")
            continue
        rows.append((n, m["torch"], m["fw"], m["status"]))
    assert not bad, "rows not in the form | `torch.x` | `framework.x` or — | yes/partial: .../no |:\n" + "\n".join(bad)
    return rows


def resolve(path):
    """The object at a dotted path: the longest importable module prefix, then attributes."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
            break
        except ImportError:
            continue
    for part in parts[i:]:
        obj = getattr(obj, part)
    return obj


def exists(path):
    try:
        resolve(path)
        return True
    except (AttributeError, ImportError):
        return False


@pytest.fixture(scope="module")
def rows():
    return table_rows()


def test_rows_are_well_formed_and_unique(rows):
    assert len(rows) > 300, "the table looks truncated"
    seen = {}
    for n, name, fw_name, status in rows:
        assert name not in seen, f"{name} is listed twice (lines {seen[name]} and {n})"
        seen[name] = n
        if status == "no":
            assert fw_name is None, f"line {n}: {name} is marked no but names {fw_name}"
        else:
            assert fw_name is not None, f"line {n}: {name} is marked {status!r} but names no framework object"


def test_supported_names_exist(rows):
    missing = [f"line {n}: {name} -> {fw_name}" for n, name, fw_name, status in rows
               if status != "no" and not exists(fw_name)]
    assert not missing, "marked yes/partial in docs/pytorch_names.md but absent:\n" + "\n".join(missing)


def test_unsupported_names_are_absent(rows):
    present = [f"line {n}: {name} (framework{name[len('torch'):]} exists: mark it yes or partial)"
               for n, name, _, status in rows
               if status.startswith("no") and exists("framework" + name[len("torch"):])]
    assert not present, "docs/pytorch_names.md is stale:\n" + "\n".join(present)


def test_common_torch_names_are_listed(rows):
    assert len(COMMON) >= 150 and len(set(COMMON)) == len(COMMON)
    listed = {name for _, name, _, _ in rows}
    unlisted = [name for name in COMMON if name not in listed]
    assert not unlisted, "common PyTorch names missing from docs/pytorch_names.md: " + ", ".join(unlisted)


def test_known_differences_section():
    text = DOC.read_text()
    assert "\n## Known differences from PyTorch\n" in text
