"""Side-by-side timings against the anchors; ``python -m benchmarks`` runs them all."""
