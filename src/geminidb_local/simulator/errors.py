"""The simulator's error answers: an HTTP status and Huawei's ``{"error_code", "error_msg"}`` body."""

from __future__ import annotations


class SimError(Exception):
    """An API error answer: HTTP status plus Huawei's ``{"error_code", "error_msg"}`` body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
