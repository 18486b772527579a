"""Adapter for the Huawei Cloud APIs: signing, IAM tokens, the GeminiDB client and its errors."""
