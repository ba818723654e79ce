/* Identities for journals (stream.h). */
#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

uint32_t stream_sources_crc(const compilation *c)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    for (int i = 0; c->program && i < c->program->n_files; i++) {
        const xai_source *src = c->program->files[i]->src;
        if (src && src->text) crc = crc32_z(crc, (const Bytef *)src->text, src->length);
    }
    for (int i = 0; c->ir && i < c->ir->n_graphs; i++) {
        uint32_t w = c->ir->graphs[i]->weights_crc32;
        crc = crc32_z(crc, (const Bytef *)&w, sizeof w);
    }
    return (uint32_t)crc;
}

void stream_file_identity(const char *path, char *buf, size_t len)
{
    char *real = realpath(path, NULL);
    struct stat sb;
    if (stat(path, &sb) != 0) memset(&sb, 0, sizeof sb);
    snprintf(buf, len, "%s size=%lld mtime=%lld.%09ld", real ? real : path, (long long)sb.st_size,
             (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
    free(real);
}

int stream_agree(sched *s, int status)
{
    int failed, worst = sched_agree(s, status, &failed);
    sched_quiet(s, 0);
    if (worst && failed > 0 && sched_rank(s) == 0)
        fprintf(stderr,
                "xaic: error: rank %d on another node could not set up the job (there, run the command "
                "without mpirun to see why)\n",
                failed);
    return worst;
}
