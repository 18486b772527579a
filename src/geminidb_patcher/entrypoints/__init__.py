"""Entry points: the Lambda handlers, event parsing, the webhook API and the CLI; nothing imports them."""
