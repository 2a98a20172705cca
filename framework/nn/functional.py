"""framework.nn.functional: the functional forms of the layers and losses (names as PyTorch's).

A thin module of public names: each is implemented as an op in `framework.ops` (forward and
backward side by side) and imported here.
"""

# ruff: noqa: F401, I001 - grouped by family (part 2's families below), not sorted
from ..ops.activation import (
    elu, gelu, glu, hardtanh, hardtanh_, leaky_relu, log_softmax, logsigmoid, mish, relu, relu6,
    relu_, selu, sigmoid, silu, softmax, softmin, softplus, tanh,
)
from ..ops.loss import (
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss, kl_div,
    l1_loss, mse_loss, nll_loss, smooth_l1_loss,
)
from ..ops.layers import (
    bilinear, cosine_similarity, dropout, dropout1d, dropout2d, embedding, interpolate, linear,
    normalize, one_hot, pad,
)
from ..ops.norm import batch_norm, group_norm, layer_norm, rms_norm

# --- part 2: conv, pooling, recurrent, attention (add import lines below) -----------------------
from ..ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from ..ops.pool import (
    adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d, adaptive_max_pool2d,
    avg_pool1d, avg_pool2d, max_pool1d, max_pool2d,
)
from ..ops.attention import multi_head_attention_forward, scaled_dot_product_attention
