"""HMR 2.0's SMPL head: a transformer decoder that reads SMPL parameters out of the
image tokens, in plain PyTorch.

Parameter names follow 4D-Humans' released checkpoint (prefix ``smpl_head.``):
``transformer.to_token_embedding``, ``transformer.pos_embedding``,
``transformer.transformer.layers.{i}.{0,1,2}.{norm,fn.*}`` (self-attention,
cross-attention, feed-forward, each pre-normed), ``decpose``, ``decshape``,
``deccam`` and the buffers ``init_body_pose`` (1, 144), ``init_betas`` (1, 10),
``init_cam`` (1, 3). Facts of that head kept here:

* one input token, a single zero (token dimension 1), embedded to 1024;
* 6 layers, 8 heads of 64, feed-forward 1024, LayerNorm eps 1e-5, bias-free
  q/k/v projections; cross-attention keys/values from the 1280-d image tokens;
* the readout is a residual on the mean parameters: pose (24 joints x 6D),
  betas (10), weak-perspective crop camera (s, tx, ty);
* 6D rotations are two contiguous 3-vectors (the first two columns of the
  matrix before Gram-Schmidt), see :func:`rot6d_to_matrix`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def rot6d_to_matrix(x: torch.Tensor) -> torch.Tensor:
    """(..., 6) -> (..., 3, 3) rotation matrices (Zhou et al. 2019).

    ``x[..., :3]`` and ``x[..., 3:]`` are the raw first and second columns;
    Gram-Schmidt makes them orthonormal and the third column is their cross product.
    """
    a1, a2 = x[..., :3], x[..., 3:]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


class PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.fn(self.norm(x), **kwargs)


def _heads(t: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, N, H * D) -> (B, H, N, D)."""
    B, N, _ = t.shape
    return t.view(B, N, heads, -1).transpose(1, 2)


def _merge(t: torch.Tensor) -> torch.Tensor:
    """(B, H, N, D) -> (B, N, H * D)."""
    B, H, N, D = t.shape
    return t.transpose(1, 2).reshape(B, N, H * D)


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int):
        super().__init__()
        self.heads = heads
        self.to_qkv = nn.Linear(dim, 3 * heads * dim_head, bias=False)
        self.to_out = nn.Sequential(nn.Linear(heads * dim_head, dim), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = (_heads(t, self.heads) for t in self.to_qkv(x).chunk(3, dim=-1))
        return self.to_out(_merge(F.scaled_dot_product_attention(q, k, v)))


class CrossAttention(nn.Module):
    def __init__(self, dim: int, context_dim: int, heads: int, dim_head: int):
        super().__init__()
        self.heads = heads
        self.to_kv = nn.Linear(context_dim, 2 * heads * dim_head, bias=False)
        self.to_q = nn.Linear(dim, heads * dim_head, bias=False)
        self.to_out = nn.Sequential(nn.Linear(heads * dim_head, dim), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        k, v = (_heads(t, self.heads) for t in self.to_kv(context).chunk(2, dim=-1))
        q = _heads(self.to_q(x), self.heads)
        return self.to_out(_merge(F.scaled_dot_product_attention(q, k, v)))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(0.0), nn.Linear(hidden, dim),
                                 nn.Dropout(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DecoderLayers(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, mlp_dim: int, context_dim: int):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([PreNorm(dim, SelfAttention(dim, heads, dim_head)),
                           PreNorm(dim, CrossAttention(dim, context_dim, heads, dim_head)),
                           PreNorm(dim, FeedForward(dim, mlp_dim))])
            for _ in range(depth))

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        for self_attn, cross_attn, ff in self.layers:
            x = self_attn(x) + x
            x = cross_attn(x, context=context) + x
            x = ff(x) + x
        return x


class TransformerDecoder(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, mlp_dim: int, context_dim: int,
                 token_dim: int = 1, tokens: int = 1):
        super().__init__()
        self.to_token_embedding = nn.Linear(token_dim, dim)
        self.pos_embedding = nn.Parameter(torch.zeros(1, tokens, dim))
        self.transformer = DecoderLayers(dim, depth, heads, dim_head, mlp_dim, context_dim)

    def forward(self, tokens: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """tokens (B, n, token_dim), context (B, M, context_dim) -> (B, n, dim)."""
        x = self.to_token_embedding(tokens) + self.pos_embedding[:, : tokens.shape[1]]
        return self.transformer(x, context=context)


class SMPLHead(nn.Module):
    """Image features -> SMPL parameters and the crop camera.

    Args:
        joints: 24 (global orientation + 23 body joints).
        context_dim: backbone width (1280 for ViT-H).
        dim, depth, heads, dim_head, mlp_dim: decoder size (1024, 6, 8, 64, 1024 released).
    """

    def __init__(self, joints: int = 24, context_dim: int = 1280, dim: int = 1024, depth: int = 6,
                 heads: int = 8, dim_head: int = 64, mlp_dim: int = 1024):
        super().__init__()
        self.joints = joints
        self.transformer = TransformerDecoder(dim, depth, heads, dim_head, mlp_dim, context_dim)
        self.decpose = nn.Linear(dim, 6 * joints)
        self.decshape = nn.Linear(dim, 10)
        self.deccam = nn.Linear(dim, 3)
        # The mean parameters the readout is a residual on (smpl_mean_params.npz in training).
        self.register_buffer("init_body_pose", torch.zeros(1, 6 * joints))
        self.register_buffer("init_betas", torch.zeros(1, 10))
        self.register_buffer("init_cam", torch.zeros(1, 3))

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, C, h, w) features -> {"rotations": (B, 24, 3, 3) (index 0: global orientation),
        "betas": (B, 10), "cam": (B, 3) crop camera (s, tx, ty)}."""
        B = features.shape[0]
        context = features.flatten(2).transpose(1, 2)  # (B, h*w, C), row-major over the grid
        token = features.new_zeros(B, 1, 1)
        out = self.transformer(token, context=context)[:, 0]
        pose = self.decpose(out) + self.init_body_pose
        betas = self.decshape(out) + self.init_betas
        cam = self.deccam(out) + self.init_cam
        return {"rotations": rot6d_to_matrix(pose.view(B, self.joints, 6)), "betas": betas, "cam": cam}
