/* libxairt: the small runtime that generated code and its users link against.
 * Reentrant, no global mutable state. Every function reports failures through a status code and,
 * where a message helps, a caller-provided buffer (never prints, never aborts). */
#ifndef XAIRT_H
#define XAIRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes: returned by generated entry points and by the runtime ---- */
enum {
    XAI_OK = 0,
    XAI_ENULL = 1,        /* a required pointer argument is NULL */
    XAI_EBATCH = 2,       /* batch < 1 (or too large for the workspace size to be representable) */
    XAI_EALIGN = 3,       /* workspace not 64-byte aligned */
    XAI_ETARGET = 4,      /* a target class outside [0, classes) */
    XAI_ENAN = 5,         /* the input holds NaN or infinity */
    XAI_EWEIGHTS = 6,     /* external weights missing, wrong size or not the file compiled against */
    XAI_EIO = 7,          /* file cannot be opened / read / written */
    XAI_EFORMAT = 8,      /* file is malformed (bad header, truncated, ...) */
    XAI_EDTYPE = 9,       /* unsupported or unexpected element type */
    XAI_ESHAPE = 10,      /* shape does not match what was expected */
    XAI_ENOMEM = 11,      /* out of memory (runtime helpers only; generated code never allocates) */
    XAI_EARG = 12,        /* other invalid argument */
};

/* A short English description of a status code ("workspace not 64-byte aligned"). Never NULL. */
const char *xai_status_string(int status);

/* ---- model description, emitted by the compiler as NET_info ---- */
#define XAI_MAX_RANK 4
typedef struct xai_tensor_info {
    const char *name;
    int32_t rank;                 /* without the batch dimension */
    int32_t shape[XAI_MAX_RANK];
} xai_tensor_info;

typedef struct xai_model_info {
    const char *name;             /* network name */
    xai_tensor_info input;
    xai_tensor_info output;
    float input_low, input_high;  /* the `range` of the input (0, 0 when not given) */
    int32_t has_input_range;
    int32_t n_layers;
    const xai_tensor_info *layers;    /* every named layer with its output shape */
    int32_t n_explanations;
    const char *const *explanations;  /* names E of the NET_E entry points */
    uint32_t weights_crc32;            /* CRC-32 of the safetensors file compiled against (0 if none) */
} xai_model_info;

/* ---- arrays ---- */
/* A dense float32 array, row-major. `data` is owned by the array (free with xai_array_free). */
typedef struct xai_array {
    int32_t rank;
    int64_t shape[8];
    float *data;
} xai_array;

int64_t xai_array_count(const xai_array *a);      /* product of the shape (1 for rank 0) */
void xai_array_free(xai_array *a);                /* frees data, zeroes the struct; NULL-safe */

/* .npy: reads float32 (little or big endian) and converts float64 / uint8 / int32 / int64 to float32
 * when `convert` is non-zero (otherwise any dtype other than <f4 is XAI_EDTYPE). Fortran order is
 * XAI_EFORMAT. On error `err` (if not NULL) receives a one-line message of at most errlen bytes. */
int xai_npy_read(const char *path, xai_array *out, int convert, char *err, size_t errlen);
int xai_npy_write(const char *path, const float *data, int32_t rank, const int64_t *shape,
                  char *err, size_t errlen);

/* PNG through libpng. Reading gives [C, H, W] floats in [0, 1] with C = 1 (gray) or 3 (RGB; alpha
 * dropped; palette expanded). `want_channels` 1 or 3 converts; 0 keeps the file's. */
int xai_png_read(const char *path, int want_channels, xai_array *out, char *err, size_t errlen);
/* Writes [C, H, W] floats in [0, 1] (clamped; C = 1 or 3) as 8-bit PNG. */
int xai_png_write(const char *path, const float *chw, int32_t channels, int32_t height, int32_t width,
                  char *err, size_t errlen);

/* IDX (MNIST format, optionally gzip-compressed: detected by magic). uint8 data becomes floats
 * scaled by `scale` (1/255 for images, 1 for labels); other IDX types are converted as they are. */
int xai_idx_read(const char *path, float scale, xai_array *out, char *err, size_t errlen);

/* ---- safetensors (used by the compiler for weights, and at load time with --weights=external) ---- */
typedef enum { XAI_DT_F32, XAI_DT_F64, XAI_DT_F16, XAI_DT_BF16, XAI_DT_I64, XAI_DT_I32, XAI_DT_I16,
               XAI_DT_I8, XAI_DT_U8, XAI_DT_BOOL, XAI_DT_OTHER } xai_dtype;

typedef struct xai_st_tensor {
    char *name;
    xai_dtype dtype;
    char dtype_name[16];          /* as written in the header, e.g. "F32" */
    int32_t rank;
    int64_t shape[8];
    uint64_t begin, end;          /* byte offsets relative to the data section */
    const unsigned char *data;    /* points into the file buffer */
} xai_st_tensor;

typedef struct xai_safetensors {
    unsigned char *buffer;        /* the whole file (owned unless borrowed) */
    size_t size;
    int borrowed;
    uint64_t header_len;
    size_t data_offset;           /* 8 + header_len */
    int n_tensors;
    xai_st_tensor *tensors;       /* sorted by data offset */
} xai_safetensors;

/* Parses and validates: header length within the file, valid JSON object, every entry with a known
 * dtype string, integer shape and data_offsets, end - begin == product(shape) * dtype size, offsets
 * inside the data section, no two tensors overlapping. Unknown dtypes are accepted as XAI_DT_OTHER
 * (an unused tensor may have any dtype); the caller checks the dtype of tensors it uses. */
int xai_safetensors_open(const char *path, xai_safetensors *st, char *err, size_t errlen);
int xai_safetensors_parse(const void *buffer, size_t size, int copy, xai_safetensors *st,
                          char *err, size_t errlen);   /* copy = 0 borrows `buffer` */
const xai_st_tensor *xai_safetensors_find(const xai_safetensors *st, const char *name);
void xai_safetensors_close(xai_safetensors *st);
size_t xai_dtype_size(xai_dtype dt);                  /* 0 for XAI_DT_OTHER */

/* CRC-32 (zlib's) of a buffer: identifies the weights file a model was compiled against. */
uint32_t xai_crc32(const void *data, size_t len);

/* ---- heatmaps (runtime/heatmap.c; docs/heatmaps.md) ---- */
/* Relevance drawn with matplotlib's diverging `bwr` map centred at zero (blue negative, white zero, red
 * positive) over the symmetric range +-max|R|, optionally blended over the input in grayscale; a batch
 * is laid out as a grid. All-zero fields mean the default. */
typedef struct xai_heatmap_options {
    int32_t overlay;      /* 1: blend the heatmap over the input shown in grayscale (input must be given) */
    float alpha;          /* heatmap opacity in the overlay, 0 -> default 0.6; else in (0, 1] */
    int32_t columns;      /* grid columns for a batch; 0 -> min(batch, 10); more than batch -> batch */
    int32_t scale;        /* integer pixel magnification; 0 -> smallest that makes an image >= 112 px high */
    int32_t shared_range; /* 1: one colour range for the whole batch; 0 (default): each image its own +-max|R| */
    int32_t gap;          /* pixels between grid cells (white); 0 -> 2 (use -1 for none) */
} xai_heatmap_options;

/* RGB in [0,1] of matplotlib's bwr map at t in [-1, 1] (t = R / max|R|): the continuous piecewise-linear
 * map (0,0,1) -> (1,1,1) -> (1,0,0), so t = 0 is exactly white and t, -t are exact mirrors (matplotlib's
 * 256-entry table differs by less than 2/255 per channel; see docs/heatmaps.md). t outside [-1, 1] is
 * clamped; NaN gives black. */
void xai_colormap_bwr(float t, float rgb[3]);

/* relevance: [batch, channels, height, width] floats; summed over channels for display (as the seed does
 * for colour inputs). input: NULL or the same shape (for overlays: shown as its channel mean, min-max
 * normalised to [0, 1] per image). NaN or infinite relevance (or overlay input) is an error (XAI_ENAN),
 * not a silent colour. An all-zero map is white. Writes an 8-bit RGB PNG (through xai_png_write / libpng). opt may be NULL (defaults).
 * In an overlay a pixel's heatmap opacity is alpha * |t|, so zero relevance shows the input unchanged. */
int xai_heatmap_write_png(const char *path, const float *relevance, const float *input, int32_t batch,
                          int32_t channels, int32_t height, int32_t width, const xai_heatmap_options *opt,
                          char *err, size_t errlen);

/* ---- run-time options of explanations (NET_E_ex) and the SmoothGrad noise generator ---- */

/* Parameters users tune at run time. Zero-initialise, then set what you need; every NULL / 0 field
 * means "as compiled". */
typedef struct xai_options {
    const float *baseline;        /* IG baseline / DeepLIFT reference: one input sample (shared by the
                                     batch), or [batch, ...] when baseline_per_sample is set */
    int32_t baseline_per_sample;
    const float *noise;           /* SmoothGrad: [batch, samples, ...input] noise added to the input (replays
                                     a recorded draw exactly); NULL: drawn with xai_normal_fill */
    uint64_t seed;                /* SmoothGrad seed, used when has_seed is set (else the compiled seed) */
    int32_t has_seed;
} xai_options;

/* Fills out[0 .. n) with sigma * N(0, 1) numbers: element k is number (offset + k) of the stream `seed`,
 * a pure function of (seed, offset + k) (Philox4x32-10 counter-based generator, Box-Muller transform),
 * so results are reproducible, independent of batching and threads. */
void xai_normal_fill(float *out, int64_t n, uint64_t seed, uint64_t offset, float sigma);

#ifdef __cplusplus
}
#endif
#endif
