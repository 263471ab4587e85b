"""GitOps adapters: serve the repository, run the bootstrap script, wait for reconciliation."""
