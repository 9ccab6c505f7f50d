"""A tiny ONNX encoder + decoder pair with SAM's input/output signature, built by the tests themselves (nothing
downloaded), so the real loading, embedding, caching and prompting code runs.

Encoder: the (1, 3, 32, 32) normalised image is its own embedding. Decoder: the mask logits are the embedding's
first channel resized to `orig_im_size`, so on a square test image the mask is where the image is brighter than
SAM's mean colour; the prompt inputs are taken (and must have SAM's shapes) but do not change the answer.
"""

from __future__ import annotations

from pathlib import Path

SIZE = 32


def make_tiny_sam(folder: Path) -> tuple[Path, Path]:
    import onnx
    from onnx import TensorProto, helper

    folder.mkdir(parents=True, exist_ok=True)
    enc = helper.make_graph(
        [helper.make_node("Identity", ["image"], ["image_embeddings"])], "encoder",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("image_embeddings", TensorProto.FLOAT, [1, 3, SIZE, SIZE])])
    const = lambda name, dtype, dims, vals: helper.make_node(  # noqa: E731
        "Constant", [], [name], value=helper.make_tensor(name + "_t", dtype, dims, vals))
    nodes = [
        const("starts", TensorProto.INT64, [1], [0]), const("ends", TensorProto.INT64, [1], [1]),
        const("axes", TensorProto.INT64, [1], [1]),
        helper.make_node("Slice", ["image_embeddings", "starts", "ends", "axes"], ["first"]),
        helper.make_node("Cast", ["orig_im_size"], ["hw"], to=TensorProto.INT64),
        const("ones", TensorProto.INT64, [2], [1, 1]),
        helper.make_node("Concat", ["ones", "hw"], ["sizes"], axis=0),
        helper.make_node("Resize", ["first", "", "", "sizes"], ["masks"], mode="nearest"),
        helper.make_node("ReduceSum", ["point_labels"], ["labels_sum"], keepdims=1),
        helper.make_node("Mul", ["labels_sum", "zero"], ["zero_score"]),
        helper.make_node("Add", ["zero_score", "one"], ["iou_predictions"]),
        const("zero", TensorProto.FLOAT, [1, 1], [0.0]), const("one", TensorProto.FLOAT, [1, 1], [0.9]),
    ]
    nodes = nodes[-2:] + nodes[:-2]
    inputs = [
        helper.make_tensor_value_info("image_embeddings", TensorProto.FLOAT, [1, 3, SIZE, SIZE]),
        helper.make_tensor_value_info("point_coords", TensorProto.FLOAT, [1, "n", 2]),
        helper.make_tensor_value_info("point_labels", TensorProto.FLOAT, [1, "n"]),
        helper.make_tensor_value_info("mask_input", TensorProto.FLOAT, [1, 1, 256, 256]),
        helper.make_tensor_value_info("has_mask_input", TensorProto.FLOAT, [1]),
        helper.make_tensor_value_info("orig_im_size", TensorProto.FLOAT, [2]),
    ]
    outputs = [helper.make_tensor_value_info("masks", TensorProto.FLOAT, [1, 1, "h", "w"]),
               helper.make_tensor_value_info("iou_predictions", TensorProto.FLOAT, [1, 1])]
    dec = helper.make_graph(nodes, "decoder", inputs, outputs)
    paths = folder / "encoder.onnx", folder / "decoder.onnx"
    for graph, path in zip((enc, dec), paths):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        onnx.save(model, str(path))
    return paths
