"""drdrill: prove that a GitOps-managed ML platform comes back after a disaster, on a clock."""

__version__ = "0.1.0"
