/* xaic run and xaic eval under Open MPI on this machine (mpirun --oversubscribe, shared memory only): 1, 2 and 3
 * ranks write the bytes one process writes, per row and for the reduced curves; a rank killed in the middle fails
 * the job with a message naming it, and --resume under mpirun finishes it. Without MPI built in, xaic started as
 * if by mpirun says how to get MPI. */
#include "dataset_util.h"

#include <dirent.h>

#define RECORDS 130

static int built_with_mpi(void)
{
    char *out = NULL;
    du_xaic(&out, NULL, "--version");
    int yes = out && strstr(out, "Open MPI") != NULL;
    free(out);
    return yes;
}

static const char *RUN = "run models/mnist_cnn_gradients.xai --explain sensitivity,deeplift --chunk 7 --batch 4";

Test(dataset_mpi, ranks_write_what_one_process_writes, .timeout = 300)
{
    char *data = du_digits("m.npy", RECORDS, 21), *out = NULL, *ref = du_path("m_ref.npy");
    if (!built_with_mpi()) { /* then xaic must say how to get MPI when started by mpirun */
        int rc = du_xaic(&out, "OMPI_COMM_WORLD_SIZE=2", "%s --input '%s' -o '%s'", RUN, data, ref);
        cr_expect_eq(rc, 1, "%s", out);
        cr_expect(strstr(out, "built without MPI") && strstr(out, "libopenmpi-dev"), "%s", out);
        free(out), free(data), free(ref);
        return;
    }
    cr_assert_eq(tu_run("command -v mpirun", &out), 0, "xaic is built with MPI but mpirun is missing (openmpi-bin)");
    free(out);
    cr_assert_eq(du_xaic(&out, NULL, "%s --input '%s' -o '%s'", RUN, data, ref), 0, "%s", out);
    free(out);
    for (int ranks = 1; ranks <= 3; ranks++) {
        char *o = NULL, *prefix = NULL;
        cr_assert(asprintf(&o, "%s/m%d.npy", tu_tmpdir(), ranks) > 0);
        cr_assert(asprintf(&prefix, DU_MPIRUN "-n %d", ranks) > 0);
        int rc = du_xaic(&out, prefix, "%s --input '%s' -o '%s'", RUN, data, o);
        cr_assert_eq(rc, 0, "%d ranks:\n%s", ranks, out);
        const char *names[2] = { "sensitivity", "deeplift" };
        for (int e = 0; e < 2; e++) {
            char *x = NULL, *y = NULL;
            cr_assert(asprintf(&x, "%.*s.%s.npy", (int)strlen(ref) - 4, ref, names[e]) > 0);
            cr_assert(asprintf(&y, "%.*s.%s.npy", (int)strlen(o) - 4, o, names[e]) > 0);
            du_expect_same_file(x, y);
            free(x), free(y);
        }
        free(out), free(o), free(prefix);
    }
    /* eval: every file but the timings of results.json */
    const char *eval = "eval tests/fixtures/eval/mnist_cnn_six.xai --explain gradient_x_input,epsilon_plus --metric "
                       "selectivity --steps 3 --order both --batch 8 --chunk 16";
    char *one = du_path("ev1");
    cr_assert_eq(du_xaic(&out, NULL, "%s --data '%s' -o '%s'", eval, data, one), 0, "%s", out);
    free(out);
    for (int ranks = 2; ranks <= 3; ranks++) {
        char *dir = NULL, *prefix = NULL, *cmd = NULL;
        cr_assert(asprintf(&dir, "%s/ev%d", tu_tmpdir(), ranks) > 0);
        cr_assert(asprintf(&prefix, DU_MPIRUN "-n %d", ranks) > 0);
        cr_assert_eq(du_xaic(&out, prefix, "%s --data '%s' -o '%s'", eval, data, dir), 0, "%s", out);
        free(out);
        const char *files[] = { "per_input.npy", "curves.csv", "per_image.csv", "strip_epsilon_plus.png",
                                "selectivity_least_relevant_first.svg" };
        for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
            char *x = NULL, *y = NULL;
            cr_assert(asprintf(&x, "%s/%s", one, files[i]) > 0 && asprintf(&y, "%s/%s", dir, files[i]) > 0);
            du_expect_same_file(x, y);
            free(x), free(y);
        }
        cr_assert(asprintf(&cmd,
                           "bash -c \"diff <(grep -v seconds '%s/results.json') <(grep -v seconds "
                           "'%s/results.json')\"",
                           one, dir) > 0);
        cr_expect_eq(tu_run(cmd, &out), 0, "results.json of %d ranks differs beyond the timings:\n%s", ranks, out);
        free(out), free(cmd), free(dir), free(prefix);
    }
    free(one), free(data), free(ref);
}

/* a /proc file (its size is not known before reading it) */
static char *read_proc(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16;
    char *buf = malloc(cap + 1);
    *len = buf ? fread(buf, 1, cap, f) : 0;
    fclose(f);
    if (buf) buf[*len] = 0;
    return buf;
}

/* the pid of the rank `rank` process whose command line mentions `needle` */
static pid_t find_rank(int rank, const char *needle)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = -1;
    char want[64];
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    while (d && (e = readdir(d)) && found < 0) {
        char path[300];
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        size_t len;
        char *cmd = read_proc(path, &len);
        int match = 0;
        for (size_t i = 0; cmd && i < len; i += strlen(cmd + i) + 1) match |= strstr(cmd + i, needle) != NULL;
        free(cmd);
        if (!match) continue;
        snprintf(path, sizeof path, "/proc/%s/environ", e->d_name);
        char *env = read_proc(path, &len);
        for (size_t i = 0; env && i < len; i += strlen(env + i) + 1)
            if (!strcmp(env + i, want)) found = (pid_t)atoi(e->d_name);
        free(env);
    }
    if (d) closedir(d);
    return found;
}

Test(dataset_mpi, a_dead_rank_fails_the_job_and_resume_finishes_it, .timeout = 300)
{
    if (!built_with_mpi()) cr_skip_test("xaic is built without MPI (ranks_write_what_one_process_writes checks why)");
    char *data = du_digits("dead.npy", 700, 23), *ref = du_path("dead_ref.npy"), *o = du_path("dead_out.npy"),
         *out = NULL;
    const char *run = "run models/mnist_cnn_lrp.xai --explain epsilon_gamma_box --chunk 10 --batch 10";
    cr_assert_eq(du_xaic(&out, NULL, "%s --input '%s' -o '%s'", run, data, ref), 0, "%s", out);
    free(out);
    char *cmd = NULL, *journal = NULL, *log = du_path("dead.log");
    cr_assert(asprintf(&cmd, "env XAI_NUM_THREADS=1 " DU_MPIRUN "-n 2 '%s' %s --input '%s' -o '%s'", XAIC_EXE, run,
                       data, o) > 0);
    cr_assert(asprintf(&journal, "%s.xaic-journal", o) > 0);
    pid_t mpirun = du_spawn(cmd, log);
    cr_assert_eq(du_wait_for(mpirun, journal, 3, 120), 1, "the job got going");
    pid_t victim = find_rank(1, "dead_out.npy");
    cr_assert_gt(victim, 0, "found rank 1");
    kill(victim, SIGKILL);
    int status;
    waitpid(mpirun, &status, 0);
    char *text = tu_read_file(log, NULL);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) != 0, "mpirun failed: %d\n%s", status, text);
    cr_expect(text && strstr(text, "rank 1"), "the dead rank is named:\n%s", text);
    cr_expect(text && strstr(text, "--resume"), "rank 0 says how to finish:\n%s", text);
    free(text);
    cr_expect(du_exists(journal), "the journal is kept");
    char *resume = NULL;
    cr_assert(asprintf(&resume, "%s --resume", cmd) > 0);
    cr_assert_eq(tu_run(resume, &out), 0, "%s", out);
    du_expect_same_file(o, ref);
    cr_expect(!du_exists(journal));
    free(out), free(resume), free(cmd), free(journal), free(log), free(data), free(ref), free(o);
}
