/* libFuzzer target: arbitrary bytes through xai_safetensors_parse (borrowing the input, as the
 * loader does with a mapped file), then the invariants a caller relies on once parsing succeeded.
 * Any violated invariant aborts, which libFuzzer reports as a crash with the input saved. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xairt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xai_safetensors st;
    char err[256];
    err[0] = 0;
    int rc = xai_safetensors_parse(data, size, 0, &st, err, sizeof err);
    if (rc != XAI_OK) {
        /* Failure: a status, a one-line message, and nothing left allocated (close is a no-op). */
        if (!err[0] || strchr(err, '\n') || st.tensors || st.n_tensors) abort();
        return 0;
    }
    if (st.buffer != data || st.data_offset != 8 + st.header_len || st.data_offset > size) abort();
    const unsigned char *lo = st.buffer + st.data_offset, *hi = st.buffer + size;
    uint32_t sum = 0;
    for (int i = 0; i < st.n_tensors; i++) {
        const xai_st_tensor *t = &st.tensors[i];
        if (t->end < t->begin || t->data != lo + t->begin || t->data + (t->end - t->begin) > hi) abort();
        if (t->rank < 0 || t->rank > 8) abort();
        if (i > 0 && st.tensors[i - 1].begin > t->begin) abort(); /* sorted by offset */
        size_t es = xai_dtype_size(t->dtype);
        if (es) {
            uint64_t n = es;
            for (int d = 0; d < t->rank; d++) n *= (uint64_t)t->shape[d];
            if (n != t->end - t->begin) abort();
        }
        if (xai_safetensors_find(&st, t->name) != t) abort(); /* names are unique */
        sum ^= xai_crc32(t->data, t->end - t->begin);         /* touch every byte: ASan checks bounds */
    }
    (void)sum;
    (void)xai_safetensors_find(&st, "fc1.weight");
    xai_safetensors_close(&st);
    return 0;
}
