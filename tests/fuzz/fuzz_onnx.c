/* libFuzzer target for the ONNX importer: any byte string is imported as a model in memory (no external
 * data: no file system access), once as it is and once with an input shape given, so that both the
 * static and the --input-shape paths are reached. Must never crash, leak, hang or trip a sanitizer;
 * errors are expected and ignored. Seeds: tests/fuzz/corpus/onnx (make_onnx_test_models.py --fuzz-corpus). */
#include <stddef.h>
#include <stdint.h>

#include "import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char err[8192];
    xai_import_options o = { .model_path = "fuzz.onnx", .output_path = "fuzz.xai", .command_line = "fuzz" };
    xai_import_result r;
    xai_import_onnx_memory(data, size, NULL, &o, &r, err, sizeof err);
    xai_import_result_free(&r);
    o.input_rank = 3;
    o.input_shape[0] = 3;
    o.input_shape[1] = o.input_shape[2] = 8;
    o.has_input_range = 1;
    o.input_high = 1;
    xai_import_onnx_memory(data, size, NULL, &o, &r, err, sizeof err);
    xai_import_result_free(&r);
    return 0;
}
