"""The keys that open a repository's encrypted secrets, checked offline before any cluster.

A disaster-recovery drill must answer "can the key file in our DR vault still open every
secret in Git?". This adapter reads key files (age identities for SOPS, the Sealed Secrets
controller's private sealing keys) and tries each encrypted document with them; it never
keeps, writes or logs a decrypted value (values that were opened are registered with the log
redaction and dropped).
"""
