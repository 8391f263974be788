# src/nn: no -ffast-math: parity with the reference tensors depends on IEEE
# evaluation order (no reassociation, no contraction under -std=c11).
# -fno-trapping-math / -fno-math-errno change no value (we never read FP
# flags or errno); they let GCC if-convert and vectorise vmath.c's loops
# and inline floor/sqrt. No -march: SIMD variants are selected at run time
# (gemm.c: __builtin_cpu_supports; vmath.c: target_clones).
CFLAGS_src_nn_ := -O3 -fno-trapping-math -fno-math-errno
