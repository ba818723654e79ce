/* Parser tests: the AST (through ast_dump and direct field checks) for valid input. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "diag.h"
#include "testutil.h"

/* Parses `text`; the diagnostics text goes to *messages (malloc'd). */
typedef struct parsed {
    xai_diag diag;
    ast_file *file;
    char *messages;
    size_t messages_len;
    FILE *messages_stream;
} parsed;

static void parse_text(parsed *p, const char *text)
{
    p->messages_stream = open_memstream(&p->messages, &p->messages_len);
    cr_assert_not_null(p->messages_stream);
    diag_init(&p->diag, p->messages_stream);
    xai_source *src = diag_add_source(&p->diag, "t.xai", text, strlen(text));
    cr_assert_not_null(src);
    p->file = ast_parse(&p->diag, src);
    cr_assert_not_null(p->file);
    fflush(p->messages_stream);
}

static void parsed_free(parsed *p)
{
    ast_free(p->file);
    diag_free(&p->diag);
    fclose(p->messages_stream);
    free(p->messages);
}

static char *dump_to_string(const ast_file *f)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ast_dump(f, out);
    fclose(out);
    return text;
}

static char *expr_to_string(const ast_expr *e)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    ast_dump_expr(e, out);
    fclose(out);
    return text;
}

/* The value of layer `name` = EXPR in the first network of `text`, dumped. */
static char *layer_expr(const char *text)
{
    parsed p;
    parse_text(&p, text);
    cr_assert_eq(p.diag.errors, 0, "unexpected errors:\n%s", p.messages);
    cr_assert_eq(p.file->items[0].kind, TOP_NETWORK);
    char *s = expr_to_string(p.file->items[0].u.network.stmts[0].value);
    parsed_free(&p);
    return s;
}

static const char design_example_dump[] =
    "file tests/data/design_example.xai\n"
    "  import \"mnist_gen.xai\" @2:8\n"
    "  network mnist_cnn @3:9\n"
    "    weights \"mnist_cnn.safetensors\" @4:5\n"
    "    input x [1, 28, 28] range [0, 1] @5:5\n"
    "    layer conv1 = conv2d(x, 32, kernel=3, pad=1) @7:5\n"
    "    layer act1 = relu(conv1) @8:5\n"
    "    layer pool1 = maxpool(act1, 2) @9:5\n"
    "    layer conv2 = conv2d(pool1, 64, kernel=3, pad=1) @10:5\n"
    "    layer act2 = relu(conv2) @11:5\n"
    "    layer pool2 = maxpool(act2, 2) @12:5\n"
    "    layer flat = flatten(pool2) @13:5\n"
    "    layer fc1 = dense(flat, 128) from \"classifier.0\" @14:5\n"
    "    layer act3 = relu(fc1) @15:5\n"
    "    layer fc2 = dense(act3, 10, bias=false) @16:5\n"
    "    output fc2 @17:5\n"
    "  rule my_gamma(g = 0.25) on dense, conv2d @20:6\n"
    "    body share((((a * (w + (g * pos(w)))) + b) + (g * pos(b)))) @21:5\n"
    "  explain lrp for mnist_cnn @24:9\n"
    "    setting seed logit @25:5\n"
    "    setting rules epsilon_gamma_box(low=0, high=1) @26:5\n"
    "    assign conv2d: my_gamma(0.25) @27:5\n"
    "    assign fc2: epsilon(0.01) @28:5\n"
    "    assign first: zbox(0, 1) @29:5\n"
    "  explain saliency for mnist_cnn @31:9\n"
    "    setting method gradient @31:34\n"
    "    setting post square @31:51\n"
    "  explain gxi for mnist_cnn @32:9\n"
    "    setting method gradient @32:34\n"
    "    setting post times_input @32:51\n"
    "  explain guided for mnist_cnn @33:9\n"
    "    setting method gradient @33:34\n"
    "    assign relu: guided @33:51\n"
    "  explain deconv for mnist_cnn @34:9\n"
    "    setting method gradient @34:34\n"
    "    assign relu: deconvnet @34:51\n"
    "  explain ig for mnist_cnn @35:9\n"
    "    setting method integrated_gradients(steps=50, baseline=zero) @35:34\n"
    "  explain sg for mnist_cnn @36:9\n"
    "    setting method smoothgrad(samples=50, noise=0.15, seed=1) @36:34\n"
    "  explain dl for mnist_cnn @37:9\n"
    "    setting method deeplift(reference=zero) @37:34\n"
    "  explain gcam for mnist_cnn @38:9\n"
    "    setting method gradcam(layer=act2) @38:34\n"
    "  explain gcampp for mnist_cnn @39:9\n"
    "    setting method gradcam_pp(layer=act2) @39:34\n"
    "  explain cam for cam_net @40:9\n"
    "    setting method cam(layer=act3) @40:34\n"
    "  explain proto for mnist_mlp @41:9\n"
    "    setting method activation_maximization(steps=5000, lambda=0.1, lr=0.001) @41:34\n"
    "  explain proto_z for mnist_mlp @42:9\n"
    "    setting method activation_maximization(generator=mnist_gen, steps=15000, lambda=0.1) @42:34\n";

Test(front_parser, design_example_dump)
{
    size_t len;
    char *text = tu_read_file("tests/data/design_example.xai", &len);
    cr_assert_not_null(text, "run from the repository root");
    xai_diag d;
    diag_init(&d, stderr);
    xai_source *src = diag_add_source(&d, "tests/data/design_example.xai", text, len);
    ast_file *f = ast_parse(&d, src);
    cr_assert_not_null(f);
    cr_assert_eq(d.errors, 0);
    char *dump = dump_to_string(f);
    cr_assert_str_eq(dump, design_example_dump);
    free(dump);
    ast_free(f);
    diag_free(&d);
    free(text);
}

Test(front_parser, design_example_fields)
{
    size_t len;
    char *text = tu_read_file("tests/data/design_example.xai", &len);
    cr_assert_not_null(text);
    xai_diag d;
    diag_init(&d, stderr);
    ast_file *f = ast_parse(&d, diag_add_source(&d, "design.xai", text, len));
    cr_assert_eq(d.errors, 0);
    cr_assert_eq(f->n_items, 16); /* import, network, rule, 13 explains */

    const ast_network *net = &f->items[1].u.network;
    cr_assert_str_eq(net->name, "mnist_cnn");
    cr_assert_eq(net->n_stmts, 13);
    const ast_net_stmt *input = &net->stmts[1];
    cr_assert_eq(input->kind, NS_INPUT);
    cr_assert_str_eq(input->name, "x");
    cr_assert_eq(input->n_dims, 3);
    cr_assert_eq(input->dims[0]->kind, EX_NUMBER);
    cr_assert_eq(input->dims[1]->number, 28.0);
    cr_assert(input->dims[2]->is_int);
    cr_assert(input->has_range);
    cr_assert_eq(input->range_high->number, 1.0);
    cr_assert_eq(input->name_loc.line, 5);
    cr_assert_eq(input->name_loc.col, 11);

    /* conv1 = conv2d(x, 32, kernel=3, pad=1); */
    const ast_net_stmt *conv1 = &net->stmts[2];
    cr_assert_eq(conv1->kind, NS_LAYER);
    cr_assert_str_eq(conv1->name, "conv1");
    cr_assert_eq(conv1->name_loc.line, 7);
    cr_assert_eq(conv1->name_loc.col, 5);
    cr_assert_eq(conv1->name_loc.end_col, 9);
    const ast_expr *call = conv1->value;
    cr_assert_eq(call->kind, EX_CALL);
    cr_assert_str_eq(call->text, "conv2d");
    cr_assert_eq(call->loc.line, 7); /* the callee: where "unknown op" points */
    cr_assert_eq(call->loc.col, 13);
    cr_assert_eq(call->loc.end_col, 18);
    cr_assert_eq(call->n_args, 4);
    cr_assert_null(call->args[0].name);
    cr_assert_eq(call->args[0].value->kind, EX_IDENT);
    cr_assert_str_eq(call->args[0].value->text, "x");
    cr_assert_str_eq(call->args[2].name, "kernel");
    cr_assert_eq(call->args[2].name_loc.col, 27);
    cr_assert_eq(call->args[2].value->number, 3.0);

    const ast_net_stmt *fc1 = &net->stmts[9];
    cr_assert_str_eq(fc1->name, "fc1");
    cr_assert_str_eq(fc1->from, "classifier.0");
    cr_assert_eq(fc1->from_loc.line, 14);
    cr_assert_eq(fc1->from_loc.col, 35);
    cr_assert_null(net->stmts[8].from);

    const ast_net_stmt *out = &net->stmts[12];
    cr_assert_eq(out->kind, NS_OUTPUT);
    cr_assert_eq(out->n_outputs, 1);
    cr_assert_str_eq(out->outputs[0], "fc2");
    cr_assert_eq(out->output_locs[0].col, 12);

    const ast_rule *rule = &f->items[2].u.rule;
    cr_assert_eq(f->items[2].kind, TOP_RULE);
    cr_assert_str_eq(rule->name, "my_gamma");
    cr_assert_eq(rule->n_params, 1);
    cr_assert_str_eq(rule->params[0].name, "g");
    cr_assert_eq(rule->params[0].default_value->number, 0.25);
    cr_assert_not(rule->params[0].default_value->is_int);
    cr_assert_eq(rule->n_ops, 2);
    cr_assert_str_eq(rule->ops[1], "conv2d");
    cr_assert_eq(rule->op_locs[1].col, 35);
    cr_assert_eq(rule->n_lets, 0);
    cr_assert_eq(rule->body->kind, EX_CALL);
    cr_assert_str_eq(rule->body->text, "share");

    const ast_explain *lrp = &f->items[3].u.explain;
    cr_assert_str_eq(lrp->name, "lrp");
    cr_assert_str_eq(lrp->network, "mnist_cnn");
    cr_assert_eq(lrp->network_loc.col, 17);
    cr_assert_eq(lrp->n_stmts, 5);
    cr_assert_eq(lrp->stmts[0].kind, ES_SETTING);
    cr_assert_str_eq(lrp->stmts[0].key, "seed");
    cr_assert_eq(lrp->stmts[3].kind, ES_ASSIGN);
    cr_assert_str_eq(lrp->stmts[3].key, "fc2");
    cr_assert_eq(lrp->stmts[3].key_loc.line, 28);
    cr_assert_eq(lrp->stmts[3].value->args[0].value->number, 0.01);

    ast_free(f);
    diag_free(&d);
    free(text);
}

Test(front_parser, precedence_and_associativity)
{
    char *s = layer_expr("network n { y = a + b * c - d / e; }");
    cr_assert_str_eq(s, "((a + (b * c)) - (d / e))");
    free(s);
    s = layer_expr("network n { y = a - b - c; }");
    cr_assert_str_eq(s, "((a - b) - c)");
    free(s);
    s = layer_expr("network n { y = where(z > 0, a * -b, -(c + 1)); }");
    cr_assert_str_eq(s, "where((z > 0), (a * (-b)), (-(c + 1)))");
    free(s);
    s = layer_expr("network n { y = a + 1 >= b * 2; }"); /* comparisons bind loosest */
    cr_assert_str_eq(s, "((a + 1) >= (b * 2))");
    free(s);
    s = layer_expr("network n { y = f(a <= b, a == b, a != b, a < b); }");
    cr_assert_str_eq(s, "f((a <= b), (a == b), (a != b), (a < b))");
    free(s);
}

Test(front_parser, comparison_chain_is_an_error)
{
    parsed p;
    parse_text(&p, "network n { y = a < b < c; }");
    cr_assert_eq(p.diag.errors, 1);
    cr_assert(strstr(p.messages, "t.xai:1:23: error: expected ';' after the layer definition, found '<'"), "got:\n%s",
              p.messages);
    parsed_free(&p);
}

Test(front_parser, numbers)
{
    parsed p;
    parse_text(&p, "network n { y = f(3, 0.25, 1e-6, 2.5E+3, .5, 7., 12e2, -4, 1.0); }");
    cr_assert_eq(p.diag.errors, 0, "%s", p.messages);
    const ast_expr *call = p.file->items[0].u.network.stmts[0].value;
    const double values[] = { 3, 0.25, 1e-6, 2500, 0.5, 7, 1200, -4, 1.0 };
    const int is_int[] = { 1, 0, 0, 0, 0, 0, 0, 1, 0 };
    cr_assert_eq(call->n_args, 9);
    for (int i = 0; i < 9; i++) {
        cr_assert_eq(call->args[i].value->kind, EX_NUMBER, "arg %d", i);
        cr_assert_eq(call->args[i].value->number, values[i], "arg %d", i);
        cr_assert_eq(call->args[i].value->is_int, is_int[i], "arg %d", i);
    }
    /* -4 is folded into one literal that starts at the '-' */
    cr_assert_eq(call->args[7].value->loc.col, 56);
    cr_assert_eq(call->args[7].value->loc.end_col, 57);
    char *s = expr_to_string(call);
    cr_assert_str_eq(s, "f(3, 0.25, 1e-06, 2500.0, 0.5, 7.0, 1200.0, -4, 1.0)");
    free(s);
    parsed_free(&p);
}

Test(front_parser, weights_options)
{
    parsed p;
    parse_text(&p, "network n { weights \"w.safetensors\" strict=false; input x[2]; }");
    cr_assert_eq(p.diag.errors, 0, "%s", p.messages);
    const ast_net_stmt *w = &p.file->items[0].u.network.stmts[0];
    cr_assert_eq(w->kind, NS_WEIGHTS);
    cr_assert_eq(w->n_options, 1);
    cr_assert_str_eq(w->options[0].name, "strict");
    cr_assert_eq(w->options[0].name_loc.col, 37);
    cr_assert_eq(w->options[0].value->kind, EX_IDENT);
    cr_assert_str_eq(w->options[0].value->text, "false");
    char *dump = dump_to_string(p.file);
    cr_assert(strstr(dump, "    weights \"w.safetensors\" strict=false @1:13\n"), "got:\n%s", dump);
    free(dump);
    parsed_free(&p);
}

Test(front_parser, strings_and_escapes)
{
    parsed p;
    parse_text(&p, "network n { weights \"a\\\"b\\\\c\\nd\"; y = f(\"x y\", \"\"); }");
    cr_assert_eq(p.diag.errors, 0, "%s", p.messages);
    const ast_net_stmt *w = &p.file->items[0].u.network.stmts[0];
    cr_assert_eq(w->kind, NS_WEIGHTS);
    cr_assert_str_eq(w->path, "a\"b\\c\nd");
    cr_assert_eq(w->path_loc.col, 21);
    cr_assert_eq(w->path_loc.end_col, 32);
    const ast_expr *call = p.file->items[0].u.network.stmts[1].value;
    cr_assert_eq(call->args[0].value->kind, EX_STRING);
    cr_assert_str_eq(call->args[0].value->text, "x y");
    cr_assert_str_eq(call->args[1].value->text, "");
    char *dump = dump_to_string(p.file);
    cr_assert(strstr(dump, "    weights \"a\\\"b\\\\c\\nd\" @1:13\n"), "got:\n%s", dump);
    free(dump);
    parsed_free(&p);
}

Test(front_parser, lists_calls_and_comments)
{
    char *s = layer_expr("# leading comment\nnetwork n { # here too\n"
                         "  y = conv2d(x, 32, kernel=[3, 5], pad=[1, 1, 1, 1], stride=same, bias=f()); # tail\n}");
    cr_assert_str_eq(s, "conv2d(x, 32, kernel=[3, 5], pad=[1, 1, 1, 1], stride=same, bias=f())");
    free(s);
    s = layer_expr("network n { y = [[], [1], [a, [b]]]; }");
    cr_assert_str_eq(s, "[[], [1], [a, [b]]]");
    free(s);
}

Test(front_parser, rule_with_lets_and_no_params)
{
    parsed p;
    parse_text(&p,
               "rule zplus on dense, conv2d {\n  z = a * pos(w);\n  q = z + 1;\n  share(z, stabilize=1e-6);\n}\n"
               "rule r() on relu { r; }\n");
    cr_assert_eq(p.diag.errors, 0, "%s", p.messages);
    cr_assert_eq(p.file->n_items, 2);
    const ast_rule *r = &p.file->items[0].u.rule;
    cr_assert_str_eq(r->name, "zplus");
    cr_assert_eq(r->n_params, 0);
    cr_assert_eq(r->n_ops, 2);
    cr_assert_eq(r->n_lets, 2);
    cr_assert_str_eq(r->lets[0].name, "z");
    cr_assert_eq(r->lets[0].loc.line, 2);
    cr_assert_eq(r->lets[0].loc.col, 3);
    cr_assert_str_eq(r->lets[1].name, "q");
    cr_assert_eq(r->body->n_args, 2);
    cr_assert_str_eq(r->body->args[1].name, "stabilize");
    char *dump = dump_to_string(p.file);
    cr_assert_str_eq(dump,
                     "file t.xai\n"
                     "  rule zplus on dense, conv2d @1:6\n"
                     "    let z = (a * pos(w)) @2:3\n"
                     "    let q = (z + 1) @3:3\n"
                     "    body share(z, stabilize=1e-06) @4:3\n"
                     "  rule r on relu @6:6\n"
                     "    body r @6:20\n");
    free(dump);
    parsed_free(&p);
}

Test(front_parser, preset_and_settings)
{
    parsed p;
    parse_text(&p,
               "preset my_preset(low = -1, high) {\n  dense: epsilon(0.25);\n  first: zbox(low, high);\n  method "
               "gradient;\n}\n"
               "network n { input v[784]; output a, b; }\n");
    cr_assert_eq(p.diag.errors, 0, "%s", p.messages);
    const ast_preset *ps = &p.file->items[0].u.preset;
    cr_assert_eq(p.file->items[0].kind, TOP_PRESET);
    cr_assert_str_eq(ps->name, "my_preset");
    cr_assert_eq(ps->n_params, 2);
    cr_assert_eq(ps->params[0].default_value->number, -1.0);
    cr_assert_null(ps->params[1].default_value);
    cr_assert_eq(ps->n_stmts, 3);
    cr_assert_eq(ps->stmts[0].kind, ES_ASSIGN);
    cr_assert_str_eq(ps->stmts[0].key, "dense");
    cr_assert_eq(ps->stmts[2].kind, ES_SETTING);
    const ast_net_stmt *in = &p.file->items[1].u.network.stmts[0];
    cr_assert_eq(in->n_dims, 1);
    cr_assert_not(in->has_range);
    const ast_net_stmt *out = &p.file->items[1].u.network.stmts[1];
    cr_assert_eq(out->n_outputs, 2);
    cr_assert_str_eq(out->outputs[1], "b");
    cr_assert_eq(out->output_locs[1].col, 37);
    char *dump = dump_to_string(p.file);
    cr_assert_str_eq(dump,
                     "file t.xai\n"
                     "  preset my_preset(low = -1, high) @1:8\n"
                     "    assign dense: epsilon(0.25) @2:3\n"
                     "    assign first: zbox(low, high) @3:3\n"
                     "    setting method gradient @4:3\n"
                     "  network n @6:9\n"
                     "    input v [784] @6:13\n"
                     "    output a, b @6:27\n");
    free(dump);
    parsed_free(&p);
}

Test(front_parser, empty_and_comment_only_files)
{
    parsed p;
    parse_text(&p, "");
    cr_assert_eq(p.diag.errors, 0);
    cr_assert_eq(p.file->n_items, 0);
    parsed_free(&p);
    parse_text(&p, "# only a comment, no newline");
    cr_assert_eq(p.diag.errors, 0);
    cr_assert_eq(p.file->n_items, 0);
    cr_assert_str_eq(p.messages, "");
    parsed_free(&p);
}

Test(front_parser, keywords_are_reserved_but_similar_names_are_not)
{
    /* `first`, `method`, `inputs`, `format` are ordinary identifiers; `input` is a keyword */
    char *s = layer_expr("network n { y = f(first, method, inputs, format, ranges); }");
    cr_assert_str_eq(s, "f(first, method, inputs, format, ranges)");
    free(s);
    parsed p;
    parse_text(&p, "network n { input = relu(x); }");
    cr_assert_eq(p.diag.errors, 1);
    cr_assert(strstr(p.messages, "t.xai:1:19: error: expected identifier, found '='"), "got:\n%s", p.messages);
    parsed_free(&p);
}

Test(front_parser, crlf_line_endings)
{
    parsed p;
    parse_text(&p, "network n {\r\n  y = relu(x);\r\n}\r\n");
    cr_assert_eq(p.diag.errors, 0, "%s", p.messages);
    cr_assert_eq(p.file->items[0].u.network.stmts[0].name_loc.line, 2);
    cr_assert_eq(p.file->items[0].u.network.stmts[0].name_loc.col, 3);
    parsed_free(&p);
}

Test(front_parser, deep_nesting_is_an_error_not_a_crash)
{
    /* 1 + 1 + ... (left-nested) deeper than the limit, and many parentheses */
    size_t n = 3000;
    char *text = malloc(n * 4 + 64);
    strcpy(text, "network n { y = 1");
    for (size_t i = 0; i < n; i++) strcat(text, " + 1");
    strcat(text, "; }");
    parsed p;
    parse_text(&p, text);
    cr_assert_eq(p.diag.errors, 1);
    cr_assert(strstr(p.messages, "expression is nested too deeply (more than 1000 levels)"), "got:\n%.300s",
              p.messages);
    parsed_free(&p);

    strcpy(text, "network n { y = ");
    for (size_t i = 0; i < n; i++) strcat(text, "(");
    parse_text(&p, text);
    cr_assert_geq(p.diag.errors, 1);
    parsed_free(&p);
    free(text);
}
