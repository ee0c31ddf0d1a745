"""The audit trail: events, their hash chain, and anchors in S3."""
