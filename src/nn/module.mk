# src/nn: -O2 default; no fast-math (parity needs IEEE order).
