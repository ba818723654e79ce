/* Data sets for streaming jobs (dataset.h): the runtime's record reader and image preparation behind one
 * interface, and the decision what a path is (by its content, not its name, except that a .npy is always read
 * as one so that a broken .npy is reported as such). */
#include "dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"

static int may_read(const char *path)
{
    char why[512];
    if (!policy_check_read(path, why, sizeof why)) return 1;
    fprintf(stderr, "xaic: error: cannot read '%s': %s\n", path, why);
    return 0;
}

static void shape_text(const int64_t *dims, int rank, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < rank && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (used < len) snprintf(buf + used, len - used, "]");
}

/* What the first bytes say: 'r' records (.npy, IDX, gzip), 'i' one image (PNG, JPEG), 'l' a list file */
static int kind_of(const char *path)
{
    size_t n = strlen(path);
    struct stat sb;
    if ((n >= 4 && !strcasecmp(path + n - 4, ".npy")) || stat(path, &sb) || !S_ISREG(sb.st_mode))
        return 'r'; /* the record reader refuses a FIFO or device at once, with the words every reader uses */
    unsigned char b[8] = { 0 };
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(b, 1, sizeof b, f) : 0;
    if (f) fclose(f);
    if (got >= 2 && ((b[0] == 0x93 && b[1] == 'N') || (b[0] == 0 && b[1] == 0) || (b[0] == 0x1f && b[1] == 0x8b)))
        return 'r';
    if (got >= 4 && ((b[0] == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G') || (b[0] == 0xFF && b[1] == 0xD8)))
        return 'i';
    return got ? 'l' : 'r'; /* an empty or unreadable file: the record reader says why */
}

static int open_records(dataset *ds, const ir_graph *net, int convert)
{
    char err[600];
    if (xai_records_open(ds->path, 1.0f / 255, convert, &ds->records, &ds->info, err, sizeof err)) {
        fprintf(stderr, "xaic: error: %s\n", err);
        return 1;
    }
    const xai_records_info *in = &ds->info;
    if (in->rank < 2 || in->records < 1 || in->record_values != ds->values) {
        char got[160], want[64];
        shape_text(in->shape, in->rank, got, sizeof got);
        ir_shape_str(&net->nodes[net->input].shape, want, sizeof want);
        fprintf(stderr,
                "xaic: error: %s: shape mismatch: the data is %s, but network '%s' takes inputs of %s = %lld values; "
                "give [N, ...] with %lld values per input\n",
                ds->path, got, net->name, want, (long long)ds->values, (long long)ds->values);
        return 1;
    }
    ds->count = in->records;
    if (in->complete < in->records && !ds->skip_bad) {
        fprintf(stderr,
                "xaic: error: %s: truncated: it holds %lld complete records of the %lld its header announces (record "
                "%lld is cut off); --skip-bad LIST skips what is missing\n",
                ds->path, (long long)in->complete, (long long)in->records, (long long)in->complete);
        return 1;
    }
    return 0;
}

/* The image geometry the network takes: [C, H, W] with C 1 or 3, or a flat [D] with D a square (gray). */
static int open_images(dataset *ds, const ir_graph *net, int single)
{
    const ir_shape *s = &net->nodes[net->input].shape;
    xai_image_prep *p = &ds->prep;
    if (s->rank == 3 && (s->dims[0] == 1 || s->dims[0] == 3)) {
        p->channels = s->dims[0], p->height = s->dims[1], p->width = s->dims[2];
    } else {
        int side = (int)lround(sqrt((double)ds->values));
        if (s->rank != 1 || (int64_t)side * side != ds->values) {
            char sb[64];
            fprintf(stderr, "xaic: error: %s: images need a network input [1 or 3, H, W] (or a square [D]), not %s\n",
                    ds->path, ir_shape_str(s, sb, sizeof sb));
            return 1;
        }
        p->channels = 1, p->height = p->width = side;
    }
    const ir_image *im = &net->image;
    if (im->enabled) {
        p->resize = im->resize, p->resize_height = im->resize_h, p->resize_width = im->resize_w;
        p->crop_height = im->crop_h, p->crop_width = im->crop_w;
        memcpy(p->mean, im->mean, sizeof p->mean);
        memcpy(p->std, im->std, sizeof p->std);
    }
    char err[600];
    if (single) { /* one image: a list of one */
        xai_image_list *l = &ds->list;
        l->count = 1;
        l->text = strdup(ds->path);
        l->offset = calloc(1, sizeof *l->offset);
        l->dir = strdup(".");
        if (!l->text || !l->offset || !l->dir) {
            fprintf(stderr, "xaic: error: out of memory\n");
            return 1;
        }
    } else if (xai_image_list_open(ds->path, &ds->list, err, sizeof err)) {
        fprintf(stderr, "xaic: error: %s\n", err);
        return 1;
    }
    ds->count = ds->list.count;
    return 0;
}

int dataset_open(dataset *ds, const char *path, const ir_graph *net, int convert, int skip_bad)
{
    memset(ds, 0, sizeof *ds);
    ds->path = strdup(path);
    ds->skip_bad = skip_bad;
    ds->values = ir_shape_count(&net->nodes[net->input].shape);
    if (!ds->path || !may_read(path)) return 1;
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        ds->is_images = 1;
        return open_images(ds, net, 0);
    }
    int kind = kind_of(path);
    ds->is_images = kind != 'r';
    return kind == 'r' ? open_records(ds, net, convert) : open_images(ds, net, kind == 'i');
}

void dataset_close(dataset *ds)
{
    xai_records_close(ds->records);
    xai_image_list_free(&ds->list);
    free(ds->path);
    memset(ds, 0, sizeof *ds);
}

/* A bad record: skipped with its reason, or the job's error. */
static int bad_record(dataset *ds, int64_t record, const char *why, float *x, unsigned char *bad,
                      char (*reasons)[DATASET_REASON], int32_t i)
{
    if (!ds->skip_bad) {
        fprintf(stderr, "xaic: error: %s (record %lld of %s); --skip-bad LIST skips such records\n", why,
                (long long)record, ds->path);
        return 1;
    }
    memset(x + (int64_t)i * ds->values, 0, sizeof(float) * (size_t)ds->values);
    bad[i] = 1;
    snprintf(reasons[i], DATASET_REASON, "%s", why);
    return 0;
}

int dataset_read(dataset *ds, int64_t first, int32_t n, float *x, unsigned char *bad, char (*reasons)[DATASET_REASON])
{
    char err[DATASET_REASON + 64], path[4096];
    memset(bad, 0, (size_t)n);
    if (ds->is_images) {
        for (int32_t i = 0; i < n; i++) {
            int64_t record = first + i;
            if (xai_image_list_path(&ds->list, record, path, sizeof path)) {
                snprintf(err, sizeof err, "image %lld: its path is too long", (long long)record);
            } else {
                char why[512];
                if (policy_check_read(path, why, sizeof why) == 0) {
                    if (!xai_image_read(path, &ds->prep, x + (int64_t)i * ds->values, err, sizeof err)) continue;
                } else {
                    snprintf(err, sizeof err, "cannot read '%.200s': %.150s", path, why);
                }
            }
            if (bad_record(ds, record, err, x, bad, reasons, i)) return 1;
        }
        return 0;
    }
    int64_t done = 0;
    int st = xai_records_read(ds->records, first, n, x, &done, err, sizeof err);
    if (st) {
        /* XAI_EFORMAT: the data ends or is corrupt from there on (a truncated file, a broken gzip stream): the
         * rest of the chunk is missing; anything else (a read error) fails the job */
        if (st != XAI_EFORMAT) {
            fprintf(stderr, "xaic: error: %s\n", err);
            return 1;
        }
        for (int32_t i = (int32_t)done; i < n; i++)
            if (bad_record(ds, first + i, err, x, bad, reasons, i)) return 1;
    }
    for (int32_t i = 0; i < (int32_t)done; i++) {
        const float *v = x + (int64_t)i * ds->values;
        for (int64_t k = 0; k < ds->values; k++)
            if (!isfinite(v[k])) {
                snprintf(err, sizeof err, "%s holds %s at sample %lld, element %lld", ds->path,
                         isnan(v[k]) ? "NaN" : "infinity", (long long)(first + i), (long long)k);
                if (!ds->skip_bad) {
                    fprintf(stderr, "xaic: error: %s; --skip-bad LIST skips such records\n", err);
                    return 1;
                }
                bad_record(ds, first + i, err, x, bad, reasons, i);
                break;
            }
    }
    return 0;
}

void dataset_identity(const dataset *ds, char *buf, size_t len)
{
    char *real = realpath(ds->path, NULL);
    const char *p = real ? real : ds->path;
    struct stat sb;
    if (!ds->is_images ||
        (ds->list.count == 1 && !ds->list.labels && stat(ds->path, &sb) == 0 && S_ISREG(sb.st_mode) &&
         !strcmp(ds->list.text, ds->path))) {
        if (stat(ds->path, &sb) != 0) memset(&sb, 0, sizeof sb);
        snprintf(buf, len, "%s size=%lld mtime=%lld.%09ld", p, (long long)sb.st_size, (long long)sb.st_mtim.tv_sec,
                 sb.st_mtim.tv_nsec);
    } else { /* a set of images: its names and classes (FNV-1a) */
        uint64_t h = 1469598103934665603ull;
        const xai_image_list *l = &ds->list;
        for (int64_t i = 0; i < l->count; i++) {
            for (const char *c = l->text + l->offset[i]; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
            h = (h ^ (uint64_t)(l->labels ? l->labels[i] + 1 : 0)) * 1099511628211ull;
        }
        snprintf(buf, len, "%s images=%lld names=%016llx", p, (long long)l->count, (unsigned long long)h);
    }
    free(real);
}
