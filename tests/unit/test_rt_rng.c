/* The SmoothGrad noise generator: Philox4x32-10 known answers (Random123's kat_vectors), the
 * counter-based property (any slice of a stream equals the same slice drawn alone) and the moments. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "rt_internal.h"
#include "xairt.h"

static void kat(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1, uint32_t e0, uint32_t e1,
                uint32_t e2, uint32_t e3)
{
    uint32_t ctr[4] = { c0, c1, c2, c3 }, key[2] = { k0, k1 }, out[4];
    xai_philox4x32_10(ctr, key, out);
    cr_expect(out[0] == e0 && out[1] == e1 && out[2] == e2 && out[3] == e3, "got %08x %08x %08x %08x", out[0], out[1],
              out[2], out[3]);
}

Test(rng, philox_known_answers)
{
    kat(0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8);
    kat(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6,
        0x6d5451fd);
    kat(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420,
        0x24126ea1);
}

Test(rng, any_slice_equals_the_slice_drawn_alone)
{
    float whole[103], part[57];
    xai_normal_fill(whole, 103, 42, 0, 1.0f);
    for (int start = 0; start < 40; start += 7) {
        xai_normal_fill(part, 57, 42, (uint64_t)start, 1.0f);
        for (int i = 0; i < 57 && start + i < 103; i++)
            cr_assert_eq(part[i], whole[start + i], "offset %d, %d", start, i);
    }
}

Test(rng, seeds_differ_and_sigma_scales)
{
    float a[64], b[64], c[64];
    xai_normal_fill(a, 64, 1, 0, 1.0f);
    xai_normal_fill(b, 64, 2, 0, 1.0f);
    xai_normal_fill(c, 64, 1, 0, 0.25f);
    int same = 0;
    for (int i = 0; i < 64; i++) {
        same += a[i] == b[i];
        cr_assert_float_eq(c[i], 0.25f * a[i], 1e-6f);
    }
    cr_expect(same == 0, "streams 1 and 2 share %d values", same);
}

Test(rng, standard_normal_moments)
{
    const int n = 1 << 20;
    float *v = malloc(sizeof(float) * n);
    xai_normal_fill(v, n, 7, 0, 1.0f);
    double m1 = 0, m2 = 0, m4 = 0;
    int beyond3 = 0;
    for (int i = 0; i < n; i++) {
        cr_assert(isfinite(v[i]));
        m1 += v[i];
        m2 += (double)v[i] * v[i];
        m4 += (double)v[i] * v[i] * v[i] * v[i];
        beyond3 += fabsf(v[i]) > 3;
    }
    m1 /= n, m2 /= n, m4 /= n;
    /* standard errors: mean 1/sqrt(n) ~ 0.001, variance ~ 0.0014, kurtosis ~ 0.005 */
    cr_expect(fabs(m1) < 0.005, "mean %g", m1);
    cr_expect(fabs(m2 - 1) < 0.007, "variance %g", m2);
    cr_expect(fabs(m4 - 3) < 0.05, "fourth moment %g", m4);
    cr_expect(fabs(beyond3 / (double)n - 0.0026998) < 0.0004, "P(|z| > 3) = %g", beyond3 / (double)n);
    free(v);
}
