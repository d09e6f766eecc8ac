"""How robust is a ranking: the compiled model, vectorised Monte Carlo and robustness analyses."""
