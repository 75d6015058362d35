"""HMR 2.0 as one module: ViT backbone + SMPL head, loading 4D-Humans' weights as released.

The released Lightning checkpoint's ``state_dict`` holds ``backbone.*`` and
``smpl_head.*`` (this network), ``smpl.*`` (the SMPL model's buffers, kept for
the body model), and training-only parts we do not build (``discriminator.*``,
``initialized``). :func:`load_hmr2` loads the network strictly: a key that is
neither ours nor one of those is an error, as is a key we need that is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ...errors import InputError
from .checkpoint import read_state_dict
from .head import SMPLHead
from .vit import ViT

TRAINING_ONLY = ("discriminator.", "initialized")
BODY_MODEL = "smpl."


@dataclass(frozen=True)
class HMR2Config:
    """Network size. The defaults are the released HMR 2.0 (ViT-H/16, 6-layer decoder)."""

    width: int = 1280
    depth: int = 32
    heads: int = 16
    mlp_ratio: float = 4.0
    head_dim: int = 1024  # decoder width
    head_depth: int = 6
    head_heads: int = 8
    head_dim_head: int = 64
    head_mlp: int = 1024
    image_size: tuple[int, int] = (256, 192)  # backbone input (H, W) after the side crop
    patch: int = 16
    focal_length: float = 5000.0  # the crop camera's focal length, pixels of a 256 crop

    @staticmethod
    def tiny() -> "HMR2Config":
        """A small network in the same layout (and head sizes of 80 and 64), for tests on a CPU."""
        return HMR2Config(width=160, depth=2, heads=2, head_dim=32, head_depth=2, head_heads=2, head_mlp=64)

    @staticmethod
    def from_state(state: dict) -> "HMR2Config":
        """The size of the network a state dict holds. Head counts are not stored in weights:
        they follow the released design, 80 channels per backbone head and 64 per decoder head."""
        width = state["backbone.pos_embed"].shape[-1]
        inner = state["smpl_head.transformer.transformer.layers.0.0.fn.to_qkv.weight"].shape[0] // 3
        return HMR2Config(
            width=width,
            depth=1 + max(int(k.split(".")[2]) for k in state if k.startswith("backbone.blocks.")),
            heads=max(1, width // 80),
            mlp_ratio=state["backbone.blocks.0.mlp.fc1.weight"].shape[0] / width,
            head_dim=state["smpl_head.decpose.weight"].shape[1],
            head_depth=1 + max(int(k.split(".")[4]) for k in state if k.startswith("smpl_head.transformer.transformer.layers.")),
            head_heads=max(1, inner // 64),
            head_mlp=state["smpl_head.transformer.transformer.layers.0.2.fn.net.0.weight"].shape[0],
        )


class HMR2(nn.Module):
    """Normalised crops -> SMPL parameters and crop camera.

    Input (B, 3, 256, 256) crops (ImageNet-normalised RGB, see
    :mod:`mocap.estimators.hmr2.preprocess`); the backbone sees the central
    256 x 192 (32 columns cut on each side).
    """

    def __init__(self, config: HMR2Config = HMR2Config()):
        super().__init__()
        c = config
        self.config = c
        self.backbone = ViT(c.image_size, c.patch, c.width, c.depth, c.heads, c.mlp_ratio)
        self.smpl_head = SMPLHead(24, c.width, c.head_dim, c.head_depth, c.head_heads, c.head_dim_head, c.head_mlp)

    def forward(self, crops: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, 3, 256, 256) -> {"rotations": (B, 24, 3, 3), "betas": (B, 10), "cam": (B, 3)}."""
        return self.smpl_head(self.backbone(crops[:, :, :, 32:-32]))


def split_state(state: dict) -> tuple[dict, dict, list[str]]:
    """A checkpoint's state dict -> (network weights, SMPL buffers without the ``smpl.``
    prefix, training-only keys that are skipped)."""
    net, body, skipped = {}, {}, []
    for k, v in state.items():
        if k.startswith(BODY_MODEL):
            body[k[len(BODY_MODEL):]] = v
        elif k.startswith(TRAINING_ONLY):
            skipped.append(k)
        else:
            net[k] = v
    return net, body, skipped


def load_hmr2(path: str | Path, config: HMR2Config | None = None) -> tuple[HMR2, dict]:
    """Build the network and load a released (or same-layout) checkpoint into it.

    ``config``: the network size; None reads it off the weights (:meth:`HMR2Config.from_state`).

    Returns:
        the model (eval mode, fp32, CPU) and the SMPL buffers the checkpoint carries
        (``v_template``, ``shapedirs``, ``J_regressor``, ... ; empty if none).
    Raises:
        InputError: unreadable checkpoint, or weights that do not fit this network
            (names the first missing/unexpected keys or mismatched shapes).
    """
    net_state, body, _ = split_state(read_state_dict(path))
    if config is None:
        try:
            config = HMR2Config.from_state(net_state)
        except (KeyError, ValueError, IndexError) as exc:
            raise InputError(f"{path}: not an HMR 2.0 checkpoint (no {exc})") from None
    model = HMR2(config)
    ours = model.state_dict()
    missing = [k for k in ours if k not in net_state]
    unexpected = [k for k in net_state if k not in ours]
    wrong = [f"{k} {tuple(net_state[k].shape)} != {tuple(v.shape)}" for k, v in ours.items()
             if k in net_state and net_state[k].shape != v.shape]
    for problem, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
        if keys:
            more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
            raise InputError(f"{path}: not an HMR 2.0 checkpoint of this size: {problem} {', '.join(keys[:3])}{more}")
    model.load_state_dict(net_state, strict=True)
    return model.eval(), body
