"""Privacy and safety: redaction, mention neutralization, rate limits, retention."""
