"""The operator CLI, ``geminidb-patcher``: parser, commands, rendering, and the main that joins them."""
