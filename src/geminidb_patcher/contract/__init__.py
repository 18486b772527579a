"""The request and report contract: models, validation messages, webhook signatures (imports only errors, ids)."""
