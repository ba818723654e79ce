/* The ONNX importer: an ONNX model -> a readable .xai network (one line per layer) and a safetensors
 * file with the parameters it reads (docs/import.md). Depends on libxairt and protobuf-c only.
 * Errors are one message (several lines when several nodes are unsupported) naming the node; the
 * functions never print except the progress lines asked for, never abort, and free everything. */
#ifndef XAI_IMPORT_H
#define XAI_IMPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define XAI_IMPORT_MAX_RANK 4 /* per-sample rank of every tensor of an imported network */

typedef struct xai_import_options {
    const char *model_path; /* MODEL.onnx (xai_import_onnx); in memory only a label for messages (may be NULL) */
    const char
        *output_path; /* NET.xai; NULL: MODEL.xai beside the model. The weights go beside it as NET.safetensors */
    const char *weights_file; /* in memory: the name the `weights` statement gives (NULL: NET.safetensors);
                                   xai_import_onnx always writes NET.safetensors beside NET.xai */
    const char *name;         /* network name; NULL: the output file's stem (made an identifier) */
    int32_t input_rank;       /* > 0: the per-sample input shape (--input-shape), for models whose dims are dynamic */
    int64_t input_shape[XAI_IMPORT_MAX_RANK];
    int32_t has_input_range; /* --input-range: written as `range [low, high]` on the input */
    double input_low, input_high;
    const char *command_line;  /* recorded in the header comment (NULL: not recorded) */
    const char *node_map_path; /* xai_import_onnx: also write the node map (see below) there; NULL: don't */
    FILE *progress;            /* a short line per phase (NULL: quiet) */
} xai_import_options;

typedef struct xai_import_result {
    char *xai; /* the .xai text, NUL-terminated */
    size_t xai_len;
    unsigned char *weights; /* the safetensors file */
    size_t weights_len;
    /* What became of every ONNX node, one line each, tab-separated:
     *   index  node-name  op  fate  layer  shape
     * fate: layer (the node is that layer), merged (folded into that layer, e.g. a Pad into a conv),
     * alias (Identity, Dropout, a no-op reshape: the layer is its input), folded (computed at import:
     * shape arithmetic, constants), unused (nothing the output depends on); shape: the per-sample shape
     * of the node's first output when it is a network tensor ("[64,56,56]"), else "-". */
    char *node_map;
} xai_import_result;

/* Reads o->model_path and writes NET.xai and NET.safetensors (each through a temporary file renamed
 * into place). Returns 0, or an XAI_E* status with the message in err. */
int xai_import_onnx(const xai_import_options *o, char *err, size_t errlen);

/* The same from a model in memory. base_dir is where external data files are looked for (NULL: a model
 * with external data is an error). Nothing is written; out receives the files' contents (free with
 * xai_import_result_free, also after an error). */
int xai_import_onnx_memory(const void *model, size_t size, const char *base_dir, const xai_import_options *o,
                           xai_import_result *out, char *err, size_t errlen);
void xai_import_result_free(xai_import_result *r);

/* `xaic import MODEL.onnx [-o NET.xai] [--name NAME] [--input-shape C,H,W] [--input-range LOW,HIGH]
 * [--node-map FILE]`; argv[0] is "import". Returns the exit status (0, 1 on a bad model, 2 on a usage error). */
int import_main(int argc, char **argv);

#endif
