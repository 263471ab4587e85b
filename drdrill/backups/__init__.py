"""Prove that backups in S3 come back: freshness against the RPO, integrity by restoring.

One module per concern: `s3client` (the one place a boto3 client is built), `manifest` (the
drdrill-manifest/v1 format), `keys` (object keys that may become local paths), `sampling`,
`restore` (streamed download, hashing and checks), `setcheck` (one backup set end to end) and
`references` (s3:// URIs that workloads in Git point at).
"""
