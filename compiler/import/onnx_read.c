/* Reading an ONNX model: protobuf-c decodes it (through an allocation budget, so that a small hostile
 * file cannot make it allocate without bound), then the model-level checks (opset, graph), and the
 * decoding of tensors - raw_data, the typed fields or an external data file - into constants. Every
 * size is checked against the bytes that hold it before anything is allocated for it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx_internal.h"

#define PB_HEADER 16 /* bytes before each protobuf-c allocation: its size (keeps max alignment) */

static void *budget_alloc(void *data, size_t size)
{
    imp *im = data;
    if (size > im->pb_limit - im->pb_used) {
        im->pb_exceeded = 1;
        return NULL;
    }
    unsigned char *p = malloc(size + PB_HEADER);
    if (!p) {
        im->pb_exceeded = 1;
        return NULL;
    }
    memcpy(p, &size, sizeof size);
    im->pb_used += size;
    return p + PB_HEADER;
}

static void budget_free(void *data, void *ptr)
{
    if (!ptr) return;
    imp *im = data;
    unsigned char *p = (unsigned char *)ptr - PB_HEADER;
    size_t size;
    memcpy(&size, p, sizeof size);
    im->pb_used -= size;
    free(p);
}

int64_t default_opset_version(const Onnx__ModelProto *m)
{
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        const char *d = o->domain ? o->domain : "";
        if ((!d[0] || !strcmp(d, "ai.onnx")) && o->has_version) return o->version;
    }
    return -1;
}

int read_model(imp *im, const void *bytes, size_t size)
{
    if (size == 0) return imp_fail(im, "%s: the file is empty", im->label);
    /* protobuf-c's structures take a few times the encoded size for real models (weights are copied
     * once); a hostile file of tiny nested messages would take up to ~100 times, hence the budget. */
    im->pb_limit = (size_t)256 << 20;
    if (size < ((size_t)1 << 40)) im->pb_limit += size * 4;
    im->pb_alloc = (ProtobufCAllocator){ .alloc = budget_alloc, .free = budget_free, .allocator_data = im };
    im->model = onnx__model_proto__unpack(&im->pb_alloc, size, bytes);
    if (!im->model) {
        if (im->pb_exceeded)
            return imp_fail(im,
                            "%s: decoding the model needs more than %zu MB of memory: the file is corrupt or "
                            "hostile",
                            im->label, im->pb_limit >> 20);
        return imp_fail(im, "%s: not an ONNX model: the protobuf is truncated or corrupt", im->label);
    }
    const Onnx__ModelProto *m = im->model;
    if (!m->graph || (m->graph->n_node == 0 && m->graph->n_input == 0 && m->graph->n_output == 0))
        return imp_fail(im, "%s: not an ONNX model: it holds no graph (truncated or another kind of protobuf?)",
                        im->label);
    im->graph = m->graph;
    im->opset = default_opset_version(m);
    if (im->opset < 0)
        return imp_fail(im, "%s: the model declares no opset version for the default ONNX domain", im->label);
    if (im->opset < 11 || im->opset > 17)
        return imp_fail(im,
                        "%s: opset %lld is not supported: xaic imports opsets 11 to 17 (export again with "
                        "torch.onnx.export(..., opset_version=17))",
                        im->label, (long long)im->opset);
    if (im->graph->n_node > MAX_NODES)
        return imp_fail(im, "%s: the graph has %zu nodes, more than the %d xaic imports", im->label, im->graph->n_node,
                        MAX_NODES);
    return 0;
}

void free_model(imp *im)
{
    if (im->model) onnx__model_proto__free_unpacked(im->model, &im->pb_alloc);
    im->model = NULL;
}

/* Element size in raw_data; 0 for types the importer does not read. */
static int elem_size(int32_t t)
{
    switch (t) {
    case OT_FLOAT:
    case OT_INT32:
    case OT_UINT32: return 4;
    case OT_DOUBLE:
    case OT_INT64:
    case OT_UINT64: return 8;
    case OT_FLOAT16:
    case OT_BFLOAT16:
    case OT_INT16:
    case OT_UINT16: return 2;
    case OT_INT8:
    case OT_UINT8:
    case OT_BOOL: return 1;
    default: return 0;
    }
}

static int is_float_type(int32_t t) { return t == OT_FLOAT || t == OT_DOUBLE || t == OT_FLOAT16 || t == OT_BFLOAT16; }

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f)
        bits = sign | 0x7f800000u | (man << 13); /* inf, NaN */
    else if (exp)
        bits = sign | ((exp + 112) << 23) | (man << 13); /* normal: rebias 15 -> 127 */
    else if (!man)
        bits = sign; /* zero */
    else {           /* subnormal: normalise */
        exp = 113;
        while (!(man & 0x400)) {
            man <<= 1;
            exp--;
        }
        bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static uint64_t le_bytes(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int k = n - 1; k >= 0; k--) v = v << 8 | p[k];
    return v;
}

/* Fills c from little-endian raw bytes (count * elem_size of them). */
static int decode_raw(imp *im, ctensor *c, const unsigned char *p, const char *what)
{
    int es = elem_size(c->onnx_type);
    for (int64_t k = 0; k < c->count; k++, p += es) {
        uint64_t v = le_bytes(p, es);
        switch (c->onnx_type) {
        case OT_FLOAT: {
            uint32_t b = (uint32_t)v;
            memcpy(&c->f[k], &b, 4);
            break;
        }
        case OT_DOUBLE: {
            double d;
            memcpy(&d, &v, 8);
            c->f[k] = (float)d;
            break;
        }
        case OT_FLOAT16: c->f[k] = half_to_float((uint16_t)v); break;
        case OT_BFLOAT16: {
            uint32_t b = (uint32_t)v << 16;
            memcpy(&c->f[k], &b, 4);
            break;
        }
        case OT_INT8: c->i[k] = (int8_t)v; break;
        case OT_INT16: c->i[k] = (int16_t)v; break;
        case OT_INT32: c->i[k] = (int32_t)v; break;
        case OT_INT64: c->i[k] = (int64_t)v; break;
        case OT_UINT64:
            if (v > INT64_MAX) return imp_fail(im, "%s: a UINT64 value exceeds the int64 range", what);
            c->i[k] = (int64_t)v;
            break;
        default: c->i[k] = (int64_t)v; break; /* UINT8, UINT16, UINT32, BOOL */
        }
    }
    return 0;
}

static const char *external_key(const Onnx__TensorProto *t, const char *key)
{
    for (size_t i = 0; i < t->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = t->external_data[i];
        if (e && e->key && !strcmp(e->key, key)) return e->value ? e->value : "";
    }
    return NULL;
}

static int parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s) return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* Reads `need` bytes of tensor t from its external data file into a new buffer. */
static unsigned char *read_external(imp *im, const Onnx__TensorProto *t, uint64_t need, const char *what)
{
    const char *loc = external_key(t, "location");
    if (!loc || !*loc) {
        imp_fail(im, "%s: external data without a 'location'", what);
        return NULL;
    }
    if (!im->base_dir) {
        imp_fail(im,
                 "%s: the tensor is in an external data file ('%.200s') but the model was given in memory "
                 "without its directory",
                 what, loc);
        return NULL;
    }
    /* Paths stay inside the model's directory (as onnx's own checker demands). */
    if (loc[0] == '/' || !strcmp(loc, "..") || !strncmp(loc, "../", 3) || strstr(loc, "/../") ||
        (strlen(loc) >= 3 && !strcmp(loc + strlen(loc) - 3, "/.."))) {
        imp_fail(im, "%s: external data location '%.200s' leaves the model's directory", what, loc);
        return NULL;
    }
    uint64_t offset = 0, length = 0;
    const char *off_s = external_key(t, "offset"), *len_s = external_key(t, "length");
    if (off_s && parse_size(off_s, &offset)) {
        imp_fail(im, "%s: external data offset '%.40s' is not a size", what, off_s);
        return NULL;
    }
    if (len_s && parse_size(len_s, &length)) {
        imp_fail(im, "%s: external data length '%.40s' is not a size", what, len_s);
        return NULL;
    }
    if (len_s && length != need) {
        imp_fail(im, "%s: external data length %llu does not match its shape and type (%llu bytes)", what,
                 (unsigned long long)length, (unsigned long long)need);
        return NULL;
    }
    size_t plen = strlen(im->base_dir) + strlen(loc) + 2;
    char *path = malloc(plen);
    if (!path) {
        imp_fail(im, "out of memory");
        return NULL;
    }
    snprintf(path, plen, "%s/%s", im->base_dir, loc);
    unsigned char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0)
        imp_fail(im, "%s: cannot open its external data file '%s': %s", what, path, strerror(errno));
    else if (fstat(fd, &sb) || !S_ISREG(sb.st_mode))
        imp_fail(im, "%s: external data '%s' is not a regular file", what, path);
    else if (offset > (uint64_t)sb.st_size || need > (uint64_t)sb.st_size - offset)
        imp_fail(im, "%s: external data [%llu, +%llu) lies beyond the end of '%s' (%lld bytes)", what,
                 (unsigned long long)offset, (unsigned long long)need, path, (long long)sb.st_size);
    else if (!(buf = malloc(need ? need : 1)))
        imp_fail(im, "%s: out of memory for %llu bytes", what, (unsigned long long)need);
    else {
        uint64_t done = 0;
        while (done < need) {
            ssize_t r =
                pread(fd, buf + done, need - done > (1u << 30) ? (1u << 30) : need - done, (off_t)(offset + done));
            if (r <= 0) {
                imp_fail(im, "%s: cannot read external data '%s': %s", what, path,
                         r ? strerror(errno) : "unexpected end");
                free(buf);
                buf = NULL;
                break;
            }
            done += (uint64_t)r;
        }
    }
    if (fd >= 0) close(fd);
    free(path);
    return buf;
}

/* Number of values in the typed field that holds type `ot`, and a reader for element k. */
static size_t typed_count(const Onnx__TensorProto *t, int32_t ot)
{
    switch (ot) {
    case OT_FLOAT: return t->n_float_data;
    case OT_INT64: return t->n_int64_data;
    case OT_DOUBLE: return t->n_double_data;
    case OT_UINT32:
    case OT_UINT64: return t->n_uint64_data;
    default: return t->n_int32_data;
    }
}

static int decode_typed(imp *im, const Onnx__TensorProto *t, ctensor *c, const char *what)
{
    for (int64_t k = 0; k < c->count; k++) {
        switch (c->onnx_type) {
        case OT_FLOAT: c->f[k] = t->float_data[k]; break;
        case OT_DOUBLE: c->f[k] = (float)t->double_data[k]; break;
        case OT_FLOAT16: c->f[k] = half_to_float((uint16_t)t->int32_data[k]); break;
        case OT_BFLOAT16: {
            uint32_t b = (uint32_t)(uint16_t)t->int32_data[k] << 16;
            memcpy(&c->f[k], &b, 4);
            break;
        }
        case OT_INT64: c->i[k] = t->int64_data[k]; break;
        case OT_UINT32:
        case OT_UINT64:
            if (t->uint64_data[k] > INT64_MAX) return imp_fail(im, "%s: a value exceeds the int64 range", what);
            c->i[k] = (int64_t)t->uint64_data[k];
            break;
        default: c->i[k] = t->int32_data[k]; break;
        }
    }
    return 0;
}

ctensor *decode_tensor(imp *im, const Onnx__TensorProto *t, const char *what)
{
    if (!t->has_data_type) {
        imp_fail(im, "%s: the tensor has no data type", what);
        return NULL;
    }
    int32_t ot = t->data_type;
    if (!elem_size(ot)) {
        imp_fail(im, "%s: tensors of type %s are not supported", what, onnx_type_name(ot));
        return NULL;
    }
    if (t->segment) {
        imp_fail(im, "%s: segmented tensors are not supported", what);
        return NULL;
    }
    if (t->n_dims > CT_MAX_RANK) {
        imp_fail(im, "%s: rank %zu exceeds the %d xaic reads", what, t->n_dims, CT_MAX_RANK);
        return NULL;
    }
    int64_t count;
    if (ct_checked_count(t->dims, (int)t->n_dims, &count) || count > INT64_MAX / 8) {
        imp_fail(im, "%s: its dimensions are negative or too large", what);
        return NULL;
    }
    uint64_t need = (uint64_t)count * (uint64_t)elem_size(ot);
    int external = t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    /* Sizes are checked against the bytes actually present before the tensor is allocated. */
    if (!external) {
        if (t->has_raw_data) {
            if (t->raw_data.len != need) {
                imp_fail(im, "%s: raw_data holds %zu bytes but %s [%lld elements] needs %llu", what, t->raw_data.len,
                         onnx_type_name(ot), (long long)count, (unsigned long long)need);
                return NULL;
            }
        } else if (typed_count(t, ot) != (uint64_t)count) {
            imp_fail(im, "%s: holds %zu values but its shape has %lld elements", what, typed_count(t, ot),
                     (long long)count);
            return NULL;
        }
    }
    unsigned char *ext = NULL;
    if (external && !(ext = read_external(im, t, need, what))) return NULL; /* checks the size first */
    ctensor *c = ct_new(im, is_float_type(ot), ot, (int)t->n_dims, t->dims, what);
    if (!c) {
        free(ext);
        return NULL;
    }
    if (external) {
        int rc = decode_raw(im, c, ext, what);
        free(ext);
        if (rc) return NULL;
    } else if (t->has_raw_data) {
        if (decode_raw(im, c, t->raw_data.data, what)) return NULL;
    } else if (decode_typed(im, t, c, what)) {
        return NULL;
    }
    return c;
}
