/* Single-precision math for the inference core, the same code in the kernel and in host builds so that
   both compute bit-identical results (the host's libm is never used by kernel modules). */
#ifndef LIB_MATH_H
#define LIB_MATH_H

float k_expf(float x);
/* k_expf's table 2^(j/32), j = 0..31: the SIMD twins of k_expf (llm/ops_sse2/avx2/avx512.c) gather from it */
extern const double k_exp2_32[32];
float k_logf(float x);
float k_powf(float x, float y);
float k_sqrtf(float x);
float k_sinf(float x);
float k_cosf(float x);
float k_tanhf(float x);
float k_fabsf(float x);
float k_floorf(float x);
double k_sqrt(double x);
double k_exp(double x);
double k_log(double x);
double k_pow(double x, double y);
double k_fabs(double x);
double k_floor(double x);

#define K_INFINITY (__builtin_inff())
#define K_NAN (__builtin_nanf(""))
static inline int k_isnan(double x) { return x != x; }
static inline int k_isinf(double x) { return x == __builtin_inf() || x == -__builtin_inf(); }

#endif
