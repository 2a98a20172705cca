"""A tiny character-level GPT (Radford et al., 2018; layout as nanoGPT): token and position
embeddings, pre-LayerNorm transformer blocks with causal self-attention, a linear head."""

from __future__ import annotations

import math

import framework as fw
import framework.nn as nn
import framework.nn.functional as F


class CausalSelfAttention(nn.Module):
    """x (B, T, C) -> (B, T, C); position t attends to positions <= t only."""

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0):
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd ({n_embd}) must be divisible by n_head ({n_head})")
        self.n_head, self.dropout = n_head, dropout
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x):
        B, T, C = x.shape
        # (B, T, 3C) -> three (B, n_head, T, head_size)
        q, k, v = self.qkv(x).reshape(B, T, 3, self.n_head, C // self.n_head).permute(
            2, 0, 3, 1, 4).unbind(0)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    """x + attn(ln1(x)), then + mlp(ln2(x)): (B, T, C) -> (B, T, C)."""

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0):
        super().__init__()
        self.ln1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout)
        self.ln2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(
            # GPT-2's tanh form of GELU: on NumPy it is ~9x cheaper than the exact erf one.
            nn.Linear(n_embd, 4 * n_embd), nn.GELU(approximate="tanh"), nn.Linear(4 * n_embd, n_embd),
            nn.Dropout(dropout),
        )

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """idx (B, T) int64 token ids, T <= block_size -> logits (B, T, vocab_size) for the next
    token at every position. With the defaults (vocab 65): 2 layers, 4 heads, 64 channels."""

    def __init__(self, vocab_size: int, block_size: int = 64, n_layer: int = 2, n_head: int = 4,
                 n_embd: int = 64, dropout: float = 0.0):
        super().__init__()
        self.block_size = block_size
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.pos_emb = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*[Block(n_embd, n_head, dropout) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size)
        # GPT-2's initialisation: N(0, 0.02) weights, and residual projections scaled down by
        # sqrt(2 * n_layer) so the residual stream's variance does not grow with depth.
        for name, p in self.named_parameters():
            if name.endswith("weight") and p.ndim == 2:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith(("proj.weight",
                                                                      "mlp.2.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias") and "ln" not in name:
                nn.init.zeros_(p)

    def forward(self, idx):
        B, T = idx.shape
        if T > self.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size {self.block_size}")
        pos = fw.arange(T, device=idx.device)
        h = self.drop(self.tok_emb(idx) + self.pos_emb(pos))
        return self.head(self.ln_f(self.blocks(h)))

    @fw.no_grad()
    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0, generator=None):
        """Append max_new_tokens sampled tokens to idx (B, T): returns (B, T + max_new_tokens)."""
        for _ in range(max_new_tokens):
            logits = self(idx[:, -self.block_size:])[:, -1, :] / temperature
            probs = F.softmax(logits, dim=-1)
            idx = fw.cat([idx, fw.multinomial(probs, 1, generator=generator)], dim=1)
        return idx
