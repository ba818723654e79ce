/* Killed and resumed jobs (docs/scaling.md): xaic run and xaic eval killed with SIGKILL at several moments (while
 * compiling, after a few chunks, at a random later point, during the resumed run itself), a journal torn in the
 * middle of a line and chunks of the partial output overwritten behind the journal's back: --resume always ends
 * with the bytes of an uninterrupted run and no file of the job's left over. Also a job stopped after its outputs
 * were committed (its `complete` journal), and journals that are not this job's. */
#include "dataset_util.h"

#define RECORDS 700

static const char *EGB = "import \"" XAIC_SOURCE_DIR "/models/mnist_cnn.xai\";\n"
                         "explain egb for mnist_cnn { rules epsilon_gamma_box(low=0, high=1); }\n"
                         "explain sens for mnist_cnn { method gradient; post square; }\n";

static char *command(const char *xai, const char *data, const char *out, const char *extra)
{
    char *c = NULL;
    cr_assert(
        asprintf(&c, "env XAI_NUM_THREADS=1 '%s' run '%s' --explain egb --input '%s' -o '%s' --chunk 25 --batch 25 %s",
                 XAIC_EXE, xai, data, out, extra) > 0);
    return c;
}

static char *journal_of(const char *out)
{
    char *j = NULL;
    cr_assert(asprintf(&j, "%s.xaic-journal", out) > 0);
    return j;
}

/* Starts the run, kills it when the journal lists `lines` chunks (0: after `delay` seconds), returns whether it was
 * still running then. */
static int run_and_kill(const char *cmd, const char *journal, int lines, double delay)
{
    char *log = du_path("killed.log");
    pid_t pid = du_spawn(cmd, log);
    int reached = 1;
    if (lines)
        reached = du_wait_for(pid, journal, lines, 120) == 1;
    else {
        struct timespec t = { (time_t)delay, (long)((delay - (int)delay) * 1e9) };
        nanosleep(&t, NULL);
    }
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    free(log);
    return reached && WIFSIGNALED(status);
}

static void resume_and_compare(const char *cmd, const char *out, const char *reference)
{
    char *full = NULL, *output = NULL;
    cr_assert(asprintf(&full, "%s --resume", cmd) > 0);
    int rc = tu_run(full, &output);
    cr_assert_eq(rc, 0, "%s\n%s", full, output);
    du_expect_same_file(out, reference);
    char *journal = journal_of(out), *partial = NULL;
    cr_assert(asprintf(&partial, "%s.xaic-partial", out) > 0);
    cr_expect(!du_exists(journal) && !du_exists(partial), "the journal and the partial output are gone");
    free(full), free(output), free(journal), free(partial);
}

Test(dataset_resume, run_killed_at_any_moment_resumes_to_the_same_bytes, .timeout = 300)
{
    char *xai = tu_write_temp("egb.xai", EGB, strlen(EGB)), *data = du_digits("k.npy", RECORDS, 5);
    char *ref = du_path("ref.npy"), *out = du_path("k_out.npy"), *journal = journal_of(out), *output = NULL;
    char *ref_cmd = command(xai, data, ref, ""), *cmd = command(xai, data, out, "--progress 5");
    cr_assert_eq(tu_run(ref_cmd, &output), 0, "%s", output);
    free(output);
    srand(20261204);
    int points[4] = { 0, 2, 5 + rand() % 30, 0 };
    for (int k = 0; k < 4; k++) {
        if (k < 3) {
            int was_running = run_and_kill(cmd, journal, points[k], 0.4);
            cr_expect(was_running || k == 0, "kill %d: the run was still running", k);
        } else { /* a kill during the resumed run */
            run_and_kill(cmd, journal, 2, 0);
            char *again = NULL;
            cr_assert(asprintf(&again, "%s --resume", cmd) > 0);
            run_and_kill(again, journal, du_done_lines(journal) + 3, 0);
            free(again);
        }
        if (k == 1) { /* without --resume the journal is not overwritten: the message says what to do */
            cr_assert_eq(tu_run(cmd, &output), 1, "%s", output);
            cr_expect(strstr(output, "add --resume to finish it") != NULL, "%s", output);
            free(output);
        }
        resume_and_compare(cmd, out, ref);
    }
    free(xai), free(data), free(ref), free(out), free(journal), free(ref_cmd), free(cmd);
}

Test(dataset_resume, torn_journals_and_damaged_chunks_are_computed_again, .timeout = 200)
{
    char *xai = tu_write_temp("egb2.xai", EGB, strlen(EGB)), *data = du_digits("t.npy", RECORDS, 9);
    char *ref = du_path("t_ref.npy"), *out = du_path("t_out.npy"), *journal = journal_of(out), *output = NULL;
    char *ref_cmd = command(xai, data, ref, ""), *cmd = command(xai, data, out, "");
    cr_assert_eq(tu_run(ref_cmd, &output), 0, "%s", output);
    free(output);
    cr_assert(run_and_kill(cmd, journal, 6, 0), "killed while running");
    /* power loss in the middle of a journal line, and a chunk's rows lost although its line is there */
    FILE *f = fopen(journal, "a");
    fputs("done 57 0A0B0C", f);
    fclose(f);
    char *partial = NULL;
    cr_assert(asprintf(&partial, "%s.xaic-partial", out) > 0);
    int fd = open(partial, O_WRONLY);
    cr_assert(fd >= 0);
    float zeros[256] = { 0 };
    cr_assert_eq(pwrite(fd, zeros, sizeof zeros, 128 + 784 * 4 * 3), (ssize_t)sizeof zeros); /* chunk 0 */
    close(fd);
    char *full = NULL;
    cr_assert(asprintf(&full, "%s --resume", cmd) > 0);
    cr_assert_eq(tu_run(full, &output), 0, "%s", output);
    cr_expect(strstr(output, "the journal's last 1 line did not check") != NULL, "%s", output);
    cr_expect(strstr(output, "1 chunk in the journal did not match the outputs; computed again") != NULL, "%s", output);
    du_expect_same_file(out, ref);
    free(output);
    /* a journal of another job is refused, naming both */
    cr_assert(run_and_kill(cmd, journal, 2, 0));
    char *other = NULL;
    cr_assert(asprintf(&other,
                       "env XAI_NUM_THREADS=1 '%s' run '%s' --explain sens --input '%s' -o '%s' --chunk 25 "
                       "--batch 25 --resume",
                       XAIC_EXE, xai, data, out) > 0);
    cr_assert_eq(tu_run(other, &output), 1, "%s", output);
    cr_expect(strstr(output, "is the journal of a different job") != NULL && strstr(output, "explain=egb") &&
                  strstr(output, "explain=sens"),
              "%s", output);
    free(output);
    /* a damaged header: not used, and nothing is overwritten */
    f = fopen(journal, "r+");
    fputs("XAIC", f);
    fclose(f);
    cr_assert_eq(tu_run(full, &output), 1, "%s", output);
    cr_expect(strstr(output, "cannot be used") != NULL || strstr(output, "not a journal") != NULL, "%s", output);
    cr_expect(du_exists(partial), "the partial output is kept");
    free(output);
    unlink(journal);
    unlink(partial);
    free(xai), free(data), free(ref), free(out), free(journal), free(ref_cmd), free(cmd), free(partial), free(full),
        free(other);
}

Test(dataset_resume, a_job_stopped_after_its_commit_finishes, .timeout = 120)
{
    char *xai = tu_write_temp("egb3.xai", EGB, strlen(EGB)), *data = du_digits("c.npy", 120, 13);
    char *ref = du_path("c_ref.npy"), *out = du_path("c_out.npy"), *journal = journal_of(out), *output = NULL;
    char *ref_cmd = command(xai, data, ref, ""), *list = du_path("c_list.txt");
    cr_assert_eq(tu_run(ref_cmd, &output), 0, "%s", output);
    free(output);
    /* the skip list goes to a directory that does not exist: the job fails after committing its output */
    char *bad_list = NULL, *extra = NULL;
    cr_assert(asprintf(&bad_list, "%s/no/such/dir/list.txt", tu_tmpdir()) > 0);
    cr_assert(asprintf(&extra, "--skip-bad '%s'", bad_list) > 0);
    char *cmd = command(xai, data, out, extra);
    cr_assert_eq(tu_run(cmd, &output), 1, "%s", output);
    free(output);
    cr_expect(du_exists(journal) && du_exists(out), "the output is committed, the journal says complete");
    free(extra);
    cr_assert(asprintf(&extra, "--skip-bad '%s'", list) > 0);
    char *fixed = command(xai, data, out, extra);
    resume_and_compare(fixed, out, ref);
    cr_expect(du_exists(list), "the list is written");
    free(xai), free(data), free(ref), free(out), free(journal), free(ref_cmd), free(list), free(bad_list), free(extra),
        free(cmd), free(fixed);
}

/* eval: per_input.npy, the CSVs, the strips and results.json (but for the timings) of an uninterrupted run */
Test(dataset_resume, eval_killed_and_resumed_reports_the_same, .timeout = 240)
{
    char *data = du_digits("ev.npy", 400, 17), *a = du_path("ev_ref"), *b = du_path("ev_killed"), *output = NULL;
    char *cmd_a = NULL, *cmd_b = NULL, *journal = NULL;
    const char *common = "eval tests/fixtures/eval/mnist_cnn_six.xai --explain sensitivity,epsilon_plus --metric "
                         "selectivity --steps 4 --order both --batch 10 --chunk 20";
    cr_assert(asprintf(&cmd_a, "env XAI_NUM_THREADS=1 '%s' %s --data '%s' -o '%s'", XAIC_EXE, common, data, a) > 0);
    cr_assert(asprintf(&cmd_b, "env XAI_NUM_THREADS=1 '%s' %s --data '%s' -o '%s'", XAIC_EXE, common, data, b) > 0);
    cr_assert(asprintf(&journal, "%s/per_input.npy.xaic-journal", b) > 0);
    cr_assert_eq(tu_run(cmd_a, &output), 0, "%s", output);
    free(output);
    cr_assert(run_and_kill(cmd_b, journal, 3, 0), "killed while running");
    char *resume = NULL;
    cr_assert(asprintf(&resume, "%s --resume", cmd_b) > 0);
    cr_assert_eq(tu_run(resume, &output), 0, "%s", output);
    cr_expect(strstr(output, "resuming: ") != NULL, "%s", output);
    free(output);
    const char *files[] = { "per_input.npy",
                            "curves.csv",
                            "per_image.csv",
                            "strip_epsilon_plus.png",
                            "strip_sensitivity_least_relevant_first.png",
                            "selectivity_most_relevant_first.svg" };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char *x = NULL, *y = NULL;
        cr_assert(asprintf(&x, "%s/%s", a, files[i]) > 0 && asprintf(&y, "%s/%s", b, files[i]) > 0);
        du_expect_same_file(x, y);
        free(x), free(y);
    }
    char *cmp = NULL;
    cr_assert(asprintf(&cmp, "diff <(grep -v seconds '%s/results.json') <(grep -v seconds '%s/results.json')", a, b) >
              0);
    char *bash = NULL;
    cr_assert(asprintf(&bash, "bash -c \"%s\"", cmp) > 0);
    cr_expect_eq(tu_run(bash, &output), 0, "results.json differs beyond the timings:\n%s", output);
    cr_expect(!du_exists(journal), "no journal left");
    free(output), free(cmp), free(bash), free(resume), free(data), free(a), free(b), free(cmd_a), free(cmd_b),
        free(journal);
}
