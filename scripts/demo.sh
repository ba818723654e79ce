#!/usr/bin/env bash
# The main job: compile the bundled networks and their explanations with xaic, classify the sample
# digits with a generated object linked into a C program, and draw LRP heatmaps of them (PNG).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
XAIC_BUILD_DIR=$root/build bash scripts/build.sh >/dev/null
out=${XAIC_DEMO_OUT:-$root/build/demo}
mkdir -p "$out"
xaic=build/xaic
digits=models/samples/digits.npy

echo "== classify: the CNN's generated object linked into a C program"
build/examples/classify "$digits"

echo "== LRP heatmaps from a linked object (epsilon_gamma_box, seeded at each digit's logit)"
build/examples/explain_digits "$digits" "$out/cnn_epsilon_gamma_box.png"

echo "== LRP through the JIT (xaic run), with the per-layer conservation report of deep Taylor"
for e in epsilon_plus epsilon_alpha2_beta1; do
  $xaic run models/mnist_cnn_lrp.xai --explain $e --input "$digits" -o "$out/cnn_$e.png"
  echo "mnist_cnn $e -> $out/cnn_$e.png"
done
$xaic run models/mnist_cnn_deep_taylor.xai --explain deep_taylor --input "$digits" -o "$out/cnn_deep_taylor.png" --stats
echo "mnist_cnn_nobias deep_taylor -> $out/cnn_deep_taylor.png"
for e in alpha1_beta0 alpha2_beta1; do
  $xaic run models/mnist_mlp_alpha_beta.xai --explain $e --input models/samples/digits_flat.npy -o "$out/mlp_$e.png"
  echo "mnist_mlp $e -> $out/mlp_$e.png"
done
echo "== the gradient family (Captum's methods) through the JIT"
for e in gradient_x_input guided_backprop integrated_gradients smoothgrad deeplift; do
  $xaic run models/mnist_cnn_gradients.xai --explain $e --input "$digits" -o "$out/cnn_$e.png"
  echo "mnist_cnn $e -> $out/cnn_$e.png"
done
echo "== CAM and Grad-CAM on cluttered MNIST, drawn over the input"
cat > "$out/cluttered_cam.xai" <<XAI
import "$root/models/cluttered_cam.xai";
import "$root/models/cluttered_gradcam.xai";
explain cam for cluttered_cam { method cam(layer=act3); }
explain gradcam for cluttered_gradcam { method gradcam(layer=act3); }
explain gradcam_pp for cluttered_gradcam { method gradcam_pp(layer=act3); }
XAI
for e in cam gradcam gradcam_pp; do
  $xaic run "$out/cluttered_cam.xai" --explain $e --input models/samples/cluttered.npy -o "$out/cluttered_$e.png" --overlay
  echo "cluttered $e -> $out/cluttered_$e.png"
done
echo "== bring your own model: the bundled Fashion-MNIST ResNet (ONNX), imported and explained"
$xaic import models/fashion_resnet.onnx -o "$out/fashion_resnet.xai" --input-range 0,1
# no explain block needed: --explain takes an LRP preset or a method name on any network
for e in epsilon_gamma_box integrated_gradients gradcam; do
  overlay=; [ $e = gradcam ] && overlay=--overlay
  $xaic run "$out/fashion_resnet.xai" --explain $e --input models/samples/fashion.npy -o "$out/fashion_$e.png" $overlay
  echo "fashion_resnet $e -> $out/fashion_$e.png"
done
echo "== explanation quality: pixel flipping (AOPC) of two LRP explanations, libxairt over a linked object"
build/examples/pixel_flipping "$digits"
echo "== activation maximisation: one prototype per class, in input space and through the generator"
$xaic run models/mnist_mlp_am.xai --explain proto -o "$out/prototypes.png"
$xaic run models/mnist_mlp_am.xai --explain proto_z --baseline models/samples/class_mean_codes.npy \
  -o "$out/prototypes_generator.png"
$xaic run models/mnist_cnn_lrp.xai --explain epsilon_plus --input "$digits" -o "$out/cnn_epsilon_plus.npy"
echo "relevance arrays: $out/*.npy; heatmaps (blue negative, white zero, red positive): $out/*.png"
