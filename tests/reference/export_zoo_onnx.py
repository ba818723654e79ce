#!/usr/bin/python3
"""Exports the fixture models of tests/fixtures/onnx/ (tests/reference/torchvision_zoo.py: seeded random weights) to
ONNX for tests/unit/test_import_explain.c, which imports them with `xaic import` and compares xaic's explanations
with the committed Zennit / Captum references.  Nothing exported is committed.

    export_zoo_onnx.py OUTDIR [MODEL[@OPSET] ...]     (default: every fixture model at opset 17, resnet18 also at 13)

Writes OUTDIR/MODEL_opOPSET.onnx.  Each export first checks that the regenerated weights are those the fixtures were
made with (torchvision_zoo.py export --check-manifest: the state_dict sha256, or, when the calibrated BatchNorm
statistics rounded differently on this CPU, float64 logits on the fixture input within 1e-5 of the committed ones)
and fails otherwise."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torchvision_zoo as zoo  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(HERE), 'fixtures', 'onnx')
DEFAULT = [f'{name}@17' for name in zoo.MODELS] + ['resnet18@13']


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    for item in sys.argv[2:] or DEFAULT:
        name, _, opset = item.partition('@')
        opset = opset or '17'
        path = os.path.join(outdir, f'{name}_op{opset}.onnx')
        manifest = os.path.join(FIXTURES, name, 'manifest.json')
        rc = zoo.main(['export', name, '--opset', opset, '-o', path, '--check-manifest', manifest])
        if rc:
            return rc
    return 0


if __name__ == '__main__':
    import warnings
    warnings.filterwarnings('ignore')
    sys.exit(main())
