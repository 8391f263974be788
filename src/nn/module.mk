# src/nn: the kernels are written so that -O3 vectorises them without
# reassociating sums (no -ffast-math: parity with the reference tensors
# depends on IEEE evaluation order). No -march here: the portable build
# must run anywhere; dispatch comes with the SIMD work.
CFLAGS_src_nn_ := -O3
