"""Networks only: forward(...) -> tensors. No losses, no sampling loops, no data loading."""
