"""Cross-checks of the harness against bare code and Ray's own harness (`make bench`)."""
