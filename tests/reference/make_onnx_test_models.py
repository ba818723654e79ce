#!/usr/bin/python3
"""Small ONNX models built with onnx.helper, one per op form and per error the importer must handle,
and what `xaic import` must make of each (tests/unit/test_import_onnx.c reads it). Run at test time;
nothing it writes is committed (except the fuzzer's seeds, with --fuzz-corpus).

    make_onnx_test_models.py OUTDIR                 -> OUTDIR/*.onnx, OUTDIR/cases.json
    make_onnx_test_models.py --fuzz-corpus DIR      -> a few tiny models as fuzzing seeds

cases.json: a list of {name, model, args, and either error: [substrings of the message] or lines: [every
layer line of the .xai, in order], contains: [substrings], tensors: {name: {shape, data}} (the whole
safetensors file, computed here with numpy), v1: the current compiler must accept it (`xaic check`)}.
The expected lines are written by hand from the ONNX attributes (docs/import.md, the ops v2 contract)."""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = None
CASES = []
rng = np.random.default_rng(0)
F = TensorProto.FLOAT


def arr(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def init(name, value):
    return numpy_helper.from_array(np.asarray(value), name)


def vinfo(name, dims, elem=F):
    return helper.make_tensor_value_info(name, elem, dims)


def node(op, inputs, outputs, name, **attrs):
    return helper.make_node(op, inputs, outputs, name=name, **attrs)


def const(name, value):
    """A Constant node whose output is `name`."""
    return node("Constant", [], [name], "", value=numpy_helper.from_array(np.asarray(value), name + "_t"))


def save(name, nodes, inputs, outputs, inits=(), opset=13, value_info=(), check=True, **save_kw):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits), value_info=list(value_info))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="xaic-tests",
                          producer_version="1")
    m.ir_version = 7
    if check:
        onnx.checker.check_model(m)
    path = os.path.join(OUT, name + ".onnx")
    onnx.save(m, path, **save_kw)
    return path


def case(name, lines=None, error=None, tensors=None, contains=(), args=(), v1=False, model=None):
    c = {"name": name, "model": (model or name) + ".onnx", "args": list(args)}
    if error:
        c["error"] = list(error)
    else:
        c["lines"] = lines
        c["contains"] = list(contains)
        c["tensors"] = {k: {"shape": list(np.shape(v)), "data": np.asarray(v, np.float32).reshape(-1).tolist()}
                        for k, v in (tensors or {}).items()}
        c["v1"] = v1
    CASES.append(c)


X = lambda c, h, w: vinfo("x", ["N", c, h, w])  # noqa: E731
Y = lambda *dims: vinfo("y", ["N", *dims])      # noqa: E731


def ops_conv():
    w, b = arr(4, 3, 3, 3), arr(4)
    save("conv_basic", [node("Conv", ["x", "conv1.weight", "conv1.bias"], ["c"], "/conv1/Conv", pads=[1, 1, 1, 1],
                             strides=[2, 2], kernel_shape=[3, 3]), node("Relu", ["c"], ["y"], "/act/Relu")],
         [X(3, 8, 8)], [Y(4, 4, 4)], [init("conv1.weight", w), init("conv1.bias", b)], opset=11)
    case("conv_basic", ["conv1 = conv2d(x, 4, kernel=3, stride=2, pad=1);", "act = relu(conv1);"],
         tensors={"conv1.weight": w, "conv1.bias": b}, v1=True)

    w0 = arr(4, 2, 3, 2)
    save("conv_asym", [node("Conv", ["x", "w0"], ["y"], "/c/Conv", pads=[1, 0, 2, 1], dilations=[2, 1], group=2)],
         [X(4, 9, 9)], [Y(4, 8, 9)], [init("w0", w0)])
    case("conv_asym", ['c = conv2d(x, 4, kernel=[3, 2], pad=[1, 0, 2, 1], groups=2, dilation=[2, 1], weight="w0", '
                       'bias=false);'], tensors={"w0": w0})

    ws = {f"{n}.{p}": arr(*s) for n, shp in (("a", (3, 2, 3, 3)), ("b", (3, 3, 3, 3)), ("c", (2, 3, 2, 2)))
          for p, s in (("weight", shp), ("bias", shp[:1]))}
    save("conv_autopad", [node("Conv", ["x", "a.weight", "a.bias"], ["a"], "/a/Conv", auto_pad="SAME_UPPER", strides=[2, 2]),
                          node("Conv", ["a", "b.weight", "b.bias"], ["b"], "/b/Conv", auto_pad="SAME_LOWER", strides=[2, 2]),
                          node("Conv", ["b", "c.weight", "c.bias"], ["y"], "/c/Conv", auto_pad="VALID")],
         [X(2, 8, 8)], [Y(2, 1, 1)], [init(k, v) for k, v in ws.items()])
    case("conv_autopad", ["a = conv2d(x, 3, kernel=3, stride=2, pad=[0, 0, 1, 1]);",
                          "b = conv2d(a, 3, kernel=3, stride=2, pad=[1, 1, 0, 0]);", "c = conv2d(b, 2, kernel=2);"],
         tensors=ws, v1=True)


def ops_dense():
    w1, b1, w2, c2 = arr(5, 6), arr(5), arr(5, 4), arr(1, 4)
    save("gemm_variants", [node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h"], "/fc1/Gemm", transB=1),
                           node("Gemm", ["h", "fc2.w", "fc2.c"], ["y"], "/fc2/Gemm", alpha=0.5, beta=2.0)],
         [vinfo("x", ["N", 6])], [vinfo("y", ["N", 4])],
         [init("fc1.weight", w1), init("fc1.bias", b1), init("fc2.w", w2), init("fc2.c", c2)])
    case("gemm_variants", ["fc1 = dense(x, 5);", 'fc2 = dense(fc1, 4, weight="fc2.w.T*0.5", bias="fc2.c.flat*2");'],
         tensors={"fc1.weight": w1, "fc1.bias": b1, "fc2.w.T*0.5": (0.5 * w2.T.astype(np.float64)).astype(np.float32),
                  "fc2.c.flat*2": 2 * c2.reshape(-1)}, v1=False)

    g1, cs, g2, g2b = arr(2, 3), arr(1), arr(2, 2), arr(2)
    save("gemm_bias_forms", [node("Gemm", ["x", "g1.weight", "cs"], ["h"], "/g1/Gemm", transB=1),
                             node("Gemm", ["h", "g2.weight", "g2.bias"], ["y"], "/g2/Gemm", transB=1, beta=0.0)],
         [vinfo("x", ["N", 3])], [vinfo("y", ["N", 2])],
         [init("g1.weight", g1), init("cs", cs), init("g2.weight", g2), init("g2.bias", g2b)])
    case("gemm_bias_forms", ['g1 = dense(x, 2, weight="g1.weight", bias="cs.expand");', "g2 = dense(g1, 2, bias=false);"],
         tensors={"g1.weight": g1, "cs.expand": np.repeat(cs, 2), "g2.weight": g2})

    B, b, B2 = arr(4, 3), arr(3), arr(3, 2)
    save("matmul_add", [node("MatMul", ["x", "lin.B"], ["m"], "/lin/MatMul"), node("Add", ["m", "lin.b"], ["h"], "/lin/Add"),
                        node("MatMul", ["h", "out.B"], ["y"], "/out/MatMul")],
         [vinfo("x", ["N", 4])], [vinfo("y", ["N", 2])], [init("lin.B", B), init("lin.b", b), init("out.B", B2)])
    case("matmul_add", ['lin = dense(x, 3, weight="lin.B.T", bias="lin.b");',
                        'out = dense(lin, 2, weight="out.B.T", bias=false);'],
         tensors={"lin.B.T": B.T, "lin.b": b, "out.B.T": B2.T})

    # tokens [T, K]: a MatMul with a weight (and its bias Add) is a dense layer on each token; a MatMul of two
    # network tensors is .xai's matmul
    Wq, bq = arr(4, 4), arr(4)
    save("matmul_tokens", [node("MatMul", ["x", "q.W"], ["m"], "/q/MatMul"), node("Add", ["m", "q.b"], ["q"], "/q/Add"),
                           node("Transpose", ["x"], ["xt"], "/kt/Transpose", perm=[0, 2, 1]),
                           node("MatMul", ["q", "xt"], ["y"], "/score/MatMul")],
         [vinfo("x", ["N", 3, 4])], [vinfo("y", ["N", 3, 3])], [init("q.W", Wq), init("q.b", bq)])
    case("matmul_tokens", ['q = dense(x, 4, weight="q.W.T", bias="q.b");', "kt = transpose(x, [1, 0]);",
                           "score = matmul(q, kt);"], tensors={"q.W.T": Wq.T, "q.b": bq})
    # constant tensors added to network tensors (positional embeddings) become parameter layers
    pos, gain = arr(1, 3, 4), arr(4)
    save("add_constant_tensor", [node("Add", ["x", "pos"], ["y"], "/emb/Add"), node("Mul", ["y", "gain"], ["z"], "/g/Mul")],
         [vinfo("x", ["N", 3, 4])], [vinfo("z", ["N", 3, 4])], [init("pos", pos), init("gain", gain)])
    case("add_constant_tensor", ['emb_param = parameter([3, 4], weight="pos");', "emb = add(x, emb_param);",
                                 'g_param = parameter([1, 4], weight="gain");', "g = mul(emb, g_param);"],
         tensors={"pos": pos[0], "gain": gain.reshape(1, 4)})
    # Gather of one position of a network tensor: the class token of a ViT's tokens (x[:, 0]), or a kept axis
    save("gather_token", [node("Gather", ["x", "zero"], ["c"], "/cls/Gather", axis=1),
                          node("Unsqueeze", ["c", "ax1"], ["cu"], "/cu/Unsqueeze"),
                          node("Gather", ["x", "last"], ["t"], "/tail/Gather", axis=2), node("Mul", ["t", "cu"], ["y"], "/m/Mul")],
         [vinfo("x", ["N", 3, 4])], [vinfo("y", ["N", 3, 4])],
         [init("zero", np.array(0, np.int64)), init("last", np.array([-1], np.int64)), init("ax1", np.array([1], np.int64))])
    case("gather_token", ["cls_slice = slice(x, axis=0, start=0, end=1);", "cls = flatten(cls_slice);", "cu = reshape(cls, [1, 4]);",
                          "tail = slice(x, axis=1, start=3, end=4);", "m = mul(tail, cu);"], tensors={})
    save("gather_many", [node("Gather", ["x", "idx"], ["c"], "/g/Gather", axis=1)], [vinfo("x", ["N", 3, 4])],
         [vinfo("c", ["N", 2, 4])], [init("idx", np.array([0, 2], np.int64))])
    case("gather_many", error=["node '/g/Gather' (Gather): Gather of 2 positions of a network tensor is not supported"])
    save("matmul_shapes", [node("MatMul", ["x", "x"], ["y"], "/mm/MatMul")], [vinfo("x", ["N", 3, 4])],
         [vinfo("y", ["N", 3, 4])], check=False)
    case("matmul_shapes", error=["node '/mm/MatMul' (MatMul): MatMul of [3, 4] by [3, 4] (per sample)"])


def ops_activations():
    nodes = [node("Sigmoid", ["x"], ["a"], "/sig/Sigmoid"), node("Tanh", ["a"], ["b"], "/th/Tanh"),
             node("HardSigmoid", ["b"], ["c"], "/hsig/HardSigmoid"), node("Elu", ["c"], ["d"], "/el/Elu", alpha=0.5),
             node("LeakyRelu", ["d"], ["e"], "/lr/LeakyRelu", alpha=0.1), node("LeakyRelu", ["e"], ["f"], "/lr2/LeakyRelu"),
             const("zero", np.float32(0)), const("six", np.float32(6)),
             node("Clip", ["f", "zero", "six"], ["g"], "/relu6/Clip"), node("Clip", ["g", "", "lim"], ["h"], "/cmax/Clip"),
             node("Clip", ["h"], ["i"], "/cnone/Clip"), node("HardSwish", ["i"], ["j"], "/hsw/HardSwish"),
             node("Relu", ["j"], ["y"], "/r/Relu")]
    save("activations", nodes, [vinfo("x", ["N", 4])], [vinfo("y", ["N", 4])], [init("lim", np.float32(1.5))], opset=14)
    case("activations", ["sig = sigmoid(x);", "th = tanh(sig);", "hsig = hardsigmoid(th, alpha=0.2, beta=0.5);",
                         "el = elu(hsig, alpha=0.5);", "lr = leaky_relu(el, slope=0.1);", "lr2 = leaky_relu(lr);",
                         "relu6 = clamp(lr2, min=0, max=6);", "cmax = clamp(relu6, max=1.5);", "cnone = clamp(cmax);",
                         "hsw = hardswish(cnone);", "r = relu(hsw);"], tensors={})

    nodes = [node("Sigmoid", ["x"], ["s"], "/blk/act/Sigmoid"), node("Mul", ["x", "s"], ["a"], "/blk/act/Mul"),
             node("HardSigmoid", ["a"], ["hs"], "/blk/hsw/HardSigmoid", alpha=1 / 6, beta=0.5),
             node("Mul", ["hs", "a"], ["b"], "/blk/hsw/Mul"),
             node("GlobalAveragePool", ["b"], ["g"], "/se/GlobalAveragePool"), node("Sigmoid", ["g"], ["gs"], "/se/Sigmoid"),
             node("Mul", ["b", "gs"], ["y"], "/se/Mul")]
    save("fusions", nodes, [X(4, 5, 5)], [Y(4, 5, 5)])
    case("fusions", ["blk_act = silu(x);", "blk_hsw = hardswish(blk_act);",
                     "se_global_average_pool = global_avgpool(blk_hsw, keepdims=true);",
                     "se_sigmoid = sigmoid(se_global_average_pool);", "se_mul = mul(blk_hsw, se_sigmoid);"], tensors={})

    # GELU as torch.onnx (1.13, opsets 13 and 17) exports nn.GELU(): the erf form, the tanh form, and the erf form
    # with the product by 0.5 first (x * 0.5 * (1 + erf(x / sqrt 2)), BERT-style code)
    nodes = [const("sq2", np.float32(1.4142135)), node("Div", ["x", "sq2"], ["d"], "/g1/Div"),
             node("Erf", ["d"], ["e"], "/g1/Erf"), const("one", np.float32(1)), node("Add", ["e", "one"], ["a"], "/g1/Add"),
             node("Mul", ["x", "a"], ["m"], "/g1/Mul"), const("half", np.float32(0.5)),
             node("Mul", ["m", "half"], ["g1"], "/g1/Mul_1"),
             node("Mul", ["g1", "g1"], ["t0"], "/g2/Mul"), node("Mul", ["g1", "t0"], ["t1"], "/g2/Mul_1"),
             const("kappa", np.float32(0.044715)), node("Mul", ["kappa", "t1"], ["t2"], "/g2/Mul_2"),
             node("Add", ["g1", "t2"], ["t3"], "/g2/Add"), const("beta", np.float32(0.7978846)),
             node("Mul", ["beta", "t3"], ["t4"], "/g2/Mul_3"), node("Tanh", ["t4"], ["t5"], "/g2/Tanh"),
             node("Add", ["one", "t5"], ["t6"], "/g2/Add_1"), node("Mul", ["g1", "t6"], ["t7"], "/g2/Mul_4"),
             node("Mul", ["half", "t7"], ["g2"], "/g2/Mul_5"),
             node("Mul", ["g2", "half"], ["h"], "/g3/Mul"), node("Div", ["g2", "sq2"], ["u"], "/g3/Div"),
             node("Erf", ["u"], ["v"], "/g3/Erf"), node("Add", ["v", "one"], ["w"], "/g3/Add"),
             node("Mul", ["h", "w"], ["y"], "/g3/Mul_1")]
    save("gelu", nodes, [vinfo("x", ["N", 6])], [vinfo("y", ["N", 6])], opset=17)
    case("gelu", ["g1 = gelu(x);", "g2 = gelu(g1, approximate=tanh);", "g3 = gelu(g2);"], tensors={})
    # Erf outside that pattern, and the pattern without its product by 0.5
    nodes = [node("Erf", ["x"], ["y"], "/e/Erf")]
    save("erf_alone", nodes, [vinfo("x", ["N", 3])], [vinfo("y", ["N", 3])])
    case("erf_alone", error=["node '/e/Erf' (Erf): Erf is imported only as part of GELU"])
    nodes = [const("sq2", np.float32(1.4142135)), node("Div", ["x", "sq2"], ["d"], "/g/Div"),
             node("Erf", ["d"], ["e"], "/g/Erf"), const("one", np.float32(1)), node("Add", ["e", "one"], ["a"], "/g/Add"),
             node("Mul", ["x", "a"], ["y"], "/g/Mul")]
    save("gelu_unhalved", nodes, [vinfo("x", ["N", 3])], [vinfo("y", ["N", 3])])
    case("gelu_unhalved", error=["without the product by 0.5 that completes it"])

    nodes = [node("Add", ["x", "three"], ["a"], "/a/Add"), node("Sub", ["one", "a"], ["b"], "/b/Sub"),
             const("half", np.full((1, 1), 0.5, np.float32)), node("Mul", ["b", "half"], ["c"], "/c/Mul"),
             node("Div", ["c", "four"], ["y"], "/d/Div")]
    save("arith_numbers", nodes, [vinfo("x", ["N", 3])], [vinfo("y", ["N", 3])],
         [init("three", np.float32(3)), init("one", np.ones(1, np.float32)), init("four", np.float32(4))])
    case("arith_numbers", ["a = add(x, 3);", "b = sub(1, a);", "c = mul(b, 0.5);", "d = div(c, 4);"], tensors={})


def ops_pools():
    wc = arr(2, 2, 1, 1)
    nodes = [node("MaxPool", ["x"], ["a"], "/mp/MaxPool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
             node("MaxPool", ["a"], ["b"], "/mp2/MaxPool", kernel_shape=[2, 2], dilations=[2, 2]),
             node("AveragePool", ["b"], ["c"], "/ap/AveragePool", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             node("AveragePool", ["c"], ["d"], "/ap2/AveragePool", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
             node("Pad", ["d", "pads1"], ["e"], "/ap3/Pad"),
             node("AveragePool", ["e"], ["f"], "/ap3/AveragePool", kernel_shape=[3, 3]),
             node("Pad", ["f", "pads2"], ["g"], "/cp/Pad"),
             node("Conv", ["g", "cp.weight"], ["h"], "/cp/Conv"),
             node("GlobalAveragePool", ["h"], ["i"], "/gap/GlobalAveragePool"),
             node("Flatten", ["i"], ["y"], "/flat/Flatten")]
    save("pools", nodes, [X(2, 9, 9)], [vinfo("y", ["N", 2])],
         [init("pads1", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)),
          init("pads2", np.array([0, 0, 0, 1, 0, 0, 2, 0], np.int64)), init("cp.weight", wc)],
         value_info=[vinfo("a", ["N", 2, 5, 5]), vinfo("d", ["N", 2, 2, 2]), vinfo("h", ["N", 2, 4, 3]),
                     vinfo("i", ["N", 2, 1, 1])])   # declared shapes: checked by the importer
    case("pools", ["mp = maxpool(x, 3, stride=2, pad=1, ceil_mode=true);", "mp2 = maxpool(mp, 2, stride=1, dilation=2);",
                   "ap = avgpool(mp2, 3, stride=1, pad=1, count_include_pad=false);", "ap2 = avgpool(ap, 2, ceil_mode=true);",
                   "ap3 = avgpool(ap2, 3, stride=1, pad=1);", "cp = conv2d(ap3, 2, kernel=1, pad=[0, 1, 2, 0], bias=false);",
                   "gap = global_avgpool(cp);"], tensors={"cp.weight": wc})

    nodes = [node("ReduceMean", ["x"], ["a"], "/rm/ReduceMean", axes=[2, 3]),
             node("ReduceMean", ["a"], ["y"], "/rm2/ReduceMean", axes=[-1, -2], keepdims=0)]
    save("reduce_mean", nodes, [X(3, 4, 4)], [vinfo("y", ["N", 3])])
    case("reduce_mean", ["rm = global_avgpool(x, keepdims=true);", "rm2 = global_avgpool(rm);"], tensors={})


def ops_shapes():
    nodes = [node("Shape", ["x"], ["s"], "/Shape"), const("zero", np.int64(0)), node("Gather", ["s", "zero"], ["n"], "/Gather"),
             const("ax0", np.array([0], np.int64)), node("Unsqueeze", ["n", "ax0"], ["n1"], "/Unsqueeze"),
             const("m1", np.array([-1], np.int64)), node("Concat", ["n1", "m1"], ["tgt"], "/Concat", axis=0),
             node("Reshape", ["x", "tgt"], ["r1"], "/view/Reshape"),
             node("Reshape", ["r1", "t2"], ["r2"], "/r2/Reshape"), node("Reshape", ["r2", "t3"], ["r3"], "/r3/Reshape"),
             node("Transpose", ["r3"], ["t"], "/tr/Transpose", perm=[0, 2, 1]),
             const("ax1", np.array([1], np.int64)), node("Unsqueeze", ["t", "ax1"], ["u"], "/us/Unsqueeze"),
             node("Squeeze", ["u", "ax1"], ["q"], "/sq/Squeeze"), node("Dropout", ["q"], ["dr"], "/drop/Dropout"),
             node("Identity", ["dr"], ["id"], "/id/Identity"), node("Flatten", ["id"], ["f"], "/fl/Flatten"),
             node("Softmax", ["f"], ["y"], "/sm/Softmax")]
    save("shape_ops", nodes, [X(2, 3, 4)], [vinfo("y", ["N", 24])],
         [init("t2", np.array([-1, 4, 6], np.int64)), init("t3", np.array([0, 2, -1], np.int64))])
    case("shape_ops", ["view = flatten(x);", "r2 = reshape(view, [4, 6]);", "r3 = reshape(r2, [2, 12]);",
                       "tr = transpose(r3, [1, 0]);", "us = reshape(tr, [1, 12, 2]);", "sq = reshape(us, [12, 2]);",
                       "fl = flatten(sq);", "sm = softmax(fl);"], tensors={})

    big = np.iinfo(np.int64).max
    nodes = [node("Split", ["x", "sizes"], ["p0", "p1"], "/sp/Split", axis=1),
             node("Concat", ["p1", "p0"], ["c"], "/cat/Concat", axis=1),
             node("Slice", ["c", "st", "en", "ax", "step"], ["s"], "/sl/Slice"),
             node("Slice", ["s", "st2", "en2", "ax2"], ["y"], "/sl2/Slice")]
    save("split_slice", nodes, [X(4, 6, 6)], [Y(2, 3, 5)],
         [init("sizes", np.array([1, 3], np.int64)), init("st", np.array([1, 0], np.int64)),
          init("en", np.array([6, -1], np.int64)), init("ax", np.array([2, 3], np.int64)),
          init("step", np.array([2, 1], np.int64)), init("st2", np.array([0, 1], np.int64)),
          init("en2", np.array([big, 3], np.int64)), init("ax2", np.array([0, 1], np.int64))])
    case("split_slice", ["sp_0 = slice(x, axis=0, start=0, end=1);", "sp_1 = slice(x, axis=0, start=1, end=4);",
                         "cat = concat([sp_1, sp_0]);", "sl_axis2 = slice(cat, axis=1, start=1, end=6, step=2);",
                         "sl_axis3 = slice(sl_axis2, axis=2, start=0, end=5);", "sl2 = slice(sl_axis3, axis=0, start=1, end=3);"],
         tensors={})

    nodes = [node("Split", ["x"], ["a", "b"], "/sp/Split", axis=1, split=[2, 2]), node("Concat", ["b", "a"], ["y"], "/cat/Concat", axis=-3)]
    save("split_opset11", nodes, [X(4, 2, 2)], [Y(4, 2, 2)], opset=11,
         value_info=[vinfo("a", ["N", 2, 2, 2]), vinfo("b", ["N", 2, 2, 2])])
    case("split_opset11", ["sp_0 = slice(x, axis=0, start=0, end=2);", "sp_1 = slice(x, axis=0, start=2, end=4);",
                           "cat = concat([sp_1, sp_0]);"], tensors={})

    # the pads of a Pad computed the way opset-11 exports do without constant folding
    wp = arr(2, 3, 3, 3)
    nodes = [const("two", np.array([2], np.int64)), node("ConstantOfShape", ["two"], ["z"], "ConstantOfShape_1",
                                                          value=numpy_helper.from_array(np.array([0], np.int64))),
             const("ones32", np.array([1, 2], np.int32)), node("Cast", ["ones32"], ["ones"], "Cast_2", to=TensorProto.INT64),
             node("Concat", ["z", "ones", "z", "ones"], ["pads"], "Concat_3", axis=0),
             node("Pad", ["x", "pads"], ["p"], "Pad_4", mode="constant"), node("Conv", ["p", "w"], ["y"], "Conv_5")]
    save("folded_pads", nodes, [X(3, 4, 4)], [Y(2, 4, 6)], [init("w", wp)], opset=11)
    case("folded_pads", ['Conv_5 = conv2d(x, 2, kernel=3, pad=[1, 2], weight="w", bias=false);'], tensors={"w": wp})


def ops_bn_names():
    p = {f"bn.{k}": v for k, v in (("weight", arr(3)), ("bias", arr(3)), ("running_mean", arr(3)),
                                   ("running_var", np.abs(arr(3)) + 0.5))}
    q = {"s": arr(3), "o": arr(3), "m": arr(3), "v": np.abs(arr(3)) + 0.5}
    save("batchnorm", [node("BatchNormalization", ["x", *p], ["a"], "/bn/BatchNormalization", epsilon=1e-3),
                       node("BatchNormalization", ["a", *q], ["y"], "/bn2/BatchNormalization")],
         [X(3, 4, 4)], [Y(3, 4, 4)], [init(k, v) for k, v in {**p, **q}.items()])
    case("batchnorm", ["bn = batchnorm(x, eps=0.001);",
                       'bn2 = batchnorm(bn, weight="s", bias="o", running_mean="m", running_var="v");'],
         tensors={**p, **q})
    case("batchnorm_v1", ["bn = batchnorm(x, eps=0.001);"], tensors=p, v1=True, model="batchnorm_v1")
    save("batchnorm_v1", [node("BatchNormalization", ["x", *p], ["y"], "/bn/BatchNormalization", epsilon=1e-3)],
         [X(3, 4, 4)], [Y(3, 4, 4)], [init(k, v) for k, v in p.items()])

    names = ["/relu/Relu", "/first/Sigmoid", "/first_block/Tanh", "/input/Relu", "", "/9lives/Relu", "/a.b/c d/Relu",
             "Relu_77", "/relu/Relu"]
    ops = ["Relu", "Sigmoid", "Tanh", "Relu", "Relu", "Relu", "Relu", "Relu", "Relu"]
    nodes, prev = [], "input"
    for k, (n, op) in enumerate(zip(names, ops)):
        out = "y" if k == len(names) - 1 else f"v{k}"
        nodes.append(node(op, [prev], [out], n))
        prev = out
    save("names", nodes, [vinfo("input", ["N", 2])], [vinfo("y", ["N", 2])])
    # two layers in scope "relu": both keep the op segment; an unnamed node is named after its op
    case("names", ["relu_relu = relu(input_1);", "layer_first = sigmoid(relu_relu);", "layer_first_block = tanh(layer_first);",
                   "input_2 = relu(layer_first_block);", "relu_1 = relu(input_2);", "layer_9lives = relu(relu_1);",
                   "a_b_c_d = relu(layer_9lives);", "Relu_77 = relu(a_b_c_d);", "relu_relu_1 = relu(Relu_77);"],
         contains=["input input_1[2];", "output relu_relu_1;"], tensors={})


def ops_files():
    w, b = arr(2, 2, 1, 1), arr(2)
    save("external", [node("Conv", ["x", "ext.weight", "ext.bias"], ["y"], "/ext/Conv")], [X(2, 3, 3)], [Y(2, 3, 3)],
         [init("ext.weight", w), init("ext.bias", b)], save_as_external_data=True, all_tensors_to_one_file=True,
         location="external.bin", size_threshold=0)
    case("external", ["ext = conv2d(x, 2, kernel=1);"], tensors={"ext.weight": w, "ext.bias": b}, v1=True)
    m = onnx.load(os.path.join(OUT, "external.onnx"), load_external_data=False)
    for t in m.graph.initializer:
        t.external_data[0].value = "missing.bin"
    onnx.save(m, os.path.join(OUT, "external_missing.onnx"))
    case("external_missing", error=["initializer 'ext.weight'", "cannot open its external data file", "missing.bin"])
    for t in m.graph.initializer:
        t.external_data[0].value = "../external.bin"
    onnx.save(m, os.path.join(OUT, "external_escape.onnx"))
    case("external_escape", error=["'../external.bin' leaves the model's directory"])

    w16 = arr(2, 3, dtype=np.float16)
    w64 = arr(2, dtype=np.float64)
    save("float16_64", [node("Gemm", ["x", "h.weight", "h.bias"], ["y"], "/h/Gemm", transB=1)], [vinfo("x", ["N", 3])],
         [vinfo("y", ["N", 2])], [init("h.weight", w16), init("h.bias", w64)], check=False)
    case("float16_64", ["h = dense(x, 2);"], tensors={"h.weight": w16.astype(np.float32), "h.bias": w64.astype(np.float32)})

    data = open(os.path.join(OUT, "conv_basic.onnx"), "rb").read()
    open(os.path.join(OUT, "truncated.onnx"), "wb").write(data[:len(data) // 2])
    case("truncated", error=["truncated.onnx: not an ONNX model: the protobuf is truncated or corrupt"])
    open(os.path.join(OUT, "garbage.onnx"), "wb").write(bytes(rng.integers(0, 256, 300, dtype=np.uint8)))
    case("garbage", error=["garbage.onnx: not an ONNX model"])
    open(os.path.join(OUT, "empty.onnx"), "wb").write(b"")
    case("empty", error=["empty.onnx: the file is empty"])


def ops_errors():
    relu = [node("Relu", ["x"], ["y"], "/r/Relu")]
    for opset in (10, 18):
        save(f"opset{opset}", relu, [X(1, 2, 2)], [Y(1, 2, 2)], opset=opset)
        case(f"opset{opset}", error=[f"opset {opset} is not supported: xaic imports opsets 11 to 17"])

    save("dynamic", relu, [vinfo("x", ["N", 3, "H", "W"])], [vinfo("y", ["N", 3, "H", "W"])])
    case("dynamic", error=["input 'x' has dynamic dimensions [N, 3, H, W]", "--input-shape"])
    case("dynamic_given", ["r = relu(x);"], contains=["input x[3, 8, 8];"], args=["--input-shape", "3,8,8"],
         model="dynamic", tensors={})
    case("dynamic_wrong_rank", error=["input 'x' has 3 dimensions after the batch [N, 3, H, W], --input-shape gives 2"],
         args=["--input-shape", "3,8"], model="dynamic")
    case("static_contradicted", error=["input 'x' has the static shape [N, 1, 2, 2], which --input-shape contradicts"],
         args=["--input-shape", "4,2,2"], model="opset10_ok")
    save("opset10_ok", relu, [X(1, 2, 2)], [Y(1, 2, 2)], opset=11)
    case("range_name", ["r = relu(x);"], contains=["network my_net {", "input x[1, 2, 2] range [-2.12, 2.64];"],
         args=["--input-range", "-2.12,2.64", "--name", "my_net"], model="opset10_ok", tensors={})
    case("bad_name", error=["--name 'my net' is not a valid network name"], args=["--name", "my net"], model="opset10_ok")

    nodes = [helper.make_node("LSTM", ["x", "W", "R"], ["y"], name="LSTM_12", hidden_size=2),
             helper.make_node("NonMaxSuppression", ["x", "x"], ["z"]),
             helper.make_node("MyOp", ["x"], ["q"], name="custom", domain="com.example")]
    save("unsupported", nodes, [vinfo("x", [1, 1, 2])], [vinfo("y", [1, 1, 1, 2])], [init("W", arr(1, 8, 2)),
         init("R", arr(1, 8, 2))], check=False)
    case("unsupported", error=["node 'LSTM_12' (op LSTM) is not supported", "node #1 (op NonMaxSuppression) is not supported",
                               "node 'custom' (op com.example.MyOp) is not supported", "supported: Add, AveragePool"])

    save("two_inputs", [node("Add", ["x", "z"], ["y"], "/a/Add")], [X(1, 2, 2), vinfo("z", ["N", 1, 2, 2])], [Y(1, 2, 2)])
    case("two_inputs", error=["the graph has 2 inputs 'x', 'z'; xaic imports networks of exactly one input"])
    save("two_outputs", [node("Relu", ["x"], ["y"], "/r/Relu"), node("Sigmoid", ["x"], ["z"], "/s/Sigmoid")],
         [X(1, 2, 2)], [Y(1, 2, 2), vinfo("z", ["N", 1, 2, 2])])
    case("two_outputs", error=["the graph has 2 outputs"])

    save("conv_mismatch", [node("Conv", ["x", "w"], ["y"], "/c/Conv")], [X(3, 4, 4)], [Y(4, 2, 2)],
         [init("w", arr(4, 5, 3, 3))], check=False)
    case("conv_mismatch", error=["node '/c/Conv' (Conv): the weight 'w' has shape [4, 5, 3, 3], expected [*, 3, *, *]"])
    save("gemm_mismatch", [node("Gemm", ["x", "w"], ["y"], "/g/Gemm", transB=1)], [vinfo("x", ["N", 3])],
         [vinfo("y", ["N", 2])], [init("w", arr(2, 4))], check=False)
    case("gemm_mismatch", error=["node '/g/Gemm' (Gemm): the weight 'w' has shape [2, 4], expected [*, 3]"])
    save("gemm_transa", [node("Gemm", ["x", "w"], ["y"], "/g/Gemm", transA=1)], [vinfo("x", ["N", 3])],
         [vinfo("y", ["N", 2])], [init("w", arr(3, 2))], check=False)
    case("gemm_transa", error=["node '/g/Gemm' (Gemm): transA=1 would transpose the batch axis"])
    save("declared_mismatch", [node("Conv", ["x", "w"], ["c"], "/c/Conv"), node("Relu", ["c"], ["y"], "/r/Relu")],
         [X(3, 4, 4)], [Y(4, 2, 2)], [init("w", arr(4, 3, 3, 3))], value_info=[vinfo("c", ["N", 4, 3, 3])], check=False)
    case("declared_mismatch", error=["node '/c/Conv' (Conv): xaic computes the per-sample shape [4, 2, 2] for 'c' but the "
                                     "model declares [4, 3, 3]"])
    save("broadcast", [node("MaxPool", ["x"], ["m"], "/m/MaxPool", kernel_shape=[2, 2], strides=[2, 2]),
                       node("Add", ["x", "m"], ["y"], "/a/Add")], [X(3, 4, 4)], [Y(3, 4, 4)], check=False)
    case("broadcast", error=["node '/a/Add' (Add): the shapes [3, 4, 4] and [3, 2, 2] do not broadcast"])
    save("batch_broadcast", [node("Flatten", ["x"], ["f"], "/f/Flatten"), node("Add", ["x", "f"], ["y"], "/a/Add")],
         [X(3, 1, 1)], [Y(3, 1, 1)], check=False)
    case("batch_broadcast", error=["would mix the batch axis with another"])
    k = arr(1, 3, 1, 1)
    save("const_tensor", [node("Mul", ["x", "k"], ["y"], "/m/Mul")], [X(3, 2, 2)], [Y(3, 2, 2)], [init("k", k)])
    case("const_tensor", ['m_param = parameter([3, 1, 1], weight="k");', "m = mul(x, m_param);"], tensors={"k": k[0]})
    save("const_tensor_batch", [node("Mul", ["x", "k"], ["y"], "/m/Mul")], [X(3, 2, 2)], [vinfo("y", [2, 3, 2, 2])],
         [init("k", arr(2, 3, 1, 1))], check=False)
    case("const_tensor_batch", error=["node '/m/Mul' (Mul): the constant operand [2, 3, 1, 1] has more axes than a "
                                      "sample, and not of size 1"])

    save("int8_weight", [node("Conv", ["x", "w"], ["y"], "/c/Conv")], [X(1, 2, 2)], [Y(1, 2, 2)],
         [init("w", np.ones((1, 1, 1, 1), np.int8))], check=False)
    case("int8_weight", error=["the weight 'w' has type INT8; xaic reads parameters of type FLOAT, FLOAT16 or DOUBLE"])
    nanw = arr(1, 1, 1, 1)
    nanw[0, 0, 0, 0] = np.nan
    save("nan_weight", [node("Conv", ["x", "w"], ["y"], "/c/Conv")], [X(1, 2, 2)], [Y(1, 2, 2)], [init("w", nanw)])
    case("nan_weight", error=["the weight 'w' holds NaN or infinity"])
    bad = onnx.TensorProto(name="w", data_type=F, dims=[1, 1, 1, 1], raw_data=b"\0\0\0")
    save("raw_mismatch", [node("Conv", ["x", "w"], ["y"], "/c/Conv")], [X(1, 2, 2)], [Y(1, 2, 2)], [bad], check=False)
    case("raw_mismatch", error=["initializer 'w': raw_data holds 3 bytes but FLOAT [1 elements] needs 4"])
    save("undefined", [node("Add", ["x", "nowhere"], ["y"], "/a/Add")], [X(1, 2, 2)], [Y(1, 2, 2)], check=False)
    case("undefined", error=["node '/a/Add' (Add): input 'nowhere' is not defined by an earlier node"])
    save("softmax_inside", [node("Softmax", ["x"], ["s"], "/s/Softmax"), node("Relu", ["s"], ["y"], "/r/Relu")],
         [vinfo("x", ["N", 3])], [vinfo("y", ["N", 3])])
    case("softmax_inside", ["s = softmax(x);", "r = relu(s);"], tensors={})
    x4 = vinfo("x", ["N", 2, 3, 4])
    save("softmax_axes", [node("Softmax", ["x"], ["a"], "/a/Softmax", axis=1), node("Softmax", ["a"], ["b"], "/b/Softmax", axis=-2),
                          node("Softmax", ["b"], ["c"], "/c/Softmax", axis=3)], [x4], [vinfo("c", ["N", 2, 3, 4])])
    case("softmax_axes", ["a = softmax(x, axis=0);", "b = softmax(a, axis=1);", "c = softmax(b, axis=2);"], tensors={})
    save("softmax_opset11", [node("Softmax", ["x"], ["a"], "/a/Softmax", axis=2), node("Softmax", ["a"], ["b"], "/b/Softmax")],
         [vinfo("x", ["N", 2, 3, 1])], [vinfo("b", ["N", 2, 3, 1])], opset=11)
    case("softmax_opset11", ["a = softmax(x, axis=1);", "b = softmax(a);"], tensors={})
    save("softmax_opset11_axes", [node("Softmax", ["x"], ["a"], "/a/Softmax", axis=2)], [vinfo("x", ["N", 2, 3, 4])],
         [vinfo("a", ["N", 2, 3, 4])], opset=11)
    case("softmax_opset11_axes", error=["node '/a/Softmax' (Softmax): Softmax (opset 11) over several axes of a sample"])
    lw, lb = arr(6), arr(6)
    save("layernorm_opset17", [node("LayerNormalization", ["x", "ln.weight", "ln.bias"], ["l"], "/ln/LayerNormalization",
                                    axis=-1, epsilon=1e-6),
                               node("LayerNormalization", ["l", "w2"], ["y"], "/n2/LayerNormalization", axis=2)],
         [vinfo("x", ["N", 4, 6])], [vinfo("y", ["N", 4, 6])], [init("ln.weight", lw), init("ln.bias", lb), init("w2", lw)],
         opset=17)
    case("layernorm_opset17", ["ln = layernorm(x, eps=1e-06);", 'n2 = layernorm(ln, weight="w2", bias=false);'],
         tensors={"ln.weight": lw, "ln.bias": lb, "w2": lw})
    # PyTorch's export of nn.LayerNorm(elementwise_affine=False): an empty Scale (which onnx.checker refuses)
    save("layernorm_no_affine", [node("LayerNormalization", ["x", ""], ["y"], "/n/LayerNormalization", epsilon=1e-3)],
         [vinfo("x", ["N", 6])], [vinfo("y", ["N", 6])], opset=17, check=False)
    case("layernorm_no_affine", ["n = layernorm(x, eps=0.001, weight=false);"], tensors={})
    save("layernorm_axes", [node("LayerNormalization", ["x", "s"], ["y"], "/ln/LayerNormalization", axis=-2)],
         [vinfo("x", ["N", 4, 6])], [vinfo("y", ["N", 4, 6])], [init("s", arr(4, 6))], opset=17)
    case("layernorm_axes", error=["node '/ln/LayerNormalization' (LayerNormalization): LayerNormalization over several "
                                  "axes of a sample is not supported"])
    save("batch_transpose", [node("Transpose", ["x"], ["y"], "/t/Transpose", perm=[1, 0, 2, 3])], [X(1, 2, 2)],
         [vinfo("y", [1, "N", 2, 2])])
    case("batch_transpose", error=["the graph output 'y' is [1, N, 2, 2], with the batch (N) off the first axis"])
    save("batch_reshape", [node("Reshape", ["x", "t"], ["y"], "/r/Reshape")], [X(2, 2, 2)], [vinfo("y", [4, 2])],
         [init("t", np.array([4, 2], np.int64))])
    case("batch_reshape", error=["node '/r/Reshape' (Reshape): the target shape does not keep the batch"])
    save("batch_flatten", [node("Flatten", ["x"], ["y"], "/f/Flatten", axis=2)], [X(2, 2, 2)], [vinfo("y", ["M", 4])])
    case("batch_flatten", error=["Flatten with axis 2 would mix the batch with other axes"])
    save("batch_concat", [node("Concat", ["x", "x"], ["y"], "/c/Concat", axis=0)], [X(2, 2, 2)], [vinfo("y", ["M", 2, 2, 2])])
    case("batch_concat", error=["node '/c/Concat' (Concat): it works on the batch axis"])
    save("big_constant", [node("ConstantOfShape", ["shape"], ["big"], "/big/ConstantOfShape"),
                          node("Add", ["x", "big"], ["y"], "/a/Add")], [X(1, 2, 2)], [Y(1, 2, 2)],
         [init("shape", np.array([1 << 20, 1 << 20], np.int64))], check=False)
    case("big_constant", error=["node '/big/ConstantOfShape' (ConstantOfShape): folding it would make a constant of more "
                                "than 16777216 elements"])
    save("maxpool_indices", [node("MaxPool", ["x"], ["m", "idx"], "/m/MaxPool", kernel_shape=[2, 2]),
                             node("Cast", ["idx"], ["c"], "/c/Cast", to=F), node("Add", ["m", "c"], ["y"], "/a/Add")],
         [X(1, 4, 4)], [Y(1, 3, 3)], check=False)
    case("maxpool_indices", error=["node '/m/MaxPool' (MaxPool): its output 1 ('idx') is used, but xaic does not compute it"])
    save("output_input", [node("Identity", ["x"], ["y"], "/i/Identity")], [X(1, 2, 2)], [Y(1, 2, 2)])
    case("output_input", error=["the graph output 'y' is the input itself"])
    save("output_const", [node("Relu", ["x"], ["r"], "/r/Relu"), node("Identity", ["k"], ["y"], "/i/Identity")],
         [X(1, 2, 2)], [vinfo("y", [1])], [init("k", np.ones(1, np.float32))])
    case("output_const", error=["the graph output 'y' is a constant"])
    save("pad_maxpool", [node("Pad", ["x", "p"], ["q"], "/p/Pad"), node("MaxPool", ["q"], ["y"], "/m/MaxPool", kernel_shape=[2, 2])],
         [X(1, 2, 2)], [Y(1, 3, 3)], [init("p", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))])
    case("pad_maxpool", error=["a zero Pad before MaxPool is not supported"])
    save("huge_input", relu, [vinfo("x", ["N", 1 << 20, 1 << 20, 4])], [vinfo("y", ["N", 1 << 20, 1 << 20, 4])])
    case("huge_input", error=["input 'x' of shape [N, 1048576, 1048576, 4] is too large"])
    save("huge_conv", [node("Conv", ["x", "w"], ["y"], "/c/Conv", pads=[1 << 20] * 4)], [X(1, 1 << 15, 1 << 15)],
         [Y(1, 1 << 16, 1 << 16)], [init("w", arr(1, 1, 1, 1))], check=False)
    case("huge_conv", error=["node '/c/Conv' (Conv): its output would have the per-sample shape [1, 2129920, 2129920]"])

    save("reduce_channels", [node("ReduceMean", ["x"], ["y"], "/r/ReduceMean", axes=[1])], [X(2, 2, 2)], [Y(1, 2, 2)])
    case("reduce_channels", error=["ReduceMean is supported over the two spatial axes [2, 3] only"])


def ops_many():
    """3000 unnamed nodes: names relu_1 .. relu_3000 (linear time), no line list (lines: null)."""
    n, nodes = 3000, []
    for k in range(n):
        nodes.append(helper.make_node("Relu", ["x" if k == 0 else f"v{k}"], ["y" if k == n - 1 else f"v{k + 1}"]))
    save("many_unnamed", nodes, [vinfo("x", ["N", 2])], [vinfo("y", ["N", 2])])
    case("many_unnamed", None, contains=["    relu_1 = relu(x);\n", "    relu_3000 = relu(relu_2999);\n",
                                         "output relu_3000;"], tensors={})


def ops_attention():
    """torch.onnx's spelling of nn.MultiheadAttention (batch_first): the batch moved to axis 1, merged with the heads
    ([T, N*H, d]) and with the tokens ([T*N, D]) through Reshapes whose targets come from Shape arithmetic, and
    back; a decomposed LayerNorm (exports before opset 17); the class token as Expand of a constant to [N, 1, D]."""
    T, D, H = 3, 4, 2
    x, yv = vinfo("x", ["N", T, D]), vinfo("y", ["N", T, D])

    def dims(prefix, shape_of, parts):
        """Concat of Unsqueezed shape entries: parts are ('dim', k), ('mul', k, m) or ('num', v)"""
        nodes, names = [node("Shape", [shape_of], [prefix + "s"], prefix + "/Shape")], []
        for i, part in enumerate(parts):
            n = f"{prefix}{i}"
            if part[0] == "num":
                nodes.append(const(n + "u", np.array([part[1]], np.int64)))
            else:
                nodes += [const(n + "i", np.array(part[1], np.int64)),
                          node("Gather", [prefix + "s", n + "i"], [n + "g"], f"{prefix}/Gather_{i}", axis=0)]
                last = n + "g"
                if part[0] == "mul":
                    nodes += [const(n + "m", np.array(part[2], np.int64)),
                              node("Mul", [last, n + "m"], [n + "p"], f"{prefix}/Mul_{i}")]
                    last = n + "p"
                nodes += [const(n + "a", np.array([0], np.int64)),
                          node("Unsqueeze", [last, n + "a"], [n + "u"], f"{prefix}/Unsqueeze_{i}")]
            names.append(n + "u")
        return nodes + [node("Concat", names, [prefix + "t"], prefix + "/Concat", axis=0)], prefix + "t"

    W = arr(D, D)
    n1, t1 = dims("/r1", "xs", [("dim", 0), ("mul", 1, H), ("num", D // H)])  # [T, N*H, d]
    n2, t2 = dims("/r2", "xs", [("mul", 1, T), ("num", D)])                    # [T*N, D]
    nodes = [node("Transpose", ["x"], ["xs"], "/seq/Transpose", perm=[1, 0, 2])] + n1 + [
        node("Reshape", ["xs", t1], ["heads"], "/heads/Reshape"),
        node("Transpose", ["heads"], ["ht"], "/ht/Transpose", perm=[1, 0, 2]),
        node("Transpose", ["heads"], ["kt"], "/kt/Transpose", perm=[1, 2, 0]),
        node("MatMul", ["ht", "kt"], ["scores"], "/scores/MatMul"),
        node("Softmax", ["scores"], ["att"], "/att/Softmax", axis=-1),
        node("MatMul", ["att", "ht"], ["ctx"], "/ctx/MatMul"),
        node("Transpose", ["ctx"], ["h"], "/back/Transpose", perm=[1, 0, 2])] + n2 + [
        node("Reshape", ["h", t2], ["flat"], "/flat/Reshape"),
        node("Gemm", ["flat", "proj.W"], ["o"], "/proj/Gemm", transB=1)]
    save("attention_batch_moves",
         nodes + [const("nb", np.array([0], np.int64)), node("Shape", ["x"], ["x_s"], "/xs/Shape"),
                  node("Gather", ["x_s", "nb"], ["nbatch"], "/nb/Gather", axis=0),
                  const("tnd_a", np.array([T], np.int64)), const("tnd_c", np.array([D], np.int64)),
                  node("Concat", ["tnd_a", "nbatch", "tnd_c"], ["tnd"], "/tnd/Concat", axis=0),
                  node("Reshape", ["o", "tnd"], ["o3"], "/unflat/Reshape"),
                  node("Transpose", ["o3"], ["ob"], "/bf/Transpose", perm=[1, 0, 2]),
                  node("Add", ["ob", "x"], ["y"], "/res/Add")],
         [x], [yv], [init("proj.W", W)])
    case("attention_batch_moves", ["heads = reshape(x, [3, 2, 2]);", "ht = transpose(heads, [1, 0, 2]);",
                                   "kt = transpose(heads, [1, 2, 0]);", "scores = matmul(ht, kt);",
                                   "att = softmax(scores, axis=2);", "ctx = matmul(att, ht);",
                                   "back = transpose(ctx, [1, 0, 2]);", "flat = reshape(back, [3, 4]);",
                                   'proj = dense(flat, 4, weight="proj.W", bias=false);', "res = add(proj, x);"],
         tensors={"proj.W": W})
    # a Reshape that would interleave samples: [T, N, D] -> [N, T*D] (the batch would not stay one block)
    save("attention_mixes_samples",
         [node("Transpose", ["x"], ["xs"], "/seq/Transpose", perm=[1, 0, 2]), const("nb", np.array([0], np.int64)),
          node("Shape", ["x"], ["x_s"], "/xs/Shape"), node("Gather", ["x_s", "nb"], ["nbatch"], "/nb/Gather", axis=0),
          const("rest", np.array([T * D], np.int64)),
          node("Concat", ["nbatch", "rest"], ["t"], "/t/Concat", axis=0),
          node("Reshape", ["xs", "t"], ["y"], "/mix/Reshape")], [x], [vinfo("y", ["N", T * D])])
    case("attention_mixes_samples", error=["node '/mix/Reshape' (Reshape): the reshape of [3, N, 4] would mix samples"])
    save("attention_softmax_batch", [node("Transpose", ["x"], ["xs"], "/seq/Transpose", perm=[1, 0, 2]),
                                     node("Softmax", ["xs"], ["s"], "/s/Softmax", axis=1),
                                     node("Transpose", ["s"], ["y"], "/b/Transpose", perm=[1, 0, 2])], [x], [yv])
    case("attention_softmax_batch", error=["node '/s/Softmax' (Softmax): its axis 1 is the one that holds the batch (N) "
                                           "in [3, N, 4]"])
    save("attention_unsupported_op", [node("Transpose", ["x"], ["xs"], "/seq/Transpose", perm=[1, 0, 2]),
                                      node("LayerNormalization", ["xs", "s"], ["n"], "/n/LayerNormalization"),
                                      node("Transpose", ["n"], ["y"], "/b/Transpose", perm=[1, 0, 2])], [x], [yv],
         [init("s", arr(D))], opset=17)
    case("attention_unsupported_op", error=["node '/n/LayerNormalization' (LayerNormalization): its input [3, N, 4] holds "
                                            "the batch (N) off the first axis"])
    # the class token: Expand of a constant [1, 1, D] to [N, 1, D] (the shape through torch's Equal / Where on -1)
    cls = arr(1, 1, D)
    save("class_token",
         [node("Shape", ["x"], ["x_s"], "/s/Shape"), const("i0", np.array(0, np.int64)),
          node("Gather", ["x_s", "i0"], ["n"], "/n/Gather", axis=0), const("ax0", np.array([0], np.int64)),
          node("Unsqueeze", ["n", "ax0"], ["nu"], "/nu/Unsqueeze"), const("m1", np.array([-1, -1], np.int64)),
          node("Concat", ["nu", "m1"], ["want"], "/want/Concat", axis=0), const("neg", np.array([-1, -1, -1], np.int64)),
          node("Equal", ["want", "neg"], ["eq"], "/eq/Equal"), const("ones", np.array([1, 1, 1], np.int64)),
          node("Where", ["eq", "ones", "want"], ["shape"], "/w/Where"),
          node("Expand", ["class_token", "shape"], ["c"], "/cls/Expand"),
          node("Concat", ["c", "x"], ["y"], "/cat/Concat", axis=1)],
         [x], [vinfo("y", ["N", T + 1, D])], [init("class_token", cls)])
    case("class_token", ['cls_param = parameter([1, 4], weight="class_token");', "cat = concat([cls_param, x]);"],
         tensors={"class_token": cls[0]})
    # nn.LayerNorm before opset 17: ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add
    lw, lb = arr(D), arr(D)
    save("layernorm_decomposed",
         [node("ReduceMean", ["x"], ["mu"], "/ln/ReduceMean", axes=[-1]), node("Sub", ["x", "mu"], ["d"], "/ln/Sub"),
          const("two", np.array(2, np.float32)), node("Pow", ["d", "two"], ["d2"], "/ln/Pow"),
          node("ReduceMean", ["d2"], ["var"], "/ln/ReduceMean_1", axes=[-1]), const("eps", np.array(1e-5, np.float32)),
          node("Add", ["var", "eps"], ["ve"], "/ln/Add"), node("Sqrt", ["ve"], ["sd"], "/ln/Sqrt"),
          node("Div", ["d", "sd"], ["nrm"], "/ln/Div"), node("Mul", ["nrm", "ln.weight"], ["sc"], "/ln/Mul"),
          node("Add", ["sc", "ln.bias"], ["y"], "/ln/Add_1")],
         [x], [yv], [init("ln.weight", lw), init("ln.bias", lb)])
    case("layernorm_decomposed", ["ln = layernorm(x);"], tensors={"ln.weight": lw, "ln.bias": lb})  # eps: 1e-5
    # the pattern's Pow used outside it: not a LayerNorm, and Pow alone is not supported
    save("layernorm_pattern_broken",
         [node("ReduceMean", ["x"], ["mu"], "/ln/ReduceMean", axes=[-1]), node("Sub", ["x", "mu"], ["d"], "/ln/Sub"),
          const("three", np.array(3, np.float32)), node("Pow", ["d", "three"], ["y"], "/ln/Pow")], [x], [yv])
    case("layernorm_pattern_broken", error=["node '/ln/ReduceMean' (ReduceMean): it starts a LayerNorm",
                                            "but x - mean must feed one Pow and one Div, only"])
    save("pow_alone", [const("two", np.array(2, np.float32)), node("Pow", ["x", "two"], ["y"], "/p/Pow")], [x], [yv])
    case("pow_alone", error=["node '/p/Pow' (Pow): Pow on network tensors is supported only within a LayerNorm"])
    # following the batch: what it cannot follow is an error
    seq = node("Transpose", ["x"], ["xs"], "/seq/Transpose", perm=[1, 0, 2])
    save("batch_last_matmul", [node("Transpose", ["x"], ["xl"], "/last/Transpose", perm=[1, 2, 0]),
                               node("MatMul", ["xl", "w"], ["m"], "/m/MatMul"),
                               node("Transpose", ["m"], ["y"], "/b/Transpose", perm=[2, 0, 1])],
         [x], [yv], [init("w", arr(2, 2))], check=False)
    case("batch_last_matmul", error=["node '/m/MatMul' (MatMul): it would sum over the axis that holds the batch"])
    save("batch_matrix_axis", [seq, node("MatMul", ["xs", "xs"], ["y"], "/m/MatMul")], [x], [yv], check=False)
    case("batch_matrix_axis", error=["node '/m/MatMul' (MatMul): the batch is on a matrix axis of its operands"])
    save("batch_constant", [seq, node("Add", ["xs", "c"], ["a"], "/a/Add"),
                            node("Transpose", ["a"], ["y"], "/b/Transpose", perm=[1, 0, 2])],
         [x], [yv], [init("c", arr(T, 1, D))])
    case("batch_constant", error=["node '/a/Add' (Add): its constant operand [3, 1, 4] has values along or before "
                                  "ONNX axis 1, which holds the batch here"])
    save("equal_dynamic", [node("Shape", ["x"], ["s"], "/s/Shape"), const("i0", np.array([0], np.int64)),
                           node("Gather", ["s", "i0"], ["n"], "/n/Gather", axis=0), const("one", np.array([1], np.int64)),
                           node("Sub", ["n", "one"], ["n1"], "/n1/Sub"), const("neg", np.array([-1], np.int64)),
                           node("Equal", ["n1", "neg"], ["e"], "/e/Equal"), const("t", np.array([1, 1, 1], np.int64)),
                           const("f", np.array([1, 1, 1], np.int64)), node("Where", ["e", "t", "f"], ["shape"], "/w/Where"),
                           node("Expand", ["x", "shape"], ["y"], "/x/Expand")], [x], [yv], check=False)
    case("equal_dynamic", error=["node '/e/Equal' (Equal): it compares a value computed from the batch size"])
    save("expand_within_sample", [node("Shape", ["x"], ["s"], "/s/Shape"), const("i0", np.array([0], np.int64)),
                                  node("Gather", ["s", "i0"], ["n"], "/n/Gather", axis=0),
                                  const("rest", np.array([T, D], np.int64)),
                                  node("Concat", ["n", "rest"], ["shape"], "/c/Concat", axis=0),
                                  node("Expand", ["tok", "shape"], ["e"], "/e/Expand"),
                                  node("Add", ["x", "e"], ["y"], "/a/Add")],
         [x], [yv], [init("tok", arr(1, 1, D))])
    case("expand_within_sample", error=["node '/e/Expand' (Expand): it expands a constant within a sample"])
    # the packed in-projection: one MatMul to q, k, v side by side, cut by Slices of its output: three dense layers
    Wp, bp = arr(D, 3 * D), arr(3 * D)
    parts = []
    for i, name in enumerate("qkv"):
        parts += [const(f"s{i}", np.array([i * D], np.int64)), const(f"e{i}", np.array([(i + 1) * D], np.int64)),
                  const(f"a{i}", np.array([-1], np.int64)),
                  node("Slice", ["qkv", f"s{i}", f"e{i}", f"a{i}"], [name], f"/{name}/Slice")]
    save("packed_projection", [node("MatMul", ["x", "in.W"], ["m"], "/in/MatMul"),
                               node("Add", ["in.b", "m"], ["qkv"], "/in/Add")] + parts +
         [node("Add", ["q", "k"], ["qk"], "/qk/Add"), node("Add", ["qk", "v"], ["y"], "/y/Add")],
         [x], [yv], [init("in.W", Wp), init("in.b", bp)])
    case("packed_projection", ['q = dense(x, 4, weight="in.W.T[0:4]", bias="in.b[0:4]");',
                               'k = dense(x, 4, weight="in.W.T[4:8]", bias="in.b[4:8]");',
                               'v = dense(x, 4, weight="in.W.T[8:12]", bias="in.b[8:12]");',
                               "qk = add(q, k);", "y = add(qk, v);"],
         tensors={f"in.W.T[{i * D}:{(i + 1) * D}]": Wp.T[i * D:(i + 1) * D] for i in range(3)} |
         {f"in.b[{i * D}:{(i + 1) * D}]": bp[i * D:(i + 1) * D] for i in range(3)})


def fuzz_corpus(outdir):
    global OUT
    OUT = outdir
    os.makedirs(outdir, exist_ok=True)
    ops_conv()
    ops_shapes()
    ops_activations()
    ops_dense()  # after the first three, so that their seeds' random values stay as they were
    ops_errors()
    ops_attention()
    keep = {"conv_basic", "activations", "fusions", "shape_ops", "split_slice", "folded_pads", "matmul_tokens",
            "add_constant_tensor", "gather_token", "gelu", "layernorm_opset17", "attention_batch_moves", "class_token",
            "layernorm_decomposed", "packed_projection"}
    for f in os.listdir(outdir):
        if f.endswith(".onnx"):
            if f[:-5] in keep:
                os.replace(os.path.join(outdir, f), os.path.join(outdir, f[:-5]))
            else:
                os.remove(os.path.join(outdir, f))


def main():
    global OUT
    if len(sys.argv) == 3 and sys.argv[1] == "--fuzz-corpus":
        return fuzz_corpus(sys.argv[2])
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    OUT = sys.argv[1]
    os.makedirs(OUT, exist_ok=True)
    for make in (ops_conv, ops_dense, ops_activations, ops_pools, ops_shapes, ops_bn_names, ops_files, ops_errors, ops_many,
                 ops_attention):
        make()
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(CASES, f, indent=1)
    print(f"{len(CASES)} cases in {OUT}")


if __name__ == "__main__":
    main()
