/* Pieces the streaming commands share (stream.c): what identifies a job's inputs in its journal. */
#ifndef XAIC_STREAM_H
#define XAIC_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "driver.h"
#include "scheduler.h"

/* CRC-32 of every source text of the compilation (imports included, the prelude too) and of each network's
 * weights file CRC: the code a job runs. */
uint32_t stream_sources_crc(const compilation *c);
/* "PATH size=N mtime=S.NS" of a file */
void stream_file_identity(const char *path, char *buf, size_t len);

/* The end of a command's set-up on every rank (quiet since sched_start): the worst status; rank 0 names a
 * rank that failed alone. Ends sched_quiet. */
int stream_agree(sched *s, int status);

#endif
