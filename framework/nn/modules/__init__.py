"""The layer classes, one file per family; `framework.nn` re-exports every class named here."""

# ruff: noqa: F401, I001

from .activation import (
    ELU, GELU, GLU, SELU, Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax, Mish, ReLU, ReLU6, Sigmoid,
    SiLU, Softmax, Softmin, Softplus, Tanh,
)
from .dropout import Dropout, Dropout1d, Dropout2d
from .flatten import Flatten, Unflatten
from .linear import Bilinear, Identity, Linear
from .loss import (
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss,
    SmoothL1Loss,
)
from .normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm, RMSNorm
from .sparse import Embedding

# --- part 2: conv, pooling, recurrent, attention/transformer (add import lines below) -----------
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .pooling import (
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, AvgPool1d,
    AvgPool2d, MaxPool1d, MaxPool2d,
)
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .transformer import (
    MultiheadAttention, NonDynamicallyQuantizableLinear, TransformerEncoder,
    TransformerEncoderLayer,
)

# -------------------------------------------------------------------------------------------------
# every class imported above is public in framework.nn
__all__ = [n for n, v in list(globals().items()) if isinstance(v, type) and not n.startswith("_")]
