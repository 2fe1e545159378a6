"""The upload engine: Build Upload API (parallel, resumable) and the Transporter/altool path."""
