"""Keys and secrets: envelope encryption under KMS, sealing, signing keys and access tokens, opaque
tokens, passwords, TOTP."""
