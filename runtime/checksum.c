/* CRC-32 through zlib: the compiler stamps it into NET_info, the loader compares. */
#include "xairt.h"

#include <zlib.h>

uint32_t xai_crc32(const void *data, size_t len)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    if (!data || len == 0) return (uint32_t)crc;
    /* crc32_z takes a z_size_t, so buffers over 4 GiB need no chunking. */
    return (uint32_t)crc32_z(crc, (const Bytef *)data, (z_size_t)len);
}
