/* y = x W^T + b for a CSR weight W, on row-major x and y: the "csr_tiled" kernel.
 *
 * torch's CSR matmul computes sparse @ dense, so a linear has to run transposed (y^T = W x^T)
 * and hands back a column-major product that the next layer must copy. This kernel keeps
 * torch's layouts and is built for what a pruned encoder is: few non-zeros per row, many
 * tokens. It walks the tokens in tiles of TILE rows; each tile is copied once, transposed,
 * into a buffer (feature-major: the TILE values of one input feature are contiguous, 2-6 KB
 * per tile for BERT widths, so the buffer stays in L1/L2); then each output feature is the sum
 * over its non-zeros of weight x one contiguous TILE-vector of that buffer: vector FMAs on
 * data in cache, independent accumulators (UNROLL) to hide the FMA latency, and no gathers.
 * Eight output features are transposed back at a time, so y is written in 32-byte runs.
 *
 * Plain GNU C (vector extensions), compiled at first use with -O3 -march=native (and
 * -fopenmp where that builds and loads) by trainables/sparse/native.py. */
#include <stdint.h>
#include <stdlib.h>

#define LANES 8                 /* floats per vector: one AVX2 register */
#define VECS 2                  /* vectors per tile */
#define TILE (LANES * VECS)     /* tokens per tile */
#define UNROLL 2                /* non-zeros in flight per output feature */
#define BLOCK 8                 /* output features transposed back together */

typedef float vec __attribute__((vector_size(LANES * sizeof(float))));

static void one_tile(const float *x, int64_t rows, int64_t in, int64_t out,
                     const int64_t *rowptr, const int32_t *col, const float *val,
                     const float *bias, float *y, vec *packed) {
  float *flat = (float *)packed;
  for (int64_t t = 0; t < TILE; t++) {  /* a short last tile repeats its last row */
    const float *row = x + (t < rows ? t : rows - 1) * in;
    for (int64_t k = 0; k < in; k++) flat[k * TILE + t] = row[k];
  }
  float block[BLOCK][TILE];
  for (int64_t n0 = 0; n0 < out; n0 += BLOCK) {
    int64_t width = out - n0 < BLOCK ? out - n0 : BLOCK;
    for (int64_t j = 0; j < width; j++) {
      int64_t n = n0 + j;
      vec acc[UNROLL][VECS];
      for (int u = 0; u < UNROLL; u++)
        for (int v = 0; v < VECS; v++) acc[u][v] = (vec){0};
      int64_t p = rowptr[n], end = rowptr[n + 1];
      for (; p + UNROLL <= end; p += UNROLL)
        for (int u = 0; u < UNROLL; u++) {
          const vec *feature = packed + (int64_t)col[p + u] * VECS;
          const float w = val[p + u];
          for (int v = 0; v < VECS; v++) acc[u][v] += w * feature[v];
        }
      for (; p < end; p++) {
        const vec *feature = packed + (int64_t)col[p] * VECS;
        const float w = val[p];
        for (int v = 0; v < VECS; v++) acc[0][v] += w * feature[v];
      }
      const float b = bias ? bias[n] : 0.0f;
      for (int v = 0; v < VECS; v++) {
        vec sum = acc[0][v];
        for (int u = 1; u < UNROLL; u++) sum += acc[u][v];
        sum += b;
        for (int i = 0; i < LANES; i++) block[j][v * LANES + i] = sum[i];
      }
    }
    for (int64_t t = 0; t < rows; t++)
      for (int64_t j = 0; j < width; j++) y[t * out + n0 + j] = block[j][t];
  }
}

/* Rows [0, tokens) of x (tokens x in) to y (tokens x out), the tiles split over `threads`
 * OpenMP threads when built with -fopenmp (the process's libgomp, the one torch loaded: one
 * thread pool, no second runtime spinning against torch's). Returns 0, or 1 when a tile
 * buffer cannot be allocated. */
int prunesweep_spmm_tiled(const float *x, int64_t tokens, int64_t in, int64_t out,
                          const int64_t *rowptr, const int32_t *col, const float *val,
                          const float *bias, float *y, int threads) {
  const int64_t tiles = (tokens + TILE - 1) / TILE;
  int failed = 0;
  (void)threads;
#ifdef _OPENMP
  #pragma omp parallel num_threads(threads > 0 ? threads : 1) reduction(|| : failed)
#endif
  {
    vec *packed = aligned_alloc(64, ((in * VECS * sizeof(vec) + 63) / 64) * 64);
    if (!packed) failed = 1;
#ifdef _OPENMP
    #pragma omp for schedule(static)
#endif
    for (int64_t i = 0; i < tiles; i++) {
      if (!packed) continue;
      const int64_t t0 = i * TILE;
      const int64_t rows = tokens - t0 < TILE ? tokens - t0 : TILE;
      one_tile(x + t0 * in, rows, in, out, rowptr, col, val, bias, y + t0 * out, packed);
    }
    free(packed);
  }
  return failed;
}

int prunesweep_spmm_tile_rows(void) { return TILE; }

/* 1 when built with OpenMP (the call splits its own tiles), else 0 (the caller splits). */
int prunesweep_spmm_threaded(void) {
#ifdef _OPENMP
  return 1;
#else
  return 0;
#endif
}
