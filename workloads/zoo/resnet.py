"""ResNet-50 (He et al. 2016, "Deep Residual Learning", Table 1), as torchvision's ``resnet50``.

The project's own module (torchvision does not import beside this torch build): bottleneck blocks
1×1 → 3×3 → 1×1 with 4× expansion, stages of [3, 4, 6, 3] blocks and widths 64…512, the stride on
the 3×3 convolution (torchvision's "v1.5"), batch norm after every convolution, a 1000-class head.
Inference mode, so batch norm uses running statistics.
"""

from __future__ import annotations

import torch
from torch import nn

#: Blocks per stage and the stages' bottleneck widths, Table 1's 50-layer column.
STAGE_BLOCKS = (3, 4, 6, 3)
STAGE_WIDTHS = (64, 128, 256, 512)
#: A bottleneck's output has 4× its width of channels.
EXPANSION = 4
#: ImageNet-1k classes (the input resolution, with the source, is in `workloads.zoo.configs`).
CLASSES = 1000


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(c_out))


class Bottleneck(nn.Module):
    def __init__(self, c_in: int, width: int, stride: int):
        super().__init__()
        c_out = width * EXPANSION
        self.conv1 = _conv_bn(c_in, width, 1)
        self.conv2 = _conv_bn(width, width, 3, stride)
        self.conv3 = _conv_bn(width, c_out, 1)
        self.relu = nn.ReLU()
        needs_projection = stride != 1 or c_in != c_out
        self.downsample = _conv_bn(c_in, c_out, 1, stride) if needs_projection else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.conv1(x))
        y = self.relu(self.conv2(y))
        return self.relu(self.conv3(y) + shortcut)


class ResNet50(nn.Module):
    """``forward(images [B, 3, 224, 224])`` → class logits [B, 1000]."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(_conv_bn(3, 64, 7, 2), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1))
        stages, c_in = [], 64
        for index, (blocks, width) in enumerate(zip(STAGE_BLOCKS, STAGE_WIDTHS, strict=True)):
            first_stride = 1 if index == 0 else 2
            stage = []
            for block in range(blocks):
                stage.append(Bottleneck(c_in, width, first_stride if block == 0 else 1))
                c_in = width * EXPANSION
            stages.append(nn.Sequential(*stage))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, CLASSES)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.stages(self.stem(images)))  # [B, 2048, 1, 1]
        return self.fc(x.flatten(1))
