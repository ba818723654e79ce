#!/usr/bin/python3
"""Exports torchvision 0.14 classification networks (random weights, random BatchNorm statistics so that
the conv-BN folding of the export matters) to ONNX with torch 1.13, as a user would, for the importer's
tests (tests/unit/test_import_torchvision.c). Nothing exported is committed.

    export_torchvision_onnx.py OUTDIR [NAME ...]      (default: every model of MODELS)

For each NAME it writes OUTDIR/NAME.onnx (dynamic batch axis), OUTDIR/NAME.x.npy (an input batch of 2),
OUTDIR/NAME.y.npy (the torch module's output on it) and OUTDIR/NAME.g.npy (autograd's gradient of each
sample's arg-max logit with respect to its input). `resnet18_v1` is resnet18 exported without
constant folding nor conv-BN fusion: BatchNorm stays and every tensor keeps its state_dict name, so the .xai it gives uses
only v1 ops and the current compiler can run it."""
import os
import sys

import numpy as np
import torch
import torchvision

# name: (constructor, input side, opset) - opsets spread over 11..17
MODELS = {
    "resnet18": ("resnet18", 64, 11),
    "resnet18_v1": ("resnet18", 32, 13),
    "mobilenet_v2": ("mobilenet_v2", 64, 12),
    "mobilenet_v3_small": ("mobilenet_v3_small", 64, 13),
    "mobilenet_v3_small_op14": ("mobilenet_v3_small", 64, 14),
    "shufflenet_v2_x0_5": ("shufflenet_v2_x0_5", 64, 13),
    "googlenet": ("googlenet", 64, 15),
    "densenet121": ("densenet121", 64, 16),
    "efficientnet_b0": ("efficientnet_b0", 64, 17),
    "squeezenet1_1": ("squeezenet1_1", 64, 11),
    "inception_v3": ("inception_v3", 75, 17),
    "mnasnet0_5": ("mnasnet0_5", 64, 12),
    "regnet_y_400mf": ("regnet_y_400mf", 64, 13),
    "resnext50_32x4d": ("resnext50_32x4d", 64, 14),
    "alexnet": ("alexnet", 224, 15),
    # VisionTransformer (nn.MultiheadAttention moves the batch axis); before opset 17 LayerNorm is decomposed
    "vit_small": ("vit_small", 32, 17),
    "vit_small_op13": ("vit_small", 32, 13),
}
# no conv-BN fusion, no constant folding: every tensor keeps its state_dict name
V1_EXPORT = {"do_constant_folding": False, "training": torch.onnx.TrainingMode.PRESERVE}
LARGE = {"vgg11_bn": ("vgg11_bn", 224, 16)}   # 530 MB of weights: only when asked by name


def vit_small():
    """torchvision's VisionTransformer at a small configuration; its head (zero-initialised) and layer norms
    (ones, zeros) get random values so that they matter"""
    model = torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                                                 hidden_dim=16, mlp_dim=32, num_classes=10)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("heads") or ".ln" in name or name.startswith("encoder.ln"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.5 + (1.0 if name.endswith("ln.weight") else 0.0))
    return model.eval()


def build(ctor):
    if ctor == "vit_small":
        return vit_small()
    # PyTorch's default initialisation: GoogLeNet's own (truncated normal, std 0.01) leaves its activations so
    # close together that hundreds of max-pool windows hold near-ties (gaps below 1e-7 of the layer's range),
    # and which element wins one then depends on float rounding, not on the compiler under test.
    kwargs = {"init_weights": False, "aux_logits": False} if ctor in ("googlenet", "inception_v3") else {}
    model = getattr(torchvision.models, ctor)(**kwargs)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model.eval()


def export(name, outdir):
    ctor, side, opset = {**MODELS, **LARGE}[name]
    torch.manual_seed(0)
    model = build(ctor)
    x = torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(2))
    xg = x.clone().requires_grad_(True)
    y = model(xg)
    y.gather(1, y.argmax(1, keepdim=True)).sum().backward()
    y = y.detach()
    path = os.path.join(outdir, name + ".onnx")
    torch.onnx.export(model, x[:1], path, opset_version=opset, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      **V1_EXPORT if name.endswith("_v1") else {})
    np.save(os.path.join(outdir, name + ".x.npy"), x.numpy())
    np.save(os.path.join(outdir, name + ".y.npy"), y.numpy())
    np.save(os.path.join(outdir, name + ".g.npy"), xg.grad.numpy())


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    for name in sys.argv[2:] or list(MODELS):
        export(name, outdir)
        print(name, flush=True)


if __name__ == "__main__":
    import warnings
    warnings.filterwarnings("ignore")
    main()
