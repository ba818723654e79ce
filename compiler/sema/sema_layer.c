/* One layer of a network: its call's arguments bound to the op's parameters (ops.def PARAMS), then the op's
 * own sema function (ops.def SEMA). */
#include <stdio.h>
#include <string.h>

#include "sema.h"
#include "sema_ops.h"

#define NONE 0
#define OP(ID, NAME, SELECTOR, ARITY, FLAGS, PARAMS, REQUIRED, LRP, DEEPLIFT, SEMA, KERNEL, GRADIENT, RULE, RULE_VARS) \
    [OP_##ID] = SEMA,
static const sema_op_fn sema_of_op[OP_COUNT] = {
#include "ops.def"
};
#undef OP
#undef NONE

/* The op's parameter names, split from ops.def's space-separated PARAMS. */
typedef struct op_params {
    char names[SEMA_MAX_PARAMS][32];
    int n;
} op_params;

static void split_params(ir_op op, op_params *p)
{
    p->n = 0;
    const char *s = ir_ops[op].params;
    while (*s && p->n < SEMA_MAX_PARAMS) {
        while (*s == ' ') s++;
        size_t len = strcspn(s, " ");
        if (!len) break;
        snprintf(p->names[p->n++], sizeof p->names[0], "%.*s", (int)len, s);
        s += len;
    }
}

/* Binds call arguments (after the `skip` layer inputs) to the op's parameters. */
static int bind_args(xai_diag *d, const ast_expr *call, int skip, ir_op op, const ast_expr **slots)
{
    op_params sig;
    split_params(op, &sig);
    int np = sig.n, ok = 1, positional = 0, seen_named = 0;
    for (int i = 0; i < np; i++) slots[i] = NULL;
    for (int a = skip; a < call->n_args; a++) {
        const ast_arg *arg = &call->args[a];
        int slot = -1;
        if (!arg->name) {
            if (seen_named) {
                diag_error(d, arg->value->loc, "positional argument after a named one in %s(...)", call->text);
                ok = 0;
                continue;
            }
            slot = positional++;
            if (slot >= np) {
                if (np == 0)
                    diag_error(d, arg->value->loc, "%s takes no arguments besides its input%s", call->text,
                               skip == 2 ? "s" : "");
                else
                    diag_error(d, arg->value->loc, "%s takes at most %d argument%s after its input", call->text, np,
                               np == 1 ? "" : "s");
                ok = 0;
                continue;
            }
        } else {
            seen_named = 1;
            for (int i = 0; i < np; i++)
                if (strcmp(sig.names[i], arg->name) == 0) slot = i;
            if (slot < 0) {
                char list[128] = "";
                size_t used = 0;
                for (int i = 0; i < np; i++)
                    used += snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", sig.names[i]);
                diag_error(d, arg->name_loc, "%s has no parameter '%s'%s%s", call->text, arg->name,
                           np ? "; it takes " : "", list);
                ok = 0;
                continue;
            }
        }
        if (slots[slot]) {
            diag_error(d, arg->name ? arg->name_loc : arg->value->loc, "parameter '%s' of %s is given twice",
                       sig.names[slot], call->text);
            ok = 0;
            continue;
        }
        slots[slot] = arg->value;
    }
    for (int i = 0; i < ir_ops[op].required; i++)
        if (!slots[i] && ok) {
            diag_error(d, call->loc, "%s needs the parameter '%s'", call->text, sig.names[i]);
            ok = 0;
        }
    return ok;
}

int sema_layer(xai_diag *d, ir_graph *g, ir_node *n, const ast_net_stmt *st, const ir_shape *in, weights_file *wf)
{
    sema_layer_ctx l = { .d = d, .g = g, .n = n, .st = st, .call = st->value, .in = in, .wf = wf };
    if (!bind_args(d, l.call, ir_ops[n->op].arity < 0 ? 1 : ir_ops[n->op].arity, n->op, l.slots)) return 0;
    if (st->from && !ir_op_is(n->op, OPF_PARAMS))
        diag_warning(d, st->from_loc, "`from` has no effect on %s, which has no parameters", ir_op_name(n->op));
    if (!sema_of_op[n->op]) {
        diag_error(d, l.call->loc, "op '%s' cannot be used in a network", l.call->text);
        return 0;
    }
    return sema_of_op[n->op](&l);
}
