"""ViT-H/16 backbone of HMR 2.0 (the ViTPose-H encoder), in plain PyTorch.

Parameter names follow 4D-Humans' released checkpoint (prefix ``backbone.``):
``patch_embed.proj``, ``pos_embed``, ``blocks.{i}.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}``,
``last_norm``. Facts of that network kept here:

* input (B, 3, 256, 192); 16x16 patches by a strided convolution with padding 2,
  so the token grid is 16 x 12 = 192 tokens;
* ``pos_embed`` holds 193 embeddings (a class-token slot that is never used as a
  token): the first is added to every patch embedding together with the rest;
* pre-norm blocks, LayerNorm eps 1e-6, GELU MLP of 4x width, qkv with bias;
* output (B, C, 16, 12) after a final LayerNorm.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Attention(nn.Module):
    """Multi-head self-attention, fused qkv projection. (B, N, C) -> (B, N, C)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        q, k, v = self.qkv(x).view(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(d)) v
        return self.proj(out.transpose(1, 2).reshape(B, N, C))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, patch: int, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch, padding=2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """(B, 3, H, W) -> tokens (B, Hp * Wp, C) and the grid (Hp, Wp)."""
        x = self.proj(x)
        return x.flatten(2).transpose(1, 2), (x.shape[2], x.shape[3])


class ViT(nn.Module):
    """Args: image (H, W) it was trained at, patch size, width, depth, heads, MLP ratio."""

    def __init__(self, image_size=(256, 192), patch: int = 16, dim: int = 1280, depth: int = 32,
                 heads: int = 16, mlp_ratio: float = 4.0):
        super().__init__()
        self.patch_embed = PatchEmbed(patch, dim)
        tokens = (image_size[0] // patch) * (image_size[1] // patch)
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens + 1, dim))
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio) for _ in range(depth))
        self.last_norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 256, 192) normalised crops -> (B, C, 16, 12) features."""
        B = x.shape[0]
        x, (hp, wp) = self.patch_embed(x)
        x = x + self.pos_embed[:, 1:] + self.pos_embed[:, :1]
        for block in self.blocks:
            x = block(x)
        x = self.last_norm(x)
        return x.transpose(1, 2).reshape(B, -1, hp, wp)
