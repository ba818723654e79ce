/* Counter-based normal numbers for SmoothGrad: Philox4x32-10 (Salmon, Moraes, Dror, Shaw 2011,
 * "Parallel random numbers: as easy as 1, 2, 3") and the Box-Muller transform. Number i of a stream
 * depends only on (seed, i): no state, reproducible across batch sizes and threads. */
#include <math.h>

#include "rt_internal.h"
#include "xairt.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void xai_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1, n3 = (uint32_t)p0;
        c0 = n0, c1 = n1, c2 = n2, c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

/* uniform in (0, 1), never 0 (log(0) would be -inf) */
static double open_unit(uint32_t u) { return ((double)u + 0.5) / 4294967296.0; }

void xai_normal_fill(float *out, int64_t n, uint64_t seed, uint64_t offset, float sigma)
{
    if (!out || n <= 0) return;
    const double two_pi = 6.283185307179586476925286766559;
    for (int64_t k = 0; k < n;) {
        uint64_t index = offset + (uint64_t)k;
        uint64_t block = index / 4;
        uint32_t r[4], ctr[4] = { (uint32_t)block, (uint32_t)(block >> 32), 0, 0 };
        uint32_t key[2] = { (uint32_t)seed, (uint32_t)(seed >> 32) };
        xai_philox4x32_10(ctr, key, r);
        double n4[4];
        for (int pair = 0; pair < 2; pair++) {
            double radius = sqrt(-2.0 * log(open_unit(r[2 * pair]))), angle = two_pi * open_unit(r[2 * pair + 1]);
            n4[2 * pair] = radius * cos(angle);
            n4[2 * pair + 1] = radius * sin(angle);
        }
        for (unsigned lane = (unsigned)(index % 4); lane < 4 && k < n; lane++, k++) out[k] = (float)(sigma * n4[lane]);
    }
}
