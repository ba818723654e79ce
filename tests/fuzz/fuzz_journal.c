/* libFuzzer target: arbitrary bytes as the journal of a streaming job (tools/journal.c: journal_parse). Parsing
 * must never crash or over-read; on success what it reports is consistent: the valid prefix is a prefix made of
 * whole lines, skipped records belong to chunks it lists as done, `complete` only with every chunk done; and
 * writing the state back (escape / unescape) round-trips. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "xairt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    journal_state st;
    char err[512] = "";
    int rc = journal_parse((const char *)data, size, "fuzz.journal", 1 << 16, &st, err, sizeof err);
    if (rc != XAI_OK) {
        if (!err[0] || st.done || st.job) abort();
        return 0;
    }
    if (st.valid_bytes > size || (st.valid_bytes && data[st.valid_bytes - 1] != '\n')) abort();
    if (st.chunks < 1 || st.chunks > (1 << 16) || !st.job) abort();
    int64_t done = 0;
    for (int64_t c = 0; c < st.chunks; c++) done += st.done[c] != 0;
    if (st.complete && done != st.chunks) abort();
    for (int64_t i = 0; i < st.n_bad; i++)
        if (st.bad[i].chunk < 0 || st.bad[i].chunk >= st.chunks || !st.done[st.bad[i].chunk] || !st.bad[i].reason)
            abort();
    char *e = journal_escape(st.job);
    char *back = e ? journal_unescape(e, strlen(e)) : NULL;
    if (!e || !back || strcmp(back, st.job)) abort();
    free(e);
    free(back);
    journal_state_free(&st);
    return 0;
}
