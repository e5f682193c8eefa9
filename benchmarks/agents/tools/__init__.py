"""Tools of the benchmark agent (benchmarks/agents/bench.yaml)."""
