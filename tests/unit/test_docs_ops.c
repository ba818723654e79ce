/* docs/language.md's op tables against the op table (compiler/ir/ops.def): every op a network may use
 * has a row whose arguments cell names each of its parameters, and the rule-defaults table gives each op
 * that takes a rule its LRP and DeepLIFT defaults. An op added to ops.def without its documentation, or a
 * changed default, fails here. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "testutil.h"

static char *doc;

static void load(void)
{
    doc = tu_read_file(XAIC_SOURCE_DIR "/docs/language.md", NULL);
    cr_assert_not_null(doc);
}

static void unload(void) { free(doc); }

/* The first table row (a line starting with "| ") after `heading` whose first cell names `op` in
 * backquotes; its cells split into cells[0..n). Returns the number of cells, 0 if there is no such row. */
static int find_row(const char *heading, const char *op, char cells[8][600])
{
    const char *p = strstr(doc, heading);
    cr_assert_not_null(p, "no '%s' in docs/language.md", heading);
    char quoted[64];
    snprintf(quoted, sizeof quoted, "`%s`", op);
    for (p = strchr(p, '\n'); p; p = strchr(p + 1, '\n')) {
        const char *line = p + 1;
        if (!strncmp(line, "## ", 3) || !strncmp(line, "**", 2)) break; /* the next section or table */
        if (strncmp(line, "| ", 2)) continue;
        size_t len = strcspn(line, "\n");
        int n = 0;
        const char *c = line + 1;
        while (c < line + len && n < 8) {
            size_t w = strcspn(c, "|");
            if (c + w > line + len) w = (size_t)(line + len - c);
            snprintf(cells[n++], 600, "%.*s", (int)w, c);
            c += w + 1;
            if (c >= line + len) break;
        }
        if (n > 1 && strstr(cells[0], quoted)) return n;
    }
    return 0;
}

TestSuite(docs_ops, .init = load, .fini = unload);

Test(docs_ops, every_network_op_has_a_row_naming_its_parameters)
{
    int checked = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        if (!ir_op_is(op, OPF_LAYER)) continue;
        char cells[8][600];
        int n = find_row("## Ops", ir_ops[op].name, cells);
        cr_expect(n >= 4, "op '%s' has no row in the ops table of docs/language.md", ir_ops[op].name);
        if (n < 4) continue;
        char params[256];
        snprintf(params, sizeof params, "%s", ir_ops[op].params);
        for (char *save = NULL, *w = strtok_r(params, " ", &save); w; w = strtok_r(NULL, " ", &save))
            cr_expect(strstr(cells[1], w), "the row of '%s' does not name its parameter '%s': %s", ir_ops[op].name, w,
                      cells[1]);
        checked++;
    }
    cr_assert_gt(checked, 20, "only %d network ops", checked);
}

Test(docs_ops, every_rule_default_is_documented)
{
    int checked = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        if (!ir_op_is(op, OPF_LAYER) || !ir_ops[op].lrp_rule) continue;
        char cells[8][600];
        int n = find_row("**Rule defaults.**", ir_ops[op].name, cells);
        cr_expect(n >= 3, "op '%s' has no row in the rule-defaults table", ir_ops[op].name);
        if (n < 3) continue;
        char lrp[64], deeplift[64];
        snprintf(lrp, sizeof lrp, "`%s`", ir_ops[op].lrp_rule);
        snprintf(deeplift, sizeof deeplift, "`%s`", ir_ops[op].deeplift_rule);
        cr_expect(strstr(cells[1], lrp), "'%s': LRP default %s, the doc says: %s", ir_ops[op].name, lrp, cells[1]);
        cr_expect(strstr(cells[2], deeplift), "'%s': DeepLIFT default %s, the doc says: %s", ir_ops[op].name, deeplift,
                  cells[2]);
        checked++;
    }
    cr_assert_gt(checked, 15, "only %d ops with rules", checked);
}
