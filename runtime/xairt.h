/* libxairt: the small runtime that generated code and its users link against.
 * Reentrant, no global mutable state. Every function reports failures through a status code and,
 * where a message helps, a caller-provided buffer (never prints, never aborts). */
#ifndef XAIRT_H
#define XAIRT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes: returned by generated entry points and by the runtime ---- */
enum {
    XAI_OK = 0,
    XAI_ENULL = 1,       /* a required pointer argument is NULL */
    XAI_EBATCH = 2,      /* batch < 1 (or too large for the workspace size to be representable) */
    XAI_EALIGN = 3,      /* workspace not 64-byte aligned */
    XAI_ETARGET = 4,     /* a target class outside [0, classes) */
    XAI_ENAN = 5,        /* the input holds NaN or infinity */
    XAI_EWEIGHTS = 6,    /* external weights missing, wrong size or not the file compiled against */
    XAI_EIO = 7,         /* file cannot be opened / read / written */
    XAI_EFORMAT = 8,     /* file is malformed (bad header, truncated, ...) */
    XAI_EDTYPE = 9,      /* unsupported or unexpected element type */
    XAI_ESHAPE = 10,     /* shape does not match what was expected */
    XAI_ENOMEM = 11,     /* out of memory (runtime helpers only; generated code never allocates) */
    XAI_EARG = 12,       /* other invalid argument */
    XAI_EDIVERGED = 13,  /* an optimisation (activation maximisation) reached NaN or infinity: lower lr */
    XAI_ENONFINITE = 14, /* the result holds NaN or infinity although the inputs are finite */
    XAI_EWORKSPACE = 15, /* workspace smaller than NET_workspace_size(batch) (xai_options.workspace_size) */
};

/* A short English description of a status code ("workspace not 64-byte aligned"). Never NULL. */
const char *xai_status_string(int status);

/* ---- model description, emitted by the compiler as NET_info ---- */
#define XAI_MAX_RANK 4
typedef struct xai_tensor_info {
    const char *name;
    int32_t rank; /* without the batch dimension */
    int32_t shape[XAI_MAX_RANK];
} xai_tensor_info;

typedef struct xai_model_info {
    const char *name; /* network name */
    xai_tensor_info input;
    xai_tensor_info output;
    float input_low, input_high; /* the `range` of the input (0, 0 when not given) */
    int32_t has_input_range;
    int32_t n_layers;
    const xai_tensor_info *layers; /* every named layer with its output shape */
    int32_t n_explanations;
    const char *const *explanations; /* names E of the NET_E entry points */
    uint32_t weights_crc32;          /* CRC-32 of the safetensors file compiled against (0 if none) */
} xai_model_info;

/* ---- arrays ---- */
/* A dense float32 array, row-major. `data` is owned by the array (free with xai_array_free). */
typedef struct xai_array {
    int32_t rank;
    int64_t shape[8];
    float *data;
} xai_array;

int64_t xai_array_count(const xai_array *a); /* product of the shape (1 for rank 0) */
void xai_array_free(xai_array *a);           /* frees data, zeroes the struct; NULL-safe */

/* ---- output files (runtime/outfile.c): every file the runtime writes goes through these ----
 * A regular target (or a new file) is written to a temporary file ".NAME.XXXXXX" in the target's directory,
 * then xai_outfile_commit flushes, checks, fsyncs and renames it over the target: readers see the old
 * file or the complete new one, never a part, and a failed write (full disk, quota, file size limit)
 * leaves the previous content byte for byte, with the temporary file removed. Nothing but that temporary
 * file is ever removed or truncated. The replacement keeps the old file's permission bits (a new file gets
 * 0666 minus the umask); a symbolic link stays and the file it names is replaced; a hard link to the old
 * file keeps the old content. A character device (/dev/null, /dev/full) or FIFO that exists at the path
 * is written in place (a FIFO: opening blocks until a reader comes, as `cmd > fifo` does); a directory,
 * block device or socket is an error (XAI_EIO). A process killed between open and commit can leave the
 * temporary file behind (its name starts with a dot and ends with six random characters). */
typedef struct xai_outfile xai_outfile;
enum { XAI_FILE_DASH = 1 }; /* flag: the path "-" means standard output (else a file named "-") */

/* Opens `path` for writing as above; *out receives the output (NULL on failure). XAI_EIO with a message
 * naming the path and the system's reason (no such directory, permission denied, a directory ...). */
int xai_outfile_open(xai_outfile **out, const char *path, int flags, char *err, size_t errlen);
/* The stream to write to (stdio buffered; don't fclose it, don't rely on fileno). */
FILE *xai_outfile_stream(const xai_outfile *o);
/* Finishes the file and frees o, in every case. XAI_OK, or XAI_EIO if any write, the flush, the fsync,
 * the close or the rename failed (for a device: the write error, e.g. ENOSPC from /dev/full; for stdout:
 * a failed flush, e.g. a closed stdout); the message names the path and strerror. */
int xai_outfile_commit(xai_outfile *o, char *err, size_t errlen);
/* Drops the output and frees o (NULL-safe): removes the temporary file, the target is untouched. Buffered
 * data is discarded; what already reached a device, FIFO or stdout stays there. */
void xai_outfile_abort(xai_outfile *o);
/* Commits two outputs that belong together (an object and its header) and frees both, in every case. If
 * either fails to write, neither target changes. The two renames happen while holding an exclusive flock(2)
 * on the directory of each (in a fixed order), so when several processes commit the same pair at the same
 * time the two files end up from the same process: the last to commit. (Readers during the commit may
 * briefly see the new first file next to the old second one.) Where the directory cannot be locked (some
 * NFS mounts) the renames proceed unlocked. If the second rename fails after the first succeeded the
 * message says so; that needs the directory to change under us (both temporaries are in place by then). */
int xai_outfile_commit_pair(xai_outfile *a, xai_outfile *b, char *err, size_t errlen);

/* ---- file readers and writers ----
 * Readers open regular files only: a FIFO, device, socket or directory is XAI_EIO at once ("'P' is not a
 * regular file (it is a FIFO)"), never a blocked or endless read. Sizes from headers are checked for overflow
 * and against the bytes really present before anything is allocated. Writers (npy, PNG, SVG, heatmaps,
 * image grids) write through xai_outfile: the target is replaced whole or stays as it was.
 *
 * .npy: reads float32 (little or big endian) and converts float64 / uint8 / int32 / int64 to float32
 * when `convert` is non-zero (otherwise any dtype other than <f4 is XAI_EDTYPE). Fortran order is
 * XAI_EFORMAT. On error `err` (if not NULL) receives a one-line message of at most errlen bytes. */
int xai_npy_read(const char *path, xai_array *out, int convert, char *err, size_t errlen);
int xai_npy_write(const char *path, const float *data, int32_t rank, const int64_t *shape, char *err, size_t errlen);

/* PNG through libpng. Reading gives [C, H, W] floats in [0, 1] with C = 1 (gray) or 3 (RGB; alpha
 * dropped; palette expanded). `want_channels` 1 or 3 converts; 0 keeps the file's. Ancillary chunks (text,
 * ICC profiles, ...) are skipped unread; an image whose pixels cannot fit in the file's size (deflate packs
 * at most 1032 bytes into one) is XAI_EFORMAT. */
int xai_png_read(const char *path, int want_channels, xai_array *out, char *err, size_t errlen);
/* Writes [C, H, W] floats in [0, 1] (clamped; C = 1 or 3) as 8-bit PNG. */
int xai_png_write(const char *path, const float *chw, int32_t channels, int32_t height, int32_t width, char *err,
                  size_t errlen);

/* IDX (MNIST format, optionally gzip-compressed: detected by magic). uint8 data becomes floats
 * scaled by `scale` (1/255 for images, 1 for labels); other IDX types are converted as they are. */
int xai_idx_read(const char *path, float scale, xai_array *out, char *err, size_t errlen);

/* JPEG through libjpeg-turbo, as xai_png_read: [C, H, W] floats u / 255 (C = 1 gray, 3 RGB; want_channels 1 or
 * 3 converts, 0 keeps the file's). CMYK files are XAI_EFORMAT; so is a file cut short (libjpeg would fill the
 * rest with gray). At most 2^28 pixels, 1024 per byte of file, 500 progressive scans. */
int xai_jpeg_read(const char *path, int want_channels, xai_array *out, char *err, size_t errlen);

/* ==== data sets (docs/scaling.md): records read a chunk at a time, images prepared as torchvision does,
 * outputs filled region by region ==== */

/* A .npy [N, ...] (float32; other numeric dtypes converted when `convert` is set, as xai_npy_read) or an IDX file (uint8 times idx_scale; plain or gzip) read a
 * record at a time: the file is memory-mapped (gzip: inflated as it is read) and pages are released after each
 * read, so memory stays that of the records asked for. The header is checked as xai_npy_read / xai_idx_read
 * do; a file shorter than its header says opens: `complete` counts the records wholly present, and reading
 * further is XAI_EFORMAT naming the file and the first missing record. */
typedef struct xai_records xai_records;
typedef struct xai_records_info {
    int32_t rank;
    int64_t shape[8];      /* as declared: shape[0] records */
    int64_t records;       /* shape[0] */
    int64_t record_values; /* values per record: the product of shape[1..] */
    int64_t complete;      /* records wholly in the file (gzip: not known before reading, = records) */
} xai_records_info;
int xai_records_open(const char *path, float idx_scale, int convert, xai_records **out, xai_records_info *info,
                     char *err, size_t errlen);
/* Records [first, first + count) as float32 into out (count * record_values). *done (may be NULL) receives how
 * many were written before an error. Reads in increasing order are cheapest (gzip goes back by starting over). */
int xai_records_read(xai_records *r, int64_t first, int64_t count, float *out, int64_t *done, char *err, size_t errlen);
void xai_records_close(xai_records *r); /* NULL-safe */

/* A network's input from an image file, as torchvision's PIL pipeline makes it (bit for bit, runtime/image_prep.c):
 * decoded to 8 bits (PNG: alpha dropped, 16 bits to their high byte; JPEG: as xai_jpeg_read), converted to
 * `channels` (gray = PIL's (19595 R + 38470 G + 7471 B + 2^15) >> 16), resized with PIL's bilinear filter
 * (antialiased when shrinking), centre-cropped, then (u / 255 - mean) / std. The result must be channels x
 * height x width, else XAI_ESHAPE saying what the image became. All-zero std: no normalisation (u / 255). */
typedef struct xai_image_prep {
    int32_t channels, height, width;     /* the result [channels (1 or 3), height, width] */
    int32_t resize;                      /* > 0: the shorter side to this, the longer in proportion (Resize(S)) */
    int32_t resize_height, resize_width; /* > 0: exactly this size (Resize([h, w])); not with resize */
    int32_t crop_height, crop_width;     /* > 0: centre crop (CenterCrop), zero-padded when the image is smaller */
    float mean[3], std[3];               /* per channel */
} xai_image_prep;
int xai_image_prep_check(const xai_image_prep *p, char *err, size_t errlen);
/* out: channels * height * width floats. PNG or JPEG is told by the file's signature, not its name. */
int xai_image_read(const char *path, const xai_image_prep *p, float *out, char *err, size_t errlen);
int xai_image_prepare(const void *bytes, size_t size, const char *label, const xai_image_prep *p, float *out, char *err,
                      size_t errlen);

/* A set of image files: a directory's *.png, *.jpg, *.jpeg (any case; not hidden files, not recursing) in byte
 * order of their names, or a list file with one image per line, `PATH` or `PATH CLASS` (CLASS: the last field,
 * decimal digits, after white space; on every line or on none), blank lines and # comments skipped, relative
 * paths taken from the list file's directory. */
typedef struct xai_image_list {
    int64_t count;
    char *text;      /* the names, NUL-separated */
    int64_t *offset; /* [count]: each name in text */
    int32_t *labels; /* [count], or NULL when the list gives no classes */
    char *dir;       /* what relative names are relative to */
} xai_image_list;
int xai_image_list_open(const char *path, xai_image_list *out, char *err, size_t errlen);
/* The path of image i (dir/name, or the name when absolute) into buf; XAI_EARG if it does not fit. */
int xai_image_list_path(const xai_image_list *l, int64_t i, char *buf, size_t len);
void xai_image_list_free(xai_image_list *l);

/* A float32 .npy created at its final size and filled region by region, from several processes if need be
 * (each opens it; regions must not overlap): the exception to xai_outfile, for outputs too large to hold and
 * jobs that resume. XAI_NPY_CREATE makes `path` (replacing what is there) with xai_npy_write's header and
 * sparse zero data; XAI_NPY_REOPEN opens such a file, checking that its size and header are those of `shape`.
 * Records are along shape[0]. Writes are not durable before xai_npy_sized_sync (fdatasync). commit syncs and
 * renames the file over `target` in one atomic step (a link's file is replaced; a regular target keeps its
 * permissions; anything else is refused), and closes it in every case; close leaves the file where it is. */
typedef struct xai_npy_sized xai_npy_sized;
enum { XAI_NPY_CREATE = 0, XAI_NPY_REOPEN = 1 };
int xai_npy_sized_open(const char *path, int32_t rank, const int64_t *shape, int flags, xai_npy_sized **out, char *err,
                       size_t errlen);
int xai_npy_sized_write(xai_npy_sized *f, int64_t first, int64_t count, const float *rows, char *err, size_t errlen);
int xai_npy_sized_read(xai_npy_sized *f, int64_t first, int64_t count, float *rows, char *err, size_t errlen);
int xai_npy_sized_sync(xai_npy_sized *f, char *err, size_t errlen);
int xai_npy_sized_commit(xai_npy_sized *f, const char *target, char *err, size_t errlen);
int xai_npy_sized_close(xai_npy_sized *f);

/* ==== end of data sets ==== */

/* ---- safetensors (used by the compiler for weights, and at load time with --weights=external) ---- */
typedef enum {
    XAI_DT_F32,
    XAI_DT_F64,
    XAI_DT_F16,
    XAI_DT_BF16,
    XAI_DT_I64,
    XAI_DT_I32,
    XAI_DT_I16,
    XAI_DT_I8,
    XAI_DT_U8,
    XAI_DT_BOOL,
    XAI_DT_OTHER
} xai_dtype;

typedef struct xai_st_tensor {
    char *name;
    xai_dtype dtype;
    char dtype_name[16]; /* as written in the header, e.g. "F32" */
    int32_t rank;
    int64_t shape[8];
    uint64_t begin, end;       /* byte offsets relative to the data section */
    const unsigned char *data; /* points into the file buffer */
} xai_st_tensor;

typedef struct xai_safetensors {
    unsigned char *buffer; /* the whole file (owned unless borrowed) */
    size_t size;
    int borrowed;
    uint64_t header_len;
    size_t data_offset; /* 8 + header_len */
    int n_tensors;
    xai_st_tensor *tensors; /* sorted by data offset */
} xai_safetensors;

/* Parses and validates: header length within the file, valid JSON object, every entry with a known
 * dtype string, integer shape and data_offsets, end - begin == product(shape) * dtype size, offsets
 * inside the data section, no two tensors overlapping. Unknown dtypes are accepted as XAI_DT_OTHER
 * (an unused tensor may have any dtype); the caller checks the dtype of tensors it uses. */
int xai_safetensors_open(const char *path, xai_safetensors *st, char *err, size_t errlen);
int xai_safetensors_parse(const void *buffer, size_t size, int copy, xai_safetensors *st, char *err,
                          size_t errlen); /* copy = 0 borrows `buffer` */
const xai_st_tensor *xai_safetensors_find(const xai_safetensors *st, const char *name);
void xai_safetensors_close(xai_safetensors *st);
size_t xai_dtype_size(xai_dtype dt); /* 0 for XAI_DT_OTHER */

/* CRC-32 (zlib's) of a buffer: identifies the weights file a model was compiled against. */
uint32_t xai_crc32(const void *data, size_t len);

/* Writing (runtime/safetensors_write.c). A tensor to write: data holds product(shape) elements of dtype
 * (any dtype but XAI_DT_OTHER), little-endian; it may be NULL only when that product is 0. */
typedef struct xai_st_entry {
    const char *name; /* unique, non-empty, not "__metadata__" */
    xai_dtype dtype;
    int32_t rank; /* 0 .. 8 */
    int64_t shape[8];
    const void *data;
} xai_st_entry;
/* The file image: the header JSON (cJSON) padded with spaces to a multiple of 8 bytes, then the data of the
 * tensors back to back, ordered by element size (largest first) then name, as the reference writer lays
 * them out. metadata: NULL, or key, value, key, value, ..., NULL (strings). *out is malloc'd. */
int xai_safetensors_serialize(const xai_st_entry *tensors, int n, const char *const *metadata, unsigned char **out,
                              size_t *size, char *err, size_t errlen);
/* The same written to path through a temporary file in its directory renamed into place (no half-written
 * file is ever visible under path; on failure path is left as it was). */
int xai_safetensors_write(const char *path, const xai_st_entry *tensors, int n, const char *const *metadata, char *err,
                          size_t errlen);

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
    int32_t colormap;     /* XAI_COLORMAP_*: 0 (bwr, diverging) is the default */
} xai_heatmap_options;

/* Colour maps, by matplotlib's names. bwr is diverging (t = R / max|R| in [-1, 1], zero white); the others
 * are sequential over the seed's pixel_range: [min, max] of the map when min * max >= 0, else +-max|R|. */
enum { XAI_COLORMAP_BWR, XAI_COLORMAP_HOT, XAI_COLORMAP_HOT_R, XAI_COLORMAP_VIRIDIS, XAI_COLORMAP_GRAY };

/* XAI_COLORMAP_* of "bwr", "hot", "hot_r", "viridis" or "gray"; -1 for any other name (or NULL). */
int32_t xai_colormap_from_name(const char *name);
/* The name of XAI_COLORMAP_* map; NULL when map is none. */
const char *xai_colormap_name(int32_t map);
/* RGB in [0,1] of a sequential map (hot, hot_r, viridis, gray) at u in [0, 1], exactly as matplotlib draws
 * it: entry min(255, floor(256 u)) of its 256-entry table (u clamped to [0, 1]). NaN or another map: black. */
void xai_colormap(int32_t map, float u, float rgb[3]);

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
int xai_heatmap_write_png(const char *path, const float *relevance, const float *input, int32_t batch, int32_t channels,
                          int32_t height, int32_t width, const xai_heatmap_options *opt, char *err, size_t errlen);

/* A batch of images [batch, channels (1 or 3), height, width] as one PNG grid, each image min-max normalised
 * to the full gray (or colour) range as matplotlib's imshow does; white gaps of 2 pixels. columns 0 ->
 * min(batch, 5); scale 0 -> the smallest integer magnification giving cells >= 112 px high. */
int xai_image_grid_write_png(const char *path, const float *images, int32_t batch, int32_t channels, int32_t height,
                             int32_t width, int32_t columns, int32_t scale, char *err, size_t errlen);

/* ---- run-time options of explanations (NET_E_ex) and the SmoothGrad noise generator ---- */

/* Parameters users tune at run time. Zero-initialise, then set what you need; every NULL / 0 field
 * means "as compiled". */
typedef struct xai_options {
    const float *baseline; /* IG baseline / DeepLIFT reference: one input sample (shared by the
                                     batch), or [batch, ...] when baseline_per_sample is set */
    int32_t baseline_per_sample;
    const float *noise; /* SmoothGrad: [batch, samples, ...input] noise added to the input (replays
                                     a recorded draw exactly); NULL: drawn with xai_normal_fill */
    uint64_t seed;      /* SmoothGrad seed, used when has_seed is set (else the compiled seed) */
    int32_t has_seed;
    /* activation maximisation (baseline above, when given, is the centre of its regulariser) */
    int32_t steps; /* iterations; 0: as compiled */
    float *code;   /* with a generator: receives the optimised codes [batch, code] (NULL: not kept) */
    void (*progress)(void *context, int64_t done, int64_t total); /* called about 100 times per run (NULL: never) */
    void *progress_context;
    /* The workspace's size in bytes (0: not given, unchecked). When given and smaller than
     * NET_workspace_size(batch), the entry returns XAI_EWORKSPACE before touching the workspace. */
    size_t workspace_size;
} xai_options;

/* Fills out[0 .. n) with sigma * N(0, 1) numbers: element k is number (offset + k) of the stream `seed`,
 * a pure function of (seed, offset + k) (Philox4x32-10 counter-based generator, Box-Muller transform),
 * so results are reproducible, independent of batching and threads. */
void xai_normal_fill(float *out, int64_t n, uint64_t seed, uint64_t offset, float sigma);

/* ---- threads: the parallel loops of generated code (runtime/parallel.c; docs/performance.md) ---- */

/* Runs body(ctx, begin, end) over disjoint ranges that cover [0, n) exactly once, each at least `grain`
 * long (except the last), on a process-wide pool of threads and the calling thread; returns when all have
 * run. Inline on the calling thread when n <= grain, with one thread, or while another call owns the pool
 * (concurrent callers never wait for each other). Generated code (unless compiled with --threads=off)
 * calls it for its large dense / conv2d loops, splitting only independent outputs, so results are
 * bitwise the same for any thread count. The body must not throw or longjmp. */
void xai_parallel_for(void (*body)(void *ctx, int64_t begin, int64_t end), void *ctx, int64_t n, int64_t grain);
/* Threads a parallel loop may use (the caller's included): n >= 1, or n <= 0 for the default, which is
 * the environment variable XAI_NUM_THREADS or else the number of CPUs the process may run on. Takes effect
 * at the next loop; creates the pool's threads now (otherwise the first large loop does). Thread-safe. */
void xai_set_num_threads(int n);
int xai_get_num_threads(void);
/* ---- end of threads ---- */

/* ==== explanation quality: continuity and selectivity (runtime/metrics.c, plot_svg.c; docs/evaluation.md) ==== */

/* Any generated NET_forward / NET_E fits these. */
typedef int (*xai_forward_fn)(const float *x, float *y, int32_t batch, void *workspace);
typedef int (*xai_explain_fn)(const float *x, const int32_t *target, float *out, int32_t batch, void *workspace);

/* The network the metrics drive. forward and explain are called one after the other (never at the same
 * time) with at most max_batch samples, so one workspace of NET_workspace_size(max_batch) bytes, 64-byte
 * aligned, serves both. The input is [C, H, W] (a flat [D] network: any C * H * W = D). explain writes
 * relevance_channels x H x W values per sample: C (the input's shape) or 1 (CAM maps); 0 means C. */
typedef struct xai_eval_model {
    xai_forward_fn forward;
    xai_explain_fn explain;
    void *workspace;
    int32_t max_batch;
    int32_t channels, height, width;
    int32_t classes; /* values forward writes per sample */
    int32_t relevance_channels;
} xai_eval_model;

/* f, the value whose decay is tracked: the target's logit, or ReLU of it (the seed's choice, default) */
enum { XAI_TRACK_RELU_LOGIT = 0, XAI_TRACK_LOGIT = 1 };
/* which patch goes next: the highest relevance sum (default) or the lowest */
enum { XAI_FLIP_MOST_RELEVANT_FIRST = 0, XAI_FLIP_LEAST_RELEVANT_FIRST = 1 };
/* where patches may lie: on the fixed grid below (default), or anywhere, as the seed's find_roi slides a
 * patch x patch window with stride 1 (runtime/metrics_windows.c) */
enum { XAI_WINDOWS_GRID = 0, XAI_WINDOWS_SLIDING = 1 };

/* Pixel flipping. On the grid (XAI_WINDOWS_GRID), the image is cut into patch x patch squares from the
 * top-left corner; when H or W is not a multiple of patch the last row / column of the grid holds smaller
 * patches (the leftover pixels), scored by their plain sum. Patch k (row-major over the grid) covers every
 * channel. All-zero fields mean the default. */
typedef struct xai_selectivity_options {
    int32_t patch;   /* side in pixels; 0 -> 4 */
    int32_t steps;   /* patches removed, L; 0 -> 20; at most xai_selectivity_max_steps */
    int32_t order;   /* XAI_FLIP_* */
    int32_t tracked; /* XAI_TRACK_* */
    float baseline;  /* the value a removed patch is set to (0) */
    int32_t windows; /* XAI_WINDOWS_*; sliding is described at xai_selectivity_max_steps */
} xai_selectivity_options;

/* Patches in an height x width image: ceil(height / patch) * ceil(width / patch); 0 if an argument < 1. */
int32_t xai_patch_count(int32_t height, int32_t width, int32_t patch);

/* Sets patch `index` (row-major over the grid above) of one image [C, H, W] to `value` in every channel:
 * replays a flipping sequence from xai_selectivity's `removed`. An index outside the grid does nothing. */
void xai_patch_fill(float *image, int32_t channels, int32_t height, int32_t width, int32_t patch, int32_t index,
                    float value);

/* Sliding windows (XAI_WINDOWS_SLIDING), the seed's find_roi: every patch x patch window wholly inside the
 * image, at any (row, col), is a candidate; a window touching a pixel of an already removed window is
 * excluded; the candidate with the highest (lowest) relevance sum wins, ties to the first in row-major
 * order of (row, col); when every window is excluded, (0, 0) is chosen again, as np.argmax of an all -inf
 * array is 0. Sums are exact (fixed point, so equal sums tie exactly), from summed-area tables: O(C*H*W)
 * per step. `removed` then holds row * width + col of each window's top-left pixel.
 * The most steps: grid, xai_patch_count; sliding, floor(H/P) * floor(W/P), the disjoint windows a grid of
 * whole patches holds (a greedy run may exhaust the free windows sooner and then repeats (0, 0)).
 * 0 if an argument < 1, windows is unknown, or height * width exceeds INT32_MAX (sliding). */
int32_t xai_selectivity_max_steps(int32_t height, int32_t width, int32_t patch, int32_t windows);

/* Sets the patch x patch window whose top-left pixel is `index` = row * width + col (clipped to the image)
 * of one image [C, H, W] to `value` in every channel: replays a sliding-window sequence from `removed`.
 * An index outside [0, height * width) does nothing. */
void xai_window_fill(float *image, int32_t channels, int32_t height, int32_t width, int32_t patch, int32_t index,
                     float value);

/* For each of the n images x[n, C, H, W]: record f(x^0); then, L times: explain the current image x^k,
 * set the not yet removed patch with the highest (or lowest) relevance sum to the baseline (ties: the
 * lowest patch index; sliding windows: the rule above), record f(x^{k+1}). target: n classes, or NULL for
 * each image's arg-max on x^0; the class stays fixed along the curve. Outputs (row-major, only curves is required):
 *   curves[n, L + 1]     f after 0 .. L removals
 *   aopc[n]              1/(L+1) sum_{k=0..L} (f(x^0) - f(x^k))  (Samek et al. 2017)
 *   removed[n, L]        the patch index (grid) or window top-left pixel (sliding) removed at each step
 *   relevance[n, L, relevance_channels, H, W]   the heatmap each choice was made from
 * Allocation: O(max_batch x (input + relevance + classes + patches)) bytes of scratch with malloc (sliding:
 * H x W flags per image and two summed-area tables of 16 bytes per pixel instead of the patches), freed
 * before returning (XAI_ENOMEM if that fails). Errors: XAI_ENULL, XAI_EARG (options, shapes), XAI_EBATCH
 * (n or max_batch < 1), XAI_ETARGET, XAI_ENAN (relevance not finite), or the status of a failed generated
 * call; err receives one line saying what to change. */
int xai_selectivity(const xai_eval_model *m, const float *x, const int32_t *target, int32_t n,
                    const xai_selectivity_options *opt, float *curves, float *aopc, int32_t *removed, float *relevance,
                    char *err, size_t errlen);

/* Continuity: each image translated horizontally by every shift t in [shift_min, shift_max] (t > 0 moves
 * it right; columns shifted in take `fill`). All-zero fields mean the default (shifts -20 .. 20, fill 0). */
typedef struct xai_continuity_options {
    int32_t shift_min, shift_max;
    int32_t tracked; /* XAI_TRACK_* */
    float fill;
} xai_continuity_options;

/* Writes one image x[C, H, W] shifted by `shift` columns into out (same shape; must not overlap x). */
void xai_shift_horizontal(const float *x, float *out, int32_t channels, int32_t height, int32_t width, int32_t shift,
                          float fill);

/* For each of the n images and each of the S = shift_max - shift_min + 1 shifts: f and the relevance
 * summed per quadrant, R1 = rows [0, H/2) x cols [0, W/2) (top-left), R2 top-right, R3 bottom-right,
 * R4 bottom-left (integer halves: an odd middle row / column belongs to the bottom / right). The
 * continuity number is max over consecutive shifts of ||R(x) - R(x')||_1 / ||x - x'||_2, pairs with
 * x = x' skipped; NaN when every pair is skipped. Lower is better. target as in xai_selectivity.
 *   values[n, S], quadrants[n, S, 4], continuity[n], relevance[n, S, relevance_channels, H, W]
 * (values is required, the rest may be NULL). Allocation and errors as xai_selectivity. */
int xai_continuity(const xai_eval_model *m, const float *x, const int32_t *target, int32_t n,
                   const xai_continuity_options *opt, float *values, float *quadrants, float *continuity,
                   float *relevance, char *err, size_t errlen);

/* Line plots as SVG text (axes, ticks, labels, legend, title) for curves such as the above. */
typedef struct xai_plot_series {
    const char *label;
    const float *y; /* n_points values; NaN or infinity leaves a gap in the line */
} xai_plot_series;

typedef struct xai_plot {
    const char *title, *x_label, *y_label; /* NULL: none */
    const float *x;                        /* n_points increasing abscissae */
    int32_t n_points;                      /* >= 2 */
    const xai_plot_series *series;
    int32_t n_series;      /* 1 .. 12 */
    int32_t width, height; /* pixels; 0 -> 720 x 450 */
    int32_t y_from_zero;   /* 1: the y axis starts at 0 (or below, if a value is negative) */
} xai_plot;

int xai_plot_write_svg(const char *path, const xai_plot *plot, char *err, size_t errlen);

/* ==== end of explanation quality ==== */

#ifdef __cplusplus
}
#endif
#endif
