/* xaic run over data sets (docs/scaling.md), as a user runs it: every row is the bits one call of the generated
 * function on the whole set gives (the reference is computed here in-process through the JIT, with the generated
 * code drawing its own SmoothGrad noise), whatever the chunks and batches, including a set that is not a multiple
 * of the chunk; images are prepared as the input's image(...) declares (the torchvision fixtures of
 * test_rt_images.c); broken inputs are errors naming the file and the record, or skipped and listed. */
#include "dataset_util.h"
#include "explain_util.h"

#define N 37

static const char *EXPLAIN = "import \"" XAIC_SOURCE_DIR "/models/mnist_cnn.xai\";\n"
                             "explain sens for mnist_cnn { method gradient; post square; }\n"
                             "explain egb for mnist_cnn { rules epsilon_gamma_box(low=0, high=1); }\n"
                             "explain sg for mnist_cnn { method smoothgrad(samples=6, noise=0.15, seed=3); }\n"
                             "explain ig for mnist_cnn { method integrated_gradients(steps=5, baseline=zero); }\n";

static float *load(const char *path, int64_t *count)
{
    xai_array a;
    char err[256];
    cr_assert_eq(xai_npy_read(path, &a, 0, err, sizeof err), XAI_OK, "%s", err);
    *count = xai_array_count(&a);
    return a.data;
}

static void expect_rows(const char *path, const float *want, int64_t n, const char *what)
{
    int64_t count;
    float *got = load(path, &count);
    cr_assert_eq(count, n, "%s: %lld values, want %lld", what, (long long)count, (long long)n);
    int64_t differ = 0;
    for (int64_t i = 0; i < n; i++) differ += memcmp(&got[i], &want[i], 4) != 0;
    cr_expect_eq(differ, 0, "%s: %lld of %lld values differ from one call on all inputs", what, (long long)differ,
                 (long long)n);
    free(got);
}

Test(dataset_run, chunks_and_batches_change_no_bit, .timeout = 240)
{
    char *xai = tu_write_temp("four.xai", EXPLAIN, strlen(EXPLAIN)), *data = du_digits("d.npy", N, 7);
    int64_t count;
    float *x = load(data, &count);
    /* the reference: each explanation called once on all N inputs */
    eu_program p;
    eu_open(&p, xai, EXPLAIN, 3, 0);
    cr_assert(p.ok, "%s", eu_messages(&p));
    const char *names[4] = { "sens", "egb", "sg", "ig" };
    eu_run ref[4];
    for (int e = 0; e < 4; e++) {
        ref[e] = eu_explain(&p, "mnist_cnn", names[e], x, NULL, N);
        cr_assert_eq(ref[e].status, 0, "%s: %s", names[e], xai_status_string(ref[e].status));
    }
    /* integrated gradients from a baseline per input, through NET_ig_ex on all inputs */
    float *base = malloc(sizeof(float) * 784 * N), *ig_ref = malloc(sizeof(float) * 784 * N);
    for (int i = 0; i < 784 * N; i++) base[i] = 0.5f * x[(i * 7) % (784 * N)];
    char err[256], *base_path = du_path("base.npy");
    cr_assert_eq(xai_npy_write(base_path, base, 4, (int64_t[]){ N, 1, 28, 28 }, err, sizeof err), XAI_OK);
    typedef int (*ex_fn)(const float *, const int32_t *, float *, int32_t, void *, const xai_options *);
    ex_fn ig_ex = (ex_fn)jit_lookup(p.jit, "mnist_cnn_ig_ex");
    cr_assert_not_null(ig_ex);
    xai_options opt = { .baseline = base, .baseline_per_sample = 1 };
    cr_assert_eq(ig_ex(x, NULL, ig_ref, N, ref[3].ws, &opt), 0);

    const char *chunkings[3] = { "--chunk 5 --batch 3", "--chunk 37 --batch 37", "--chunk 1 --batch 1" };
    for (int k = 0; k < 3; k++) {
        char *out = NULL, *o = du_path(k == 0 ? "a.npy" : k == 1 ? "b.npy" : "c.npy");
        int rc = du_xaic(&out, NULL, "run '%s' --explain sens,egb,sg,ig --input '%s' -o '%s' %s", xai, data, o,
                         chunkings[k]);
        cr_assert_eq(rc, 0, "%s", out);
        for (int e = 0; e < 4; e++) {
            char *f = NULL, what[128];
            cr_assert(asprintf(&f, "%.*s.%s.npy", (int)strlen(o) - 4, o, names[e]) > 0);
            snprintf(what, sizeof what, "%s with %s", names[e], chunkings[k]);
            expect_rows(f, ref[e].out, 784 * N, what);
            free(f);
        }
        char *journal = NULL;
        cr_assert(asprintf(&journal, "%s.xaic-journal", o) > 0);
        cr_expect(!du_exists(journal), "no journal is left");
        free(out), free(o), free(journal);
    }
    char *out = NULL, *o = du_path("base_ig.npy");
    cr_assert_eq(du_xaic(&out, NULL, "run '%s' --explain ig --baseline '%s' --input '%s' -o '%s' --chunk 4 --batch 3",
                         xai, base_path, data, o),
                 0, "%s", out);
    expect_rows(o, ig_ref, 784 * N, "ig with a baseline per input, chunks of 4");
    for (int e = 0; e < 4; e++) eu_run_free(&ref[e]);
    eu_close(&p);
    free(out), free(o), free(base), free(ig_ref), free(base_path), free(x), free(xai), free(data);
}

/* ---- images ---- */

static const char *IMAGENET = "network img {\n"
                              "    input x[3, 56, 56] image(resize=64, crop=56, mean=[0.485, 0.456, 0.406],\n"
                              "                             std=[0.229, 0.224, 0.225]);\n"
                              "    f = flatten(x);\n"
                              "    output f;\n"
                              "}\n";

Test(dataset_run, images_are_prepared_as_the_input_declares, .timeout = 120)
{
    char *xai = tu_write_temp("img.xai", IMAGENET, strlen(IMAGENET)), *out = NULL;
    int64_t n;
    float *a = load("tests/data/images/imagenet_jpg.npy", &n),
          *b = load("tests/data/images/imagenet_progressive.npy", &n);
    char *one = du_path("one.npy");
    cr_assert_eq(du_xaic(&out, NULL, "run '%s' --forward --input tests/data/images/rgb_97x71.jpg -o '%s'", xai, one), 0,
                 "%s", out);
    expect_rows(one, a, n, "one JPEG through image(...)");
    free(out);
    const char *text =
        "# two of the fixtures, relative to this file's directory\n" XAIC_SOURCE_DIR
        "/tests/data/images/rgb_97x71.jpg\n" XAIC_SOURCE_DIR "/tests/data/images/rgb_64x80_progressive.jpg\n";
    char *list = tu_write_temp("two.txt", text, strlen(text)), *two = du_path("two.npy");
    cr_assert_eq(du_xaic(&out, NULL, "run '%s' --forward --input '%s' -o '%s' --chunk 1", xai, list, two), 0, "%s",
                 out);
    float *both = malloc(sizeof(float) * (size_t)n * 2);
    memcpy(both, a, sizeof(float) * (size_t)n);
    memcpy(both + n, b, sizeof(float) * (size_t)n);
    expect_rows(two, both, 2 * n, "a list of two JPEGs");
    free(out);
    /* the network's geometry without image(...): a size that does not fit is an error saying what to declare */
    const char *plain = "network p { input x[3, 56, 56]; f = flatten(x); output f; }\n";
    char *pxai = tu_write_temp("plain.xai", plain, strlen(plain));
    cr_assert_eq(du_xaic(&out, NULL, "run '%s' --forward --input tests/data/images/rgb_97x71.jpg -o '%s'", pxai, one),
                 1);
    cr_expect(strstr(out, "rgb_97x71.jpg: a 97x71 image is 97x71, but the network takes 56x56") != NULL, "%s", out);
    cr_expect(strstr(out, "record 0 of tests/data/images/rgb_97x71.jpg") != NULL, "%s", out);
    free(out), free(pxai), free(xai), free(one), free(list), free(two), free(both), free(a), free(b);
}

/* ---- broken inputs ---- */

static void copy_file(const char *from, const char *to, size_t keep)
{
    size_t len;
    char *bytes = tu_read_file(from, &len);
    cr_assert_not_null(bytes, "%s", from);
    FILE *f = fopen(to, "wb");
    cr_assert_not_null(f);
    fwrite(bytes, 1, keep && keep < len ? keep : len, f);
    fclose(f);
    free(bytes);
}

static int row_is_nan(const float *rows, int64_t row, int64_t width)
{
    for (int64_t k = 0; k < width; k++)
        if (!isnan(rows[row * width + k])) return 0;
    return 1;
}

Test(dataset_run, broken_images_are_named_or_skipped, .timeout = 120)
{
    char *xai = tu_write_temp("img2.xai", IMAGENET, strlen(IMAGENET)), *dir = du_path("imgs"), *out = NULL;
    cr_assert_eq(mkdir(dir, 0755), 0);
    char *bad = NULL, *good = NULL, *junk = NULL;
    cr_assert(asprintf(&bad, "%s/a_cut.jpg", dir) > 0 && asprintf(&good, "%s/b_good.jpg", dir) > 0 &&
              asprintf(&junk, "%s/c_junk.png", dir) > 0);
    copy_file("tests/data/images/rgb_97x71.jpg", bad, 1500);
    copy_file("tests/data/images/rgb_97x71.jpg", good, 0);
    FILE *f = fopen(junk, "w");
    fputs("not an image\n", f);
    fclose(f);
    char *o = du_path("dir.npy"), *list = du_path("skipped.txt");
    cr_assert_eq(du_xaic(&out, NULL, "run '%s' --forward --input '%s' -o '%s'", xai, dir, o), 1, "%s", out);
    cr_expect(strstr(out, "a_cut.jpg: truncated or corrupt") != NULL, "names the file: %s", out);
    cr_expect(strstr(out, "(record 0 of ") != NULL, "names the record: %s", out);
    cr_expect(strstr(out, "--skip-bad") != NULL, "says how to go on: %s", out);
    cr_expect(!du_exists(o), "no output");
    free(out);
    cr_assert_eq(du_xaic(&out, NULL, "run '%s' --forward --input '%s' -o '%s' --skip-bad '%s'", xai, dir, o, list), 0,
                 "%s", out);
    cr_expect(strstr(out, "2 records skipped, listed in") != NULL, "%s", out);
    free(out);
    size_t len;
    char *text = tu_read_file(list, &len);
    cr_assert_not_null(text);
    cr_expect(!strncmp(text, "0\t", 2) && strstr(text, "a_cut.jpg") && strstr(text, "\n2\t") &&
                  strstr(text, "c_junk.png"),
              "the list: %s", text);
    int64_t n, rows_n;
    float *want = load("tests/data/images/imagenet_jpg.npy", &n), *rows = load(o, &rows_n);
    cr_assert_eq(rows_n, 3 * n);
    cr_expect(row_is_nan(rows, 0, n) && row_is_nan(rows, 2, n), "skipped rows are NaN");
    cr_expect(!memcmp(rows + n, want, sizeof(float) * (size_t)n), "the good image's row is its own");
    free(text), free(want), free(rows), free(list), free(o), free(bad), free(good), free(junk), free(dir), free(xai);
}

Test(dataset_run, broken_records_are_named_or_skipped, .timeout = 120)
{
    char *digits = du_digits("nan.npy", 9, 3), *out = NULL, *o = du_path("r.npy"), *list = du_path("r_skipped.txt");
    int64_t n;
    float *x = load(digits, &n);
    x[3 * 784 + 100] = NAN;
    char err[256];
    cr_assert_eq(xai_npy_write(digits, x, 4, (int64_t[]){ 9, 1, 28, 28 }, err, sizeof err), XAI_OK);
    const char *model = "models/mnist_cnn_lrp.xai --explain epsilon_plus";
    cr_assert_eq(du_xaic(&out, NULL, "run %s --input '%s' -o '%s' --chunk 4", model, digits, o), 1);
    cr_expect(strstr(out, "nan.npy holds NaN at sample 3, element 100") != NULL, "%s", out);
    free(out);
    cr_assert_eq(du_xaic(&out, NULL, "run %s --input '%s' -o '%s' --chunk 4 --skip-bad '%s'", model, digits, o, list),
                 0, "%s", out);
    free(out);
    char *text = tu_read_file(list, NULL);
    cr_expect(text && !strncmp(text, "3\t", 2) && strstr(text, "NaN at sample 3"), "%s", text);
    free(text);
    int64_t m;
    float *rows = load(o, &m);
    cr_expect(row_is_nan(rows, 3, 784) && !isnan(rows[2 * 784]) && !isnan(rows[4 * 784]), "only record 3 is NaN");
    free(rows);
    /* a truncated file: the records it lacks */
    size_t len;
    char *bytes = tu_read_file(digits, &len);
    char *cut = tu_write_temp("cut.npy", bytes, len - 784 * 4 - 10); /* record 7 loses 10 bytes, record 8 all */
    cr_assert_eq(du_xaic(&out, NULL, "run %s --input '%s' -o '%s'", model, cut, o), 1);
    cr_expect(strstr(out,
                     "cut.npy: truncated: it holds 7 complete records of the 9 its header announces (record 7 is "
                     "cut off)") != NULL,
              "%s", out);
    free(out);
    cr_assert_eq(du_xaic(&out, NULL, "run %s --input '%s' -o '%s' --skip-bad '%s'", model, cut, o, list), 0, "%s", out);
    free(out);
    text = tu_read_file(list, NULL);
    cr_expect(text && strstr(text, "\n7\t") && strstr(text, "\n8\t") && strstr(text, "record 7 of 9: truncated"), "%s",
              text);
    rows = load(o, &m);
    cr_expect_eq(m, 9 * 784);
    cr_expect(row_is_nan(rows, 7, 784) && row_is_nan(rows, 8, 784) && row_is_nan(rows, 3, 784) && !isnan(rows[0]));
    free(rows), free(text), free(bytes), free(cut), free(x), free(digits), free(o), free(list);
}

Test(dataset_run, eval_skips_and_counts_bad_records, .timeout = 120)
{
    char *digits = du_digits("e.npy", 6, 11), *dir = du_path("eval_skip"), *list = du_path("e_skipped.txt"),
         *out = NULL;
    int64_t n;
    float *x = load(digits, &n);
    x[2 * 784 + 5] = INFINITY;
    char err[256];
    cr_assert_eq(xai_npy_write(digits, x, 4, (int64_t[]){ 6, 1, 28, 28 }, err, sizeof err), XAI_OK);
    cr_assert_eq(du_xaic(&out, NULL,
                         "eval tests/fixtures/eval/mnist_cnn_six.xai --explain sensitivity --data '%s' --metric "
                         "selectivity --steps 3 -o '%s' --skip-bad '%s'",
                         digits, dir, list),
                 0, "%s", out);
    free(out);
    char *json = NULL;
    cr_assert(asprintf(&json, "%s/results.json", dir) > 0);
    char *text = tu_read_file(json, NULL);
    cr_expect(text && strstr(text, "\"inputs\":\t5") && strstr(text, "\"skipped\":\t1"), "%s", text);
    free(text), free(json);
    cr_assert(asprintf(&json, "%s/per_image.csv", dir) > 0);
    text = tu_read_file(json, NULL);
    cr_expect(text && !strstr(text, "\n2,") && strstr(text, "\n3,"), "input 2 is left out: %s", text);
    free(text), free(json), free(x), free(digits), free(dir), free(list);
}
