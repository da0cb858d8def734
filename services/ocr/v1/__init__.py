"""Generated gRPC code; regenerate with `make proto`, never edit."""
