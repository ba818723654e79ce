/* libFuzzer target: arbitrary bytes as an image list file (xai_image_list_parse). On success every entry has a
 * non-empty name without a NUL or newline inside, the paths it builds fit or are refused, and the classes are on
 * every entry or none; on failure a one-line message and nothing handed out. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xairt_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xai_image_list l;
    char err[512] = "", buf[256];
    int rc = xai_image_list_parse(data, size, "fuzz.txt", "base", &l, err, sizeof err);
    if (rc != XAI_OK) {
        if (!err[0] || strchr(err, '\n') || l.count || l.text || l.offset || l.labels || l.dir) abort();
        return 0;
    }
    if (l.count < 1 || !l.text || !l.offset || !l.dir) abort();
    for (int64_t i = 0; i < l.count; i++) {
        const char *name = l.text + l.offset[i];
        size_t n = strlen(name);
        if (!n || memchr(name, '\n', n) || (l.labels && l.labels[i] < 0)) abort();
        if (name[0] == ' ' || name[0] == '\t' || name[n - 1] == ' ' || name[n - 1] == '\t') abort();
        int st = xai_image_list_path(&l, i, buf, sizeof buf);
        if (st == XAI_OK && strlen(buf) >= sizeof buf) abort();
    }
    if (xai_image_list_path(&l, l.count, buf, sizeof buf) == XAI_OK) abort();
    xai_image_list_free(&l);
    return 0;
}
