/* Linear attention with the elu + 1 feature map, fused into one pass over Q, K, V.

   out_i = φ(q_i)ᵀ S / φ(q_i)·z,  S = Σ_j φ(k_j) v_jᵀ,  z = Σ_j φ(k_j),  φ(x) = elu(x) + 1,
   the sums over all j (non-causal) or j ≤ i (causal). The same function as
   kexue_lib.attention.linear_attention(q, k, v, feature="elu1", causal=...), written
   as a performance reference for benchmarks/attention.py: the feature map is applied to
   a block of 64 rows while the block sits in L1 cache, and the products run in a
   4 × 16 register-tiled AVX2/FMA micro-kernel, so Q, K and V are each read from memory
   once and the output written once.

   Non-causal: pass 1 accumulates S and z over row blocks (split across threads when
   there are fewer heads than threads, the partial sums added afterwards); pass 2 writes
   each output row block. Causal: a scan over chunks of 64 positions per head — inside a
   chunk the masked scores φ(Q_c)φ(K_c)ᵀ (only the tiles on or below the diagonal),
   across chunks the running S and z; heads are shared out among the threads (with
   fewer heads than threads, some threads idle).

   Layout: q, k (heads, n, d), v and out (heads, n, dv), contiguous float32. Requires
   d % 4 == 0, dv % 16 == 0 and n % 16 == 0 (checked by the Python wrapper, and again
   here: the function returns a non-zero code instead of reading out of bounds).

   Build: gcc -O3 -mavx2 -mfma -fopenmp -shared -fPIC (see fused_linear.py). */

#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 64 /* rows per block / causal chunk */

/* exp(x) for x <= 0, 8 lanes: x = m ln2 + r, |r| <= ln2/2, exp(r) by its degree-7
   Taylor polynomial (truncation error < 6e-9 relative), 2^m written into the exponent
   bits. Inputs below -87 give exp(-87) ~ 1.6e-38 (the smallest normal floats). */
static inline __m256 exp_nonpos(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    __m256 m = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(m, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(m, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(m), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* dst[rows × d] = φ(src); if zsum, zsum[0..d) += column sums of dst. */
static void feature_block(const float *src, float *dst, long rows, long d, float *zsum) {
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    for (long i = 0; i < rows; ++i) {
        const float *s = src + i * d;
        float *o = dst + i * d;
        long c = 0;
        for (; c + 8 <= d; c += 8) {
            __m256 x = _mm256_loadu_ps(s + c);
            __m256 y = _mm256_blendv_ps(exp_nonpos(_mm256_min_ps(x, zero)),
                                        _mm256_add_ps(x, one),
                                        _mm256_cmp_ps(x, zero, _CMP_GT_OQ));
            _mm256_storeu_ps(o + c, y);
            if (zsum) _mm256_storeu_ps(zsum + c, _mm256_add_ps(_mm256_loadu_ps(zsum + c), y));
        }
        for (; c < d; ++c) { /* d % 8 == 4 */
            float x = s[c];
            __m256 e = exp_nonpos(_mm256_set1_ps(x < 0.0f ? x : 0.0f));
            float y = x > 0.0f ? x + 1.0f : _mm256_cvtss_f32(e);
            o[c] = y;
            if (zsum) zsum[c] += y;
        }
    }
}

/* The micro-kernel: a 4 × 16 tile C[r][c] (r < 4, c < 16) accumulates
   Σ_{p < kc} A(r, p) B(p, c), A(r, p) = a[r*ars + p*aps], B(p, c) = b[p*bps + c]. */
#define MK_DECL                                                                        \
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00,      \
           c21 = c00, c30 = c00, c31 = c00
#define MK_RUN(kc, a, ars, aps, b, bps)                                                \
    for (long p_ = 0; p_ < (kc); ++p_) {                                               \
        const float *ap_ = (a) + p_ * (aps), *bp_ = (b) + p_ * (bps);                  \
        __m256 b0_ = _mm256_loadu_ps(bp_), b1_ = _mm256_loadu_ps(bp_ + 8);              \
        __m256 a_ = _mm256_broadcast_ss(ap_);                                          \
        c00 = _mm256_fmadd_ps(a_, b0_, c00);                                           \
        c01 = _mm256_fmadd_ps(a_, b1_, c01);                                           \
        a_ = _mm256_broadcast_ss(ap_ + (ars));                                         \
        c10 = _mm256_fmadd_ps(a_, b0_, c10);                                           \
        c11 = _mm256_fmadd_ps(a_, b1_, c11);                                           \
        a_ = _mm256_broadcast_ss(ap_ + 2 * (ars));                                     \
        c20 = _mm256_fmadd_ps(a_, b0_, c20);                                           \
        c21 = _mm256_fmadd_ps(a_, b1_, c21);                                           \
        a_ = _mm256_broadcast_ss(ap_ + 3 * (ars));                                     \
        c30 = _mm256_fmadd_ps(a_, b0_, c30);                                           \
        c31 = _mm256_fmadd_ps(a_, b1_, c31);                                           \
    }
/* C += tile (row stride ldc) */
#define MK_ADD_TO(cp, ldc)                                                             \
    do {                                                                               \
        float *q_ = (cp);                                                              \
        _mm256_storeu_ps(q_, _mm256_add_ps(_mm256_loadu_ps(q_), c00));                 \
        _mm256_storeu_ps(q_ + 8, _mm256_add_ps(_mm256_loadu_ps(q_ + 8), c01));         \
        q_ += (ldc);                                                                   \
        _mm256_storeu_ps(q_, _mm256_add_ps(_mm256_loadu_ps(q_), c10));                 \
        _mm256_storeu_ps(q_ + 8, _mm256_add_ps(_mm256_loadu_ps(q_ + 8), c11));         \
        q_ += (ldc);                                                                   \
        _mm256_storeu_ps(q_, _mm256_add_ps(_mm256_loadu_ps(q_), c20));                 \
        _mm256_storeu_ps(q_ + 8, _mm256_add_ps(_mm256_loadu_ps(q_ + 8), c21));         \
        q_ += (ldc);                                                                   \
        _mm256_storeu_ps(q_, _mm256_add_ps(_mm256_loadu_ps(q_), c30));                 \
        _mm256_storeu_ps(q_ + 8, _mm256_add_ps(_mm256_loadu_ps(q_ + 8), c31));         \
    } while (0)
/* C = tile scaled row-wise by s[0..4) */
#define MK_STORE_SCALED(cp, ldc, s)                                                    \
    do {                                                                               \
        float *q_ = (cp);                                                              \
        __m256 s_ = _mm256_set1_ps((s)[0]);                                            \
        _mm256_storeu_ps(q_, _mm256_mul_ps(c00, s_));                                  \
        _mm256_storeu_ps(q_ + 8, _mm256_mul_ps(c01, s_));                              \
        q_ += (ldc);                                                                   \
        s_ = _mm256_set1_ps((s)[1]);                                                   \
        _mm256_storeu_ps(q_, _mm256_mul_ps(c10, s_));                                  \
        _mm256_storeu_ps(q_ + 8, _mm256_mul_ps(c11, s_));                              \
        q_ += (ldc);                                                                   \
        s_ = _mm256_set1_ps((s)[2]);                                                   \
        _mm256_storeu_ps(q_, _mm256_mul_ps(c20, s_));                                  \
        _mm256_storeu_ps(q_ + 8, _mm256_mul_ps(c21, s_));                              \
        q_ += (ldc);                                                                   \
        s_ = _mm256_set1_ps((s)[3]);                                                   \
        _mm256_storeu_ps(q_, _mm256_mul_ps(c30, s_));                                  \
        _mm256_storeu_ps(q_ + 8, _mm256_mul_ps(c31, s_));                              \
    } while (0)

static float dot(const float *x, const float *y, long d) {
    __m256 acc = _mm256_setzero_ps();
    long c = 0;
    for (; c + 8 <= d; c += 8)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + c), _mm256_loadu_ps(y + c), acc);
    float t[8], s = 0.0f;
    _mm256_storeu_ps(t, acc);
    for (int i = 0; i < 8; ++i) s += t[i];
    for (; c < d; ++c) s += x[c] * y[c];
    return s;
}

/* S[d × dv] += φKᵀ V over `rows` rows (φK rows × d, V rows × dv, row stride dv). */
static void state_update(float *S, const float *fk, const float *v, long rows, long d,
                         long dv) {
    for (long j = 0; j < d; j += 4)
        for (long c = 0; c < dv; c += 16) {
            MK_DECL;
            MK_RUN(rows, fk + j, 1, d, v + c, dv);
            MK_ADD_TO(S + j * dv + c, dv);
        }
}

/* out[rows × dv] = (φQ S + extra) / den row-wise, where `extra` is Σ_t A[r][t] V[t]
   over t < r0 + 4 for the causal chunk (A, va non-NULL), den[r] given. */
static void output_block(float *out, const float *fq, const float *S, const float *A,
                         const float *va, const float *inv_den, long rows, long d,
                         long dv) {
    for (long r = 0; r < rows; r += 4)
        for (long c = 0; c < dv; c += 16) {
            MK_DECL;
            MK_RUN(d, fq + r * d, d, 1, S + c, dv);
            if (A) MK_RUN(r + 4, A + r * BLOCK, BLOCK, 1, va + c, dv);
            MK_STORE_SCALED(out + r * dv + c, dv, inv_den + r);
        }
}

typedef struct {
    const float *q, *k, *v;
    float *out, *S, *z; /* S, z: per work item (non-causal pass 1) or per head */
    long heads, n, d, dv, parts;
    int pass, tid, threads;
} job_t;

static long part_begin(long n, long parts, long p) { return n * p / parts / 16 * 16; }

static void worker(const job_t *jb) {
    const long n = jb->n, d = jb->d, dv = jb->dv;
    float fbuf[BLOCK * 128] __attribute__((aligned(32)));  /* φ block, d <= 128 */
    float fbuf2[BLOCK * 128] __attribute__((aligned(32)));
    float A[BLOCK * BLOCK] __attribute__((aligned(32)));
    float KT[128 * BLOCK] __attribute__((aligned(32))); /* φK_cᵀ, causal */
    float inv_den[BLOCK];
    if (jb->pass == 1) { /* non-causal: partial S, z per (head, part) */
        long items = jb->heads * jb->parts;
        for (long it = jb->tid; it < items; it += jb->threads) {
            long h = it / jb->parts, p = it % jb->parts;
            long lo = part_begin(n, jb->parts, p), hi = part_begin(n, jb->parts, p + 1);
            if (p == jb->parts - 1) hi = n;
            float *S = jb->S + it * d * dv, *z = jb->z + it * d;
            memset(S, 0, sizeof(float) * d * dv);
            memset(z, 0, sizeof(float) * d);
            for (long s = lo; s < hi; s += BLOCK) {
                long rows = hi - s < BLOCK ? hi - s : BLOCK;
                feature_block(jb->k + (h * n + s) * d, fbuf, rows, d, z);
                state_update(S, fbuf, jb->v + (h * n + s) * dv, rows, d, dv);
            }
        }
    } else if (jb->pass == 2) { /* non-causal outputs: blocks split evenly */
        long per = (n + BLOCK - 1) / BLOCK, items = jb->heads * per;
        long lo = items * jb->tid / jb->threads, hi = items * (jb->tid + 1) / jb->threads;
        for (long it = lo; it < hi; ++it) {
            long h = it / per, s = (it % per) * BLOCK;
            long rows = n - s < BLOCK ? n - s : BLOCK;
            const float *S = jb->S + h * d * dv, *z = jb->z + h * d;
            feature_block(jb->q + (h * n + s) * d, fbuf, rows, d, NULL);
            for (long r = 0; r < rows; ++r) {
                float den = dot(fbuf + r * d, z, d);
                inv_den[r] = den > 0.0f ? 1.0f / den : 0.0f;
            }
            output_block(jb->out + (h * n + s) * dv, fbuf, S, NULL, NULL, inv_den, rows,
                         d, dv);
        }
    } else { /* causal scan, one head at a time per thread */
        for (long h = jb->tid; h < jb->heads; h += jb->threads) {
            float *S = jb->S + h * d * dv, *z = jb->z + h * d;
            memset(S, 0, sizeof(float) * d * dv);
            memset(z, 0, sizeof(float) * d);
            for (long s = 0; s < n; s += BLOCK) {
                long rows = n - s < BLOCK ? n - s : BLOCK;
                const float *vb = jb->v + (h * n + s) * dv;
                feature_block(jb->q + (h * n + s) * d, fbuf, rows, d, NULL);
                feature_block(jb->k + (h * n + s) * d, fbuf2, rows, d, NULL);
                /* scores A[r][t] = φq_r·φk_t, only the 4 × 16 tiles on or below the
                   diagonal; φK_c transposed once so the tile reads rows of KT */
                for (long t = 0; t < rows; ++t)
                    for (long p = 0; p < d; ++p) KT[p * BLOCK + t] = fbuf2[t * d + p];
                for (long r0 = 0; r0 < rows; r0 += 4) {
                    for (long t0 = 0; t0 <= r0; t0 += 16) {
                        MK_DECL;
                        MK_RUN(d, fbuf + r0 * d, d, 1, KT + t0, BLOCK);
                        float *ap = A + r0 * BLOCK + t0;
                        _mm256_storeu_ps(ap, c00);
                        _mm256_storeu_ps(ap + 8, c01);
                        _mm256_storeu_ps(ap + BLOCK, c10);
                        _mm256_storeu_ps(ap + BLOCK + 8, c11);
                        _mm256_storeu_ps(ap + 2 * BLOCK, c20);
                        _mm256_storeu_ps(ap + 2 * BLOCK + 8, c21);
                        _mm256_storeu_ps(ap + 3 * BLOCK, c30);
                        _mm256_storeu_ps(ap + 3 * BLOCK + 8, c31);
                    }
                    for (long r = r0; r < r0 + 4; ++r) { /* mask t > r, row sums */
                        float *ar = A + r * BLOCK, den = dot(fbuf + r * d, z, d);
                        for (long t = r + 1; t < r0 + 4; ++t) ar[t] = 0.0f;
                        for (long t = 0; t <= r; ++t) den += ar[t];
                        inv_den[r] = den > 0.0f ? 1.0f / den : 0.0f;
                    }
                }
                output_block(jb->out + (h * n + s) * dv, fbuf, S, A, vb, inv_den, rows,
                             d, dv);
                state_update(S, fbuf2, vb, rows, d, dv);
                for (long p = 0; p < rows; ++p)
                    for (long c = 0; c < d; ++c) z[c] += fbuf2[p * d + c];
            }
        }
    }
}

/* One OpenMP team per pass. Loaded into a process that already runs PyTorch, the
   kernel uses PyTorch's own OpenMP runtime (libgomp.so.1 is resolved to the copy
   already loaded), so its threads are the ones PyTorch's operations just used rather
   than a second set competing with them for the cores. */
static int run_pass(job_t *base, int pass) {
    int T = base->threads;
#pragma omp parallel num_threads(T)
    {
        job_t jb = *base;
        jb.pass = pass;
        jb.tid = omp_get_thread_num();
        jb.threads = omp_get_num_threads();
        worker(&jb);
    }
    return 0;
}

/* Returns 0 on success, 1 on unsupported sizes, 2 on allocation failure. */
int linear_attention_elu1(const float *q, const float *k, const float *v, float *out,
                          long heads, long n, long d, long dv, int causal, int threads) {
    if (heads < 1 || n < 16 || n % 16 || d < 4 || d > 128 || d % 4 || dv < 16 ||
        dv % 16 || threads < 1)
        return 1;
    job_t jb = {q, k, v, out, NULL, NULL, heads, n, d, dv, 1, 0, 0, threads};
    if (causal) {
        jb.S = malloc(sizeof(float) * heads * d * dv);
        jb.z = malloc(sizeof(float) * heads * d);
        int rc = (jb.S && jb.z) ? run_pass(&jb, 3) : 2;
        free(jb.S);
        free(jb.z);
        return rc;
    }
    jb.parts = heads >= threads ? 1 : (threads + heads - 1) / heads;
    if (jb.parts > n / 16) jb.parts = n / 16;
    jb.S = malloc(sizeof(float) * heads * jb.parts * d * dv);
    jb.z = malloc(sizeof(float) * heads * jb.parts * d);
    int rc = (jb.S && jb.z) ? run_pass(&jb, 1) : 2;
    if (rc == 0 && jb.parts > 1) /* add the partial sums into part 0 of each head */
        for (long h = 0; h < heads; ++h) {
            float *S0 = jb.S + h * jb.parts * d * dv, *z0 = jb.z + h * jb.parts * d;
            for (long p = 1; p < jb.parts; ++p) {
                for (long i = 0; i < d * dv; ++i) S0[i] += S0[p * d * dv + i];
                for (long i = 0; i < d; ++i) z0[i] += z0[p * d + i];
            }
        }
    if (rc == 0 && jb.parts > 1) /* compact: head h's sums at index h */
        for (long h = 1; h < heads; ++h) {
            memmove(jb.S + h * d * dv, jb.S + h * jb.parts * d * dv, sizeof(float) * d * dv);
            memmove(jb.z + h * d, jb.z + h * jb.parts * d, sizeof(float) * d);
        }
    if (rc == 0) rc = run_pass(&jb, 2);
    free(jb.S);
    free(jb.z);
    return rc;
}
