/* Syntax and lexical errors: the message, its line:col, and that every error of a file is reported. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "diag.h"

/* Parses `text` as "s.xai"; returns the diagnostics (malloc'd) and the error count. */
static char *errors_of(const char *text, int *n_errors)
{
    char *out = NULL;
    size_t len = 0;
    FILE *stream = open_memstream(&out, &len);
    xai_diag d;
    diag_init(&d, stream);
    xai_source *src = diag_add_source(&d, "s.xai", text, strlen(text));
    ast_file *f = ast_parse(&d, src);
    cr_assert_not_null(f);
    *n_errors = d.errors;
    ast_free(f);
    diag_free(&d);
    fclose(stream);
    return out;
}

/* Asserts that `text` gives exactly one error and that its first line is `expected_first_line`. */
static void assert_single_error(const char *text, const char *expected_first_line)
{
    int n;
    char *out = errors_of(text, &n);
    char *nl = strchr(out, '\n');
    cr_assert_not_null(nl, "no message for:\n%s", text);
    *nl = 0;
    cr_assert_str_eq(out, expected_first_line, "input:\n%s", text);
    cr_assert_eq(n, 1, "input:\n%s\nall messages:\n%s\n%s", text, out, nl + 1);
    free(out);
}

Test(front_syntax, missing_semicolon_points_after_the_previous_token)
{
    int n;
    char *out = errors_of("network n {\n    conv1 = conv2d(x, 32)\n    act1 = relu(conv1);\n    output act1;\n}\n", &n);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(out,
                     "s.xai:2:26: error: expected ';' after the layer definition, found identifier 'act1'\n"
                     "    2 |     conv1 = conv2d(x, 32)\n"
                     "      |                          ^\n");
    free(out);
}

Test(front_syntax, missing_semicolon_on_the_same_line_points_at_the_token)
{
    assert_single_error("network n { y = relu(x) z; }",
                        "s.xai:1:25: error: expected ';' after the layer definition, found identifier 'z'");
    assert_single_error(
        "network n { weights \"w\" input x[1]; }",
        "s.xai:1:25: error: expected identifier or ';' after the weights statement, found keyword 'input'");
    assert_single_error(
        "network n { input x[1] rnage [0, 1]; }",
        "s.xai:1:24: error: expected 'range', 'image' or ';' after the input declaration, found identifier 'rnage'");
    assert_single_error("network n { output a b; }",
                        "s.xai:1:22: error: expected ';' or ',' after the output statement, found identifier 'b'");
    assert_single_error("import \"a.xai\" import \"b.xai\";",
                        "s.xai:1:16: error: expected ';' after the import, found keyword 'import'");
    assert_single_error("rule r on dense { z = a * w share(z); }",
                        "s.xai:1:29: error: expected ';' after the local definition, found identifier 'share'");
    assert_single_error("rule r on dense { share(a) }",
                        "s.xai:1:28: error: expected ';' after the rule's expression, found '}'");
    assert_single_error("explain e for n { method gradient post square; }",
                        "s.xai:1:35: error: expected ';' after the setting, found identifier 'post'");
    assert_single_error("explain e for n { relu: guided deconv; }",
                        "s.xai:1:32: error: expected ';' after the rule assignment, found identifier 'deconv'");
}

Test(front_syntax, expected_and_found)
{
    assert_single_error("network n { y = conv2d(x,, 3); }", "s.xai:1:26: error: expected an expression, found ','");
    assert_single_error("network n { y = conv2d(x 3); }", "s.xai:1:26: error: expected ',' or ')', found number '3'");
    assert_single_error("network n { y = [1, 2; }", "s.xai:1:22: error: expected ',' or ']', found ';'");
    assert_single_error("network n { y = ; }", "s.xai:1:17: error: expected an expression, found ';'");
    assert_single_error(
        "network n { 5; }",
        "s.xai:1:13: error: expected identifier, 'weights', 'input', 'output' or '}', found number '5'");
    assert_single_error("network n { y relu(x); }", "s.xai:1:15: error: expected '=', found identifier 'relu'");
    assert_single_error("network { }", "s.xai:1:9: error: expected identifier, found '{'");
    assert_single_error("explain e network n { method gradient; }",
                        "s.xai:1:11: error: expected 'for', found keyword 'network'");
    assert_single_error("rule r(g = 1 on dense { r; }", "s.xai:1:14: error: expected ',' or ')', found keyword 'on'");
    assert_single_error("rule r { r; }", "s.xai:1:8: error: expected 'on' or '(', found '{'");
    assert_single_error(
        "netwrk n { y = relu(x); }",
        "s.xai:1:1: error: expected 'import', 'network', 'rule', 'preset' or 'explain', found identifier 'netwrk'");
    assert_single_error("network n { weights \"w\"; }\n}",
                        "s.xai:2:1: error: expected 'import', 'network', 'rule', 'preset' or 'explain', found '}'");
    assert_single_error("explain e for n { method: ; }", "s.xai:1:27: error: expected an expression, found ';'");
    assert_single_error("network n { y = a * * b; }", "s.xai:1:21: error: expected an expression, found '*'");
}

Test(front_syntax, end_of_file_points_after_the_last_token)
{
    int n;
    char *out = errors_of("network n {\n  y = relu(x);\n\n", &n);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(out,
                     "s.xai:2:15: error: expected identifier, 'weights', 'input', 'output' or '}', found end of file\n"
                     "    2 |   y = relu(x);\n"
                     "      |               ^\n");
    free(out);
    assert_single_error("network n { y = f((((1", "s.xai:1:23: error: expected ')', found end of file");
}

Test(front_syntax, rule_body_shape)
{
    assert_single_error("rule r on dense { z = a * w; }",
                        "s.xai:1:30: error: rule 'r' must end with an expression (the relevance or gradient it "
                        "computes), e.g. 'share(a * w);'");
    assert_single_error("rule r on dense { share(a); z = 2; share(b); }",
                        "s.xai:1:19: error: only the last statement of a rule body can be a bare expression; give this "
                        "one a name (name = ...;) or remove it");
}

Test(front_syntax, all_errors_of_a_file_are_reported)
{
    int n;
    char *out = errors_of("network n {\n"                      /* 1 */
                          "    a = conv2d(x, 32\n"             /* 2: missing ')' */
                          "    b = relu(a);\n"                 /* 3 */
                          "    c = relu(b) d;\n"               /* 4: junk */
                          "}\n"                                /* 5 */
                          "rule r on dense { share(a * ); }\n" /* 6: missing operand */
                          "explain e for n {\n"                /* 7 */
                          "    method gradient\n"              /* 8: missing ';' */
                          "    relu: guided;\n"                /* 9 */
                          "}\n"                                /* 10 */
                          "explain f for n { seed logit; }\n"  /* 11: fine, still parsed */
                          "garbage here;\n"                    /* 12 */
                          "network m { output x; \n",          /* 13: missing '}' */
                          &n);
    const char *expected[] = {
        "s.xai:2:21: error: expected ',' or ')', found identifier 'b'",
        "s.xai:4:17: error: expected ';' after the layer definition, found identifier 'd'",
        "s.xai:6:29: error: expected an expression, found ')'",
        "s.xai:8:20: error: expected ';' after the setting, found identifier 'relu'",
        "s.xai:12:1: error: expected 'import', 'network', 'rule', 'preset' or 'explain', found identifier 'garbage'",
        "s.xai:13:22: error: expected identifier, 'weights', 'input', 'output' or '}', found end of file",
    };
    int n_expected = (int)(sizeof expected / sizeof expected[0]);
    cr_assert_eq(n, n_expected, "got:\n%s", out);
    const char *p = out;
    for (int i = 0; i < n_expected; i++) {
        p = strstr(p, expected[i]);
        cr_assert_not_null(p, "missing (in order): %s\ngot:\n%s", expected[i], out);
        p += strlen(expected[i]);
    }
    free(out);
}

Test(front_syntax, recovery_keeps_the_good_items)
{
    xai_diag d;
    FILE *null = fopen("/dev/null", "w");
    diag_init(&d, null);
    const char *text = "network n { y = ; z = relu(x); }\n"
                       "bogus;\n"
                       "explain e for n { method gradient }\n" /* missing ';' before '}' */
                       "import \"x.xai\"\n"                    /* missing ';' before a keyword */
                       "rule r on relu { r; }\n";
    ast_file *f = ast_parse(&d, diag_add_source(&d, "r.xai", text, strlen(text)));
    cr_assert_eq(d.errors, 4);
    cr_assert_eq(f->n_items, 4);
    cr_assert_eq(f->items[0].kind, TOP_NETWORK);
    cr_assert_eq(f->items[0].u.network.n_stmts, 1); /* the broken statement is dropped */
    cr_assert_str_eq(f->items[0].u.network.stmts[0].name, "z");
    cr_assert_eq(f->items[1].kind, TOP_EXPLAIN);
    cr_assert_eq(f->items[2].kind, TOP_IMPORT);
    cr_assert_eq(f->items[3].kind, TOP_RULE);
    cr_assert_str_eq(f->items[3].u.rule.body->text, "r");
    ast_free(f);
    diag_free(&d);
    fclose(null);
}

Test(front_syntax, missing_close_brace_before_the_next_item)
{
    xai_diag d;
    FILE *null = fopen("/dev/null", "w");
    diag_init(&d, null);
    const char *text = "network n { y = relu(x);\nrule r on relu { r; }\n";
    ast_file *f = ast_parse(&d, diag_add_source(&d, "r.xai", text, strlen(text)));
    cr_assert_eq(d.errors, 1);
    cr_assert_eq(f->n_items, 2);
    cr_assert_eq(f->items[0].u.network.n_stmts, 1);
    cr_assert_eq(f->items[1].kind, TOP_RULE);
    ast_free(f);
    diag_free(&d);
    fclose(null);
}

Test(front_syntax, lexical_errors)
{
    assert_single_error(
        "network n { y = relu(x) @ 2; }",
        "s.xai:1:25: error: invalid character '@'; this is not part of the language (comments start with '#')");
    assert_single_error(
        "network n { y = relu(x); } $$$",
        "s.xai:1:28: error: invalid characters '$$$'; this is not part of the language (comments start with '#')");
    assert_single_error("network n { weights \"w.safetensors;\n}\n",
                        "s.xai:1:21: error: unterminated string; add the closing '\"' before the end of the line");
    assert_single_error("network n { y = f(12abc); }", "s.xai:1:19: error: malformed number '12abc'");
    assert_single_error("network n { y = f(1e+); }", "s.xai:1:19: error: malformed number '1e+'");
    assert_single_error("network n { y = f(1.2.3); }", "s.xai:1:19: error: malformed number '1.2.3'");
    assert_single_error("network n { y = f(1e400); }",
                        "s.xai:1:19: error: number '1e400' is too large; numbers are 32-bit floats (at most 3.4e38)");
    assert_single_error("network n { weights \"a\\qb\"; }",
                        "s.xai:1:23: error: unknown escape sequence '\\q' in string; use \\\", \\\\, \\n or \\t");
    assert_single_error(
        "network n { y = f(x) ! 3; }",
        "s.xai:1:22: error: invalid character '!'; this is not part of the language (comments start with '#')");
    assert_single_error("\x01\xff\xc3\xa9 network n { }",
                        "s.xai:1:1: error: invalid characters '\\x01\\xff\xc3\xa9'; this is not part of the language "
                        "(comments start with '#')");
}

Test(front_syntax, lexical_error_underline)
{
    int n;
    char *out = errors_of("network n { y = f(12abc); }", &n);
    cr_assert_str_eq(out,
                     "s.xai:1:19: error: malformed number '12abc'\n"
                     "    1 | network n { y = f(12abc); }\n"
                     "      |                   ^~~~~\n");
    free(out);
}

Test(front_syntax, embedded_nul_bytes)
{
    const char text[] = "network n { y\0 = relu(x); }";
    xai_diag d;
    char *out = NULL;
    size_t len = 0;
    FILE *stream = open_memstream(&out, &len);
    diag_init(&d, stream);
    ast_file *f = ast_parse(&d, diag_add_source(&d, "z.xai", text, sizeof text - 1));
    cr_assert_not_null(f);
    cr_assert_eq(d.errors, 1);
    fflush(stream);
    cr_assert(strstr(out, "z.xai:1:14: error: invalid character '\\x00'"), "got:\n%s", out);
    ast_free(f);
    diag_free(&d);
    fclose(stream);
    free(out);
}
