"""The drill engine: phases in order, one clock, budgets, the SLA verdict and cleanup."""
