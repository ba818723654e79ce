/* libxairt: status strings, array helpers, CRC-32, the xai_options layout. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "xairt.h"

Test(status, every_code_has_a_string)
{
    cr_assert_str_eq(xai_status_string(XAI_OK), "success");
    cr_assert_str_eq(xai_status_string(XAI_EALIGN), "workspace not 64-byte aligned");
    for (int s = XAI_OK; s <= XAI_EWORKSPACE; s++) {
        const char *m = xai_status_string(s);
        cr_assert_not_null(m);
        cr_assert(strlen(m) > 3);
        cr_assert_str_neq(m, "unknown status code", "status %d", s);
        for (int t = 0; t < s; t++) cr_assert_str_neq(m, xai_status_string(t), "%d and %d", s, t);
    }
    cr_assert_eq(XAI_ENONFINITE, 14); /* the values are ABI: generated code returns them */
    cr_assert_eq(XAI_EWORKSPACE, 15);
    cr_assert(strstr(xai_status_string(XAI_ENONFINITE), "inputs are finite"));
    cr_assert(strstr(xai_status_string(XAI_EWORKSPACE), "NET_workspace_size"));
    cr_assert_str_eq(xai_status_string(16), "unknown status code");
    cr_assert_str_eq(xai_status_string(-1), "unknown status code");
    cr_assert_str_eq(xai_status_string(999), "unknown status code");
}

Test(array, count_and_free)
{
    xai_array a = { .rank = 3, .shape = { 2, 3, 4 } };
    cr_assert_eq(xai_array_count(&a), 24);
    a.rank = 0;
    cr_assert_eq(xai_array_count(&a), 1);
    a.rank = 2;
    a.shape[1] = 0;
    cr_assert_eq(xai_array_count(&a), 0);
    cr_assert_eq(xai_array_count(NULL), 0);
    a.data = malloc(16);
    xai_array_free(&a);
    cr_assert_null(a.data);
    cr_assert_eq(a.rank, 0);
    xai_array_free(NULL);
}

Test(crc32, known_values)
{
    cr_assert_eq(xai_crc32("123456789", 9), 0xCBF43926u); /* the standard CRC-32 check value */
    cr_assert_eq(xai_crc32("", 0), 0u);
    cr_assert_eq(xai_crc32(NULL, 0), 0u);
    cr_assert_eq(xai_crc32("The quick brown fox jumps over the lazy dog", 43), 0x414FA339u);
}

/* Generated code reads xai_options through a struct type of its own (compiler/codegen.c, cg_options_type):
 * fields are only ever appended, and workspace_size is the last one, right after progress_context. */
Test(options, layout_is_append_only)
{
    cr_assert_eq(offsetof(xai_options, baseline), 0);
    cr_assert_eq(offsetof(xai_options, workspace_size), offsetof(xai_options, progress_context) + sizeof(void *));
    cr_assert_eq(sizeof(xai_options), offsetof(xai_options, workspace_size) + sizeof(size_t));
    if (sizeof(void *) == 8) { /* LP64: the offsets the generated struct type gives */
        cr_assert_eq(offsetof(xai_options, seed), 24);
        cr_assert_eq(offsetof(xai_options, steps), 36);
        cr_assert_eq(offsetof(xai_options, progress_context), 56);
        cr_assert_eq(offsetof(xai_options, workspace_size), 64);
        cr_assert_eq(sizeof(xai_options), 72);
    }
}
