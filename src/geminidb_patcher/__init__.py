"""geminidb-patcher: keeps Huawei Cloud GeminiDB fleets patched, from AWS Lambda."""

__version__ = "0.1.0"
