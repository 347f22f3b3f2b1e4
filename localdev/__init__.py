"""Run the webhook on one machine: moto as AWS, the handler behind a local HTTP server."""
