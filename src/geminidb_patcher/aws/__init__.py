"""Adapters to AWS services the function talks to directly, boto-free: the apply lease in DynamoDB."""
